"""Typing indicators and their rate limit, on the in-memory stores; the socket's answers to both new actions."""
import json

import pytest

from chalicelib import clock
from chalicelib.access import Access
from chalicelib.errors import Forbidden, NotFound, RateLimited
from chalicelib.model import Connection
from chalicelib.rate_limits import RateLimiter, RateLimits
from chalicelib.socket_api import SocketApi
from chalicelib.typing_indicators import RELAYED_GROUP_SIZE, TypingIndicators

TYPING_LIMIT, TYPING_WINDOW = RateLimits().typing.events, RateLimits().typing.window

CHAT = "direct:alice:bob"


@pytest.fixture
def now(monkeypatch) -> list[float]:
    moment = [1_700_000_000.0]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    return moment


@pytest.fixture
def chat(world, now):
    world.users("alice", "bob", "eve")
    world.services.messaging.create_direct("alice", "bob")
    world.pusher.frames.clear()
    return world


def test_typing_reaches_the_other_members_and_none_of_the_typists_devices(chat):
    phone, laptop, bob = chat.connect("alice"), chat.connect("alice", "laptop"), chat.connect("bob")
    chat.services.typing.relay("alice", CHAT, "start")
    chat.services.typing.relay("alice", CHAT, "stop")
    assert chat.pusher.of_type(bob, "typing") == [
        {"type": "typing", "chat_id": CHAT, "user_id": "alice", "state": "start"},
        {"type": "typing", "chat_id": CHAT, "user_id": "alice", "state": "stop"}]
    assert chat.pusher.of_type(phone, "typing") == chat.pusher.of_type(laptop, "typing") == []


def test_a_member_who_blocked_the_typist_is_not_told(chat):
    alice, bob = chat.connect("alice"), chat.connect("bob")
    chat.services.people.block("bob", "alice")
    chat.services.typing.relay("alice", CHAT, "start")
    chat.services.typing.relay("bob", CHAT, "start")  # the blocker's own typing still shows
    assert chat.pusher.of_type(bob, "typing") == []
    assert chat.pusher.of_type(alice, "typing") == [
        {"type": "typing", "chat_id": CHAT, "user_id": "bob", "state": "start"}]


def test_only_members_type(chat):
    chat.connect("bob")
    with pytest.raises(Forbidden):
        chat.services.typing.relay("eve", CHAT, "start")
    with pytest.raises(NotFound):
        chat.services.typing.relay("alice", "direct:alice:zed", "start")
    assert chat.pusher.frames == {}


def test_a_flood_is_rate_limited_per_member_and_chat_until_the_window_ends(chat, now, monkeypatch):
    now[0] = 1_700_000_000 // TYPING_WINDOW * TYPING_WINDOW
    bob = chat.connect("bob")
    for _ in range(TYPING_LIMIT):
        chat.services.typing.relay("alice", CHAT, "start")
    with pytest.raises(RateLimited):
        chat.services.typing.relay("alice", CHAT, "start")
    chat.services.typing.relay("bob", CHAT, "start")  # another member has a count of their own
    assert len(chat.pusher.of_type(bob, "typing")) == TYPING_LIMIT

    counted = []
    original = chat.counters.count
    monkeypatch.setattr(chat.counters, "count", lambda *args: counted.append(args) or original(*args))
    with pytest.raises(RateLimited):
        chat.services.typing.relay("alice", CHAT, "stop")
    assert counted == []  # this container already knows: no write
    now[0] += TYPING_WINDOW
    chat.services.typing.relay("alice", CHAT, "stop")
    assert len(chat.pusher.of_type(bob, "typing")) == TYPING_LIMIT + 1


def test_the_limit_holds_across_lambda_containers(chat, now):
    now[0] = 1_700_000_000 // TYPING_WINDOW * TYPING_WINDOW
    containers = [TypingIndicators(Access(chat.services.stores.chats), chat.services.delivery,
                                   RateLimiter(chat.counters))
                  for _ in range(2)]
    for turn in range(TYPING_LIMIT):
        containers[turn % 2].relay("alice", CHAT, "start")
    for container in containers:
        with pytest.raises(RateLimited):
            container.relay("alice", CHAT, "start")


def socket_frames(world, connection_id: str, *bodies: dict) -> list[dict]:
    api = SocketApi(world.services, "us-east-1")
    for body in bodies:
        api.receive(connection_id, json.dumps(body), "api", "test")
    return world.pusher.frames.get(connection_id, [])


def test_typing_answers_only_errors_and_presence_answers_with_its_req(chat):
    alice, eve = chat.connect("alice"), chat.connect("eve")
    assert socket_frames(chat, alice, {"action": "typing", "req": "1", "chat_id": CHAT, "state": "start"}) == []
    assert socket_frames(chat, eve, {"action": "typing", "req": "2", "chat_id": CHAT, "state": "start"}) == [
        {"type": "error", "code": "forbidden", "message": "you are not a member of this chat", "req": "2"}]
    replies = socket_frames(chat, alice, {"action": "typing", "req": "3", "chat_id": CHAT, "state": "maybe"},
                            {"action": "presence", "req": "4", "user_ids": ["bob"]},
                            {"action": "presence", "req": "5", "user_ids": [f"u{i}" for i in range(101)]})
    assert [(reply["type"], reply.get("code"), reply["req"]) for reply in replies] == [
        ("error", "bad_request", "3"), ("presence", None, "4"), ("error", "bad_request", "5")]
    assert replies[1]["users"] == [{"user_id": "bob", "status": "offline", "last_seen": None}]


def test_a_heartbeat_keeps_its_socket_fresh(chat, now):
    alice = chat.connect("alice")
    now[0] += 45
    [pong] = socket_frames(chat, alice, {"action": "heartbeat"})
    assert pong["type"] == "pong"
    connection: Connection = chat.services.stores.users.users["alice"][alice]
    assert connection.seen_at == int(now[0]) and connection.is_fresh(now[0] + 59)


def test_typing_in_a_group_over_the_relayed_size_reaches_nobody(chat):
    crowd = [f"m{i}" for i in range(RELAYED_GROUP_SIZE)]
    chat.users(*crowd)
    small = chat.services.groups.create("alice", "small", crowd[:RELAYED_GROUP_SIZE - 1])[0].chat_id
    large = chat.services.groups.create("alice", "large", crowd)[0].chat_id
    member = chat.connect(crowd[0])
    chat.services.typing.relay("alice", small, "start")
    chat.services.typing.relay("alice", large, "start")  # accepted, not relayed
    assert [frame["chat_id"] for frame in chat.pusher.of_type(member, "typing")] == [small]
    with pytest.raises(Forbidden):
        chat.services.typing.relay("eve", large, "start")  # still members only
