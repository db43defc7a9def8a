"""Group administration through the SDK against the fake server: update_chat (name, description, avatar,
settings, disappearing messages), set_role, invites, what the other members hear, and resends across
reconnects."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from fake_server import wait_until
from parley_sdk import ConnectionLost, ParleyError

PNG = b"\x89PNG\r\n\x1a\n" + bytes(1000)


async def refused(call) -> ParleyError:
    with pytest.raises(ParleyError) as raised:
        await call
    return raised.value


async def take(events, count: int) -> list[dict]:
    async with asyncio.timeout(5):
        return [await anext(events) for _ in range(count)]


def sent(server, action: str) -> list[dict]:
    """The frames of ``action`` as sent, without ``action`` and ``req``."""
    return [{k: v for k, v in frame.items() if k not in ("action", "req")} for frame in server.frames(action)]


def notices(server, chat_id: str) -> list[dict]:
    return [m["event"] for m in server.chats[chat_id]["messages"] if m["kind"] == "system"]


@pytest.fixture
def group(server):
    """alice's group with bob and carol; alice is its admin."""
    server.add_user("carol")
    return server.create_group("climbing", "alice", "bob", "carol")


# update_chat


async def test_update_chat_sends_only_the_fields_given_and_none_removes(server, connect_as, group):
    alice = await connect_as("alice")
    chat = await alice.update_chat(group, name="Climbing Saturday", description="Meet at 9")
    assert (chat["name"], chat["description"]) == ("Climbing Saturday", "Meet at 9")
    assert chat["settings"] == {"send": "all", "edit_info": "all"}
    chat = await alice.update_chat(group, settings={"send": "admins"})
    assert chat["settings"] == {"send": "admins", "edit_info": "all"}  # always whole
    assert chat["description"] == "Meet at 9"
    chat = await alice.update_chat(group, description=None)
    assert "description" not in chat and chat["name"] == "Climbing Saturday"
    chat = await alice.update_chat(group, disappear_after=86400)
    assert chat["disappear_after"] == 86400
    assert await alice.set_disappearing(group, None) == await alice.chat(group)
    assert sent(server, "update_chat") == [
        {"chat_id": group, "name": "Climbing Saturday", "description": "Meet at 9"},
        {"chat_id": group, "settings": {"send": "admins"}},
        {"chat_id": group, "description": None},
        {"chat_id": group, "disappear_after": 86400},
        {"chat_id": group, "disappear_after": None},
    ]
    assert [event["type"] for event in notices(server, group)] == [
        "chat_updated",
        "chat_updated",
        "chat_updated",
        "disappear_after",
        "disappear_after",
    ]
    assert notices(server, group)[1]["changes"] == {"settings": {"send": "admins", "edit_info": "all"}}


async def test_members_hear_of_a_change_as_a_system_message_and_the_chat(server, connect_as, group):
    alice, bob = await connect_as("alice"), await connect_as("bob")
    events = bob.events()
    await alice.update_chat(group, name="Bouldering")
    notice, chat = await take(events, 2)
    assert notice["type"] == "message" and notice["message"]["kind"] == "system"
    assert notice["message"]["event"] == {
        "type": "chat_updated",
        "by": "alice",
        "changes": {"name": "Bouldering"},
    }
    assert (chat["type"], chat["chat"]["name"]) == ("chat", "Bouldering")
    await alice.update_chat(group, name="Bouldering")  # what it already holds: nothing posted
    assert len(notices(server, group)) == 1


async def test_a_group_avatar_is_an_image_you_uploaded_into_it(server, connect_as, group):
    alice, bob = await connect_as("alice"), await connect_as("bob")
    picture = await alice.upload(group, PNG, "image/png", "group.png")
    chat = await alice.update_chat(group, avatar_media_id=picture)
    assert chat["avatar"] == {"media_id": picture}
    bobs = await bob.upload(group, PNG, "image/png", "mine.png")
    assert (await refused(alice.update_chat(group, avatar_media_id=bobs))).code == "not_found"
    other_chat = await alice.upload(server.create_direct("alice", "bob"), PNG, "image/png", "x.png")
    assert (await refused(alice.update_chat(group, avatar_media_id=other_chat))).code == "not_found"
    document = await alice.upload(group, b"%PDF-1.4", "application/pdf", "plan.pdf")
    assert (await refused(alice.update_chat(group, avatar_media_id=document))).code == "bad_request"
    assert "avatar" not in await alice.update_chat(group, avatar_media_id=None)


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"name": ""}, "bad_request"),
        ({"name": None}, "bad_request"),
        ({"name": "x" * 101}, "bad_request"),
        ({"description": "x" * 513}, "bad_request"),
        ({"settings": {"send": "everyone"}}, "bad_request"),
        ({"settings": {"colour": "all"}}, "bad_request"),
        ({"disappear_after": 60}, "bad_request"),
    ],
    ids=[
        "empty name",
        "null name",
        "name too long",
        "description too long",
        "bad choice",
        "unknown setting",
        "another duration",
    ],
)
async def test_bad_changes_are_bad_requests_and_the_socket_stays(server, connect_as, group, changes, code):
    alice = await connect_as("alice")
    assert (await refused(alice.update_chat(group, **changes))).code == code
    assert notices(server, group) == []
    assert "server_time" in await alice.heartbeat()


async def test_who_may_change_what(server, connect_as, group):
    server.add_user("dave")
    alice, bob, dave = await connect_as("alice"), await connect_as("bob"), await connect_as("dave")
    await bob.update_chat(group, description="any member, while edit_info is all")
    assert (await refused(bob.update_chat(group, settings={"edit_info": "all"}))).code == "forbidden"
    await alice.update_chat(group, settings={"edit_info": "admins"})
    assert (await refused(bob.update_chat(group, name="mine"))).code == "forbidden"
    assert (await refused(bob.set_disappearing(group, 86400))).code == "forbidden"
    assert (await refused(dave.update_chat(group, name="not a member"))).code == "forbidden"
    direct = server.create_direct("alice", "bob")
    assert (await refused(alice.update_chat(direct, name="a direct chat has none"))).code == "bad_request"
    assert (await bob.set_disappearing(direct, 604800))["disappear_after"] == 604800
    assert server.chats[group]["name"] == "climbing"


async def test_with_send_admins_only_admins_send(server, connect_as, group):
    alice, bob = await connect_as("alice"), await connect_as("bob")
    await alice.update_chat(group, settings={"send": "admins"})
    first = await alice.send_text(group, "announcement")
    error = await refused(bob.send_text(group, "me too"))
    assert error.code == "forbidden"
    assert (await refused(bob.react(group, first["seq"], "👍"))).code == "forbidden"
    await alice.set_role(group, "bob", "admin")
    await bob.send_text(group, "now I may")


# set_role


async def test_set_role_promotes_and_demotes_with_the_last_admin_rule(server, connect_as, group):
    alice, bob = await connect_as("alice"), await connect_as("bob")
    chat = await alice.set_role(group, "bob", "admin")
    assert {m["user_id"]: m["role"] for m in chat["members"]} == {
        "alice": "admin",
        "bob": "admin",
        "carol": "member",
    }
    assert notices(server, group) == [{"type": "role", "by": "alice", "user_id": "bob", "role": "admin"}]
    assert await alice.set_role(group, "bob", "admin") == chat  # already: nothing happens
    assert len(notices(server, group)) == 1
    await bob.set_role(group, "alice", "member")
    assert (await refused(bob.set_role(group, "bob", "member"))).code == "bad_request"  # the last admin
    assert (await refused(alice.set_role(group, "carol", "admin"))).code == "forbidden"  # not an admin now
    assert (await refused(bob.set_role(group, "zed", "admin"))).code == "not_found"
    assert (await refused(bob.set_role(group, "carol", "owner"))).code == "bad_request"
    direct = server.create_direct("alice", "bob")
    assert (await refused(bob.set_role(direct, "alice", "admin"))).code == "bad_request"
    assert server.chats[group]["admins"] == ["bob"]


# Invites


async def test_an_invite_is_created_joined_and_revoked(server, connect_as, group):
    server.add_user("dave")
    server.add_user("erin")
    alice, dave, erin = await connect_as("alice"), await connect_as("dave"), await connect_as("erin")
    before = datetime.now(UTC)
    invite = await alice.create_invite(group)
    assert set(invite) == {"chat_id", "token", "expires_at"} and invite["chat_id"] == group
    lasts = datetime.fromisoformat(invite["expires_at"]) - before
    assert timedelta(days=7) - timedelta(seconds=5) < lasts <= timedelta(days=7)
    hourly = await alice.create_invite(group, timedelta(hours=1))
    short = await alice.create_invite(group, 60)
    assert [frame.get("expires_in") for frame in server.frames("create_invite")] == [None, 3600, 60]

    chat = await dave.join(invite["token"])
    assert chat["chat_id"] == group and "dave" in [m["user_id"] for m in chat["members"]]
    assert await dave.join(invite["token"]) == chat  # a member already: the chat, nothing else
    assert notices(server, group) == [{"type": "joined", "by": "dave", "user_ids": ["dave"], "via": "invite"}]

    assert await alice.revoke_invite(group, invite["token"]) is None
    assert (await refused(erin.join(invite["token"]))).code == "not_found"
    assert (await refused(alice.revoke_invite(group, invite["token"]))).code == "not_found"
    server.invites[short["token"]]["expires_at"] = datetime.now(UTC) - timedelta(seconds=1)
    assert (await refused(erin.join(short["token"]))).code == "not_found"
    await erin.join(hourly["token"])
    assert server.chats[group]["members"] == ["alice", "bob", "carol", "dave", "erin"]


async def test_invite_refusals(server, connect_as, group):
    server.add_user("dave")
    alice, bob, dave = await connect_as("alice"), await connect_as("bob"), await connect_as("dave")
    assert (await refused(bob.create_invite(group))).code == "forbidden"
    assert (await refused(dave.create_invite(group))).code == "forbidden"
    assert (await refused(alice.create_invite(server.create_direct("alice", "bob")))).code == "bad_request"
    for expires_in in (59, 604801, timedelta(days=8)):
        assert (await refused(alice.create_invite(group, expires_in))).code == "bad_request"
    invite = await alice.create_invite(group)
    assert (await refused(bob.revoke_invite(group, invite["token"]))).code == "forbidden"
    other = server.create_group("other", "alice")
    assert (await refused(alice.revoke_invite(other, invite["token"]))).code == "not_found"
    assert (await refused(dave.join("no-such-token"))).code == "not_found"
    server.max_group_members = 3
    assert (await refused(dave.join(invite["token"]))).code == "conflict"  # a full group
    assert "dave" not in server.chats[group]["members"]
    assert list(server.invites) == [invite["token"]]


async def test_a_joiner_reads_the_group_from_the_message_that_admitted_them(server, connect_as, group):
    server.add_user("dave")
    alice = await connect_as("alice")
    await alice.send_text(group, "before dave")
    invite = await alice.create_invite(group)
    dave = await connect_as("dave")
    events = dave.events()
    first = asyncio.ensure_future(anext(events))
    await wait_until(lambda: dave.cursors.since == "v1")  # the pass on connect is over
    await dave.join(invite["token"])
    await alice.send_text(group, "welcome dave")
    async with asyncio.timeout(5):
        joined = await first
    chat, welcome = await take(events, 2)
    assert (joined["type"], joined["message"]["event"]["type"]) == ("message", "joined")
    assert chat["type"] == "chat"
    assert welcome["message"]["text"] == "welcome dave"
    assert [m["seq"] for m in (await dave.history(group))["messages"]] == [2, 3]


# Resends across reconnects


@pytest.mark.parametrize(
    "action, name",
    [
        (lambda client, chat_id, token: client.update_chat(chat_id, name="renamed"), "update_chat"),
        (lambda client, chat_id, token: client.set_role(chat_id, "bob", "admin"), "set_role"),
        (lambda client, chat_id, token: client.join(token), "join"),
    ],
    ids=["update_chat", "set_role", "join"],
)
async def test_a_repeatable_action_cut_off_is_sent_again_and_happens_once(
    server, connect_as, group, action, name
):
    server.add_user("dave")
    alice = await connect_as("alice")
    token = (await alice.create_invite(group))["token"]
    client = await connect_as("dave") if name == "join" else alice
    server.lose_reply_to = lambda frame: frame.get("action") == name and len(server.frames(name)) == 1
    chat = await action(client, group, token)
    assert chat["chat_id"] == group
    assert len(server.frames(name)) == 2
    assert len(notices(server, group)) == 1


@pytest.mark.parametrize(
    "action, name",
    [
        (lambda client, chat_id, token: client.create_invite(chat_id), "create_invite"),
        (lambda client, chat_id, token: client.revoke_invite(chat_id, token), "revoke_invite"),
    ],
    ids=["create_invite", "revoke_invite"],
)
async def test_an_action_that_must_not_repeat_raises_connection_lost(server, connect_as, group, action, name):
    alice = await connect_as("alice")
    token = (await alice.create_invite(group))["token"]
    server.lose_reply_to = lambda frame: frame.get("action") == name
    with pytest.raises(ConnectionLost):
        await action(alice, group, token)
    assert len(server.frames(name)) == (
        2 if name == "create_invite" else 1
    )  # the first create was the token's
