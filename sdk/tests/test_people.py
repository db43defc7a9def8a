"""People through the SDK against the fake server: profiles and avatars, users, the privacy settings,
blocking, reports, and the ``profile`` events."""

import asyncio

import pytest

from fake_server import PASSWORD
from parley_sdk import ParleyClient, ParleyError

PNG = b"\x89PNG\r\n\x1a\n" + bytes(1000)


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


async def refused(call) -> ParleyError:
    with pytest.raises(ParleyError) as raised:
        await call
    return raised.value


async def take(events, count: int) -> list[dict]:
    async with asyncio.timeout(5):
        return [await anext(events) for _ in range(count)]


# Profiles


async def test_a_profile_is_changed_field_by_field_and_none_removes_a_field(server, rest_client):
    alice = await rest_client("alice")
    assert await alice.profile() == {"user_id": "alice"}
    assert await alice.update_profile(display_name="Alice A.", about="climber") == {
        "user_id": "alice",
        "display_name": "Alice A.",
        "about": "climber",
    }
    # Fields not given stay; None removes.
    assert await alice.update_profile(about=None) == {"user_id": "alice", "display_name": "Alice A."}
    assert await alice.update_profile(about="") == {
        "user_id": "alice",
        "display_name": "Alice A.",
        "about": "",
    }
    assert await alice.update_profile() == {"user_id": "alice", "display_name": "Alice A.", "about": ""}
    assert (
        await alice.profile()
        == (await alice.me())["profile"]
        == server.profiles["alice"] | {"user_id": "alice"}
    )


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"display_name": ""}, "bad_request"),
        ({"display_name": "x" * 65}, "bad_request"),
        ({"about": "x" * 141}, "bad_request"),
        ({"avatar_media_id": "media-404"}, "not_found"),
    ],
    ids=["empty name", "name too long", "about too long", "no such avatar"],
)
async def test_bad_profiles_are_refused_and_change_nothing(server, rest_client, changes, code):
    alice = await rest_client("alice")
    await alice.update_profile(display_name="Alice", about="hi")
    error = await refused(alice.update_profile(**changes))
    assert error.code == code
    assert await alice.profile() == {"user_id": "alice", "display_name": "Alice", "about": "hi"}


async def test_unknown_profile_fields_are_not_keywords(server, rest_client):
    alice = await rest_client("alice")
    with pytest.raises(TypeError):
        await alice.update_profile(nickname="al")  # type: ignore[call-arg]


async def test_set_avatar_uploads_a_profile_picture_and_sets_it(server, connect_as, tmp_path):
    alice = await connect_as("alice")
    path = tmp_path / "me.png"
    path.write_bytes(PNG)
    progress = []
    profile = await alice.set_avatar(path, progress=lambda sent, total: progress.append(sent))
    [request] = server.frames("upload")
    assert (request["chat_id"], request["filename"], request["content_type"]) == (
        "profile",
        "me.png",
        "image/png",
    )
    assert server.uploads[0]["data"] == PNG and progress
    media_id = profile["avatar"]["media_id"]
    assert server.media[media_id]["chat_id"] == "profile:alice"
    assert profile["avatar"]["variants"]["thumb"]["url"]
    assert await alice.profile() == profile
    assert server.profiles["alice"] == {"avatar_media_id": media_id}

    again = await alice.set_avatar(PNG, "image/webp", "other.bin")  # bytes, with what the name cannot tell
    assert server.frames("upload")[-1]["content_type"] == "image/webp"
    assert again["avatar"]["media_id"] != media_id
    assert await alice.update_profile(avatar_media_id=None) == {"user_id": "alice"}


async def test_set_avatar_refusals(server, connect_as, tmp_path):
    alice, bob = await connect_as("alice"), await connect_as("bob")
    with pytest.raises(ValueError, match="filename"):
        await alice.set_avatar(PNG)
    with pytest.raises(ValueError, match="content type"):
        await alice.set_avatar(PNG, filename="picture")
    assert server.frames("upload") == []  # both came before anything was sent
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    assert (await refused(alice.set_avatar(notes))).code == "bad_request"  # the server wants an image
    assert server.uploads == []
    # Only your own profile upload can be your avatar: not another's, not one into a chat.
    bobs = (await bob.set_avatar(PNG, filename="bob.png"))["avatar"]["media_id"]
    assert (await refused(alice.update_profile(avatar_media_id=bobs))).code == "not_found"
    chat_id = server.create_direct("alice", "bob")
    in_chat = await alice.upload(chat_id, PNG, "image/png", "chat.png")
    assert (await refused(alice.update_profile(avatar_media_id=in_chat))).code == "not_found"
    assert await alice.profile() == {"user_id": "alice"}
    offline = ParleyClient(rest_url=server.rest_url, ws_url=server.ws_url, tokens=alice.tokens)
    async with offline:
        with pytest.raises(RuntimeError, match="connect"):
            await offline.set_avatar(PNG, filename="me.png")  # the upload goes over the socket


# Users


async def test_users_in_the_order_asked_unknown_left_out(server, rest_client):
    server.add_user("carol")
    server.profiles["bob"] = {"display_name": "Bob", "about": "sailor"}
    server.deleted_users.add("dave")
    alice = await rest_client("alice")
    assert await alice.users(["carol", "zed", "bob", "dave", "alice"]) == [
        {"user_id": "carol"},
        {"user_id": "bob", "display_name": "Bob", "about": "sailor"},
        {"user_id": "dave", "deleted": True},
        {"user_id": "alice"},
    ]
    assert server.users_asked == ["carol,zed,bob,dave,alice"]
    assert await alice.users([]) == []  # nothing to ask: no request
    assert await alice.users(["zed"]) == []
    assert len(server.users_asked) == 2


async def test_users_are_asked_for_a_hundred_at_a_time(server, rest_client):
    names = [f"user{n:03}" for n in range(250)]
    for name in names:
        server.add_user(name)
    alice = await rest_client("alice")
    found = await alice.users([*names, "user000"])  # a repeat is asked once
    assert [user["user_id"] for user in found] == names
    assert [len(asked.split(",")) for asked in server.users_asked] == [100, 100, 50]
    # The server refuses more than 100 at once, which is why.
    error = await refused(alice._rest("GET", "/users", params={"ids": ",".join(names[:101])}))
    assert (error.code, error.status) == ("bad_request", 400)


@pytest.mark.parametrize(
    "ids, error",
    [("bob", TypeError), (["bob,carol"], ValueError), ([""], ValueError), ([None], ValueError)],
    ids=["one string", "a comma", "empty", "not a string"],
)
async def test_users_refuses_what_is_no_list_of_user_ids_before_asking(server, rest_client, ids, error):
    alice = await rest_client("alice")
    with pytest.raises(error):
        await alice.users(ids)
    assert server.users_asked == []


# Settings


DEFAULTS = {"last_seen": "everyone", "read_receipts": True, "groups_add": "everyone", "push_previews": True}


async def test_the_four_settings(server, rest_client):
    bob = await rest_client("bob")
    assert await bob.settings() == DEFAULTS
    changed = {"last_seen": "nobody", "read_receipts": False, "groups_add": "contacts"}
    assert await bob.update_settings(**changed) == DEFAULTS | changed
    assert await bob.update_settings(last_seen="contacts") == DEFAULTS | changed | {"last_seen": "contacts"}
    assert await bob.settings() == DEFAULTS | changed | {"last_seen": "contacts"}


@pytest.mark.parametrize(
    "changes",
    [
        {"last_seen": "friends"},
        {"last_seen": None},
        {"read_receipts": "off"},
        {"groups_add": "nobody"},  # a choice of last_seen, not of groups_add
        {"push_previews": 1},
        {"read_receipts": False, "theme": "dark"},
    ],
    ids=["unknown choice", "null", "not a boolean", "another setting's choice", "a number", "unknown beside"],
)
async def test_bad_settings_are_refused_and_change_nothing(server, rest_client, changes):
    bob = await rest_client("bob")
    error = await refused(bob.update_settings(**changes))
    assert (error.code, error.status) == ("bad_request", 400)
    assert await bob.settings() == DEFAULTS


async def test_groups_add_contacts_lets_only_contacts_add_you(server, connect_as):
    server.add_user("carol")
    carol, bob = await connect_as("carol"), await connect_as("bob")
    await carol.update_settings(groups_add="contacts")
    assert (await refused(bob.create_group("party", ["alice", "carol"]))).code == "forbidden"
    group = await bob.create_group("party", ["alice"])
    assert (await refused(bob.add_members(group["chat_id"], ["carol"]))).code == "forbidden"
    with_bob = (await carol.create_direct("bob"))["chat_id"]
    await bob.send_text(with_bob, "bob writing makes carol no contact of bob's")
    assert (await refused(bob.add_members(group["chat_id"], ["carol"]))).code == "forbidden"
    await carol.send_text(with_bob, "carol writing makes bob her contact")
    added = await bob.add_members(group["chat_id"], ["carol"])
    assert [member["user_id"] for member in added["members"]] == ["bob", "alice", "carol"]


# Blocking


async def test_a_blocked_users_sends_and_group_adds_are_forbidden_until_unblocked(server, connect_as):
    server.add_user("carol")
    alice, bob = await connect_as("alice"), await connect_as("bob")
    chat_id = server.create_direct("alice", "bob")
    group = server.create_group("shared", "bob", "alice", "carol")
    assert await alice.blocked() == []
    assert await alice.block("bob") is None
    await alice.block("BOB")  # again, in other letters: no error
    assert await alice.blocked() == ["bob"]

    error = await refused(bob.send_text(chat_id, "let me in"))
    assert (error.code, error.message) == ("forbidden", "alice does not take messages from you")
    assert (await refused(bob.react(chat_id, 1, "👍"))).code == "forbidden"
    assert (await refused(bob.create_group("again", ["alice"]))).code == "forbidden"
    assert (await refused(bob.create_group("crowd", ["carol", "alice"]))).code == "forbidden"  # the whole
    assert len(server.chats) == 2
    await alice.send_text(chat_id, "the blocker still may")
    await bob.send_text(group, "a group stays shared")

    assert await alice.unblock("bob") is None
    await alice.unblock("bob")  # not blocked (any more): no error
    assert await alice.blocked() == []
    await bob.send_text(chat_id, "thanks")
    assert [m["text"] for m in server.chats[chat_id]["messages"]] == ["the blocker still may", "thanks"]


async def test_a_blocked_user_sees_the_profile_without_about_and_avatar(server, connect_as):
    server.add_user("carol")
    alice, bob, carol = await connect_as("alice"), await connect_as("bob"), await connect_as("carol")
    await alice.set_avatar(PNG, filename="me.png")
    await alice.update_profile(display_name="Alice", about="climber")
    await alice.block("bob")
    [seen_by_bob] = await bob.users(["alice"])
    assert seen_by_bob == {"user_id": "alice", "display_name": "Alice"}
    [seen_by_carol] = await carol.users(["alice"])
    assert (seen_by_carol["about"], "avatar" in seen_by_carol) == ("climber", True)


@pytest.mark.parametrize(
    "user_id, code, status",
    [("alice", "bad_request", 400), ("", "bad_request", 400), ("zed", "not_found", 404)],
    ids=["yourself", "nobody", "no such user"],
)
async def test_bad_blocks_are_refused(server, rest_client, user_id, code, status):
    alice = await rest_client("alice")
    error = await refused(alice.block(user_id))
    assert (error.code, error.status) == (code, status)
    assert await alice.blocked() == []


# Reports


async def test_a_report_keeps_the_message_and_five_before(server, rest_client):
    chat_id = server.create_direct("alice", "bob")
    for n in range(1, 9):
        await server.store(chat_id, "bob" if n % 2 else "alice", f"message {n}")
    alice = await rest_client("alice")
    report_id = await alice.report(chat_id, 7, "spam")
    [report] = server.reports
    assert (report["report_id"], report["reporter_id"], report["reason"]) == (report_id, "alice", "spam")
    assert [message["seq"] for message in report["messages"]] == [2, 3, 4, 5, 6, 7]
    await alice.report(chat_id, 1, "x" * 500)
    assert [message["seq"] for message in server.reports[1]["messages"]] == [1]


@pytest.mark.parametrize(
    "chat_id, seq, reason, code",
    [
        ("alice-bob", 1, "", "bad_request"),
        ("alice-bob", 1, "x" * 501, "bad_request"),
        ("alice-bob", 0, "spam", "bad_request"),
        ("alice-bob", 2, "spam", "bad_request"),
        ("bob-carol", 1, "spam", "forbidden"),
        ("no-such-chat", 1, "spam", "forbidden"),
    ],
    ids=["no reason", "reason too long", "seq 0", "beyond the last seq", "not your chat", "no such chat"],
)
async def test_bad_reports_are_refused(server, rest_client, chat_id, seq, reason, code):
    server.add_user("carol")
    for chat in (server.create_direct("alice", "bob"), server.create_direct("bob", "carol")):
        await server.store(chat, "bob", "hello")
    alice = await rest_client("alice")
    assert (await refused(alice.report(chat_id, seq, reason))).code == code
    assert server.reports == []


# profile events


async def test_a_profile_change_comes_through_events_to_those_who_share_a_chat(server, connect_as):
    server.add_user("carol")
    server.add_user("dave")
    server.create_direct("alice", "bob")
    server.create_group("g", "carol", "alice")
    alice, bob = await connect_as("alice"), await connect_as("bob")
    carol, dave = await connect_as("carol"), await connect_as("dave")
    bob_events, carol_events, dave_events = bob.events(), carol.events(), dave.events()
    await alice.update_profile(display_name="Alice")
    expected = {"type": "profile", "user": {"user_id": "alice", "display_name": "Alice"}}
    assert await take(bob_events, 1) == await take(carol_events, 1) == [expected]

    await alice.block("bob")
    await alice.update_profile(about="blocked bob")
    assert (await take(carol_events, 1))[0]["user"]["about"] == "blocked bob"
    # Bob hears nothing of it: the next thing he gets is a message sent after the change.
    await server.store("alice-bob", "alice", "after the change")
    [after] = await take(bob_events, 1)
    assert (after["type"], after["message"]["text"]) == ("message", "after the change")
    # Dave shares no chat with alice: his first event is of his own chat.
    await server.store(server.create_direct("bob", "dave"), "bob", "hi dave")
    assert (await take(dave_events, 1))[0]["type"] == "message"
