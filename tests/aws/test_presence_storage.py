"""The presence and typing methods of the DynamoDB stores on moto, and the DynamoDB requests presence makes."""
from dataclasses import replace

import boto3
import pytest

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.model import QUIET_WINDOW, Chat, Connection, Member, UserPresence, direct_chat_id
from chalicelib.presence import ANNOUNCE_PAGE
from chalicelib.services import build, dynamodb_stores
from chalicelib.storage.dynamodb.chats import DynamoChatStore
from chalicelib.storage.dynamodb.counters import DynamoCounters
from chalicelib.storage.dynamodb.users import ONLINE_SHARDS, DynamoUserStore, online_shard
from tests.fakes import InMemoryBlobs, RecordingNotifier, RecordingPusher, RecordingQueue

T = 1_700_000_000


@pytest.fixture
def now(monkeypatch) -> list[float]:
    moment = [float(T)]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    return moment


@pytest.fixture
def dynamodb(aws):
    return boto3.resource("dynamodb")


@pytest.fixture
def users(aws, dynamodb, now) -> DynamoUserStore:
    store = DynamoUserStore(dynamodb, aws["CONNECTIONS_TABLE"], aws["USERS_TABLE"], 7500)
    for user_id in ("alice", "bob"):
        store.register(user_id)
    return store


@pytest.fixture
def requests(dynamodb) -> list[str]:
    """The DynamoDB operations made, in order."""
    made = []
    dynamodb.meta.client.meta.events.register("before-call.dynamodb.*",
                                              lambda model, **_: made.append(model.name))
    return made


def socket(connection_id: str, user_id: str = "alice", at: int = T) -> Connection:
    return Connection(connection_id, user_id, "phone", "https://e/api", at, at)


def marked_online(aws) -> set[str]:
    """Who is in the `online` index (read with a client of its own, so that `requests` does not count it)."""
    items = boto3.client("dynamodb").scan(TableName=aws["USERS_TABLE"], IndexName="online")["Items"]
    return {item["user_id"]["S"] for item in items}


def test_the_first_socket_marks_online_and_the_last_one_records_last_seen(aws, dynamodb, users, now, requests):
    assert users.add_connection(socket("c1")) == (True, [])
    assert users.add_connection(socket("c2")) == (False, [socket("c1")])
    assert requests == ["PutItem", "UpdateItem"] * 2
    assert marked_online(aws) == {"alice"}
    now[0] += 20
    requests.clear()
    assert users.remove_connection(socket("c1")) is None
    assert requests == ["DeleteItem", "GetItem", "UpdateItem"]
    assert users.remove_connection(socket("c2")) == UserPresence("alice", last_seen=T + 20)
    assert users.presence_of(["alice", "bob", "nobody"]) == {
        "alice": UserPresence("alice", (), T + 20), "bob": UserPresence("bob")}
    assert marked_online(aws) == set()
    assert users.remove_connection(socket("c2")) is None  # a repeated $disconnect changes nothing


def test_a_heartbeat_is_one_update_and_brings_back_a_swept_socket(aws, dynamodb, users, now, requests):
    users.add_connection(socket("c1"))
    now[0] += 30
    requests.clear()
    assert users.refresh_connection(Connection("c1", "alice", "phone", "https://e/api", T, T + 30)) is False
    assert requests == ["UpdateItem"]
    assert users.presence_of(["alice"])["alice"].seen_last() == T + 30
    now[0] += 61
    assert users.expire_stale_connections(online_shard("alice")) == [UserPresence("alice", last_seen=T + 30)]
    assert users.presence_of(["alice"])["alice"] == UserPresence("alice", (), T + 30)
    back = Connection("c1", "alice", "phone", "https://e/api", T, T + 91)
    assert users.refresh_connection(back) is True  # the socket was alive after all
    assert users.presence_of(["alice"])["alice"].connections == (back,)
    assert marked_online(aws) == {"alice"}
    users.remove_connection(back)
    assert users.refresh_connection(back) is False  # closed: stays out
    assert users.presence_of(["alice"])["alice"].connections == ()


def test_the_sweep_reads_only_online_users_and_drops_stale_sockets(aws, dynamodb, users, now, requests):
    for i in range(30):
        users.register(f"u{i}")
        users.add_connection(socket(f"c{i}", f"u{i}"))
    users.add_connection(socket("fresh", "u0", at=T + 50))
    now[0] += 50
    users.add_connection(socket("late", "u1", at=T + 50))
    for user_id in ("alice", "bob"):  # never online: not in the index, never read
        users.register(user_id)
    now[0] = T + 61
    requests.clear()
    offline = []
    for shard in range(ONLINE_SHARDS):
        requests.clear()
        swept = users.expire_stale_connections(shard)
        assert {p.user_id for p in swept} <= {f"u{i}" for i in range(30) if online_shard(f"u{i}") == shard}
        assert requests[0] == "Query" and requests.count("Query") == 1  # its own shard only, one page
        assert requests.count("BatchGetItem") <= 1
        offline += swept
    assert sorted(p.user_id for p in offline) == sorted(f"u{i}" for i in range(2, 30))
    assert all(p.last_seen == T for p in offline)
    assert marked_online(aws) == {"u0", "u1"}
    assert [c.connection_id for c in users.presence_of(["u0"])["u0"].connections] == ["fresh"]
    requests.clear()
    assert [users.expire_stale_connections(shard) for shard in range(ONLINE_SHARDS)] == [[]] * ONLINE_SHARDS
    assert requests.count("UpdateItem") == 0


def test_a_quiet_heartbeat_is_one_update_of_the_users_item_and_keeps_the_socket_fresh_150_s(aws, users, now,
                                                                                           requests):
    users.add_connection(socket("c1"))
    now[0] += 30
    requests.clear()
    quiet = Connection("c1", "alice", "phone", "https://e/api", T, T + 30, window=QUIET_WINDOW)
    assert users.refresh_connection(quiet) is False
    assert requests == ["UpdateItem"]  # the item only: the `online` index is not written
    assert users.presence_of(["alice"])["alice"].connections == (quiet,)
    now[0] += QUIET_WINDOW - 1
    assert users.expire_stale_connections(online_shard("alice")) == [] and marked_online(aws) == {"alice"}
    assert users.presence_now("alice").is_online(now[0])
    now[0] += 1
    assert users.expire_stale_connections(online_shard("alice")) == [UserPresence("alice", last_seen=T + 30)]
    refreshed = replace(quiet, seen_at=T + 200, window=60)  # a normal heartbeat puts the window back to 60 s
    assert users.refresh_connection(refreshed) is True
    assert users.presence_now("alice").connections == (refreshed,)


def test_a_close_that_races_a_heartbeat_rereads_and_keeps_the_user_online(users, now, monkeypatch):
    users.add_connection(socket("phone"))
    users.add_connection(socket("laptop"))
    now[0] += 61  # both stale: closing the phone would take alice offline...
    table = users._users
    first_read = table.get_item

    def read_then_heartbeat(**kwargs):
        item = first_read(**kwargs)
        monkeypatch.setattr(table, "get_item", first_read)
        users.refresh_connection(Connection("laptop", "alice", "phone", "https://e/api", T, T + 61))
        return item

    monkeypatch.setattr(table, "get_item", read_then_heartbeat)
    assert users.remove_connection(socket("phone")) is None  # ...but the laptop spoke up meanwhile
    presence = users.presence_of(["alice"])["alice"]
    assert [c.connection_id for c in presence.connections] == ["laptop"] and presence.is_online(now[0])


def test_member_lists_and_the_rate_counters(aws, dynamodb):
    chats = DynamoChatStore(dynamodb, aws["CHATS_TABLE"])
    counters = DynamoCounters(dynamodb, aws["CHATS_TABLE"])
    chats.create(Chat("g", "group", "t", name="g", members=[Member("a"), Member("b"), Member("c")]))
    assert [m.user_id for m in chats.members("g")[1]] == ["a", "b", "c"] and chats.members("missing") == (0, [])
    assert [counters.count("typing#a#g", T, 3) for _ in range(4)] == [True, True, True, False]
    assert counters.count("typing#b#g", T, 3) and counters.count("typing#a#g", T + 10, 3)
    counter = dynamodb.Table(aws["CHATS_TABLE"]).get_item(Key={"chat_id": "count#typing#a#g", "sk": str(T)})["Item"]
    assert counter["events"] == 3 and counter["expires_at"] > T + 10
    assert chats.get("g").member_ids == ["a", "b", "c"] and chats.get("count#typing#a#g") is None


def test_requests_per_presence_query_heartbeat_and_transition(aws, dynamodb, users, now, requests, tmp_path):
    stores = dynamodb_stores(dynamodb, settings(), InMemoryBlobs(tmp_path))
    stores = replace(stores, users=users)
    chats = stores.chats
    queue = RecordingQueue()
    services = build(stores, RecordingPusher(), tokens=None, accounts=None, notifier=RecordingNotifier(),
                     fanout_queue=queue)
    users.register("carol")
    services.messaging.create_direct("alice", "bob")
    chats.create(Chat("group:g", "group", "t", name="g", members=[Member("alice"), Member("bob"),
                                                                   Member("carol")]))
    services.presence.connected(socket("b1", "bob"))
    for task in queue.tasks:
        services.fanout.run(task)
    queue.tasks.clear()
    requests.clear()
    services.presence.query("bob", ["alice"])
    assert requests == ["BatchGetItem", "BatchGetItem"]  # bob's member item of direct:alice:bob; alice's item
    requests.clear()
    services.presence.query("bob", ["carol", "stranger"])
    # no direct chats; bob's groups (one page); the group's member list was cached by bob's announcement
    assert requests == ["BatchGetItem", "Query", "BatchGetItem"]
    requests.clear()
    services.presence.connected(socket("a1"))
    assert requests == ["PutItem", "UpdateItem"] and len(queue.tasks) == 1  # and one SQS message
    requests.clear()
    services.fanout.run(queue.tasks.pop())
    # the task: alice's presence (consistent), a page of her chats, the groups' sizes, the contacts' sockets
    assert requests == ["GetItem", "Query", "BatchGetItem", "BatchGetItem"] and queue.tasks == []
    requests.clear()
    services.presence.heartbeat(socket("a1"))
    services.presence.heartbeat(socket("a1"), quiet=True)
    assert requests == ["UpdateItem", "UpdateItem"] and queue.tasks == []


def test_a_user_with_many_chats_connects_in_two_requests_and_is_announced_a_page_a_task(aws, dynamodb, users, now,
                                                                                        requests, tmp_path):
    stores = replace(dynamodb_stores(dynamodb, settings(), InMemoryBlobs(tmp_path)), users=users)
    queue, pusher = RecordingQueue(), RecordingPusher()
    services = build(stores, pusher, tokens=None, accounts=None, notifier=RecordingNotifier(),
                     fanout_queue=queue)
    contacts = [f"c{i:04d}" for i in range(2 * ANNOUNCE_PAGE + 20)]
    with dynamodb.Table(aws["CHATS_TABLE"]).batch_writer() as batch:  # alice's member items, as create_direct's
        for contact in contacts:
            batch.put_item(Item={"chat_id": direct_chat_id("alice", contact), "sk": "member#alice",
                                 "member_id": "alice", "kind": "direct", "role": "member", "joined_seq": 0})
    users.register(contacts[-1])
    users.add_connection(socket("last", contacts[-1]))
    requests.clear()
    services.presence.connected(socket("a1"))
    assert requests == ["PutItem", "UpdateItem"] and len(queue.tasks) == 1
    done = []
    while queue.tasks:
        requests.clear()
        task = queue.tasks.pop(0)
        services.fanout.run(task)
        done.append(task["after"])
        assert requests.count("Query") == 1 and len(requests) <= 2 + ANNOUNCE_PAGE // 100  # a page's work
    assert len(done) == 3
    assert pusher.of_type("last", "presence") == [{"type": "presence", "users": [
        {"user_id": "alice", "status": "online", "last_seen": "2023-11-14T22:13:20Z"}]}]
