"""Presence on the in-memory stores, with the clock under the test's control. Announcements and the sweep's
shards are fan-out tasks: `drain` runs them as the queue's consumer would."""
import itertools

import pytest

from chalicelib import clock
from chalicelib.delivery import HANDSHAKE_GRACE
from chalicelib.model import Chat, Connection, Member, direct_chat_id, iso_from_epoch
from chalicelib.presence import ANNOUNCE_PAGE, ANNOUNCED_GROUP_SIZE, MAX_SOCKETS
from chalicelib.storage.dynamodb.users import ONLINE_SHARDS, online_shard

START = 1_700_000_000
_ids = itertools.count()


class Clock:
    def __init__(self):
        self.now = START

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def time(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(clock, "now", lambda: fake.now)
    return fake


@pytest.fixture
def people(world, time):
    """alice and bob share a direct chat; alice, bob and carol a group; eve shares nothing with anyone."""
    world.users("alice", "bob", "carol", "eve")
    world.services.messaging.create_direct("alice", "bob")
    world.services.stores.chats.create(Chat("g1", "group", "t", name="g",
                                     members=[Member("alice"), Member("bob"), Member("carol")]))
    return world


def drain(world) -> list[dict]:
    """Run the queued tasks, and those they queue, as the fan-out consumer would; answers the tasks run."""
    ran = []
    while world.queue.tasks:
        task = world.queue.tasks.pop(0)
        world.services.fanout.run(task)
        ran.append(task)
    return ran


def connect(world, user_id: str, device: str = "phone", announce: bool = True) -> Connection:
    now = int(clock.now())
    connection = Connection(f"s{next(_ids)}", user_id, device, "https://x/api", now, now)
    world.services.presence.connected(connection)
    if announce:
        drain(world)
    return connection


def disconnected(world, connection: Connection) -> None:
    world.services.presence.disconnected(connection)
    drain(world)


def heartbeat(world, connection: Connection, quiet: bool = False) -> None:
    world.services.presence.heartbeat(connection, quiet)
    drain(world)


def sweep(world) -> int:
    """The schedule, then its shards' tasks; answers how many users the sweep took offline."""
    assert world.services.presence.sweep() == ONLINE_SHARDS
    return sum(1 for task in drain(world) if task.get("task") == "presence" and
               task["presence"]["status"] == "offline")


def ask(world, caller: str, *user_ids: str) -> dict[str, tuple[str, str | None]]:
    return {entry["user_id"]: (entry["status"], entry["last_seen"])
            for entry in world.services.presence.query(caller, list(user_ids))}


def presence_pushes(world, connection: Connection) -> list[dict]:
    return [frame["users"] for frame in world.pusher.of_type(connection.connection_id, "presence")]


def test_online_while_a_heartbeat_is_under_a_minute_old(people, time):
    phone = connect(people, "alice")
    assert ask(people, "bob", "alice") == {"alice": ("online", iso_from_epoch(START))}
    time.advance(50)
    heartbeat(people, phone)
    time.advance(59)
    assert ask(people, "bob", "alice")["alice"] == ("online", iso_from_epoch(START + 50))
    time.advance(1)
    assert ask(people, "bob", "alice")["alice"] == ("offline", iso_from_epoch(START + 50))


def test_never_seen_reads_null_and_answers_follow_the_question(people):
    assert people.services.presence.query("bob", ["CAROL", "alice", "carol"]) == [
        {"user_id": "carol", "status": "offline", "last_seen": None},
        {"user_id": "alice", "status": "offline", "last_seen": None}]
    assert people.services.presence.query("bob", []) == []


def test_strangers_read_offline_null_at_no_cost(people, monkeypatch):
    for user_id in ("alice", "eve"):
        connect(people, user_id)
    read = []
    original = people.services.stores.users.presence_of
    monkeypatch.setattr(people.services.stores.users, "presence_of", lambda ids: read.append(set(ids)) or original(ids))
    assert ask(people, "eve", "alice", "nobody", "eve") == {
        "alice": ("offline", None), "nobody": ("offline", None), "eve": ("online", iso_from_epoch(START))}
    assert read == [{"eve"}]
    assert ask(people, "alice", "eve") == {"eve": ("offline", None)}


def test_groups_are_read_only_when_a_question_needs_them(people, monkeypatch):
    reads = []
    original = people.services.stores.chats.members
    monkeypatch.setattr(people.services.stores.chats, "members",
                        lambda chat_id: reads.append(chat_id) or original(chat_id))
    ask(people, "alice", "bob")
    assert reads == []  # a direct chat's id names its members
    assert ask(people, "bob", "carol") == {"carol": ("offline", None)} and reads == ["g1"]
    connect(people, "carol")
    assert ask(people, "bob", "carol")["carol"][0] == "online"


def test_transitions_reach_each_contact_once_whatever_the_shared_chats(people, time):
    bob_phone, bob_laptop = connect(people, "bob"), connect(people, "bob", "laptop")
    carol, eve = connect(people, "carol"), connect(people, "eve")
    people.pusher.frames.clear()
    alice_phone = connect(people, "alice")
    online = [{"user_id": "alice", "status": "online", "last_seen": iso_from_epoch(START)}]
    for watcher in (bob_phone, bob_laptop, carol):
        assert presence_pushes(people, watcher) == [online]  # bob shares two chats with alice: one push
    assert presence_pushes(people, eve) == [] and presence_pushes(people, alice_phone) == []

    time.advance(5)
    alice_laptop = connect(people, "alice", "laptop")
    disconnected(people, alice_phone)
    assert presence_pushes(people, bob_phone) == [online]  # still online: no news
    time.advance(5)
    disconnected(people, alice_laptop)
    offline = [{"user_id": "alice", "status": "offline", "last_seen": iso_from_epoch(START + 10)}]
    for watcher in (bob_phone, bob_laptop, carol):
        assert presence_pushes(people, watcher) == [online, offline]
    assert presence_pushes(people, eve) == []
    assert ask(people, "bob", "alice")["alice"] == ("offline", iso_from_epoch(START + 10))


def test_a_stale_socket_that_closes_leaves_its_last_heartbeat_as_last_seen(people, time):
    bob = connect(people, "bob")
    alice = connect(people, "alice")
    time.advance(300)  # the phone froze; API Gateway closes it when idle
    disconnected(people, alice)
    assert presence_pushes(people, bob)[-1][0]["last_seen"] == iso_from_epoch(START)


def test_a_socket_a_push_finds_gone_takes_its_user_offline(people, time):
    bob = connect(people, "bob")
    alice = connect(people, "alice")
    people.pusher.gone.add(alice.connection_id)
    time.advance(HANDSHAKE_GRACE + 1)
    people.send("bob", "direct:alice:bob", connection_id=bob.connection_id)
    drain(people)
    assert presence_pushes(people, bob)[-1] == [
        {"user_id": "alice", "status": "offline", "last_seen": iso_from_epoch(START + HANDSHAKE_GRACE + 1)}]
    assert people.services.stores.users.connection(alice.connection_id) is None


def test_a_socket_that_answers_410_while_it_may_still_be_opening_is_kept(people, time):
    bob = connect(people, "bob")
    alice = connect(people, "alice")
    people.pusher.gone.add(alice.connection_id)  # its $connect has not returned yet
    time.advance(1)
    people.send("bob", "direct:alice:bob", connection_id=bob.connection_id)
    assert people.services.stores.users.connection(alice.connection_id) is not None


def test_the_sweep_takes_crashed_users_offline_once_and_drops_stale_sockets(people, time):
    bob = connect(people, "bob")
    connect(people, "alice")
    connect(people, "carol")
    carol_laptop = connect(people, "carol", "laptop")
    time.advance(30)
    for alive in (bob, carol_laptop):
        heartbeat(people, alive)
    assert sweep(people) == 0
    time.advance(31)  # alice and carol's phone: 61 s since their last heartbeat
    for alive in (bob, carol_laptop):
        heartbeat(people, alive)
    people.pusher.frames.clear()
    assert sweep(people) == 1
    assert presence_pushes(people, bob) == [[{"user_id": "alice", "status": "offline",
                                              "last_seen": iso_from_epoch(START)}]]
    assert presence_pushes(people, carol_laptop) == presence_pushes(people, bob)
    remaining = people.services.stores.users.reach_of(["alice", "carol"])
    assert {user_id: [c.connection_id for c in user.connections] for user_id, user in remaining.items()} == \
        {"alice": [], "carol": [carol_laptop.connection_id]}
    assert sweep(people) == 0 and len(presence_pushes(people, bob)) == 1


def test_a_swept_socket_that_heartbeats_again_comes_back_online(people, time):
    bob = connect(people, "bob")
    alice = connect(people, "alice")
    time.advance(61)
    heartbeat(people, bob)
    sweep(people)
    heartbeat(people, alice)  # the app was suspended, its socket was not dead
    assert presence_pushes(people, bob)[-1] == [
        {"user_id": "alice", "status": "online", "last_seen": iso_from_epoch(START + 61)}]
    assert ask(people, "bob", "alice")["alice"][0] == "online"
    disconnected(people, alice)
    heartbeat(people, alice)  # a late frame of a closed socket brings nothing back
    assert ask(people, "bob", "alice")["alice"][0] == "offline"
    assert people.services.stores.users.reach_of(["alice"])["alice"].connections == []


def test_members_of_only_a_large_group_are_not_pushed_transitions_but_may_ask(people):
    crowd = [f"fan{i}" for i in range(ANNOUNCED_GROUP_SIZE)]
    people.users(*crowd)
    people.services.stores.chats.create(Chat("group:big", "group", "t", name="big",
                                      members=[Member(u) for u in ["alice", *crowd]]))
    fan, bob = connect(people, "fan0"), connect(people, "bob")
    connect(people, "alice")
    assert presence_pushes(people, fan) == [] and len(presence_pushes(people, bob)) == 1
    assert ask(people, "fan0", "alice")["alice"][0] == "online"


def test_a_connect_past_the_socket_cap_closes_the_users_oldest_sockets(people, time):
    sockets = []
    for device in range(MAX_SOCKETS):
        sockets.append(connect(people, "alice", f"d{device}"))
        time.advance(1)
    assert people.pusher.gone == set()
    newest = connect(people, "alice", "one-more")
    assert people.pusher.gone == {sockets[0].connection_id}
    live = people.services.stores.users.reach_of(["alice"])["alice"].connections
    assert len(live) == MAX_SOCKETS and newest in live and sockets[0] not in live
    assert ask(people, "bob", "alice")["alice"][0] == "online"


def test_a_transition_is_queued_and_announced_a_page_of_chats_a_task(people):
    contacts = [f"c{i:04d}" for i in range(2 * ANNOUNCE_PAGE + 10)]
    people.users(*contacts)
    for contact in contacts:
        people.services.messaging.create_direct("alice", contact)
    last = connect(people, contacts[-1])  # on the last page of alice's chats, by id
    bob = connect(people, "bob")
    people.pusher.frames.clear()
    phone = connect(people, "alice", announce=False)
    assert presence_pushes(people, bob) == [] and presence_pushes(people, last) == []
    assert [task["after"] for task in people.queue.tasks] == [""]  # the connect did nothing O(contacts)
    pages = drain(people)
    chats = sorted([direct_chat_id("alice", c) for c in [*contacts, "bob"]] + ["g1"])
    assert [task["after"] for task in pages] == ["", chats[ANNOUNCE_PAGE - 1], chats[2 * ANNOUNCE_PAGE - 1]]
    online = [{"user_id": "alice", "status": "online", "last_seen": iso_from_epoch(START)}]
    assert presence_pushes(people, last) == [online]
    assert presence_pushes(people, bob) == [online, online]  # a direct chat on the first page, g1 on the last
    disconnected(people, phone)
    assert presence_pushes(people, last)[-1][0]["status"] == "offline"


def test_an_announcement_overtaken_by_a_later_transition_pushes_nothing(people, time):
    bob = connect(people, "bob")
    people.pusher.frames.clear()
    alice = connect(people, "alice", announce=False)
    time.advance(3)
    people.services.presence.disconnected(alice)
    people.queue.tasks.reverse()  # SQS keeps no order
    drain(people)
    assert presence_pushes(people, bob) == [[{"user_id": "alice", "status": "offline",
                                              "last_seen": iso_from_epoch(START + 3)}]]


def test_a_quiet_heartbeat_keeps_its_socket_fresh_for_150_seconds(people, time):
    bob = connect(people, "bob")
    alice = connect(people, "alice")
    time.advance(50)
    heartbeat(people, alice, quiet=True)
    heartbeat(people, bob, quiet=True)
    time.advance(149)
    assert ask(people, "bob", "alice")["alice"] == ("online", iso_from_epoch(START + 50))
    assert sweep(people) == 0  # fresh by the quiet window, though its heartbeat is 149 s old
    heartbeat(people, bob)  # a normal heartbeat counts 60 s again
    time.advance(1)
    assert ask(people, "bob", "alice")["alice"] == ("offline", iso_from_epoch(START + 50))
    assert sweep(people) == 1
    assert presence_pushes(people, bob)[-1] == [{"user_id": "alice", "status": "offline",
                                                "last_seen": iso_from_epoch(START + 50)}]
    time.advance(60)
    assert ask(people, "alice", "bob")["bob"] == ("offline", iso_from_epoch(START + 199))


def test_the_sweep_queues_one_task_per_shard_and_each_sweeps_its_own(people, time):
    users = [f"u{i}" for i in range(40)]
    people.users(*users)
    for user_id in users:
        connect(people, user_id)
    time.advance(61)
    people.services.presence.sweep()
    tasks = list(people.queue.tasks)
    assert tasks == [{"task": "sweep", "shard": shard} for shard in range(ONLINE_SHARDS)]
    people.queue.tasks.clear()
    shard = online_shard("u0")
    people.services.fanout.run(tasks[shard])
    offline = {task["user_id"] for task in people.queue.tasks}
    assert offline == {u for u in users if online_shard(u) == shard} and "u0" in offline
    assert people.services.stores.users.marked_online == set(users) - offline


def test_a_query_finds_direct_contacts_in_one_batch_read_and_groups_only_for_the_rest(people, monkeypatch):
    chats = people.services.stores.chats
    calls: list[tuple] = []
    for name in ("memberships_in", "memberships_page", "members"):
        original = getattr(chats, name)
        monkeypatch.setattr(chats, name, lambda *args, _name=name, _original=original:
                            calls.append((_name, *args)) or _original(*args))
    assert ask(people, "alice", "bob", "eve") == {"bob": ("offline", None), "eve": ("offline", None)}
    assert [call[0] for call in calls] == ["memberships_in", "memberships_page", "members"]
    assert sorted(calls[0][2]) == ["direct:alice:bob", "direct:alice:eve"]
    assert calls[1][2] == "direct;"  # groups only: every direct chat's id sorts before it
    calls.clear()
    assert ask(people, "alice", "bob") == {"bob": ("offline", None)}
    assert [call[0] for call in calls] == ["memberships_in"]  # found: no group read
