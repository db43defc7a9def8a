"""Message actions in the web client (PROTOCOL.md "Message actions"): edit, delete for everyone and for me,
reactions, replies with quotes, forwards and @mentions, each driven through the UI of two (or three) users.

Every wait is on a data-testid selector or attribute, never a sleep; a screenshot of each action goes to
test-artifacts/screenshots/.
"""
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser import test_webclient as web
from tests.browser.conftest import TEST_TIMEOUT_S
from tests.browser.test_webclient import Tab, run_async
from tests.e2e.support import PASSWORD, User, http

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)
tabs, pair = web.tabs, web.pair  # the fixtures: users in browser tabs, and two of them in a 1:1 chat


def menu(tab: Tab, message, action: str, shot: str | None = None):
    """Open a message's actions menu and pick one (`action-edit`, `action-reply`, ...)."""
    message.hover()
    message.get_by_test_id("message-menu-button").click()
    expect(tab.by("message-menu")).to_be_visible()
    if shot:
        tab.shot(shot)
    tab.by("message-menu").get_by_test_id(action).click()
    expect(tab.by("message-menu")).to_be_hidden()


def react(tab: Tab, message, emoji: str):
    message.hover()
    message.get_by_test_id("message-menu-button").click()
    tab.by("message-menu").locator(f'[data-testid="react-option"][data-emoji="{emoji}"]').click()
    expect(tab.by("message-menu")).to_be_hidden()


def menu_items(tab: Tab, message) -> list[str]:
    message.hover()
    message.get_by_test_id("message-menu-button").click()
    expect(tab.by("message-menu")).to_be_visible()
    items = tab.by("message-menu").locator(".menu-item").evaluate_all("nodes => nodes.map(n => n.dataset.testid)")
    tab.page.keyboard.press("Escape")
    expect(tab.by("message-menu")).to_be_hidden()
    return items


def chip(message, emoji: str):
    return message.locator(f'[data-testid="reaction"][data-emoji="{emoji}"]')


def as_user(tab: Tab) -> User:
    status, login = http("POST", f"{tab.stack.api}/auth/login", {"username": tab.name, "password": PASSWORD})
    assert status == 200, login
    return User(tab.stack, tab.name, login["id_token"])


def test_edit_own_message_within_the_window_shows_an_edited_mark(pair):
    alice, bob, chat_id = pair
    sent = alice.send("See you at 5")
    seq = sent.get_attribute("data-seq")
    # only the sender may edit; Bob's menu on Alice's message has no Edit (nor delete for everyone)
    theirs = bob.message("See you at 5")
    assert menu_items(bob, theirs) == ["action-reply", "action-forward", "action-delete-me"]

    menu(alice, sent, "action-edit", shot="actions-00-alice-message-menu")
    expect(alice.by("composer-context")).to_have_attribute("data-mode", "edit")
    expect(alice.by("message-input")).to_have_value("See you at 5")
    expect(alice.by("send-button")).to_have_text("Save")
    alice.shot("actions-01-alice-editing")
    alice.by("message-input").fill("See you at 6")
    alice.by("message-input").press("Enter")
    expect(alice.by("composer-context")).to_be_hidden()

    for tab in (alice, bob):
        edited = tab.messages().filter(has=tab.page.get_by_test_id("message-edited"))
        expect(edited).to_have_attribute("data-seq", seq)
        expect(edited.get_by_test_id("message-text")).to_have_text("See you at 6")
        expect(tab.messages()).to_have_count(1)  # the edit is no bubble of its own
        expect(tab.chat_item(chat_id).get_by_test_id("chat-last-message")).to_contain_text("See you at 6")
    bob.shot("actions-02-bob-sees-the-edit")

    # Escape leaves an edit without sending it
    menu(alice, alice.message("See you at 6"), "action-edit")
    alice.by("message-input").press("Escape")
    expect(alice.by("composer-context")).to_be_hidden()
    expect(alice.by("message-input")).to_have_value("")


def test_reactions_add_change_and_remove_with_who_reacted(pair):
    alice, bob, chat_id = pair
    mine = alice.send("Pizza tonight?")
    theirs = bob.message("Pizza tonight?")

    react(bob, theirs, "👍")
    for tab in (alice, bob):
        thumbs = chip(tab.message("Pizza tonight?"), "👍")
        expect(thumbs).to_have_text("👍 1")
        expect(thumbs).to_have_attribute("data-users", bob.name)
    expect(chip(mine, "👍")).to_have_attribute("title", re.compile(rf"^{bob.name} reacted with 👍"))
    expect(chip(theirs, "👍")).to_have_attribute("data-mine", "true")

    # Alice adds hers by clicking the chip
    chip(mine, "👍").click()
    for tab in (alice, bob):
        expect(chip(tab.message("Pizza tonight?"), "👍")).to_have_attribute("data-count", "2")
    expect(chip(theirs, "👍")).to_have_attribute("title", re.compile(rf"^you, {alice.name} reacted"))
    alice.shot("actions-03-two-reactions")

    # Bob changes his: one reaction per user
    react(bob, theirs, "❤️")
    for tab in (alice, bob):
        msg = tab.message("Pizza tonight?")
        expect(chip(msg, "👍")).to_have_attribute("data-users", alice.name)
        expect(chip(msg, "❤️")).to_have_attribute("data-users", bob.name)
    bob.shot("actions-04-bob-changed-his-reaction")

    # clicking one's own reaction takes it back
    chip(theirs, "❤️").click()
    for tab in (alice, bob):
        expect(chip(tab.message("Pizza tonight?"), "❤️")).to_have_count(0)
        expect(tab.message("Pizza tonight?").get_by_test_id("reaction")).to_have_count(1)
        expect(tab.messages()).to_have_count(1)
    expect(alice.chat_item(chat_id).get_by_test_id("chat-last-message")).to_have_text("You: Pizza tonight?")


def test_delete_for_everyone_and_delete_for_me(pair):
    alice, bob, chat_id = pair
    alice.send("oops, wrong chat")
    alice.send("keep this one")
    bob.send("and this is mine")

    menu(alice, alice.message("oops, wrong chat"), "action-delete-everyone")
    for tab in (alice, bob):
        expect(tab.by("message-deleted")).to_have_text("This message was deleted")
        expect(tab.messages().nth(0)).to_have_attribute("data-deleted", "true")
        expect(tab.messages()).to_have_count(3)
    # a deleted message can only be deleted for me
    assert menu_items(bob, bob.messages().nth(0)) == ["action-delete-me"]
    bob.shot("actions-05-deleted-for-everyone")

    # delete for me: gone from Bob's device only, the last one too (the chat's preview moves back)
    menu(bob, bob.message("and this is mine"), "action-delete-me")
    expect(bob.message("and this is mine")).to_have_count(0)
    expect(bob.messages()).to_have_count(2)
    expect(bob.chat_item(chat_id).get_by_test_id("chat-last-message")).to_have_text("keep this one")
    expect(alice.message("and this is mine")).to_be_visible()
    bob.shot("actions-06-bob-deleted-one-for-himself")

    # and it stays gone after a reload (the server no longer serves it to Bob): no gap, no endless backfill
    bob.page.reload()
    bob.wait_online()
    bob.open_chat(chat_id)
    expect(bob.message("keep this one")).to_be_visible()
    expect(bob.messages()).to_have_count(2)
    expect(bob.message("and this is mine")).to_have_count(0)
    expect(bob.by("message-deleted")).to_be_visible()


def test_reply_shows_a_quote_that_scrolls_to_the_original(pair):
    alice, bob, chat_id = pair
    alice.send("What time is the train?")
    script = as_user(bob)

    async def chatter():
        socket = await script.connect(device="script")
        try:
            for i in range(30):
                sent = await socket.call("send", chat_id=chat_id, client_msg_id=str(uuid.uuid4()), kind="text",
                                         text=f"filler {i}")
                assert sent["type"] == "sent", sent
        finally:
            await socket.close()

    run_async(chatter)
    expect(alice.message("filler 29")).to_be_visible()

    menu(alice, alice.message("What time is the train?"), "action-reply")
    expect(alice.by("composer-context")).to_have_attribute("data-mode", "reply")
    expect(alice.by("composer-context-text")).to_have_text("What time is the train?")
    alice.send("Never mind, found it: 9:15")
    expect(alice.by("composer-context")).to_be_hidden()

    for tab in (alice, bob):
        reply = tab.message("Never mind, found it: 9:15")
        quote = reply.get_by_test_id("message-quote")
        expect(quote.get_by_test_id("quote-text")).to_have_text("What time is the train?")
        expect(quote.get_by_test_id("quote-sender")).to_have_text("You" if tab is alice else alice.name)
    original = bob.message("What time is the train?")
    expect(original).not_to_be_in_viewport()
    bob.shot("actions-07-bob-sees-a-reply")
    bob.message("Never mind, found it: 9:15").get_by_test_id("message-quote").click()
    expect(original).to_be_in_viewport()
    expect(original).to_have_attribute("data-highlight", "true")
    expect(bob.chat_item(chat_id)).to_have_attribute("data-unread", "0")
    bob.shot("actions-08-quote-scrolled-to-the-original")

    # the original deleted: the quote says so
    menu(alice, alice.message("What time is the train?"), "action-delete-everyone")
    for tab in (alice, bob):
        expect(tab.message("Never mind, found it: 9:15").get_by_test_id("quote-text")).to_have_text("deleted message")


def test_forward_to_another_chat_with_a_chat_picker(pair, stack):
    alice, bob, chat_id = pair
    carol = stack.user("carol")
    group_id = alice.start_group("Book club", [bob.name, carol.user_id])
    alice.open_chat(chat_id)
    alice.send("Chapter 3 is the best")

    menu(alice, alice.message("Chapter 3 is the best"), "action-forward")
    picker = alice.by("forward-dialog")
    expect(picker).to_be_visible()
    expect(picker.get_by_test_id("forward-target")).to_have_count(2)
    alice.shot("actions-09-forward-picker")
    picker.locator(f'[data-testid="forward-target"][data-chat-id="{group_id}"]').click()
    expect(picker).to_be_hidden()

    expect(alice.by("chat-pane")).to_have_attribute("data-chat-id", group_id)  # the picked chat opens
    bob.open_chat(group_id)
    for tab in (alice, bob):
        fwd = tab.message("Chapter 3 is the best")
        expect(fwd).to_have_attribute("data-seq", re.compile(r"^\d+$"))
        expect(fwd.get_by_test_id("message-forwarded")).to_be_visible()
        expect(fwd).to_have_attribute("data-sender", alice.name)
    alice.shot("actions-10-forwarded-into-the-group")

    # relations never count as unread nor show in a chat's preview: Bob reacts in the direct chat that
    # Alice has not open
    bob.open_chat(chat_id)
    react(bob, bob.message("Chapter 3 is the best"), "😂")
    expect(chip(bob.message("Chapter 3 is the best"), "😂")).to_be_visible()
    item = alice.chat_item(chat_id)
    expect(item.get_by_test_id("chat-last-message")).to_have_text("You: Chapter 3 is the best")
    expect(item).to_have_attribute("data-unread", "0")
    alice.open_chat(chat_id)
    expect(chip(alice.message("Chapter 3 is the best"), "😂")).to_have_attribute("data-users", bob.name)


def test_mention_with_member_completion(tabs):
    alice, bob = tabs("alice"), tabs("bob")
    alice.signup()
    bob.signup()
    group_id = alice.start_group("Launch", [bob.name])
    expect(bob.chat_item(group_id)).to_be_visible()
    bob.open_chat(group_id)

    box = alice.by("message-input")
    box.press_sequentially(f"ping @{bob.name[:3]}")
    suggestions = alice.by("mention-suggestions")
    expect(suggestions).to_be_visible()
    expect(suggestions.get_by_test_id("mention-option")).to_have_text([f"@{bob.name}"])  # never oneself
    alice.shot("actions-11-mention-completion")
    box.press("Enter")  # picks the suggestion, does not send
    expect(suggestions).to_be_hidden()
    expect(box).to_have_value(f"ping @{bob.name} ")
    box.press_sequentially("can you review?")
    box.press("Enter")

    text = f"ping @{bob.name} can you review?"
    for tab in (alice, bob):
        mention = tab.message(text).get_by_test_id("message-mention")
        expect(mention).to_have_text(f"@{bob.name}")
        expect(mention).to_have_attribute("data-user-id", bob.name)  # served back as the message's `mentions`
    expect(bob.message(text).get_by_test_id("message-mention")).to_have_class(re.compile(r"\bme\b"))
    bob.shot("actions-12-bob-is-mentioned")

    # a group admin deletes anyone's message for everyone
    bob.send("off-topic")
    assert "action-delete-everyone" in menu_items(alice, alice.message("off-topic"))
    menu(alice, alice.message("off-topic"), "action-delete-everyone")
    expect(bob.messages().last.get_by_test_id("message-deleted")).to_be_visible()
