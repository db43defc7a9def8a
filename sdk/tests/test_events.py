"""``events()``: every message once and in order, across holes, repeats and reconnects."""

import asyncio

import pytest

from fake_server import PASSWORD, wait_until
from parley_sdk import ParleyClient, ParleyError


async def take(events, count: int) -> list[dict]:
    async with asyncio.timeout(5):
        return [await anext(events) for _ in range(count)]


def seqs(events: list[dict]) -> list[int]:
    return [event["message"]["seq"] for event in events]


async def test_sync_on_connect_then_live_pushes(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    for n in range(1, 4):
        await server.store(chat_id, "bob", f"before {n}")
    alice = await connect_as("alice")
    events = alice.events()
    assert seqs(await take(events, 3)) == [1, 2, 3]
    await server.store(chat_id, "bob", "live")
    [live] = await take(events, 1)
    assert live == {"type": "message", "message": server.chats[chat_id]["messages"][3]}
    assert alice.cursors.snapshot() == {chat_id: 4}


async def test_a_hole_in_live_pushes_is_filled_before_what_follows(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    alice = await connect_as("alice")
    events = alice.events()
    await server.store(chat_id, "bob", "1")
    await take(events, 1)
    await server.store(chat_id, "bob", "2", push=False)
    await server.store(chat_id, "bob", "3", push=False)
    await server.store(chat_id, "bob", "4")
    assert seqs(await take(events, 3)) == [2, 3, 4]
    assert server.frames("history")[-1]["before"] == 4


async def test_out_of_order_pushes_and_repeats_come_out_once_in_order(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    alice = await connect_as("alice")
    events = alice.events()
    stored = [await server.store(chat_id, "bob", str(n), push=False) for n in range(1, 5)]
    for seq in (2, 1, 4, 2, 3, 1):
        await server.push(stored[seq - 1])
    await server.store(chat_id, "bob", "5")
    assert seqs(await take(events, 5)) == [1, 2, 3, 4, 5]
    await server.store(chat_id, "bob", "6")
    assert seqs(await take(events, 1)) == [6]


async def test_a_dropped_socket_reconnects_syncs_and_loses_nothing(server, connect_as):
    server.sync_limit = 3
    chat_id = server.create_direct("alice", "bob")
    for n in range(1, 4):
        await server.store(chat_id, "bob", str(n), push=False)
    alice = await connect_as("alice")
    events = alice.events()
    received = await take(events, 3)

    await server.store(chat_id, "bob", "4")
    await server.store(chat_id, "bob", "5")
    server.drop("alice")
    for n in range(6, 12):  # while alice is away: more than the sync limit
        await server.store(chat_id, "bob", str(n), push=False)
    received += await take(events, 8)

    await server.store(chat_id, "bob", "12")
    await server.push(server.chats[chat_id]["messages"][6])  # a retried push: a repeat
    await server.store(chat_id, "bob", "13")
    received += await take(events, 2)

    assert seqs(received) == list(range(1, 14))
    assert server.handshakes == 2
    first_pass, after_the_drop = server.frames("sync")
    assert (first_pass["since"], after_the_drop["since"]) == ("", "v3")
    assert alice.cursors.since == "v11"
    assert server.frames("history"), "the limited sync is backfilled from history"


async def test_a_limited_sync_is_backfilled_from_history(server):
    server.sync_limit = 3
    chat_id = server.create_direct("alice", "bob")
    for n in range(1, 11):
        await server.store(chat_id, "bob", str(n))
    async with ParleyClient(rest_url=server.rest_url, ws_url=server.ws_url, cursors={chat_id: 2}) as alice:
        await alice.login("alice", PASSWORD)
        await alice.connect()
        assert seqs(await take(alice.events(), 8)) == list(range(3, 11))


async def test_own_sends_are_not_repeated_nor_fetched(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    alice = await connect_as("alice")
    events = alice.events()
    await server.store(chat_id, "bob", "1")
    await take(events, 1)
    await alice.send_text(chat_id, "2")
    await alice.send_text(chat_id, "3")
    await server.store(chat_id, "bob", "4")
    assert seqs(await take(events, 1)) == [4]
    assert server.frames("history") == []


async def test_other_events_pass_through(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    alice = await connect_as("alice")
    bob = await connect_as("bob")
    events = alice.events()
    await bob.typing(chat_id, "start")
    [typing] = await take(events, 1)
    assert typing == {"type": "typing", "chat_id": chat_id, "user_id": "bob", "state": "start"}


async def test_a_chat_first_seen_mid_stream_starts_with_its_newest_messages(server, connect_as):
    server.add_user("carol")
    await server.store(server.create_direct("alice", "carol"), "carol", "hi")
    alice = await connect_as("alice")
    events = alice.events()
    await take(events, 1)  # the first sync is over, and the chat with bob does not exist yet
    chat_id = server.create_direct("alice", "bob")
    for n in range(1, 151):
        await server.store(chat_id, "bob", str(n), push=False)
    await server.store(chat_id, "bob", "151")
    assert seqs(await take(events, 101)) == list(range(51, 152))


async def test_a_refused_reconnect_ends_events_with_the_refusal(server, connect_as):
    alice = await connect_as("alice")
    events = alice.events()
    server.token_owners.clear()
    server.drop("alice")
    with pytest.raises(ParleyError) as refused:
        await take(events, 1)
    assert refused.value.code == "unauthorized"
    with pytest.raises(ParleyError):
        await alice.heartbeat()


async def test_a_sync_pass_follows_its_pages_and_keeps_the_token_at_its_end(server, connect_as):
    server.add_user("carol")
    server.add_user("dave")
    chat_ids = [server.create_direct("alice", peer) for peer in ("bob", "carol", "dave")]
    for chat_id in chat_ids:
        for n in range(1, 3):
            await server.store(chat_id, "bob" if "bob" in chat_id else chat_id.split("-")[1], str(n))
    alice = await connect_as("alice")
    events = alice.events()
    received = await take(events, 6)
    assert sorted((event["message"]["chat_id"], event["message"]["seq"]) for event in received) == [
        (chat_id, seq) for chat_id in sorted(chat_ids) for seq in (1, 2)
    ]
    first, second = server.frames("sync")
    assert (first["since"], first["limit"], "page" not in first) == ("", 100, True)
    assert (second["since"], second["page"]) == ("", "2:6")
    assert alice.cursors.since == "v6"

    server.drop("alice")
    await server.store(chat_ids[2], "dave", "3", push=False)
    assert seqs(await take(events, 1)) == [3]
    assert server.frames("sync")[-1]["since"] == "v6"
    assert alice.cursors.since == "v7"


async def test_a_pass_cut_short_starts_again_from_the_old_token(server, connect_as):
    server.sync_page_chats = 1
    server.add_user("carol")
    for peer in ("bob", "carol"):
        await server.store(server.create_direct("alice", peer), peer, "hi")
    server.lose_reply_to = lambda frame: "page" in frame and len(server.frames("sync")) == 2
    alice = await connect_as("alice")
    assert sorted(event["message"]["chat_id"] for event in await take(alice.events(), 2)) == [
        "alice-bob",
        "alice-carol",
    ]
    await wait_until(lambda: alice.cursors.since == "v2")
    assert [(frame["since"], frame.get("page")) for frame in server.frames("sync")] == [
        ("", None),
        ("", "1:2"),  # its reply is lost with the socket
        ("", None),
        ("", "1:2"),
    ]
    assert server.handshakes == 2


async def test_sync_with_cursors_still_answers_the_first_form(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    for n in range(1, 5):
        await server.store(chat_id, "bob", str(n))
    alice = await connect_as("alice")
    result = await alice.sync({chat_id: 1})
    assert [message["seq"] for message in result.messages[chat_id]] == [2, 3, 4]
    assert [chat["chat_id"] for chat in result.chats] == [chat_id]
    assert result.since is None
