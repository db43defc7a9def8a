"""The account lifecycle in the web client (PROTOCOL.md "Account lifecycle"): log out everywhere, deleting the
account, exporting one's data, and a chat's disappearing messages, each driven through the UI.

Every wait is on a data-testid selector or attribute, except where the server's own state is read (its sockets,
the export file); a screenshot of each step goes to test-artifacts/screenshots/account-*.png.
"""
import json
import re
import time
import urllib.request
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser import test_webclient as web
from tests.browser.conftest import TEST_TIMEOUT_S
from tests.browser.test_webclient import Tab
from tests.e2e.support import PASSWORD, http

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)
tabs, pair = web.tabs, web.pair  # the fixtures: users in browser tabs, and two of them in a 1:1 chat
DAY = 86400


def account_action(tab: Tab, testid: str, shot: str | None = None):
    """Open the account menu (the ⚙ in the chat list's header) and pick an item."""
    tab.by("account-menu-button").click()
    expect(tab.by("account-menu")).to_be_visible()
    if shot:
        tab.shot(shot)
    tab.by(testid).click()
    expect(tab.by("account-menu")).to_be_hidden()


def same_user(tabs, of: Tab) -> Tab:
    """Another browser context (another device) for the same user."""
    tab = tabs("device")
    tab.name = of.name
    return tab


def sockets_of(stack, user_id: str) -> list[dict]:
    status, sockets = http("GET", f"{stack.base}/_devstack/sockets")
    assert status == 200
    return [s for s in sockets if s["user_id"] == user_id]


def eventually(check, what: str, seconds: float = 20):
    """Poll server-side state that no page shows (Playwright's expect covers everything on a page)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.2)


def test_log_out_everywhere_closes_the_other_sessions_and_shows_the_login_form(tabs, stack):
    laptop = tabs("alice")
    laptop.signup()
    phone = same_user(tabs, laptop)
    closed = []
    phone.page.on("websocket", lambda ws: ws.on("close", lambda socket: closed.append(socket.url)))
    phone.login()
    eventually(lambda: len(sockets_of(stack, laptop.name)) == 2, "both tabs connected")

    account_action(laptop, "account-logout-all", shot="account-01-account-menu")
    expect(laptop.by("auth-view")).to_be_visible()
    expect(laptop.by("main-view")).to_be_hidden()
    expect(laptop.by("auth-notice")).to_have_text(re.compile("logged out on every device"))
    laptop.shot("account-02-logged-out-everywhere")

    # the other session: the server closed its socket, its old token and refresh token are refused, so it ends
    expect(phone.by("auth-view")).to_be_visible()
    expect(phone.by("auth-error")).to_have_text("Your session has ended. Please log in again.")
    assert closed, "the other tab's socket was never closed"
    eventually(lambda: not sockets_of(stack, laptop.name), "no socket of the user left")
    phone.shot("account-03-other-device-signed-out")

    # a login after the call gets a token that works
    laptop.login()
    expect(laptop.by("chat-list-empty")).to_be_visible()


def test_delete_account_asks_for_the_password_and_signs_out_for_good(pair):
    alice, bob, chat_id = pair
    alice.send("goodbye, everyone")

    account_action(alice, "account-delete")
    dialog = alice.by("delete-dialog")
    expect(dialog).to_be_visible()
    alice.by("delete-password").fill("Wr0ng!pass")
    alice.by("delete-confirm").click()
    expect(alice.by("delete-error")).to_have_text("Wrong password.")
    expect(dialog).to_be_visible()
    alice.shot("account-04-delete-wrong-password")
    # still signed in, still connected
    expect(alice.by("main-view")).to_be_visible()
    expect(alice.by("connection-status")).to_have_attribute("data-state", "online")

    # Cancel leaves the account alone; so does Escape
    alice.by("delete-cancel").click()
    expect(dialog).to_be_hidden()
    account_action(alice, "account-delete")
    alice.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    alice.send("still here")

    account_action(alice, "account-delete")
    alice.by("delete-password").fill(PASSWORD)
    alice.shot("account-05-delete-confirm")
    alice.by("delete-confirm").click()
    expect(alice.by("auth-view")).to_be_visible()
    expect(alice.by("auth-notice")).to_have_text("Your account has been deleted.")
    alice.shot("account-06-account-deleted")

    # signing in again fails
    alice.by("auth-username").fill(alice.name)
    alice.by("auth-password").fill(PASSWORD)
    alice.by("login-button").click()
    expect(alice.by("auth-error")).to_have_text("Wrong username or password.")
    expect(alice.by("main-view")).to_be_hidden()
    expect(alice.by("auth-notice")).to_be_hidden()

    # her messages stay in the chat
    for text in ("goodbye, everyone", "still here"):
        expect(bob.message(text)).to_have_attribute("data-sender", alice.name)


def test_export_shows_progress_then_a_link_to_a_json_lines_file(pair):
    alice, bob, chat_id = pair
    alice.send("first, from alice")
    bob.send("a reply from bob")
    alice.send("second, from alice")

    account_action(alice, "account-export")
    dialog = alice.by("export-dialog")
    expect(dialog).to_be_visible()
    status = alice.by("export-status")
    expect(status).to_have_attribute("data-state", "preparing")  # the first poll waits a second
    expect(status).to_contain_text("Preparing")
    expect(alice.by("export-progress")).to_be_visible()
    alice.shot("account-07-export-preparing")

    expect(status).to_have_attribute("data-state", "ready")
    link = alice.by("export-link")
    expect(link).to_be_visible()
    expect(alice.by("export-progress")).to_be_hidden()
    alice.shot("account-08-export-ready")
    url = link.get_attribute("href")
    assert url and url.startswith("http"), url

    with urllib.request.urlopen(url, timeout=30) as answer:  # no Authorization header: the URL is presigned
        assert answer.status == 200
        body = answer.read().decode()
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert lines[0]["type"] == "profile" and lines[0]["user_id"] == alice.name, lines[0]
    assert {line["type"] for line in lines} >= {"profile", "settings", "chat", "message"}
    assert [line["chat_id"] for line in lines if line["type"] == "chat"] == [chat_id]
    texts = [(m["sender_id"], m.get("text")) for m in lines if m["type"] == "message"]
    assert texts == [(alice.name, "first, from alice"), (bob.name, "a reply from bob"),
                     (alice.name, "second, from alice")], texts

    alice.by("export-close").click()
    expect(dialog).to_be_hidden()
    expect(alice.by("connection-status")).to_have_attribute("data-state", "online")


def test_disappearing_messages_setting_shows_in_both_members_tabs(pair):
    alice, bob, chat_id = pair
    alice.send("before the change")
    for tab in (alice, bob):
        expect(tab.by("disappear-select")).to_have_value("")
        expect(tab.by("disappear-status")).to_be_hidden()

    alice.by("disappear-select").select_option("86400")
    for tab in (alice, bob):
        expect(tab.by("disappear-select")).to_have_value("86400")
        expect(tab.by("disappear-status")).to_have_text("◷ 24 hours")
        expect(tab.by("chat-pane")).to_have_attribute("data-disappear-after", "86400")
        notice = tab.messages().filter(has_text=f"{alice.name} set messages to disappear after 24 hours")
        expect(notice).to_have_attribute("data-kind", "system")
    expect(bob.message("before the change").get_by_test_id("message-expires")).to_have_count(0)

    sent = alice.send("this one disappears")
    bob_copy = bob.message("this one disappears")
    for message in (sent, bob_copy):
        expect(message.get_by_test_id("message-expires")).to_be_visible()
        expect(message).to_have_attribute("data-expires-at", re.compile(r"^\d{4}-\d\d-\d\dT"))
    expires = [datetime.fromisoformat(m.get_attribute("data-expires-at").replace("Z", "+00:00"))
               for m in (sent, bob_copy)]
    sent_iso = bob_copy.get_by_test_id("message-time").get_attribute("datetime")
    sent_at = datetime.fromisoformat(sent_iso.replace("Z", "+00:00"))
    assert all(abs((e - sent_at).total_seconds() - DAY) < 2 for e in expires), (expires, sent_at)
    alice.shot("account-09-disappearing-24h-alice")
    bob.shot("account-10-disappearing-24h-bob")

    # the setting and the marks come back after a reload (GET /api/chats, sync)
    bob.page.reload()
    bob.wait_online()
    bob.open_chat(chat_id)
    expect(bob.by("disappear-select")).to_have_value("86400")
    expect(bob.message("this one disappears").get_by_test_id("message-expires")).to_be_visible()

    # Bob turns it off: both see it, and new messages stay
    bob.by("disappear-select").select_option("")
    for tab in (alice, bob):
        expect(tab.by("disappear-select")).to_have_value("")
        expect(tab.by("disappear-status")).to_be_hidden()
        expect(tab.messages().filter(has_text=f"{bob.name} turned off disappearing messages")).to_have_count(1)
    kept = bob.send("this one stays")
    expect(kept.get_by_test_id("message-expires")).to_have_count(0)
    expect(alice.message("this one stays").get_by_test_id("message-expires")).to_have_count(0)


def test_a_message_past_its_time_shows_as_disappeared(pair):
    """The server pushes nothing when a message expires: a client shows it gone by its own clock, as the server
    serves it from then on. Bob's clock is moved a day on; Alice's is not."""
    alice, bob, chat_id = pair
    bob.page.clock.install()
    bob.page.reload()
    bob.wait_online()
    bob.open_chat(chat_id)
    alice.by("disappear-select").select_option("86400")
    expect(bob.by("disappear-status")).to_have_text("◷ 24 hours")
    alice.send("gone tomorrow")
    doomed = bob.message("gone tomorrow")
    expect(doomed.get_by_test_id("message-expires")).to_be_visible()
    seq = doomed.get_attribute("data-seq")

    bob.page.clock.set_system_time(datetime.now(UTC).timestamp() + DAY + 60)
    gone = bob.messages().and_(bob.page.locator(f'[data-seq="{seq}"]'))
    expect(gone).to_have_attribute("data-disappeared", "true")
    expect(gone).to_have_attribute("data-deleted", "true")
    expect(gone.get_by_test_id("message-deleted")).to_have_text("This message disappeared")
    expect(bob.chat_item(chat_id).get_by_test_id("chat-last-message")).to_have_text("This message disappeared")
    bob.shot("account-11-message-disappeared")
    expect(alice.message("gone tomorrow")).to_be_visible()  # not yet, by Alice's clock
