"""Request/reply over the WebSocket: correlation, errors, retries, heartbeats."""

import asyncio

import pytest

from fake_server import PASSWORD, wait_until
from parley_sdk import ConnectionLost, ParleyClient, ParleyError


async def test_a_refused_handshake_raises(server):
    async with ParleyClient(rest_url=server.rest_url, ws_url=server.ws_url) as client:
        await client.login("alice", PASSWORD)
        server.token_owners.clear()
        with pytest.raises(ParleyError) as refused:
            await client.connect()
    assert (refused.value.code, refused.value.status) == ("unauthorized", 401)


async def test_concurrent_requests_get_their_own_replies(server, connect_as):
    alice = await connect_as("alice")
    chat_id = server.create_direct("alice", "bob")
    sent = await asyncio.gather(*(alice.send_text(chat_id, f"hi {n}") for n in range(10)))
    assert sorted(reply["seq"] for reply in sent) == list(range(1, 11))
    texts = {message["seq"]: message["text"] for message in server.chats[chat_id]["messages"]}
    assert all(texts[reply["seq"]] == f"hi {n}" for n, reply in enumerate(sent))
    assert len({frame["req"] for frame in server.frames("send")}) == 10


async def test_an_error_frame_raises_with_its_code(server, connect_as):
    alice = await connect_as("alice")
    with pytest.raises(ParleyError) as refused:
        await alice.send_text("someone-elses-chat", "hi")
    assert refused.value.code == "forbidden"


async def test_replies_come_without_their_envelope(server, connect_as):
    alice = await connect_as("alice")
    chat = await alice.create_direct("bob")
    assert chat["chat_id"] == "alice-bob"
    sent = await alice.send_text(chat["chat_id"], "hi", client_msg_id="first")
    assert set(sent) == {"chat_id", "client_msg_id", "seq", "message_id", "sent_at"}
    assert "server_time" in await alice.heartbeat()


async def test_a_send_retried_after_a_reconnect_reuses_its_client_msg_id(server, connect_as):
    alice = await connect_as("alice")
    chat_id = server.create_direct("alice", "bob")
    server.lose_reply_to = lambda frame: frame.get("action") == "send" and len(server.frames("send")) == 1

    sent = await alice.send_text(chat_id, "only once")

    first, retry = server.frames("send")
    assert first["client_msg_id"] == retry["client_msg_id"] == sent["client_msg_id"]
    assert first["req"] != retry["req"]
    assert server.handshakes == 2
    assert [message["text"] for message in server.chats[chat_id]["messages"]] == ["only once"]
    assert sent["seq"] == 1


async def test_an_action_that_must_not_run_twice_is_not_retried(server, connect_as):
    alice = await connect_as("alice")
    server.lose_reply_to = lambda frame: frame.get("action") == "create_chat"
    with pytest.raises(ConnectionLost):
        await alice.create_group("friends", ["bob"])
    assert len(server.frames("create_chat")) == 1


async def test_heartbeats_are_sent_while_connected(server, connect_as):
    await connect_as("alice", heartbeat_interval=0.05)
    await wait_until(lambda: len(server.frames("heartbeat")) >= 3)


async def test_in_the_background_heartbeats_are_quiet_and_wait_for_no_reply(server, connect_as):
    server.answer_heartbeats = False  # a quiet heartbeat is never answered anyway
    alice = await connect_as(
        "alice", heartbeat_interval=10, background_heartbeat_interval=0.05, request_timeout=0.1
    )
    alice.set_background(True)
    await wait_until(lambda: len(server.frames("heartbeat")) >= 3)
    assert all(frame["quiet"] is True and "req" not in frame for frame in server.frames("heartbeat"))
    assert server.handshakes == 1

    server.answer_heartbeats = True
    alice.set_background(False)  # a normal heartbeat at once, not after the background interval
    await wait_until(lambda: "quiet" not in server.frames("heartbeat")[-1])
    assert "req" in server.frames("heartbeat")[-1]


async def test_background_mode_chosen_before_connecting_holds_from_the_first_heartbeat(server):
    async with ParleyClient(rest_url=server.rest_url, ws_url=server.ws_url, heartbeat_interval=0.05) as alice:
        alice.set_background(True)
        await alice.login("alice", PASSWORD)
        await alice.connect()
        await asyncio.sleep(0.2)
    assert server.frames("heartbeat") == []  # the background interval (60 s) has not passed


async def test_an_unanswered_heartbeat_drops_and_reopens_the_socket(server, connect_as):
    server.answer_heartbeats = False
    alice = await connect_as("alice", heartbeat_interval=0.05, request_timeout=0.1)
    await wait_until(lambda: server.handshakes >= 2)
    server.answer_heartbeats = True
    assert "server_time" in await alice.heartbeat()


async def test_close_ends_events(server, connect_as):
    alice = await connect_as("alice")

    async def close_soon():
        await asyncio.sleep(0.1)
        await alice.close()

    closing = asyncio.create_task(close_soon())
    assert [event async for event in alice.events()] == []
    await closing


async def test_close_fails_a_request_still_waiting(server, connect_as):
    server.answer_heartbeats = False
    alice = await connect_as("alice")
    waiting = asyncio.create_task(alice.heartbeat())
    await wait_until(lambda: server.frames("heartbeat"))
    await alice.close()
    with pytest.raises(ConnectionLost):
        await waiting
