"""Issue 22 end to end: profiles with a processed picture, privacy settings, a blocked user and a non-admin trying
every way in, invite links expired, revoked and into a full group, and reports read by a moderator's command."""
import json
import subprocess
import sys

import boto3

from devstack.aws import FAKE_CREDENTIALS, REGION, ROOT
from tests.e2e.support import http
from tests.e2e.test_media import fetch, post_upload
from tests.e2e.test_messaging import direct_chat, run
from tests.unit.test_media import jpeg_with_gps


def call(user, method: str, path: str, body=None):
    return http(method, user.stack.api + path, body, token=user.token)


def test_a_profile_with_a_processed_picture_reaches_those_who_share_a_chat(stack):
    alice, bob, stranger = stack.user("alice"), stack.user("bob"), stack.user("stranger")
    direct_chat(alice, bob)

    async def scenario():
        a, b, s = await alice.connect(), await bob.connect(), await stranger.connect()
        data = jpeg_with_gps(800, 600)
        slot = await a.call("upload", chat_id="profile", filename="me.jpg", content_type="image/jpeg", size=len(data))
        assert await post_upload(slot, data, "me.jpg", "image/jpeg") in (200, 201, 204)
        (processed,) = await a.events_of("media", 1, timeout=60)
        assert processed["chat_id"] == "profile" and processed["media"]["status"] == "ready"
        status, body = call(alice, "PUT", "/me/profile", {"display_name": "Alice", "about": "climbs",
                                                          "avatar_media_id": slot["media_id"]})
        assert status == 200 and body["profile"]["avatar"]["media_id"] == slot["media_id"]
        (event,) = await b.events_of("profile", 1)
        assert event["user"]["display_name"] == "Alice"
        await s.no_event(0.5, kind="profile")  # shares no chat with alice
        (seen,) = call(bob, "GET", f"/users?ids={alice.user_id}")[1]["users"]
        assert (seen["about"] == "climbs"
                and (await fetch(seen["avatar"]["variants"]["thumb"]["url"]))[:2] == b"\xff\xd8")
        assert call(bob, "GET", f"/media/{slot['media_id']}")[0] == 403  # served with the profile only
        assert call(alice, "PUT", "/me/profile", {"display_name": "x" * 65})[0] == 400
        for socket in (a, b, s):
            await socket.close()

    run(scenario())


def test_a_blocked_user_tries_every_way_in(stack):
    alice, mallory, carol = stack.user("alice"), stack.user("mallory"), stack.user("carol")
    chat = direct_chat(mallory, alice)
    call(alice, "PUT", "/me/profile", {"display_name": "Alice", "about": "private"})
    assert call(alice, "POST", "/blocks", {"user_id": mallory.user_id}) == (201, {})
    assert call(alice, "GET", "/blocks") == (200, {"user_ids": [mallory.user_id]})

    async def scenario():
        a, m = await alice.connect(), await mallory.connect()
        refused = await m.call("send", chat_id=chat, client_msg_id="m1", kind="text", text="let me in")
        assert (refused["type"], refused["code"]) == ("error", "forbidden")
        group = await m.call("create_chat", kind="group", name="trap", members=[alice.user_id, carol.user_id])
        assert group["code"] == "forbidden"
        own = (await m.call("create_chat", kind="group", name="own", members=[carol.user_id]))["chat"]["chat_id"]
        assert (await m.call("add_members", chat_id=own, user_ids=[alice.user_id]))["code"] == "forbidden"
        assert (await m.call("presence", user_ids=[alice.user_id]))["users"] == [
            {"user_id": alice.user_id, "status": "unknown", "last_seen": None}]
        assert call(mallory, "GET", f"/users?ids={alice.user_id}")[1]["users"] == [
            {"user_id": alice.user_id, "display_name": "Alice"}]
        assert (await m.call("heartbeat"))["type"] == "pong"  # every refusal kept the socket open
        await a.no_event(0.5, kind="message")
        assert call(alice, "DELETE", f"/blocks/{mallory.user_id}") == (200, {})
        sent = await m.call("send", chat_id=chat, client_msg_id="m1", kind="text", text="sorry")
        assert sent["type"] == "sent" and (await a.events_of("message", 1))[0]["message"]["text"] == "sorry"
        await a.close()
        await m.close()

    run(scenario())


def test_privacy_settings_hide_presence_and_reads(stack):
    alice, bob, carol = stack.user("alice"), stack.user("bob"), stack.user("carol")
    chat = direct_chat(alice, bob)

    async def scenario():
        a, b, c = await alice.connect(), await bob.connect(), await carol.connect()
        await c.call("create_chat", kind="group", name="g", members=[alice.user_id, bob.user_id])
        await a.call("send", chat_id=chat, client_msg_id="hello", kind="text", text="hello bob")
        assert call(alice, "PUT", "/me/settings", {"last_seen": "contacts", "read_receipts": False})[0] == 200
        (mine,) = (await b.call("presence", user_ids=[alice.user_id]))["users"]
        assert mine["status"] == "online"  # alice wrote to bob: a contact
        (hers,) = (await c.call("presence", user_ids=[alice.user_id]))["users"]
        assert hers["status"] == "unknown"  # a group in common only
        sent = await b.call("send", chat_id=chat, client_msg_id="q", kind="text", text="did you read it?")
        await a.tell("receipt", chat_id=chat, status="read", seq=sent["seq"])
        receipts = await b.events_of("receipt", 1)
        assert [r["status"] for r in receipts] == ["delivered"]
        assert {r["user_id"]: r["read_seq"] for r in call(bob, "GET", f"/chats/{chat}/receipts")[1]["receipts"]}[
            alice.user_id] == 0
        assert call(alice, "PUT", "/me/settings", {"last_seen": "friends"})[0] == 400
        for socket in (a, b, c):
            await socket.close()

    run(scenario())


def test_a_non_admin_tries_every_admin_action(stack):
    admin, member, outsider = stack.user("admin"), stack.user("member"), stack.user("outsider")

    async def scenario():
        a, m = await admin.connect(), await member.connect()
        group = (await a.call("create_chat", kind="group", name="club", members=[member.user_id]))["chat"]
        chat_id = group["chat_id"]
        assert group["settings"] == {"send": "all", "edit_info": "all"}
        invite = await a.call("create_invite", chat_id=chat_id)
        for action, params in (("update_chat", {"settings": {"send": "admins"}}),
                               ("set_role", {"user_id": member.user_id, "role": "admin"}),
                               ("create_invite", {}), ("revoke_invite", {"token": invite["token"]}),
                               ("add_members", {"user_ids": [outsider.user_id]}),
                               ("remove_members", {"user_ids": [admin.user_id]})):
            answer = await m.call(action, chat_id=chat_id, **params)
            assert (answer["type"], answer["code"]) == ("error", "forbidden"), action
        renamed = await m.call("update_chat", chat_id=chat_id, name="members may rename")
        assert renamed["chat"]["name"] == "members may rename"
        locked = await a.call("update_chat", chat_id=chat_id, settings={"send": "admins", "edit_info": "admins"})
        assert locked["chat"]["settings"] == {"send": "admins", "edit_info": "admins"}
        assert (await m.call("update_chat", chat_id=chat_id, description="no"))["code"] == "forbidden"
        refused = await m.call("send", chat_id=chat_id, client_msg_id="x", kind="text", text="may I?")
        assert refused["code"] == "forbidden"
        assert (await a.call("set_role", chat_id=chat_id, user_id=admin.user_id, role="member"))["code"] == \
            "bad_request"  # the last admin
        promoted = await a.call("set_role", chat_id=chat_id, user_id=member.user_id, role="admin")
        assert {p["user_id"]: p["role"] for p in promoted["chat"]["members"]}[member.user_id] == "admin"
        sent = await m.call("send", chat_id=chat_id, client_msg_id="x", kind="text", text="now I may")
        assert sent["type"] == "sent"  # the same client_msg_id: the refused send released it
        events = [f["message"]["event"]["type"] for f in await a.events_of("message", 4)
                  if f["message"]["kind"] == "system"]
        assert events == ["chat_updated", "chat_updated", "role"]
        await a.close()
        await m.close()

    run(scenario())


def test_invite_links_expire_are_revoked_and_stop_at_a_full_group(stack):
    admin, joiner, late, later = (stack.user(name) for name in ("admin", "joiner", "late", "later"))

    async def scenario():
        a, j, lt, lr = [await user.connect() for user in (admin, joiner, late, later)]
        chat_id = (await a.call("create_chat", kind="group", name="open", members=[]))["chat"]["chat_id"]
        short = await a.call("create_invite", chat_id=chat_id, expires_in=60)
        assert short["type"] == "invite" and short["expires_at"].endswith("Z")
        joined = await j.call("join", token=short["token"])
        assert joiner.user_id in [m["user_id"] for m in joined["chat"]["members"]]
        stack.advance_clock(61)
        assert (await lt.call("join", token=short["token"]))["code"] == "not_found"
        revoked = await a.call("create_invite", chat_id=chat_id)
        assert (await a.call("revoke_invite", chat_id=chat_id, token=revoked["token"]))["type"] == "ok"
        assert (await lt.call("join", token=revoked["token"]))["code"] == "not_found"
        assert (await lt.call("join", token="made-up"))["code"] == "not_found"
        fresh = await a.call("create_invite", chat_id=chat_id)
        fill_to_the_brim(stack, chat_id)
        assert (await lr.call("join", token=fresh["token"]))["code"] == "conflict"
        for socket in (a, j, lt, lr):
            await socket.close()

    run(scenario())


def fill_to_the_brim(stack, chat_id: str) -> None:
    """Count the group at 500 members in its head, as 498 more joins would leave it (their seats, no members)."""
    _, aws = http("GET", f"{stack.base}/_devstack/aws")
    table = boto3.resource("dynamodb", region_name=REGION, endpoint_url=aws["endpoint_url"],
                           aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]).Table(
        aws["tables"]["chats"])
    table.update_item(Key={"chat_id": chat_id, "sk": "meta"}, UpdateExpression="SET member_count = :full",
                      ExpressionAttributeValues={":full": 500})


def test_a_report_reaches_the_moderators_command(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat = direct_chat(alice, bob)

    async def scenario():
        b = await bob.connect()
        for i in range(7):
            await b.call("send", chat_id=chat, client_msg_id=f"m{i}", kind="text", text=f"spam {i}")
        await b.close()

    run(scenario())
    status, body = call(alice, "POST", "/reports", {"chat_id": chat, "seq": 7, "reason": "spam"})
    assert status == 201
    assert call(alice, "POST", "/reports", {"chat_id": chat, "seq": 8, "reason": "spam"})[0] == 400
    assert call(stack.user("outsider"), "POST", "/reports", {"chat_id": chat, "seq": 7, "reason": "x"})[0] == 403
    listed = subprocess.run([sys.executable, "-m", "deploy", "reports", "--local", stack.base, "--limit", "100"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    (report,) = [r for r in map(json.loads, listed.stdout.splitlines()) if r["report_id"] == body["report_id"]]
    assert report["reporter_id"] == alice.user_id and report["reason"] == "spam"
    assert [m["text"] for m in report["messages"]] == [f"spam {i}" for i in range(1, 7)]
