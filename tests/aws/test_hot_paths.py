"""What the hot paths ask of DynamoDB on moto: requests, in which rounds, and which keys they write."""
import json
import threading

import boto3
import pytest

from chalicelib.config import settings
from chalicelib.model import CURSOR_SHARDS, Connection
from chalicelib.services import build, dynamodb_stores
from tests.fakes import InMemoryBlobs, RecordingNotifier, RecordingPusher


class Requests:
    """Every DynamoDB request the services make, with the thread it was made on and the keys it wrote."""

    def __init__(self, client):
        self.made: list[tuple[str, str, list]] = []
        client.meta.events.register("before-call.dynamodb.*", self._note)

    def _note(self, model, params, **_):
        body = json.loads(params["body"])
        keys = [body.get("Key") or body.get("Item")] if "Key" in body or "Item" in body else []
        self.made.append((model.name, threading.current_thread().name, keys))

    def clear(self):
        self.made.clear()

    def operations(self) -> list[str]:
        return [operation for operation, _, _ in self.made]

    def written_partitions(self) -> list[str]:
        return [key["chat_id"]["S"] for operation, _, keys in self.made if operation != "GetItem"
                for key in keys if key and "chat_id" in key]


@pytest.fixture
def parley(aws, tmp_path):
    dynamodb = boto3.resource("dynamodb")
    services = build(dynamodb_stores(dynamodb, settings(), InMemoryBlobs(tmp_path)), RecordingPusher(),
                     tokens=None, accounts=None, notifier=RecordingNotifier())
    for user in ["alice", "bob"] + [f"m{i}" for i in range(60)]:
        services.stores.users.register(user)
    services.presence.connected(Connection("bob-phone", "bob", "phone", "https://e/api", 2_000_000_000, 0))
    return services, Requests(dynamodb.meta.client)


def test_a_direct_send_is_five_requests_three_rounds_before_the_push(parley):
    services, requests = parley
    chat_id = services.messaging.create_direct("alice", "bob")[0].chat_id
    services.messaging.send("alice", chat_id, "warm", "text", "hi", None)  # caches nothing a send relies on
    requests.clear()
    services.messaging.send("alice", chat_id, "k1", "text", "hello", None)
    made = requests.made
    first_round = sorted(operation for operation, thread, _ in made[:3])
    assert first_round == ["BatchGetItem", "PutItem", "UpdateItem"]  # claim, send limit, both members' sockets
    assert all(thread.startswith("parley") for _, thread, _ in made[:3])  # made at once, on the pool
    assert [operation for operation, _, _ in made[3:]] == ["UpdateItem", "PutItem"]  # the seq, the message


def test_a_resend_stores_nothing_and_finds_its_original(parley):
    services, requests = parley
    chat_id = services.messaging.create_direct("alice", "bob")[0].chat_id
    first = services.messaging.send("alice", chat_id, "k1", "text", "hello", None)
    services.messaging.send("bob", chat_id, "k1", "text", "a reply with the same key", None)
    again = services.messaging.send("alice", chat_id, "k1", "text", "hello", None)
    assert again == first
    assert [m.text for m in services.stores.messages.messages_after(chat_id, 0, 10)] == [
        "hello", "a reply with the same key"]


def test_group_receipts_write_their_own_shard_and_floors_once_per_shard(parley):
    services, requests = parley
    members = [f"m{i}" for i in range(60)]
    chat_id = services.groups.create("alice", "crowd", members)[0].chat_id
    seq = services.messaging.send("alice", chat_id, "k1", "text", "hello all", None)["seq"]
    requests.clear()
    for member in members:
        services.receipts.record(member, chat_id, "delivered", seq)
        services.receipts.record(member, chat_id, "read", seq)
    written = requests.written_partitions()
    assert chat_id not in written  # the chat's own partition (its head, the seq counter) takes none of it
    shards = {key for key in written if "#cursors#" in key}
    assert len(shards) <= CURSOR_SHARDS
    for status in ("delivered", "read"):  # once per shard and status, not once per member
        assert 0 < written.count(f"{chat_id}#floors#{status}") <= min(CURSOR_SHARDS, len(members) + 1)
    assert max(written.count(shard) for shard in shards) < 2 * len(members) / 5


def test_sync_reads_only_the_chats_that_changed(parley, monkeypatch):
    from chalicelib import clock
    services, requests = parley
    moment = [1_800_000_000.0]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    peers = [f"m{i}" for i in range(60)]
    chats = [services.messaging.create_direct(peer, "bob")[0].chat_id for peer in peers]
    moment[0] += 120
    last = services.catch_up.sync_changes("bob", "", None, 1)[-1]  # a fresh pass: one page of 60 chats
    requests.clear()
    assert services.catch_up.sync_changes("bob", last["since"], None, 100) == [
        {"type": "synced", "chats": [], "since": str(int(moment[0]) - 15)}]
    assert [op for op in requests.operations() if op != "UpdateItem"] == ["Query"]  # the rate limit, the marks
    moment[0] += 120
    for n in range(50):
        moment[0] += 0.5  # within each sender's limit
        for peer, chat_id in zip(peers[:20], chats[:20], strict=True):
            services.messaging.send(peer, chat_id, f"{peer}-{n}", "text", "x" * 100, None)
    requests.clear()
    frames = services.catch_up.sync_changes("bob", last["since"], None, 100)
    assert sum(len(frame["messages"]) for frame in frames[:-1]) == 1000 and len(frames) <= 15
    assert len(requests.made) <= 30, requests.operations()


def test_a_direct_send_marks_both_members_once_a_minute_while_it_pushes(parley, monkeypatch):
    from chalicelib import clock
    services, requests = parley
    moment = [1_800_000_000.0]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    chat_id = services.messaging.create_direct("alice", "bob")[0].chat_id
    services.messaging.send("alice", chat_id, "warm", "text", "hi", None)
    moment[0] += 60
    requests.clear()
    services.messaging.send("alice", chat_id, "k1", "text", "hello", None)
    assert [operation for operation, _, _ in requests.made[3:5]] == ["UpdateItem", "PutItem"]  # the seq, the message
    (mark,) = [(thread, keys) for operation, thread, keys in requests.made[5:] if operation == "BatchWriteItem"]
    assert mark[0].startswith("parley")  # on the pool, beside the push
    assert services.stores.news.marked_since("bob", int(moment[0]) // 60) == {chat_id: 2}
    assert services.stores.news.marked_since("alice", int(moment[0]) // 60) == {chat_id: 2}
    requests.clear()
    services.messaging.send("alice", chat_id, "k2", "text", "again", None)
    assert "BatchWriteItem" not in requests.operations()  # the minute's mark at seq 2 covers seq 3
