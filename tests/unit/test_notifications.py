"""Push notifications, mutes and the unread count, on the in-memory stores (pushes recorded by a fake SNS)."""
import json

import pytest

from chalicelib.errors import BadRequest, Forbidden
from chalicelib.fanout import RECIPIENTS_PER_TASK
from chalicelib.model import Connection, iso_from_epoch
from chalicelib.notifications import MAX_DEVICES, PUSH_TASK
from chalicelib.socket_api import SocketApi
from tests.unit.conftest import START


@pytest.fixture
def people(world, now):
    world.users("alice", "bob", "carol")
    return world


def online(world, user: str, device: str) -> str:
    """A fresh socket of `user` from `device` (heartbeats current)."""
    connection_id = f"{user}-{device}"
    world.services.stores.users.add_connection(Connection(connection_id, user, device, "https://x/api", int(START),
                                                          int(START)))
    return connection_id


def register(world, user: str, device: str, platform: str = "fcm") -> None:
    world.services.notifications.register(user, device, platform, f"token-{user}-{device}")


def direct(world, a: str, b: str) -> str:
    return world.services.messaging.create_direct(a, b)[0].chat_id


def run_queue(world) -> None:
    """Run queued tasks, and those they queue, as the fan-out consumer would."""
    while world.queue.tasks:
        task = world.queue.tasks.pop(0)
        world.services.fanout.run(task)


def pushes(world, user: str) -> list[dict]:
    run_queue(world)
    return world.notifier.to(user)


def test_only_the_device_without_a_socket_gets_the_push(people):
    register(people, "bob", "phone")
    register(people, "bob", "laptop")
    online(people, "bob", "laptop")
    chat = direct(people, "alice", "bob")
    sent = people.send("alice", chat, "see you at 8")
    assert pushes(people, "bob") == [{"device": "phone", "chat_id": chat, "seq": sent["seq"], "sender_id": "alice",
                                      "kind": "text", "preview": "see you at 8", "unread_chats": 1}]


def test_the_sender_and_members_without_devices_get_none(people):
    register(people, "alice", "phone")
    chat = direct(people, "alice", "bob")
    people.send("alice", chat)
    assert pushes(people, "alice") == [] and pushes(people, "bob") == []
    assert not [task for task in people.queue.tasks if task.get("task") == PUSH_TASK]


def test_a_preview_is_the_first_100_code_points_and_only_with_push_previews_on(people):
    register(people, "bob", "phone")
    chat = direct(people, "alice", "bob")
    people.send("alice", chat, "é" * 150)
    people.services.settings.update("bob", {"push_previews": False})
    people.send("alice", chat, "secret")
    first, second = pushes(people, "bob")
    assert first["preview"] == "é" * 100 and "preview" not in second


def test_relations_and_system_messages_push_nothing(people):
    register(people, "bob", "phone")
    chat = direct(people, "alice", "bob")
    sent = people.send("alice", chat, "hi")
    messaging = people.services.messaging
    messaging.send("alice", chat, "e1", "edit", "hello", None, relates_to=sent["seq"])
    messaging.send("alice", chat, "r1", "reaction", None, None, relates_to=sent["seq"], emoji="👍")
    messaging.update_chat("alice", chat, {"disappear_after": 86400})
    assert [p["seq"] for p in pushes(people, "bob")] == [sent["seq"]]


def test_a_muted_chat_pushes_nothing_but_a_mention_until_the_mute_ends(people, now):
    register(people, "bob", "phone")
    group = people.services.groups.create("alice", "g", ["bob", "carol"])[0].chat_id
    notifications, messaging = people.services.notifications, people.services.messaging
    notifications.mute("bob", group, iso_from_epoch(START + 3600))
    people.send("alice", group, "muted")
    mention = messaging.send("alice", group, "m1", "text", "@bob look", None, mentions=["bob"])
    assert [p["seq"] for p in pushes(people, "bob")] == [mention["seq"]]
    now[0] = START + 3601
    after = people.send("alice", group, "mute is over")
    assert [p["seq"] for p in pushes(people, "bob")] == [mention["seq"], after["seq"]]


def test_unmute_and_muted_until_on_the_callers_chat_objects(people):
    register(people, "bob", "phone")
    chat = direct(people, "alice", "bob")
    notifications, messaging = people.services.notifications, people.services.messaging
    notifications.mute("bob", chat, "2030-01-01T00:00:00Z")
    chats = messaging.chats_of("bob")
    assert messaging.as_seen_by("bob", chats)[0]["muted_until"] == "2030-01-01T00:00:00Z"
    assert "muted_until" not in messaging.as_seen_by("alice", messaging.chats_of("alice"))[0]
    people.send("alice", chat, "quiet")
    run_queue(people)
    notifications.mute("bob", chat, None)
    loud = people.send("alice", chat, "loud")
    assert [p["seq"] for p in pushes(people, "bob")] == [loud["seq"]]
    assert "muted_until" not in messaging.as_seen_by("bob", chats)[0]


@pytest.mark.parametrize("until, error", [("yesterday", "ISO 8601"), (iso_from_epoch(START - 1), "future"),
                                          ("9999-12-31T23:59:59-01:00", "10000")])
def test_a_mute_until_a_bad_time_is_refused(people, until, error):
    chat = direct(people, "alice", "bob")
    with pytest.raises(BadRequest, match=error):
        people.services.notifications.mute("bob", chat, until)


def test_only_members_mute(people):
    chat = direct(people, "alice", "bob")
    with pytest.raises(Forbidden):
        people.services.notifications.mute("carol", chat, "2030-01-01T00:00:00Z")


def test_a_group_of_500_with_450_offline_devices_pushes_450_times_through_the_queue(people):
    members = [f"u{i:03d}" for i in range(499)]
    people.users(*members)
    for i, member in enumerate(members):
        if i < 450:
            register(people, member, "phone")
        else:
            online(people, member, "phone")
    group = people.services.groups.create("alice", "big", members)[0].chat_id
    people.queue.tasks.clear()
    people.send("alice", group, "hello all")
    run_queue(people)
    assert len(people.notifier.published) == 450
    assert {payload["unread_chats"] for _, payload in people.notifier.published} == {1}


def test_push_tasks_carry_at_most_a_task_of_recipients(people):
    members = [f"u{i:03d}" for i in range(250)]
    people.users(*members)
    for member in members:
        register(people, member, "phone")
    group = people.services.groups.create("alice", "big", members)[0].chat_id
    people.queue.tasks.clear()
    people.send("alice", group)
    push_tasks = []
    while people.queue.tasks:
        task = people.queue.tasks.pop(0)
        if task.get("task") == PUSH_TASK:
            push_tasks.append(task)
        people.services.fanout.run(task)
    assert max(len(task["recipients"]) for task in push_tasks) == RECIPIENTS_PER_TASK
    assert sum(len(task["recipients"]) for task in push_tasks) == 250


def test_a_disabled_endpoint_is_removed_with_its_device(people):
    register(people, "bob", "phone")
    register(people, "bob", "tablet")
    (phone, tablet) = people.services.stores.users.devices("bob")
    people.notifier.disabled.add(phone.endpoint)
    people.send("alice", direct(people, "alice", "bob"))
    assert [p["device"] for p in pushes(people, "bob")] == ["tablet"]
    assert people.services.stores.users.devices("bob") == [tablet]
    assert phone.endpoint not in people.notifier.endpoints


def test_a_failing_push_never_fails_the_send(people, monkeypatch):
    register(people, "bob", "phone")
    monkeypatch.setattr(people.notifier, "publish", lambda device, payload: 1 / 0)
    chat = direct(people, "alice", "bob")
    assert people.send("alice", chat)["type"] == "sent"
    run_queue(people)
    monkeypatch.setattr(people.services.fanout, "dispatch", lambda tasks: 1 / 0)
    assert people.send("alice", chat)["type"] == "sent"


def test_the_unread_count_counts_chats_with_unread_messages_from_others(people, now):
    register(people, "alice", "phone")
    with_bob, with_carol = direct(people, "alice", "bob"), direct(people, "alice", "carol")
    group = people.services.groups.create("bob", "g", ["alice", "carol"])[0].chat_id
    receipts = people.services.receipts
    read_bob = people.send("bob", with_bob, "one")
    run_queue(people)
    people.send("carol", with_carol, "two")
    assert [p["unread_chats"] for p in pushes(people, "alice")] == [1, 2]
    receipts.record("alice", with_bob, "read", read_bob["seq"])
    people.services.messaging.send("bob", with_bob, "r", "reaction", None, None, relates_to=read_bob["seq"],
                                   emoji="👍")  # a relation after the read cursor: still read
    people.send("bob", group, "three")
    assert pushes(people, "alice")[-1]["unread_chats"] == 2  # carol's chat and the group
    people.send("alice", with_carol, "my reply reads carol's chat")
    now[0] = START + 180  # the candidates found read are dropped once their minute is settled
    people.send("bob", group, "four")
    assert pushes(people, "alice")[-1]["unread_chats"] == 1
    assert set(people.stores.news.unread_candidates("alice")) == {group}


def test_a_message_after_the_read_in_the_same_minute_keeps_its_chat_unread(people, now):
    register(people, "alice", "phone")
    with_bob, with_carol = direct(people, "alice", "bob"), direct(people, "alice", "carol")
    first = people.send("bob", with_bob, "one")
    people.services.receipts.record("alice", with_bob, "read", first["seq"])
    people.send("bob", with_bob, "two, coalesced into the first one's candidate")
    now[0] = START + 180
    people.send("carol", with_carol, "three")
    assert pushes(people, "alice")[-1]["unread_chats"] == 2


def test_registration_checks(people):
    notifications = people.services.notifications
    with pytest.raises(BadRequest, match="platform"):
        notifications.register("bob", "phone", "webpush", "t")
    with pytest.raises(BadRequest, match="token"):
        notifications.register("bob", "phone", "fcm", "")
    with pytest.raises(BadRequest, match="device id"):
        notifications.register("bob", "x" * 65, "fcm", "t")
    for i in range(MAX_DEVICES):
        notifications.register("bob", f"d{i}", "fcm", f"t{i}")
    with pytest.raises(BadRequest, match="at most"):
        notifications.register("bob", "one-too-many", "fcm", "t-new")
    notifications.register("bob", "d0", "apns", "t0-again")  # re-registering one is fine


def test_a_platform_without_credentials_is_refused(people, monkeypatch):
    monkeypatch.setattr(people.notifier, "platforms", frozenset({"fcm"}))
    with pytest.raises(BadRequest, match="no apns credentials"):
        people.services.notifications.register("bob", "phone", "apns", "t")


def test_a_token_that_moves_to_another_account_stops_reaching_the_first(people):
    notifications = people.services.notifications
    notifications.register("bob", "phone", "fcm", "shared-token")
    notifications.register("carol", "phone", "fcm", "shared-token")
    assert people.services.stores.users.devices("bob") == []
    people.send("alice", direct(people, "alice", "bob"))
    run_queue(people)
    assert people.notifier.published == []


def test_a_new_token_for_a_device_deletes_its_old_endpoint(people):
    notifications = people.services.notifications
    notifications.register("bob", "phone", "fcm", "old")
    (old,) = people.services.stores.users.devices("bob")
    notifications.register("bob", "phone", "fcm", "new")
    assert old.endpoint not in people.notifier.endpoints
    notifications.unregister("bob", "phone")
    assert people.services.stores.users.devices("bob") == [] and people.notifier.endpoints == {}


def test_settings_are_checked(people):
    settings = people.services.settings
    assert settings.of("bob") == {"last_seen": "everyone", "read_receipts": True, "groups_add": "everyone",
                                  "push_previews": True}
    with pytest.raises(BadRequest, match="unknown settings: colour"):
        settings.update("bob", {"colour": "blue"})
    with pytest.raises(BadRequest, match="push_previews must be true or false"):
        settings.update("bob", {"push_previews": "no"})
    with pytest.raises(BadRequest, match="last_seen is one of everyone, contacts, nobody"):
        settings.update("bob", {"last_seen": "friends"})
    assert settings.update("bob", {"push_previews": False})["push_previews"] is False

def test_a_mute_until_a_time_without_a_zone_is_utc(people):
    chat = direct(people, "alice", "bob")
    people.services.notifications.mute("bob", chat, "2099-01-01T00:00:00")
    assert people.stores.chats.mutes("bob") == {chat: 4070908800}


def test_a_chat_answered_to_the_caller_carries_their_mute_and_one_pushed_to_the_others_does_not(people):
    group = people.services.groups.create("alice", "g", ["bob"])[0].chat_id
    alice, bob = online(people, "alice", "phone"), online(people, "bob", "phone")
    people.services.notifications.mute("bob", group, "2030-01-01T00:00:00Z")
    api = SocketApi(people.services, "us-east-1")
    api.receive(bob, json.dumps({"action": "update_chat", "req": "1", "chat_id": group, "name": "renamed"}), "a", "s")
    run_queue(people)
    (reply,) = [frame for frame in people.pusher.frames[bob] if frame.get("req") == "1"]
    assert reply["chat"]["name"] == "renamed" and reply["chat"]["muted_until"] == "2030-01-01T00:00:00Z"
    pushed = [frame["chat"] for frame in people.pusher.frames[alice] if frame["type"] == "chat"]
    assert pushed[-1]["name"] == "renamed" and "muted_until" not in pushed[-1]
