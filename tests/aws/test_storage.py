"""The DynamoDB stores on the tables infra/parley.yaml declares."""
import threading

import boto3
import pytest

from chalicelib.model import Chat, Connection, Member, Message
from chalicelib.storage.dynamodb import DynamoChatStore, DynamoUserStore


@pytest.fixture
def stores(aws):
    dynamodb = boto3.resource("dynamodb")
    return (DynamoUserStore(dynamodb, aws["CONNECTIONS_TABLE"], aws["USERS_TABLE"], 7500),
            DynamoChatStore(dynamodb, aws["CHATS_TABLE"], aws["MESSAGES_TABLE"]))


def draft(chat_id: str, sender: str = "a", text: str = "x") -> Message:
    return Message(chat_id, 0, f"id-{text}", sender, "text", "", text=text)


def test_connections_are_found_per_user_in_batches(stores):
    users, _ = stores
    for i in range(150):
        users.register(f"u{i}")
        users.add_connection(Connection(f"c{i}", f"u{i}", "phone", "https://e/api", 2_000_000_000, 0))
    users.add_connection(Connection("old", "u0", "tablet", "https://e/api", 1_000, 0))  # long past 2 h
    found = users.connections_of(f"u{i}" for i in range(150))
    assert len(found) == 150 and [c.connection_id for c in found["u0"]] == ["c0"]
    users.remove_connection(found["u1"][0])
    assert users.connections_of(["u1"])["u1"] == [] and users.connection("c1") is None
    assert users.existing(["u3", "nobody"]) == {"u3"}


def test_chats_are_created_once_and_listed_per_member(stores):
    _, chats = stores
    chat = Chat("direct:a:b", "direct", "t", members=[Member("a"), Member("b")])
    assert chats.create(chat) == (chat, True)
    stored, created = chats.create(chat)
    assert not created and stored.member_ids == ["a", "b"]
    assert [m.chat_id for m in chats.memberships("b")] == ["direct:a:b"]
    assert chats.heads(["direct:a:b", "missing"])["direct:a:b"].last_seq == 0


def test_append_is_gap_free_and_idempotent_under_concurrency(stores):
    _, chats = stores
    chat, _ = chats.create(Chat("direct:a:b", "direct", "t", members=[Member("a"), Member("b")]))
    results = []

    def send(i):
        results.append(chats.append(chat, draft(chat.chat_id, text=str(i % 10)), f"k{i % 10}"))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(30)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(m.seq for m, stored in results if stored) == list(range(1, 11))
    assert {m.seq for m, _ in results} == set(range(1, 11))
    assert [m.seq for m in chats.messages_after(chat.chat_id, 0, 100)] == list(range(1, 11))
    assert chats.get(chat.chat_id).last_seq == 10


def test_cursor_counts_move_atomically(stores):
    _, chats = stores
    chat, _ = chats.create(Chat("g", "group", "t", name="g", members=[Member("a"), Member("b"), Member("c")]))
    assert chats.shift_cursor_counts("g", {"read": {0: -1, 4: 1}}) == {"read": {0: 2, 4: 1}}
    assert chats.shift_cursor_counts("g", {"read": {0: -1, 4: 1}, "delivered": {0: -1, 2: 1}}) == \
        {"read": {0: 1, 4: 2}, "delivered": {0: 2, 2: 1}}
    assert chats.shift_cursor_counts("g", {"read": {9: -1}}) == {"read": {0: 1, 4: 2}}  # -1 until its +1 lands
    assert chats.raise_cursors("g", "a", "delivered", 3) == {"delivered": (0, 3)}
    assert chats.raise_cursors("g", "a", "read", 2) == {"read": (0, 2)}
    assert chats.raise_cursors("g", "a", "read", 5) == {"delivered": (3, 5), "read": (2, 5)}
    assert chats.raise_cursors("g", "a", "delivered", 4) == {}
    assert chats.raise_cursors("g", "nobody", "read", 4) == {}
