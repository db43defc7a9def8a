"""Push notifications through the SDK against the fake server: devices, mute, settings, and the pushes
the local stack records (what SNS would have delivered to devices without a live socket)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fake_server import PASSWORD, wait_until
from parley_sdk import ParleyClient, ParleyError


@pytest.fixture
async def rest_client(server):
    """``await rest_client("bob")``: logged in, no socket."""
    clients = []

    async def log_in(user_id: str) -> ParleyClient:
        client = ParleyClient(rest_url=server.rest_url, ws_url=server.ws_url, request_timeout=5)
        clients.append(client)
        await client.login(user_id, PASSWORD)
        return client

    yield log_in
    for client in clients:
        await client.close()


DEFAULTS = {"last_seen": "everyone", "read_receipts": True, "groups_add": "everyone", "push_previews": True}


def pushed(server, user_id: str = "bob") -> list[tuple[str, int]]:
    """(device, seq) of each push to the user, in order."""
    return [(push["device"], push["payload"]["seq"]) for push in server.pushes if push["user_id"] == user_id]


def mutes_sent(server) -> list:
    return [frame["until"] for frame in server.frames("mute")]


async def refused(call) -> ParleyError:
    with pytest.raises(ParleyError) as raised:
        await call
    return raised.value


# Devices


async def test_devices_are_registered_and_deleted(server, rest_client):
    bob = await rest_client("bob")
    assert await bob.register_device("phone", "fcm", "fcm-1") == {"device": "phone", "platform": "fcm"}
    assert await bob.register_device("my tablet", "apns", "apns-1") == {
        "device": "my tablet",
        "platform": "apns",
    }
    assert await bob.register_device("phone", "fcm", "fcm-2") == {"device": "phone", "platform": "fcm"}
    assert server.devices["bob"] == {
        "phone": {"platform": "fcm", "token": "fcm-2"},
        "my tablet": {"platform": "apns", "token": "apns-1"},
    }
    assert await bob.unregister_device("my tablet") is None
    await bob.unregister_device("my tablet")  # not registered (any more): no error
    assert list(server.devices["bob"]) == ["phone"]


@pytest.mark.parametrize(
    "platform, token",
    [("webpush", "t"), ("APNS", "t"), ("fcm", ""), ("fcm", None), ("apns", "x" * 4097)],
    ids=["unknown platform", "platform in capitals", "empty token", "no token", "token too long"],
)
async def test_bad_registrations_are_bad_requests(server, rest_client, platform, token):
    bob = await rest_client("bob")
    error = await refused(bob.register_device("phone", platform, token))
    assert (error.code, error.status) == ("bad_request", 400)
    assert not server.devices["bob"]


async def test_at_most_ten_devices_and_a_token_moves_to_its_new_account(server, rest_client):
    alice, bob = await rest_client("alice"), await rest_client("bob")
    for n in range(10):
        await bob.register_device(f"device-{n}", "fcm", f"token-{n}")
    error = await refused(bob.register_device("one-too-many", "fcm", "token-10"))
    assert (error.code, error.status) == ("bad_request", 400)
    await bob.register_device("device-0", "apns", "token-0")  # a registered one may change
    await alice.register_device("phone", "fcm", "token-9")  # bob's phone went to alice
    assert "device-9" not in server.devices["bob"]
    assert server.devices["alice"] == {"phone": {"platform": "fcm", "token": "token-9"}}


# Which devices get pushes


async def test_a_device_without_a_socket_gets_a_push_with_a_preview_and_the_badge(server, connect_as):
    alice, bob = await connect_as("alice"), await connect_as("bob")
    await alice.register_device("alice-phone", "apns", "a-1")
    await bob.register_device("phone", "fcm", "b-1")
    chat_id = server.create_direct("alice", "bob")
    sent = await alice.send_text(chat_id, "dinner at 8?")
    assert await bob.local_pushes() == [
        {
            "user_id": "bob",
            "device": "phone",
            "platform": "fcm",
            "payload": {
                "chat_id": chat_id,
                "seq": sent["seq"],
                "sender_id": "alice",
                "kind": "text",
                "preview": "dinner at 8?",
                "unread_chats": 1,
            },
        }
    ]
    assert await alice.local_pushes() == []  # the sender's own devices get none
    assert await alice.local_pushes("bob") == await bob.local_pushes()
    long = "🎉" * 150
    await alice.send_text(chat_id, long)
    assert server.pushes[-1]["payload"]["preview"] == "🎉" * 100  # code points, not bytes


async def test_a_device_with_its_own_socket_open_gets_none(server, connect_as):
    alice, bob = await connect_as("alice"), await connect_as("bob")  # bob's socket is device "test"
    await bob.register_device("phone", "fcm", "b-1")
    await bob.register_device("test", "apns", "b-2")
    chat_id = server.create_direct("alice", "bob")
    phone = ParleyClient(rest_url=server.rest_url, ws_url=server.ws_url, tokens=bob.tokens)
    await phone.connect(device="phone")
    await alice.send_text(chat_id, "both online")
    await phone.close()
    await wait_until(lambda: len(server.sockets["bob"]) == 1)
    second = await alice.send_text(chat_id, "phone offline")
    assert pushed(server) == [("phone", second["seq"])]


async def test_relations_push_nothing(server, connect_as):
    alice, bob = await connect_as("alice"), await connect_as("bob")
    await bob.register_device("phone", "fcm", "b-1")
    chat_id = server.create_direct("alice", "bob")
    first = await alice.send_text(chat_id, "helo")
    await alice.edit(chat_id, first["seq"], "hello")
    await alice.react(chat_id, first["seq"], "👍")
    await alice.delete(chat_id, first["seq"])
    assert pushed(server) == [("phone", first["seq"])]


async def test_the_badge_counts_chats_with_unread_messages_from_others(server, connect_as):
    server.add_user("carol")
    alice, bob = await connect_as("alice"), await connect_as("bob")
    await bob.register_device("phone", "fcm", "b-1")
    with_alice, with_carol = server.create_direct("alice", "bob"), server.create_direct("bob", "carol")
    await bob.send_text(with_carol, "bob's own message counts for nothing")
    await alice.send_text(with_alice, "one")
    await server.store(with_carol, "carol", "two")
    sent = await alice.send_text(with_alice, "three")
    await bob.receipt(with_alice, sent["seq"], "read")
    await server.store(with_carol, "carol", "four")
    assert [push["payload"]["unread_chats"] for push in server.pushes] == [1, 2, 2, 1]


# Settings


async def test_settings_read_and_changed_and_previews_follow_them(server, connect_as):
    alice, bob = await connect_as("alice"), await connect_as("bob")
    await bob.register_device("phone", "fcm", "b-1")
    chat_id = server.create_direct("alice", "bob")
    assert await bob.settings() == DEFAULTS
    assert await bob.update_settings(push_previews=False) == DEFAULTS | {"push_previews": False}
    assert await bob.settings() == DEFAULTS | {"push_previews": False}
    assert await bob.update_settings() == DEFAULTS | {"push_previews": False}  # nothing changed
    await alice.send_text(chat_id, "secret")
    assert "preview" not in server.pushes[-1]["payload"]
    assert await bob.update_settings(push_previews=True) == DEFAULTS
    await alice.send_text(chat_id, "not secret")
    assert server.pushes[-1]["payload"]["preview"] == "not secret"


@pytest.mark.parametrize(
    "changes",
    [{"theme": "dark"}, {"push_previews": True, "theme": "dark"}, {"push_previews": "off"}],
    ids=["unknown", "unknown beside a known one", "not a boolean"],
)
async def test_bad_settings_are_bad_requests_and_change_nothing(server, rest_client, changes):
    bob = await rest_client("bob")
    await bob.update_settings(push_previews=False)
    error = await refused(bob.update_settings(**changes))
    assert (error.code, error.status) == ("bad_request", 400)
    assert await bob.settings() == DEFAULTS | {"push_previews": False}


# Mute


async def test_a_muted_chat_pushes_only_mentions_until_unmuted(server, connect_as):
    alice, bob = await connect_as("alice"), await connect_as("bob")
    await bob.register_device("phone", "fcm", "b-1")
    chat_id = server.create_direct("alice", "bob")
    until = datetime.now(UTC) + timedelta(hours=8)
    assert await bob.mute(chat_id, until) is None
    assert mutes_sent(server) == [until.isoformat().replace("+00:00", "Z")]
    muted_until = (await bob.chat(chat_id))["muted_until"]
    assert datetime.fromisoformat(muted_until) == until.replace(microsecond=0)
    assert [chat.get("muted_until") for chat in await bob.chats()] == [muted_until]
    assert "muted_until" not in await alice.chat(chat_id)  # a mute is the caller's alone

    await alice.send_text(chat_id, "quiet")
    mention = await alice.send_text(chat_id, "@bob look", mentions=["bob"])
    await bob.mute(chat_id, None)
    assert mutes_sent(server)[-1] is None
    assert "muted_until" not in await bob.chat(chat_id)
    loud = await alice.send_text(chat_id, "loud again")
    assert pushed(server) == [("phone", mention["seq"]), ("phone", loud["seq"])]


async def test_mute_takes_aware_datetimes_in_any_zone_and_strings_as_given(server, connect_as):
    bob = await connect_as("bob")
    chat_id = server.create_direct("alice", "bob")
    await bob.mute(chat_id, datetime(2099, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=2))))
    await bob.mute(chat_id, "2099-06-01T00:00:00+00:00")
    assert mutes_sent(server) == ["2099-01-01T07:00:00Z", "2099-06-01T00:00:00+00:00"]
    assert (await bob.chat(chat_id))["muted_until"] == "2099-06-01T00:00:00Z"


async def test_a_naive_datetime_is_refused_before_anything_is_sent(server, connect_as):
    bob = await connect_as("bob")
    chat_id = server.create_direct("alice", "bob")
    with pytest.raises(ValueError, match="timezone"):
        await bob.mute(chat_id, datetime(2099, 1, 1))
    assert mutes_sent(server) == []


@pytest.mark.parametrize(
    "until",
    [
        "2001-01-01T00:00:00Z",
        datetime.now(UTC) - timedelta(minutes=1),
        "tomorrow",
        "",
        "2099-13-01T00:00:00Z",
    ],
    ids=["past", "past datetime", "not a time", "empty", "no such month"],
)
async def test_a_past_or_malformed_time_is_a_bad_request_and_the_socket_stays(server, connect_as, until):
    bob = await connect_as("bob")
    chat_id = server.create_direct("alice", "bob")
    assert (await refused(bob.mute(chat_id, until))).code == "bad_request"
    assert server.mutes == {}
    assert "server_time" in await bob.heartbeat()


async def test_mute_without_until_is_a_bad_request(server, connect_as):
    bob = await connect_as("bob")
    chat_id = server.create_direct("alice", "bob")
    # The SDK always sends `until`; the fake still refuses a frame without it, as the server does.
    assert (await refused(bob._ask("mute", chat_id=chat_id))).code == "bad_request"


async def test_mute_is_for_members_only(server, connect_as):
    server.add_user("carol")
    bob = await connect_as("bob")
    others = server.create_direct("alice", "carol")
    until = datetime.now(UTC) + timedelta(hours=1)
    assert (await refused(bob.mute(others, until))).code == "forbidden"
    assert (await refused(bob.mute("no-such-chat", until))).code == "not_found"
    assert server.mutes == {}


# The local stack's record


@pytest.mark.parametrize("status", [404, 403], ids=["not found", "API Gateway's missing route"])
async def test_pushes_are_listed_only_by_the_local_stack(server, rest_client, status):
    bob = await rest_client("bob")
    server.devstack_refusal = status
    error = await refused(bob.local_pushes())
    assert (error.code, error.status) == ("not_found", status)
    assert "only by the local stack" in error.message


async def test_local_pushes_need_a_rest_url_of_the_local_stack_and_a_user(server):
    aws = ParleyClient(
        rest_url="https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        ws_url="wss://def.execute-api.eu-west-1.amazonaws.com/prod",
    )
    async with aws:
        assert (await refused(aws.local_pushes("bob"))).code == "not_found"
    async with ParleyClient(rest_url=server.rest_url, ws_url=server.ws_url) as anonymous:
        assert (await refused(anonymous.local_pushes())).code == "unauthorized"
        assert await anonymous.local_pushes("bob") == []
