"""People and groups in the web client (issue 22; PROTOCOL.md "People: profiles, privacy, blocking, reports" and
"Groups: information, roles, invites"), each driven through the UI of two or more users: editing one's profile (name,
about, picture) and the other user seeing it, the privacy settings and `last_seen: nobody`, blocking from a chat's menu,
reporting a message, a group's info panel (name, description, picture, settings, roles) and invite links.

Every wait is on a data-testid selector or attribute, except where the server's own state is read (its reports, a
group's member count); screenshots go to test-artifacts/screenshots/people-*.png and groups-*.png.
"""
import re

import boto3
import pytest
from playwright.sync_api import expect

from devstack.aws import FAKE_CREDENTIALS, REGION
from tests.browser import test_webclient as web
from tests.browser.conftest import TEST_TIMEOUT_S
from tests.browser.test_account import account_action, eventually
from tests.browser.test_message_actions import as_user
from tests.browser.test_webclient import Tab
from tests.e2e.support import http

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)
tabs, pair = web.tabs, web.pair  # the fixtures: users in browser tabs, and two of them in a 1:1 chat
PROCESSING_MS = 90_000  # images are processed on the local stack's queue consumer: slow on a loaded machine


# ---- helpers ---------------------------------------------------------------------------------------------------


def open_dialog(tab: Tab, item: str, dialog: str):
    account_action(tab, item)
    expect(tab.by(dialog)).to_be_visible()


def save_profile(tab: Tab, name: str | None = None, about: str | None = None):
    open_dialog(tab, "account-profile", "profile-dialog")
    if name is not None:
        tab.by("profile-display-name").fill(name)
    if about is not None:
        tab.by("profile-about").fill(about)
    tab.by("profile-save").click()
    expect(tab.by("profile-saved")).to_be_visible()
    expect(tab.by("profile-error")).to_be_hidden()


def expect_avatar_image(avatar):
    """An avatar span shows a picture that loaded (a thumbnail: 96x96 at most)."""
    expect(avatar).to_have_attribute("data-kind", "image", timeout=PROCESSING_MS)
    img = avatar.get_by_test_id("avatar-image")
    avatar.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    assert 0 < img.evaluate("img => img.naturalWidth") <= 96


def chat_menu(tab: Tab, item: str):
    tab.by("chat-menu-button").click()
    expect(tab.by("chat-menu")).to_be_visible()
    tab.by(item).click()
    expect(tab.by("chat-menu")).to_be_hidden()


def open_group_info(tab: Tab):
    tab.by("group-info-button").click()
    expect(tab.by("group-dialog")).to_be_visible()
    expect(tab.by("group-dialog")).to_have_attribute("data-chat-id", tab.by("chat-pane").get_attribute("data-chat-id"))


def close_group_info(tab: Tab):
    tab.by("group-close").click()
    expect(tab.by("group-dialog")).to_be_hidden()


def member_row(tab: Tab, user_id: str):
    return tab.page.locator(f'[data-testid="group-member"][data-user-id="{user_id}"]')


def message_menu(tab: Tab, message, testid: str):
    message.hover()
    message.get_by_test_id("message-menu-button").click()
    expect(tab.by("message-menu")).to_be_visible()
    tab.by("message-menu").get_by_test_id(testid).click()
    expect(tab.by("message-menu")).to_be_hidden()


def chats_table(stack):
    _, aws = http("GET", f"{stack.base}/_devstack/aws")
    resource = boto3.resource("dynamodb", region_name=aws.get("region") or REGION, endpoint_url=aws["endpoint_url"],
                              aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    return resource.Table(aws["tables"]["chats"])


def reports_of(stack, reporter: str) -> list[dict]:
    """The reports a user made, newest first, as moderators read them (`python -m deploy reports`)."""
    import json

    from boto3.dynamodb.conditions import Key
    items = chats_table(stack).query(KeyConditionExpression=Key("chat_id").eq("reports"),
                                     ScanIndexForward=False)["Items"]
    return [r for r in (json.loads(item["report"]) for item in items) if r["reporter_id"] == reporter]


# ---- profiles ----------------------------------------------------------------------------------------------------


def test_profile_name_about_and_picture_show_in_the_other_users_list_and_header(pair, tmp_path):
    alice, bob, chat_id = pair
    # before: user ids and initials
    expect(bob.chat_item(chat_id).get_by_test_id("chat-name")).to_have_text(alice.name)
    expect(bob.chat_item(chat_id).get_by_test_id("chat-avatar")).to_have_attribute("data-kind", "initials")

    open_dialog(alice, "account-profile", "profile-dialog")
    expect(alice.by("profile-user-id")).to_have_text(alice.name)
    alice.by("profile-display-name").fill("Alice Liddell")
    alice.by("profile-about").fill("Down the rabbit hole")
    alice.shot("people-01-profile-editor")
    alice.by("profile-save").click()
    expect(alice.by("profile-saved")).to_be_visible()

    # Bob's tab gets the `profile` event: the chat list and the open chat's header read the display name
    expect(bob.chat_item(chat_id).get_by_test_id("chat-name")).to_have_text("Alice Liddell")
    expect(bob.by("chat-title")).to_have_text("Alice Liddell")
    expect(bob.chat_item(chat_id).get_by_test_id("chat-avatar")).to_have_text("AL")
    expect(bob.by("header-avatar")).to_have_text("AL")

    # the picture: uploaded into the "profile" slot, shown as processing until its `media` event, then set
    alice.by("profile-avatar-status").evaluate("""node => {
        window.avatarStates = [];
        new MutationObserver(() => window.avatarStates.push(node.dataset.state))
            .observe(node, {attributes: true, attributeFilter: ['data-state']});
    }""")
    alice.by("profile-avatar-input").set_input_files(str(web._png(tmp_path / "alice.png", 400, 300)))
    expect(alice.by("profile-avatar-status")).to_have_attribute("data-state",
                                                                re.compile("uploading|processing|saving|done"))
    alice.shot("people-02-picture-processing")
    expect(alice.by("profile-avatar-status")).to_have_attribute("data-state", "done", timeout=PROCESSING_MS)
    states = alice.page.evaluate("window.avatarStates")
    assert "processing" in states and states.index("processing") < states.index("saving") < states.index("done"), states
    expect_avatar_image(alice.by("profile-avatar"))
    expect_avatar_image(alice.by("my-avatar-image"))
    alice.shot("people-03-picture-set")
    alice.by("profile-close").click()
    expect(alice.by("profile-dialog")).to_be_hidden()

    # the other user sees the picture in the chat list and in the header
    expect_avatar_image(bob.chat_item(chat_id).get_by_test_id("chat-avatar"))
    expect_avatar_image(bob.by("header-avatar"))
    bob.shot("people-04-bob-sees-alices-profile")

    # what the server keeps: a reload (Bob's client asks GET /api/users) and Alice's editor (GET /api/me)
    bob.page.reload()
    bob.wait_online()
    expect(bob.chat_item(chat_id).get_by_test_id("chat-name")).to_have_text("Alice Liddell")
    expect_avatar_image(bob.chat_item(chat_id).get_by_test_id("chat-avatar"))
    alice.page.reload()
    alice.wait_online()
    open_dialog(alice, "account-profile", "profile-dialog")
    expect(alice.by("profile-display-name")).to_have_value("Alice Liddell")
    expect(alice.by("profile-about")).to_have_value("Down the rabbit hole")
    expect_avatar_image(alice.by("profile-avatar"))

    # removing the picture and the name: back to initials and the user id
    alice.by("profile-avatar-remove").click()
    expect(alice.by("profile-avatar")).to_have_attribute("data-kind", "initials")
    alice.by("profile-display-name").fill("")
    alice.by("profile-save").click()
    expect(alice.by("profile-saved")).to_be_visible()
    expect(bob.chat_item(chat_id).get_by_test_id("chat-name")).to_have_text(alice.name)
    expect(bob.chat_item(chat_id).get_by_test_id("chat-avatar")).to_have_attribute("data-kind", "initials")
    status, body = as_user(alice).get("/me")
    assert status == 200 and body["profile"] == {"user_id": alice.name, "about": "Down the rabbit hole"}, body


def test_a_file_that_is_not_an_image_is_refused_as_a_picture(pair, tmp_path):
    alice, _, _ = pair
    fake = tmp_path / "not-a-picture.png"
    fake.write_bytes(b"this is text, not a PNG" * 20)
    open_dialog(alice, "account-profile", "profile-dialog")
    alice.by("profile-avatar-input").set_input_files(str(fake))
    expect(alice.by("profile-avatar-status")).to_have_attribute("data-state", "error", timeout=PROCESSING_MS)
    expect(alice.by("profile-avatar-status")).to_contain_text("rejected")
    expect(alice.by("profile-avatar")).to_have_attribute("data-kind", "initials")
    alice.shot("people-05-picture-rejected")
    status, body = as_user(alice).get("/me")
    assert status == 200 and "avatar" not in body["profile"], body


# ---- settings ----------------------------------------------------------------------------------------------------


def set_settings(tab: Tab, last_seen: str | None = None, read_receipts: bool | None = None,
                 groups_add: str | None = None, push_previews: bool | None = None, shot: str | None = None):
    open_dialog(tab, "account-settings", "settings-dialog")
    expect(tab.by("settings-dialog")).to_have_attribute("data-loaded", "true")
    if last_seen is not None:
        tab.by("settings-last-seen").select_option(last_seen)
    if read_receipts is not None:
        tab.by("settings-read-receipts").set_checked(read_receipts)
    if groups_add is not None:
        tab.by("settings-groups-add").select_option(groups_add)
    if push_previews is not None:
        tab.by("settings-push-previews").set_checked(push_previews)
    if shot:
        tab.shot(shot)
    tab.by("settings-save").click()
    expect(tab.by("settings-saved")).to_be_visible()
    expect(tab.by("settings-error")).to_be_hidden()
    tab.by("settings-close").click()
    expect(tab.by("settings-dialog")).to_be_hidden()


def test_settings_round_trip_and_last_seen_nobody_hides_presence(pair):
    alice, bob, chat_id = pair
    expect(bob.by("presence-dot")).to_have_attribute("data-status", "online")
    expect(bob.by("presence-text")).to_have_text("online")

    set_settings(alice, last_seen="nobody", read_receipts=False, groups_add="contacts", push_previews=False,
                 shot="people-06-settings")
    status, body = as_user(alice).get("/me")
    assert status == 200 and body["settings"] == {"last_seen": "nobody", "read_receipts": False,
                                                   "groups_add": "contacts", "push_previews": False}, body

    # a reload shows what was saved
    alice.page.reload()
    alice.wait_online()
    open_dialog(alice, "account-settings", "settings-dialog")
    expect(alice.by("settings-dialog")).to_have_attribute("data-loaded", "true")
    expect(alice.by("settings-last-seen")).to_have_value("nobody")
    expect(alice.by("settings-read-receipts")).not_to_be_checked()
    expect(alice.by("settings-groups-add")).to_have_value("contacts")
    expect(alice.by("settings-push-previews")).not_to_be_checked()
    alice.shot("people-07-settings-after-reload")
    alice.by("settings-close").click()

    # Bob asks again (a reload): Alice's presence reads `unknown`, shown as no status at all, not "last seen"
    bob.page.reload()
    bob.wait_online()
    bob.open_chat(chat_id)
    expect(bob.by("presence-dot")).to_have_attribute("data-status", "unknown")
    expect(bob.by("presence-text")).to_have_attribute("data-status", "unknown")
    expect(bob.by("presence-text")).to_have_text("")
    expect(bob.chat_item(chat_id).get_by_test_id("chat-presence-dot")).to_have_attribute("data-status", "unknown")
    bob.shot("people-08-bob-sees-no-presence")

    # everyone again: Bob's tab (re-opening the chat asks) reads her online
    set_settings(alice, last_seen="everyone")
    bob.page.reload()
    bob.wait_online()
    bob.open_chat(chat_id)
    expect(bob.by("presence-text")).to_have_text("online")


# ---- blocking ----------------------------------------------------------------------------------------------------


def test_block_from_the_menu_refuses_the_peers_messages_and_unblock_restores(pair):
    alice, bob, chat_id = pair
    alice.send("hi Bob")
    expect(bob.message("hi Bob")).to_be_visible()

    expect(alice.by("blocked-notice")).to_be_hidden()
    alice.by("chat-menu-button").click()
    expect(alice.by("chat-block")).to_have_text(f"Block {bob.name}")
    expect(alice.by("chat-unblock")).to_be_hidden()
    expect(alice.by("chat-info")).to_be_hidden()  # a direct chat has no group info
    alice.shot("people-09-chat-menu")
    alice.by("chat-block").click()
    expect(alice.by("blocked-notice")).to_be_visible()
    expect(alice.by("blocked-text")).to_contain_text(f"You blocked {bob.name}")
    expect(alice.by("message-input")).to_be_disabled()
    expect(alice.by("chat-pane")).to_have_attribute("data-blocked", "true")
    alice.shot("people-10-alice-blocked-bob")

    # Bob's send is refused by the server: the message shows failed with the server's reason
    bob.by("message-input").fill("are you there?")
    bob.by("message-input").press("Enter")
    refused = bob.messages().filter(has_text="are you there?")
    expect(refused).to_have_attribute("data-state", "failed")
    expect(refused.get_by_test_id("message-error")).to_be_visible()
    expect(refused.get_by_test_id("message-error")).to_contain_text("does not take messages from you")
    expect(refused.get_by_test_id("message-retry")).to_be_visible()
    bob.shot("people-11-bob-send-refused")
    expect(alice.message("are you there?")).to_have_count(0)

    # the block is the server's: a reload still shows it
    alice.page.reload()
    alice.wait_online()
    alice.open_chat(chat_id)
    expect(alice.by("blocked-notice")).to_be_visible()
    status, body = as_user(alice).get("/blocks")
    assert status == 200 and body["user_ids"] == [bob.name], body

    # unblocking restores: Bob's retry goes through
    alice.by("blocked-unblock").click()
    expect(alice.by("blocked-notice")).to_be_hidden()
    expect(alice.by("message-input")).to_be_enabled()
    refused.get_by_test_id("message-retry").click()
    expect(refused).to_have_attribute("data-state", "sent")
    expect(refused.get_by_test_id("message-error")).to_be_hidden()
    expect(alice.message("are you there?")).to_be_visible()
    alice.send("sorry, I'm back")
    expect(bob.message("sorry, I'm back")).to_be_visible()

    # and the menu blocks and unblocks too
    chat_menu(alice, "chat-block")
    expect(alice.by("blocked-notice")).to_be_visible()
    chat_menu(alice, "chat-unblock")
    expect(alice.by("blocked-notice")).to_be_hidden()
    assert as_user(alice).get("/blocks")[1]["user_ids"] == []


# ---- reports -----------------------------------------------------------------------------------------------------


def test_report_a_message_with_a_reason(pair, stack):
    alice, bob, chat_id = pair
    alice.send("hello")
    spam = bob.send("cheap watches at example.test")
    seq = int(spam.get_attribute("data-seq"))
    theirs = alice.message("cheap watches at example.test")

    # one's own messages have no report item
    own = alice.message("hello")
    own.hover()
    own.get_by_test_id("message-menu-button").click()
    expect(alice.by("message-menu")).to_be_visible()
    expect(alice.by("message-menu").get_by_test_id("action-report")).to_have_count(0)
    alice.page.keyboard.press("Escape")

    message_menu(alice, theirs, "action-report")
    dialog = alice.by("report-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("data-seq", str(seq))
    expect(alice.by("report-preview")).to_contain_text("cheap watches")
    alice.by("report-category").select_option("spam")
    alice.by("report-details").fill("third time today")
    alice.shot("people-12-report-dialog")
    alice.by("report-submit").click()
    expect(alice.by("report-done")).to_be_visible()
    expect(alice.by("report-submit")).to_be_hidden()
    alice.shot("people-13-report-sent")
    alice.by("report-cancel").click()
    expect(dialog).to_be_hidden()

    # a second report: "something else" needs a word of explanation
    message_menu(alice, theirs, "action-report")
    alice.by("report-category").select_option("other")
    alice.by("report-submit").click()
    expect(alice.by("report-error")).to_have_text("Say what is wrong with this message.")
    alice.by("report-details").fill("pretends to be a bank")
    alice.by("report-submit").click()
    expect(alice.by("report-done")).to_be_visible()
    alice.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # what the moderators get: the message, the one before it, the reasons
    def two_reports():
        return len(reports_of(stack, alice.name)) == 2

    eventually(two_reports, "both reports stored")
    newest, first = reports_of(stack, alice.name)
    assert first["reason"] == "Spam: third time today" and newest["reason"] == "Something else: pretends to be a bank"
    for report in (first, newest):
        assert report["chat_id"] == chat_id and report["seq"] == seq
        assert [m["text"] for m in report["messages"]] == ["hello", "cheap watches at example.test"]


# ---- groups: info, settings, roles ---------------------------------------------------------------------------------


def test_group_info_rename_description_picture_settings_and_roles(tabs, stack, tmp_path):
    alice, bob = tabs("alice"), tabs("bob")
    alice.signup()
    bob.signup()
    carol = stack.user("restcarol")  # (its own prefix: Stack and the tabs number names apart)
    # Alice's display name, set over REST (the editor has its own test)
    status, _ = http("PUT", f"{stack.api}/me/profile", {"display_name": "Alice A."}, token=as_user(alice).token)
    assert status == 200

    group_id = alice.start_group("Book club", [bob.name, carol.user_id])
    expect(bob.chat_item(group_id)).to_be_visible()
    bob.open_chat(group_id)
    alice.send("first meeting on Friday")
    # display names where known: the sender of a group message, the member list in the header
    expect(bob.message("first meeting on Friday").get_by_test_id("message-sender")).to_have_text("Alice A.")
    expect(bob.by("presence-text")).to_contain_text("Alice A.")

    # Alice (admin) renames the group and describes it
    open_group_info(alice)
    expect(alice.by("group-name")).to_have_value("Book club")
    expect(alice.by("group-send")).to_be_enabled()
    expect(alice.by("group-invite-create")).to_be_enabled()
    alice.by("group-name").fill("Book club 📚")
    alice.by("group-description").fill("Monthly, on the first Friday")
    alice.by("group-info-save").click()
    expect(alice.by("chat-title")).to_have_text("Book club 📚")
    expect(bob.by("chat-title")).to_have_text("Book club 📚")
    expect(bob.chat_item(group_id).get_by_test_id("chat-name")).to_have_text("Book club 📚")
    expect(alice.by("group-error")).to_be_hidden()
    alice.shot("groups-01-admin-info-panel")

    # Bob (member): may edit the info (edit_info: all), may not change settings, roles or invites
    open_group_info(bob)
    expect(bob.by("group-description")).to_have_value("Monthly, on the first Friday")
    expect(bob.by("group-name")).to_be_enabled()
    expect(bob.by("group-send")).to_be_disabled()
    expect(bob.by("group-edit-info")).to_be_disabled()
    expect(bob.by("group-settings-note")).to_be_visible()
    expect(bob.by("group-invite-create")).to_be_disabled()
    expect(member_row(bob, alice.name)).to_have_attribute("data-role", "admin")
    expect(member_row(bob, alice.name).get_by_test_id("member-name")).to_have_text("Alice A.")
    expect(member_row(bob, carol.user_id).get_by_test_id("member-role-toggle")).to_be_disabled()
    expect(bob.by("group-member-count")).to_have_text("3 members")
    bob.shot("groups-02-member-info-panel")

    # a group picture: uploaded into the group, set once processed; both see it
    alice.by("group-avatar-input").set_input_files(str(web._png(tmp_path / "books.png", 320, 320)))
    expect(alice.by("group-avatar-status")).to_have_attribute("data-state", "done", timeout=PROCESSING_MS)
    expect_avatar_image(alice.by("group-avatar"))
    for tab in (alice, bob):
        expect_avatar_image(tab.chat_item(group_id).get_by_test_id("chat-avatar"))
        expect_avatar_image(tab.by("header-avatar"))
    expect_avatar_image(bob.by("group-avatar"))

    # only admins edit the info from now on: Bob's fields turn read-only
    alice.by("group-edit-info").select_option("admins")
    expect(alice.by("group-edit-info")).to_be_enabled()
    expect(bob.by("group-edit-info")).to_have_value("admins")
    expect(bob.by("group-name")).to_be_disabled()
    expect(bob.by("group-info-save")).to_be_hidden()
    expect(bob.by("group-info-note")).to_be_visible()
    expect(bob.by("group-avatar-change")).to_be_disabled()

    # only admins send: Bob's composer is off, with the reason
    alice.by("group-send").select_option("admins")
    expect(bob.by("group-send")).to_have_value("admins")
    close_group_info(bob)
    expect(bob.by("message-input")).to_be_disabled()
    expect(bob.by("send-restricted")).to_be_visible()
    expect(bob.by("send-restricted")).to_have_text("Only admins can send messages to this group.")
    bob.shot("groups-03-member-may-not-send")
    status, chat = as_user(bob).get(f"/chats/{group_id}")
    assert chat["chat"]["settings"] == {"send": "admins", "edit_info": "admins"}, chat

    # Alice makes Bob an admin: he may send and change everything
    member_row(alice, bob.name).get_by_test_id("member-role-toggle").click()
    expect(member_row(alice, bob.name)).to_have_attribute("data-role", "admin")
    expect(member_row(alice, bob.name).get_by_test_id("member-role-toggle")).to_have_text("Remove admin")
    expect(bob.by("send-restricted")).to_be_hidden()
    expect(bob.by("message-input")).to_be_enabled()
    bob.send("thanks!")
    expect(alice.message("thanks!")).to_be_visible()
    open_group_info(bob)
    expect(member_row(bob, bob.name)).to_have_attribute("data-role", "admin")
    expect(bob.by("group-send")).to_be_enabled()
    expect(bob.by("group-name")).to_be_enabled()
    bob.shot("groups-04-member-made-admin")
    # the changes were recorded in the chat as system messages
    expect(alice.messages().filter(has_text=f"made {bob.name} an admin")).to_have_count(1)
    close_group_info(bob)
    close_group_info(alice)


# ---- invite links ----------------------------------------------------------------------------------------------


def fill_the_group(stack, chat_id: str):
    """Count the group at 500 members, as 497 more joins would leave it."""
    chats_table(stack).update_item(Key={"chat_id": chat_id, "sk": "meta"}, UpdateExpression="SET member_count = :full",
                                   ExpressionAttributeValues={":full": 500})


def test_invite_link_join_revoke_and_a_full_group(tabs, stack):
    alice = tabs("alice")
    alice.signup()
    bob = stack.user("restbob")
    group_id = alice.start_group("Climbing", [bob.user_id])

    open_group_info(alice)
    alice.by("group-invite-create").click()
    link_field = alice.by("group-invite-link")
    expect(link_field).to_be_visible()
    expect(link_field).to_have_value(re.compile(rf"^{re.escape(stack.base)}/#join=[A-Za-z0-9_-]{{16,}}$"))
    expect(alice.by("group-invite-expires")).to_have_text("Expires in 7 days")
    link = link_field.input_value()
    alice.shot("groups-05-invite-link")

    # Carol opens the link before signing in: she signs up, joins and sees the group
    carol = tabs("carol")
    carol.page.goto(link)
    expect(carol.by("auth-notice")).to_contain_text("join the group")
    carol.signup()
    expect(carol.by("chat-pane")).to_have_attribute("data-chat-id", group_id)
    expect(carol.by("chat-title")).to_have_text("Climbing")
    expect(carol.messages().filter(has_text="joined with an invite link")).to_have_count(1)
    expect(carol.by("join-status")).to_be_hidden()
    assert "#join" not in carol.page.url  # a reload does not join again
    carol.send("hello climbers")
    expect(alice.message("hello climbers")).to_be_visible()
    expect(member_row(alice, carol.name)).to_have_attribute("data-role", "member")
    carol.shot("groups-06-carol-joined")

    # Alice revokes the link: Dave's join shows why it failed
    alice.by("group-invite-revoke").click()
    expect(alice.by("group-invite")).to_be_hidden()
    dave = tabs("dave")
    dave.page.goto(link)
    dave.signup()
    expect(dave.by("join-status")).to_have_attribute("data-state", "error")
    expect(dave.by("join-text")).to_have_text("This invite link has expired or was revoked.")
    expect(dave.chat_item(group_id)).to_have_count(0)
    dave.shot("groups-07-revoked-link")
    dave.by("join-dismiss").click()
    expect(dave.by("join-status")).to_be_hidden()

    # a new link to a full group: Dave, signed in already, opens it in the same tab (a hash change)
    alice.by("group-invite-create").click()
    expect(alice.by("group-invite-link")).to_have_value(re.compile(r"#join=[A-Za-z0-9_-]{16,}$"))
    fresh = alice.by("group-invite-link").input_value()
    assert fresh != link
    fill_the_group(stack, group_id)
    dave.page.goto(fresh)
    expect(dave.by("join-text")).to_have_text("This group is full: it cannot take more members.")
    expect(dave.chat_item(group_id)).to_have_count(0)
    dave.shot("groups-08-full-group")
    close_group_info(alice)
