"""Mutes and browser notifications in the web client (issue 20; PROTOCOL.md "Push notifications to devices without a
live socket"): muting and unmuting a chat from its header, the 🔕 marks in the chat list and the header, the mute kept
by the server (it survives a reload, and the muted chat's messages push nothing to the user's phone), and a browser
notification for a message that arrives while the tab is hidden.

Headless Chromium keeps every page visible (another page in front changes nothing), so a tab is made hidden by an init
script that overrides `document.visibilityState` and fires `visibilitychange`, as a browser does. The same script
records each `Notification` the page creates: with the "notifications" permission granted to the context, it wraps
the browser's own `Notification`; for the permission prompt it stands in a fake whose permission starts `default`.

Every wait is on a data-testid selector or attribute, or polls state that no page shows (the pushes the local stack
recorded, the notifications a page created); screenshots go to test-artifacts/screenshots/mute-*.png and notify-*.png.
"""
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser import test_webclient as web
from tests.browser.conftest import TEST_TIMEOUT_S, TIMEOUT_MS
from tests.browser.test_account import eventually, sockets_of
from tests.browser.test_message_actions import as_user, react
from tests.browser.test_webclient import Tab
from tests.e2e.support import http

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)
tabs, pair = web.tabs, web.pair  # the fixtures: users in browser tabs, and two of them in a 1:1 chat

# `mode`: "granted" wraps the browser's Notification (the context has the permission); "ask" is a fake whose
# permission starts "default" and whose requestPermission records whether a user gesture was active; "denied" is
# a fake that was refused; "missing" removes the API.
NOTIFY_SCRIPT = """
((mode) => {
  let hidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState',
                        { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
  window.__setHidden = (value) => { hidden = value; document.dispatchEvent(new Event('visibilitychange')); };
  window.__notes = [];
  window.__asked = [];
  window.__focused = 0;
  const focus = window.focus.bind(window);
  window.focus = () => { window.__focused++; focus(); };
  const record = (n, title, options) =>
    window.__notes.push({ n, title, body: options && options.body, tag: options && options.tag });
  if (mode === 'missing') { delete window.Notification; return; }
  if (mode === 'granted') {
    const Real = window.Notification;
    window.Notification = class extends Real {
      constructor(title, options) { super(title, options); record(this, title, options); }
    };
    return;
  }
  class Fake extends EventTarget {
    constructor(title, options) { super(); this.onclick = null; record(this, title, options); }
    close() {}
  }
  Fake.permission = sessionStorage.getItem('test.permission') || (mode === 'denied' ? 'denied' : 'default');
  Fake.requestPermission = () => {
    window.__asked.push(navigator.userActivation ? navigator.userActivation.isActive : null);
    Fake.permission = 'granted';
    sessionStorage.setItem('test.permission', 'granted');
    return Promise.resolve('granted');
  };
  window.Notification = Fake;
})(%s);
"""


def notifying(tab: Tab, mode: str = "granted") -> Tab:
    """Record the tab's notifications and let the test hide it; the page reloads to take the script."""
    if mode == "granted":
        tab.context.grant_permissions(["notifications"], origin=tab.stack.base)
    tab.context.add_init_script(NOTIFY_SCRIPT % json.dumps(mode))
    tab.page.reload()
    return tab


def hide(tab: Tab, hidden: bool = True):
    tab.page.evaluate("hidden => window.__setHidden(hidden)", hidden)
    assert tab.page.evaluate("document.visibilityState") == ("hidden" if hidden else "visible")


def notes(tab: Tab) -> list[dict]:
    return tab.page.evaluate("window.__notes.map(({title, body, tag}) => ({title, body, tag}))")


def wait_for_notes(tab: Tab, count: int) -> list[dict]:
    tab.page.wait_for_function("count => window.__notes.length >= count", arg=count, timeout=TIMEOUT_MS)
    return notes(tab)


def mute(tab: Tab, choice: str, shot: str | None = None):
    """Pick a choice of the header's 🔔 menu: mute-for-8h, mute-for-1w, mute-forever, mute-off."""
    tab.by("mute-button").click()
    expect(tab.by("mute-menu")).to_be_visible()
    if shot:
        tab.shot(shot)
    tab.by(choice).click()
    expect(tab.by("mute-menu")).to_be_hidden()
    expect(tab.by("mute-button")).to_be_enabled()  # the `mute` call came back


def expect_muted(tab: Tab, chat_id: str, title):
    item = tab.chat_item(chat_id)
    expect(item).to_have_attribute("data-muted", "true")
    expect(item.get_by_test_id("chat-muted")).to_be_visible()
    expect(item.get_by_test_id("chat-muted")).to_have_attribute("title", title)
    if tab.by("chat-pane").get_attribute("data-chat-id") == chat_id:
        expect(tab.by("mute-status")).to_be_visible()
        expect(tab.by("mute-status")).to_have_attribute("title", title)
        expect(tab.by("chat-pane")).to_have_attribute("data-muted-until",
                                                      re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"))


def expect_unmuted(tab: Tab, chat_id: str):
    item = tab.chat_item(chat_id)
    expect(item).to_have_attribute("data-muted", "false")
    expect(item.get_by_test_id("chat-muted")).to_be_hidden()
    if tab.by("chat-pane").get_attribute("data-chat-id") == chat_id:
        expect(tab.by("mute-status")).to_be_hidden()
        expect(tab.by("chat-pane")).to_have_attribute("data-muted-until", "")


def rest_chat(tab: Tab, chat_id: str) -> dict:
    status, body = as_user(tab).get(f"/chats/{chat_id}")
    assert status == 200, body
    return body["chat"]


def parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_mute_shows_marks_survives_a_reload_and_unmutes(pair):
    alice, bob, chat_id = pair
    bob.page.clock.install()  # Bob's clock moves on at the end: a mute past its time shows as ended
    bob.page.reload()
    bob.wait_online()
    bob.open_chat(chat_id)
    expect_unmuted(bob, chat_id)

    # an error reply shows and changes nothing: with the tab's clock two days behind, "8 hours from now" is past
    real_now = datetime.now(UTC).timestamp()
    bob.page.clock.set_system_time(real_now - 2 * 86400)
    mute(bob, "mute-for-8h")
    expect(bob.by("action-error")).to_contain_text("Could not mute the chat")
    expect_unmuted(bob, chat_id)
    bob.shot("mute-00-mute-refused")
    bob.page.clock.set_system_time(datetime.now(UTC).timestamp())

    mute(bob, "mute-for-8h", shot="mute-01-menu")
    muted = re.compile(r"^Muted until ")
    expect_muted(bob, chat_id, muted)
    until = bob.by("chat-pane").get_attribute("data-muted-until")
    eight_hours = parse(until) - datetime.now(UTC)
    assert timedelta(hours=7, minutes=55) < eight_hours <= timedelta(hours=8), until
    bob.shot("mute-02-muted-for-8-hours")
    # the server keeps it, for Bob only
    assert rest_chat(bob, chat_id)["muted_until"] == until
    assert "muted_until" not in rest_chat(alice, chat_id)
    expect_unmuted(alice, chat_id)

    # a pushed `chat` frame (Alice turns on disappearing messages) carries no muted_until and changes nothing
    alice.by("disappear-select").select_option("86400")
    expect(bob.by("disappear-status")).to_have_text("◷ 24 hours")
    expect_muted(bob, chat_id, muted)
    alice.send("still reaches you")
    expect(bob.message("still reaches you")).to_be_visible()  # muting silences pushes, not the chat

    # a reload rebuilds the store: GET /api/chats gives muted_until back
    bob.page.reload()
    bob.wait_online()
    expect_muted(bob, chat_id, muted)
    bob.open_chat(chat_id)
    expect_muted(bob, chat_id, muted)
    expect(bob.by("chat-pane")).to_have_attribute("data-muted-until", until)
    bob.shot("mute-03-muted-after-a-reload")

    # unmute: gone here, on the server, and after a reload
    mute(bob, "mute-off")
    expect_unmuted(bob, chat_id)
    assert "muted_until" not in rest_chat(bob, chat_id)
    bob.page.reload()
    bob.wait_online()
    bob.open_chat(chat_id)
    expect_unmuted(bob, chat_id)
    bob.by("mute-button").click()
    expect(bob.by("mute-off")).to_be_hidden()  # nothing to unmute
    bob.page.keyboard.press("Escape")
    expect(bob.by("mute-menu")).to_be_hidden()

    # until I turn it back on: a far-off time
    mute(bob, "mute-forever")
    expect_muted(bob, chat_id, "Muted until you turn it back on")
    forever = bob.by("chat-pane").get_attribute("data-muted-until")
    assert parse(forever).year >= datetime.now(UTC).year + 99, forever
    assert rest_chat(bob, chat_id)["muted_until"] == forever
    bob.shot("mute-04-muted-until-turned-back-on")

    # a mute whose time has passed shows as ended, by the client's clock (the server pushes nothing then)
    mute(bob, "mute-for-8h")
    expect_muted(bob, chat_id, muted)
    bob.page.clock.set_system_time(datetime.now(UTC).timestamp() + 8 * 3600 + 60)
    expect_unmuted(bob, chat_id)
    bob.shot("mute-05-mute-ended")


def test_a_muted_chat_pushes_nothing_to_the_phone_but_a_mention_while_another_chat_does(pair, stack):
    """The server really muted it: Bob's phone (registered over REST, no socket) gets the unmuted chat's push and
    the muted chat's mention of him, never the muted chat's other messages."""
    alice, bob, chat_id = pair
    group_id = alice.start_group("Still loud", [bob.name])
    expect(bob.chat_item(group_id)).to_be_visible()
    mute(bob, "mute-for-1w")
    expect_muted(bob, chat_id, re.compile(r"^Muted until "))
    expect_unmuted(bob, group_id)
    bob.shot("mute-06-one-chat-muted")

    phone = as_user(bob)
    status, body = http("PUT", f"{stack.api}/devices/phone", {"platform": "fcm", "token": f"t-{bob.name}"},
                        token=phone.token)
    assert status == 200, body
    bob.page.close()  # Bob's laptop is closed: only his phone is left, with no socket
    eventually(lambda: not sockets_of(stack, bob.name), "Bob's socket closed")

    alice.open_chat(chat_id)
    quiet = int(alice.send("nothing to see here").get_attribute("data-seq"))
    mention = int(alice.send(f"@{bob.name} this one you want").get_attribute("data-seq"))
    alice.open_chat(group_id)
    loud = int(alice.send("the group is not muted").get_attribute("data-seq"))

    def pushed():
        status, body = http("GET", f"{stack.base}/_devstack/pushes?user_id={bob.name}")
        assert status == 200, body
        return [(p["payload"]["chat_id"], p["payload"]["seq"]) for p in body["pushes"]]

    eventually(lambda: len(pushed()) >= 2, "the pushes of the mention and of the unmuted chat", seconds=60)
    assert sorted(pushed()) == sorted([(chat_id, mention), (group_id, loud)]), (pushed(), quiet)
    assert all(p["device"] == "phone"
               for p in http("GET", f"{stack.base}/_devstack/pushes?user_id={bob.name}")[1]["pushes"])


def test_a_hidden_tab_notifies_of_new_messages_except_in_a_muted_chat(tabs):
    alice, bob = tabs("alice"), notifying(tabs("bob"))
    alice.signup()
    bob.signup()
    assert bob.page.evaluate("Notification.permission") == "granted"
    expect(bob.by("notify-prompt")).to_be_hidden()  # nothing to ask
    chat_id = alice.start_direct(bob.name)
    group_id = alice.start_group("Hike", [bob.name])
    expect(bob.chat_item(chat_id)).to_be_visible()
    expect(bob.chat_item(group_id)).to_be_visible()
    bob.open_chat(chat_id)
    alice.open_chat(chat_id)

    # on screen: no notification
    alice.send("you are looking at this")
    expect(bob.message("you are looking at this")).to_be_visible()

    hide(bob)
    first = alice.send("are you there?")
    assert wait_for_notes(bob, 1) == [{"title": alice.name, "body": "are you there?", "tag": chat_id}]
    react(alice, first, "👍")  # a relation: no notification
    expect(bob.message("are you there?").get_by_test_id("message-reactions")).to_have_text("👍 1")
    long = "🏔️ " + "summit " * 30
    alice.send(long.strip())
    found = wait_for_notes(bob, 2)
    assert found[1] == {"title": alice.name, "body": "".join(list(long.strip())[:100]), "tag": chat_id}, found
    assert len(found) == 2, found
    bob.shot("notify-01-hidden-tab-got-notifications")

    # Bob mutes the chat: its messages stay quiet, except one that mentions him; the group still notifies
    hide(bob, False)
    mute(bob, "mute-forever")
    hide(bob)
    alice.send("quiet please")
    expect(bob.message("quiet please")).to_be_visible()
    alice.send(f"@{bob.name} but this one is for you")
    alice.open_chat(group_id)
    alice.send("group news")
    found = wait_for_notes(bob, 4)
    assert found[2:] == [
        {"title": alice.name, "body": f"@{bob.name} but this one is for you", "tag": chat_id},
        {"title": alice.name, "body": "group news", "tag": group_id},
    ], found
    expect(bob.chat_item(group_id).get_by_test_id("chat-last-message")).to_contain_text("group news")
    assert len(notes(bob)) == 4

    # clicking a notification focuses the tab and opens its chat
    bob.page.evaluate("window.__notes[3].n.dispatchEvent(new Event('click'))")
    expect(bob.by("chat-pane")).to_have_attribute("data-chat-id", group_id)
    expect(bob.message("group news")).to_be_visible()
    assert bob.page.evaluate("window.__focused") >= 1
    bob.shot("notify-02-clicked-notification-opened-the-chat")


def test_notifications_are_asked_for_only_from_a_click(tabs):
    alice = tabs("alice")
    bob, carol, dave = (notifying(tabs("bob"), "ask"), notifying(tabs("carol"), "denied"),
                        notifying(tabs("dave"), "missing"))
    for tab in (alice, bob, carol, dave):
        tab.signup()

    # never asked on load, not even after a reload; the one-time prompt and the account menu offer it
    expect(bob.by("notify-prompt")).to_be_visible()
    bob.page.reload()
    bob.wait_online()
    expect(bob.by("notify-prompt")).to_be_visible()
    assert bob.page.evaluate("window.__asked") == []
    bob.shot("notify-03-one-time-prompt")
    bob.by("account-menu-button").click()
    item = bob.by("account-notifications")
    expect(item).to_have_text("Enable notifications")
    expect(item).to_be_enabled()
    bob.shot("notify-04-account-menu-enable")
    bob.page.keyboard.press("Escape")

    # a click asks, once, with the gesture active; then the prompt is gone for good and the menu says so
    bob.by("notify-enable").click()
    expect(bob.by("notify-prompt")).to_be_hidden()
    assert bob.page.evaluate("window.__asked") == [True]
    bob.page.reload()
    bob.wait_online()
    expect(bob.by("notify-prompt")).to_be_hidden()
    bob.by("account-menu-button").click()
    expect(item).to_have_text("Notifications are on")
    expect(item).to_be_disabled()
    bob.page.keyboard.press("Escape")
    assert bob.page.evaluate("window.__asked") == []  # the reloaded page did not ask again

    # refused: nothing to ask, nothing shown; no API at all: no control, and messages still arrive without errors
    expect(carol.by("notify-prompt")).to_be_hidden()
    carol.by("account-menu-button").click()
    expect(carol.by("account-notifications")).to_have_text("Notifications are blocked")
    expect(carol.by("account-notifications")).to_be_disabled()
    carol.page.keyboard.press("Escape")
    expect(dave.by("notify-prompt")).to_be_hidden()
    dave.by("account-menu-button").click()
    expect(dave.by("account-notifications")).to_be_hidden()
    dave.page.keyboard.press("Escape")

    group_id = alice.start_group("Everyone", [bob.name, carol.name, dave.name])
    for tab in (bob, carol, dave):
        expect(tab.chat_item(group_id)).to_be_visible()
        hide(tab)
    alice.send("hello all")
    assert wait_for_notes(bob, 1) == [{"title": alice.name, "body": "hello all", "tag": group_id}]
    for tab in (carol, dave):
        expect(tab.chat_item(group_id).get_by_test_id("chat-last-message")).to_contain_text("hello all")
        assert tab.page.evaluate("window.__notes") == []
    assert carol.page.evaluate("window.__asked") == []
