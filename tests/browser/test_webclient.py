"""The web client in a real browser: two browser contexts are two users (each with its own sessionStorage).

Every wait is on a data-testid selector or attribute (Playwright's auto-waiting `expect`), never a sleep.
Screenshots of key moments go to test-artifacts/screenshots/ for people to look at.
"""
import asyncio
import concurrent.futures
import itertools
import os
import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TEST_TIMEOUT_S, TIMEOUT_MS
from tests.e2e.support import PASSWORD, Stack

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}_{os.getpid() % 1000}"


def run_async(make_coroutine):
    """Run a coroutine in its own thread and loop: Playwright's sync API owns this thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make_coroutine()).result(timeout=60)


class Tab:
    """One user in one browser context (one tab)."""

    def __init__(self, browser: Browser, stack: Stack, screenshots, name: str):
        self.stack, self.screenshots, self.name = stack, screenshots, name
        self.context = browser.new_context(viewport={"width": 1100, "height": 720})
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", self._on_dialog)
        self.page.goto(stack.base + "/")

    def _on_dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self):
        self.context.close()
        assert not self.errors, f"uncaught errors in {self.name}'s page: {self.errors}"
        assert not self.dialogs, f"dialogs opened in {self.name}'s page: {self.dialogs}"

    def by(self, testid: str):
        return self.page.get_by_test_id(testid)

    def shot(self, name: str):
        self.page.screenshot(path=str(self.screenshots / f"{name}.png"))

    # --- sign-in ------------------------------------------------------------------------------------------

    def _auth(self, button: str):
        expect(self.by("auth-view")).to_be_visible()
        self.by("auth-username").fill(self.name)
        self.by("auth-password").fill(PASSWORD)
        self.by(button).click()
        self.wait_online()

    def signup(self):
        self._auth("signup-button")

    def login(self):
        self._auth("login-button")

    def wait_online(self):
        expect(self.by("main-view")).to_be_visible()
        expect(self.by("current-user")).to_have_text(self.name)
        expect(self.by("connection-status")).to_have_attribute("data-state", "online")

    def logout(self):
        self.by("logout-button").click()
        expect(self.by("auth-view")).to_be_visible()
        expect(self.by("main-view")).to_be_hidden()

    # --- chats --------------------------------------------------------------------------------------------

    def chat_item(self, chat_id: str):
        return self.page.locator(f'[data-testid="chat-list-item"][data-chat-id="{chat_id}"]')

    def start_direct(self, peer: str) -> str:
        self.by("new-chat-toggle").click()
        self.by("new-direct-username").fill(peer)
        self.by("new-direct-submit").click()
        pane = self.by("chat-pane")
        expect(pane).to_be_visible()
        expect(self.by("chat-title")).to_have_text(peer)
        chat_id = pane.get_attribute("data-chat-id")
        assert chat_id and peer in chat_id and self.name in chat_id
        expect(self.chat_item(chat_id)).to_have_class(re.compile(r"\bactive\b"))
        return chat_id

    def start_group(self, name: str, members: list[str]) -> str:
        self.by("new-chat-toggle").click()
        self.by("new-group-name").fill(name)
        self.by("new-group-members").fill(", ".join(members))
        self.by("new-group-submit").click()
        expect(self.by("chat-pane")).to_be_visible()
        expect(self.by("chat-title")).to_have_text(name)
        return self.by("chat-pane").get_attribute("data-chat-id")

    def open_chat(self, chat_id: str):
        self.chat_item(chat_id).click()
        expect(self.by("chat-pane")).to_have_attribute("data-chat-id", chat_id)

    # --- messages -----------------------------------------------------------------------------------------

    def messages(self):
        return self.by("message-items").get_by_test_id("message")

    def message(self, text: str):
        return self.messages().filter(has=self.page.get_by_test_id("message-text").get_by_text(text, exact=True))

    def send(self, text: str):
        self.by("message-input").fill(text)
        self.by("message-input").press("Enter")
        sent = self.message(text)
        expect(sent).to_have_attribute("data-own", "true")
        expect(sent).to_have_attribute("data-state", "sent")
        expect(sent).to_have_attribute("data-seq", re.compile(r"^\d+$"))
        expect(self.by("message-input")).to_have_value("")
        return sent

    def expect_texts(self, texts: list[str]):
        """The open chat shows exactly these texts, in this order, at seqs 1..n."""
        expect(self.messages().get_by_test_id("message-text")).to_have_text(texts)
        seqs = [int(seq) for seq in self.messages().evaluate_all("nodes => nodes.map(n => n.dataset.seq)")]
        assert seqs == list(range(1, len(texts) + 1)), seqs


@pytest.fixture
def tabs(browser, stack, screenshots):
    opened: list[Tab] = []

    def open_tab(prefix: str) -> Tab:
        opened.append(Tab(browser, stack, screenshots, unique(prefix)))
        return opened[-1]

    yield open_tab
    for tab in opened:
        tab.close()


@pytest.fixture
def pair(tabs):
    """Alice and Bob, signed up through the UI, in a 1:1 chat that both have open."""
    alice, bob = tabs("alice"), tabs("bob")
    alice.signup()
    bob.signup()
    chat_id = alice.start_direct(bob.name)
    expect(bob.chat_item(chat_id)).to_be_visible()
    bob.open_chat(chat_id)
    return alice, bob, chat_id


def test_sign_up_log_in_and_chat_both_ways_with_ticks(tabs, screenshots):
    alice, bob = tabs("alice"), tabs("bob")
    alice.shot("01-sign-in")
    alice.signup()
    bob.signup()
    # log out and back in through the form, as a returning user does
    bob.logout()
    bob.login()
    expect(alice.by("chat-list-empty")).to_be_visible()
    alice.shot("02-signed-in-no-chats")

    chat_id = alice.start_direct(bob.name)
    expect(bob.chat_item(chat_id)).to_be_visible()  # the `chat` push reaches Bob's list
    expect(bob.by("no-chat-selected")).to_be_visible()

    # Bob has not opened the chat yet: his client acknowledges delivery only, and counts it unread
    first = alice.send("Hi Bob! Lunch at noon?")
    expect(first).to_have_attribute("data-tick", "delivered")
    expect(first.get_by_test_id("message-tick")).to_have_attribute("data-tick", "delivered")
    expect(bob.chat_item(chat_id)).to_have_attribute("data-unread", "1")
    expect(bob.chat_item(chat_id).get_by_test_id("chat-last-message")).to_contain_text("Lunch at noon?")
    alice.shot("03-alice-sent-delivered")
    bob.shot("04-bob-unread-badge")

    # Bob opens it: read
    bob.open_chat(chat_id)
    theirs = bob.message("Hi Bob! Lunch at noon?")
    expect(theirs).to_have_attribute("data-own", "false")
    expect(theirs).to_have_attribute("data-sender", alice.name)
    expect(first).to_have_attribute("data-tick", "read")
    expect(bob.chat_item(chat_id)).to_have_attribute("data-unread", "0")

    # and the other way round, with both chats open: straight to read
    reply = bob.send("Sure, see you there")
    expect(alice.message("Sure, see you there")).to_have_attribute("data-sender", bob.name)
    expect(reply).to_have_attribute("data-tick", "read")
    second = alice.send("👍 great")
    expect(bob.message("👍 great")).to_be_visible()
    expect(second).to_have_attribute("data-tick", "read")

    for tab in (alice, bob):
        tab.expect_texts(["Hi Bob! Lunch at noon?", "Sure, see you there", "👍 great"])
    alice.shot("05-alice-conversation-read")
    bob.shot("06-bob-conversation")


def test_reload_keeps_the_history_in_seq_order(pair):
    alice, bob, chat_id = pair
    texts = []
    for i in range(6):
        sender = (alice, bob)[i % 2]
        texts.append(f"message {i + 1} from {sender.name}")
        sender.send(texts[-1])
    for tab in (alice, bob):
        tab.expect_texts(texts)

    alice.page.reload()
    alice.wait_online()  # the session survives a reload (sessionStorage); the store is rebuilt from sync
    expect(alice.chat_item(chat_id)).to_be_visible()
    alice.open_chat(chat_id)
    alice.expect_texts(texts)
    expect(alice.message(texts[0])).to_have_attribute("data-tick", "read")  # ticks come back too
    expect(alice.by("history-start")).to_be_visible()
    alice.shot("07-alice-after-reload")

    # Bob reloads too, then writes: the new message lands after the history on both sides
    bob.page.reload()
    bob.wait_online()
    bob.open_chat(chat_id)
    bob.expect_texts(texts)
    texts.append("after the reload")
    bob.send(texts[-1])
    alice.expect_texts(texts)


def test_html_in_a_message_is_shown_as_text(pair, tabs):
    alice, bob, chat_id = pair
    attack = "<img src=x onerror=alert(1)>"
    bold = "<b>bold?</b> & <script>alert(2)</script>"
    alice.send(attack)
    alice.send(bold)
    for tab in (alice, bob):
        expect(tab.message(attack).get_by_test_id("message-text")).to_have_text(attack)
        expect(tab.message(bold).get_by_test_id("message-text")).to_have_text(bold)
        assert tab.by("message-items").locator("img, b, script").count() == 0
        assert tab.page.locator("img[src='x'], img[src$='/x'], b, body script").count() == 0
    expect(bob.chat_item(chat_id).get_by_test_id("chat-last-message")).to_contain_text("<script>")

    # a group name is text too
    carol = tabs("carol")
    carol.signup()
    group_name = "<i>group</i><img src=y onerror=alert(3)>"
    group_id = carol.start_group(group_name, [alice.name])
    expect(alice.chat_item(group_id).get_by_test_id("chat-name")).to_have_text(group_name)
    assert alice.page.locator("i, img[src$='/y'], img[src='y']").count() == 0
    bob.shot("08-bob-html-as-text")
    # no alert() ran anywhere: Tab.close() fails the test on any dialog


def test_group_of_three_shows_everyones_messages(tabs, stack):
    alice, bob = tabs("alice"), tabs("bob")
    alice.signup()
    bob.signup()
    carol = stack.user("carol")  # the third member only talks REST and WebSocket

    group_id = alice.start_group("Weekend trip", [bob.name, carol.user_id])
    expect(alice.by("presence-text")).to_contain_text(bob.name)
    expect(alice.by("presence-text")).to_contain_text(carol.user_id)
    expect(bob.chat_item(group_id)).to_have_attribute("data-kind", "group")
    bob.open_chat(group_id)
    expect(bob.by("chat-title")).to_have_text("Weekend trip")

    alice.send("Who brings the tent?")
    expect(bob.message("Who brings the tent?")).to_be_visible()

    async def carol_says():
        socket = await carol.connect(device="script")
        try:
            sent = await socket.call("send", chat_id=group_id, client_msg_id=str(uuid.uuid4()), kind="text",
                                     text="I have one")
            assert sent["type"] == "sent", sent
            read = await socket.call("receipt", chat_id=group_id, seq=sent["seq"], status="read")
            assert read["type"] == "ok", read
        finally:
            await socket.close()

    run_async(carol_says)
    bob.send("I'll bring the food")

    texts = ["Who brings the tent?", "I have one", "I'll bring the food"]
    senders = [alice.name, carol.user_id, bob.name]
    for tab in (alice, bob):
        tab.expect_texts(texts)
        assert tab.messages().evaluate_all("nodes => nodes.map(n => n.dataset.sender)") == senders
    # other people's messages carry their name in a group
    expect(alice.message("I have one").get_by_test_id("message-sender")).to_have_text(carol.user_id)
    expect(bob.message("Who brings the tent?").get_by_test_id("message-sender")).to_have_text(alice.name)
    # Alice's first message: Bob has the chat open and Carol sent `read`: every other member has read it
    expect(alice.message("Who brings the tent?")).to_have_attribute("data-tick", "read")

    status, members = carol.get(f"/chats/{group_id}")
    assert status == 200 and {m["user_id"] for m in members["chat"]["members"]} == {alice.name, bob.name,
                                                                                      carol.user_id}
    alice.shot("09-alice-group-of-three")
    bob.shot("10-bob-group-of-three")


def _png(path, width=640, height=480):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (30, 110, 200))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(250, 200, 40))
    draw.rectangle((0, height - 60, width, height), fill=(40, 160, 80))
    image.save(path, "PNG")
    return path


def test_image_upload_shows_its_thumbnail_on_both_sides(pair, tmp_path):
    alice, bob, chat_id = pair
    image = _png(tmp_path / "sunset.png")

    # the upload row lives for a moment only: record every state and progress value it goes through
    alice.by("uploads").evaluate("""uploads => {
        window.uploadSeen = {states: [], progress: []};
        new MutationObserver(() => {
            for (const item of uploads.querySelectorAll('[data-testid="upload-item"]'))
                window.uploadSeen.states.push(item.dataset.state);
            for (const bar of uploads.querySelectorAll('[data-testid="upload-progress"]'))
                window.uploadSeen.progress.push(Number(bar.dataset.progress));
        }).observe(uploads, {subtree: true, childList: true, attributes: true});
    }""")
    alice.by("file-input").set_input_files(str(image))
    upload = alice.by("upload-item")

    for tab in (alice, bob):
        message = tab.messages().filter(has=tab.page.get_by_test_id("media-thumb"))
        expect(message).to_have_count(1, timeout=60_000)  # processing runs on the SQS consumer
        expect(message).to_have_attribute("data-kind", "image")
        expect(message).to_have_attribute("data-sender", alice.name)
        thumb = message.get_by_test_id("media-thumb")
        expect(thumb).to_have_attribute("data-variant", re.compile(r"^(small|thumb)$"))
        expect(thumb).to_be_visible()
        tab.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
        width = thumb.evaluate("img => img.naturalWidth")
        assert 0 < width <= 320, width  # a variant, not the 640x480 original
    expect(alice.messages().filter(has=alice.page.get_by_test_id("media-thumb"))).to_have_attribute(
        "data-tick", "read")
    expect(upload).to_have_count(0)  # the finished upload is dismissed
    seen = alice.page.evaluate("window.uploadSeen")
    # (a small file on loopback may finish uploading between two frames, so `uploading` need not render)
    assert seen["states"][0] == "requesting" and seen["states"][-1] == "done", seen["states"]
    assert max(seen["progress"]) == 100 and "error" not in seen["states"], seen
    alice.shot("11-alice-image-sent")
    bob.shot("12-bob-image-received")

    # the full size opens on click
    bob.by("media-thumb").click()
    expect(bob.by("lightbox")).to_be_visible()
    bob.page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=bob.by("lightbox-image").element_handle())
    bob.shot("13-bob-lightbox")
    bob.page.keyboard.press("Escape")
    expect(bob.by("lightbox")).to_be_hidden()


def test_edits_reactions_and_deletes_from_another_device_show_in_place(pair, stack):
    alice, bob, chat_id = pair
    seq = int(alice.send("helo").get_attribute("data-seq"))

    async def act(*steps):
        from parley_sdk import ParleyClient
        clients = {}
        for name in {tab.name for tab, _ in steps}:
            clients[name] = ParleyClient(stack.base)
            await clients[name].login(name, PASSWORD)
            await clients[name].connect()
        for tab, step in steps:
            await step(clients[tab.name])
        for client in clients.values():
            await client.close()

    run_async(lambda: act((alice, lambda c: c.edit(chat_id, seq, "hello")),
                          (bob, lambda c: c.react(chat_id, seq, "👍"))))
    for tab in (alice, bob):
        shown = tab.messages().filter(has=tab.page.get_by_test_id("message-edited"))
        expect(shown.get_by_test_id("message-text")).to_have_text("hello")
        expect(shown.get_by_test_id("message-reactions")).to_have_text("👍 1")
        expect(tab.messages()).to_have_count(1)  # the edit and the reaction are not messages of their own
    bob.shot("12-bob-sees-an-edit-and-a-reaction")
    run_async(lambda: act((alice, lambda c: c.delete(chat_id, seq))))
    for tab in (alice, bob):
        expect(tab.by("message-deleted")).to_have_text("This message was deleted")
        expect(tab.messages()).to_have_count(1)
    alice.shot("13-alice-sees-a-deleted-message")
