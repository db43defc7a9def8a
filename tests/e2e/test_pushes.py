"""Issue 20 end to end: devices registered over REST, pushes through the queue and moto's SNS, read back from
GET /_devstack/pushes as SNS would have delivered them."""
import asyncio
import time

import boto3

from devstack.aws import FAKE_CREDENTIALS, REGION
from tests.e2e.support import http
from tests.e2e.test_messaging import direct_chat, run


def register(user, device: str, platform: str = "fcm", token: str | None = None):
    return http("PUT", f"{user.stack.api}/devices/{device}",
                {"platform": platform, "token": token or f"{platform}-{user.user_id}-{device}"}, token=user.token)


def pushes_to(stack, user_id: str) -> list[dict]:
    status, body = http("GET", f"{stack.base}/_devstack/pushes?user_id={user_id}")
    assert status == 200
    return body["pushes"]


def wait_for_pushes(stack, user_id: str, count: int, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while (found := pushes_to(stack, user_id)) and len(found) < count or not found and count:
        assert time.monotonic() < deadline, f"{len(found)} pushes to {user_id}, expected {count}"
        time.sleep(0.1)
    return found


def test_a_user_with_two_devices_gets_a_push_only_on_the_one_without_a_socket(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    assert register(bob, "phone") == (200, {"device": "phone", "platform": "fcm"})
    assert register(bob, "laptop", "apns")[0] == 200
    chat = direct_chat(alice, bob)

    async def scenario():
        sender, laptop = await alice.connect(), await bob.connect("laptop")
        sent = await sender.call("send", chat_id=chat, client_msg_id="m1", kind="text", text="dinner at 8?")
        (message,) = await laptop.events_of("message", 1)
        assert message["message"]["seq"] == sent["seq"]
        (push,) = wait_for_pushes(stack, bob.user_id, 1)
        assert push == {"user_id": bob.user_id, "device": "phone", "platform": "fcm", "payload": {
            "chat_id": chat, "seq": sent["seq"], "sender_id": alice.user_id, "kind": "text",
            "preview": "dinner at 8?", "unread_chats": 1}}
        await laptop.close()
        await asyncio.sleep(0.3)  # the laptop's socket is gone: now both devices are offline
        second = await sender.call("send", chat_id=chat, client_msg_id="m2", kind="text", text="or 9")
        latest = wait_for_pushes(stack, bob.user_id, 3)[1:]
        assert sorted((p["device"], p["platform"], p["payload"]["seq"]) for p in latest) == [
            ("laptop", "apns", second["seq"]), ("phone", "fcm", second["seq"])]
        assert pushes_to(stack, alice.user_id) == []  # the sender's own devices: none
        await sender.close()

    run(scenario())


def test_a_muted_chat_pushes_only_mentions_and_a_mute_is_the_callers_alone(stack):
    alice, bob, carol = stack.user("alice"), stack.user("bob"), stack.user("carol")
    register(bob, "phone")
    register(carol, "phone")

    async def scenario():
        a, b = await alice.connect(), await bob.connect("tablet")
        group = (await a.call("create_chat", kind="group", name="g", members=[bob.user_id, carol.user_id]))["chat"]
        assert (await b.call("mute", chat_id=group["chat_id"], until="2099-01-01T00:00:00Z"))["type"] == "ok"
        await b.close()
        await asyncio.sleep(0.3)
        await a.call("send", chat_id=group["chat_id"], client_msg_id="m1", kind="text", text="for everyone")
        mention = await a.call("send", chat_id=group["chat_id"], client_msg_id="m2", kind="text", text="@bob?",
                               mentions=[bob.user_id])
        (push,) = wait_for_pushes(stack, bob.user_id, 1)
        assert push["payload"]["seq"] == mention["seq"]
        assert len(wait_for_pushes(stack, carol.user_id, 2)) == 2  # carol did not mute
        status, chats = http("GET", f"{stack.api}/chats/{group['chat_id']}", token=bob.token)
        assert chats["chat"]["muted_until"] == "2099-01-01T00:00:00Z"
        assert "muted_until" not in http("GET", f"{stack.api}/chats/{group['chat_id']}", token=carol.token)[1]["chat"]
        refused = await a.call("mute", chat_id=group["chat_id"], until="2001-01-01T00:00:00Z")
        assert refused["type"] == "error" and refused["code"] == "bad_request"
        assert (await a.call("heartbeat"))["type"] == "pong"  # the socket stays open
        await a.close()

    run(scenario())


def test_previews_follow_the_setting_and_the_badge_counts_unread_chats(stack):
    alice, bob, carol = stack.user("alice"), stack.user("bob"), stack.user("carol")
    register(bob, "phone")
    status, body = http("PUT", f"{stack.api}/me/settings", {"push_previews": False}, token=bob.token)
    assert status == 200 and body["settings"]["push_previews"] is False
    assert http("PUT", f"{stack.api}/me/settings", {"theme": "dark"}, token=bob.token)[0] == 400
    with_alice, with_carol = direct_chat(alice, bob), direct_chat(carol, bob)

    async def scenario():
        a, c = await alice.connect(), await carol.connect()
        await a.call("send", chat_id=with_alice, client_msg_id="m1", kind="text", text="secret")
        wait_for_pushes(stack, bob.user_id, 1)
        await c.call("send", chat_id=with_carol, client_msg_id="m2", kind="text", text="hi")
        first, second = wait_for_pushes(stack, bob.user_id, 2)
        assert "preview" not in first["payload"] and first["payload"]["unread_chats"] == 1
        assert second["payload"]["unread_chats"] == 2
        await a.close()
        await c.close()

    run(scenario())


def test_a_disabled_endpoint_is_removed_and_bad_registrations_are_refused(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    assert register(bob, "phone", "webpush")[0] == 400
    status, body = http("PUT", f"{stack.api}/devices/phone", {"platform": "fcm"}, token=bob.token)
    assert status == 400 and body["code"] == "bad_request"
    assert http("PUT", f"{stack.api}/devices/phone", {"platform": "fcm", "token": "t"})[0] == 401
    register(bob, "phone", token="dying-token")
    _, aws = http("GET", f"{stack.base}/_devstack/aws")
    sns = boto3.client("sns", region_name=REGION, endpoint_url=aws["endpoint_url"],
                       aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    (endpoint,) = [e["EndpointArn"] for page in sns.get_paginator("list_platform_applications").paginate()
                   for app in page["PlatformApplications"]
                   for e in sns.list_endpoints_by_platform_application(
                       PlatformApplicationArn=app["PlatformApplicationArn"])["Endpoints"]
                   if e["Attributes"]["Token"] == "dying-token"]
    sns.set_endpoint_attributes(EndpointArn=endpoint, Attributes={"Enabled": "false"})  # FCM said: unregistered
    chat = direct_chat(alice, bob)

    async def scenario():
        a = await alice.connect()
        await a.call("send", chat_id=chat, client_msg_id="m1", kind="text", text="anyone?")
        deadline = time.monotonic() + 20
        while any(e["EndpointArn"] == endpoint for e in sns.list_endpoints_by_platform_application(
                PlatformApplicationArn=endpoint.replace(":endpoint/", ":app/").rsplit("/", 1)[0])["Endpoints"]):
            assert time.monotonic() < deadline, "the disabled endpoint was not deleted"
            await asyncio.sleep(0.1)
        assert pushes_to(stack, bob.user_id) == []
        register(bob, "phone", token="fresh-token")  # the app registers its new token
        await a.call("send", chat_id=chat, client_msg_id="m2", kind="text", text="there you are")
        assert wait_for_pushes(stack, bob.user_id, 1)[0]["payload"]["seq"] == 2
        assert http("DELETE", f"{stack.api}/devices/phone", token=bob.token) == (200, {})
        await a.call("send", chat_id=chat, client_msg_id="m3", kind="text", text="gone again")
        await asyncio.sleep(1)
        assert len(pushes_to(stack, bob.user_id)) == 1
        await a.close()

    run(scenario())
