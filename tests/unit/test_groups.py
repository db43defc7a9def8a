import pytest

from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.fanout import FANOUT_THRESHOLD, RECIPIENTS_PER_TASK


@pytest.fixture
def group(world) -> str:
    world.users("ann", "ben", "cat", "dan", "eve")
    return world.services.groups.create("ann", "friends", ["ben", "cat"])[0].chat_id


def roles(world, chat_id) -> dict[str, str]:
    return {m.user_id: m.role for m in world.services.stores.chats.get(chat_id).members}


def test_the_creator_is_admin_and_everyone_hears_of_the_group(world, group):
    assert roles(world, group) == {"ann": "admin", "ben": "member", "cat": "member"}


def test_group_limits(world):
    world.users(*(f"u{i}" for i in range(501)))
    with pytest.raises(BadRequest):
        world.services.groups.create("u0", "", ["u1"])
    with pytest.raises(BadRequest):
        world.services.groups.create("u0", "too many", [f"u{i}" for i in range(1, 501)])
    with pytest.raises(NotFound):
        world.services.groups.create("u0", "ghosts", ["nobody"])
    full = world.services.groups.create("u0", "full", [f"u{i}" for i in range(1, 500)])[0].chat_id
    world.users("late")
    with pytest.raises(Conflict):
        world.services.groups.add_members("u0", full, ["late"])


def test_only_admins_change_members(world, group):
    with pytest.raises(Forbidden):
        world.services.groups.add_members("ben", group, ["dan"])
    with pytest.raises(Forbidden):
        world.services.groups.remove_members("ben", group, ["cat"])


def test_new_members_read_from_the_message_that_added_them(world, group):
    world.send("ann", group, "before dan")
    world.services.groups.add_members("ann", group, ["dan"])
    world.send("ben", group, "after dan")
    page = world.services.messaging.history("dan", group, None, 50)["messages"]
    assert [(m["kind"], m.get("text")) for m in page] == [("system", "ann added dan"), ("text", "after dan")]
    assert page[0]["event"] == {"type": "added", "by": "ann", "user_ids": ["dan"]}


def test_removed_members_lose_the_chat(world, group):
    phone = world.connect("cat")
    world.services.groups.remove_members("ann", group, ["cat"])
    with pytest.raises(Forbidden):
        world.services.messaging.history("cat", group, None, 10)
    world.send("ann", group, "cat cannot see this")
    assert [f["message"].get("text") for f in world.pusher.of_type(phone, "message")] == []
    assert world.pusher.of_type(phone, "chat")[-1]["chat"]["members"] == [
        {"user_id": "ann", "role": "admin"}, {"user_id": "ben", "role": "member"}]


def test_the_longest_standing_member_inherits_admin(world, group):
    world.services.groups.add_members("ann", group, ["dan"])
    world.services.groups.leave("ann", group)
    assert roles(world, group) == {"ben": "admin", "cat": "member", "dan": "member"}
    with pytest.raises(BadRequest):
        world.services.groups.leave("ann", world.services.messaging.create_direct("ann", "ben")[0].chat_id)


def test_group_receipts_fire_once_when_everyone_got_there(world, group):
    phone = world.connect("ann")
    seq = world.send("ann", group, "hello all")["seq"]
    world.services.receipts.record("ben", group, "read", seq)
    assert world.pusher.of_type(phone, "receipt") == []
    world.services.receipts.record("cat", group, "delivered", seq)
    world.services.receipts.record("cat", group, "delivered", seq)
    assert world.pusher.of_type(phone, "receipt") == [
        {"type": "receipt", "chat_id": group, "status": "delivered", "seq": seq}]
    world.services.receipts.record("cat", group, "read", seq)
    assert [r["status"] for r in world.pusher.of_type(phone, "receipt")] == ["delivered", "read"]


def test_removing_the_slowest_member_completes_a_receipt(world, group):
    phone = world.connect("ann")
    seq = world.send("ann", group)["seq"]
    world.services.receipts.record("ben", group, "read", seq)
    world.services.groups.remove_members("ann", group, ["cat"])
    assert {"type": "receipt", "chat_id": group, "status": "read", "seq": seq} in world.pusher.of_type(phone, "receipt")


def test_a_member_who_left_hears_no_receipts_for_their_messages(world, group):
    phone = world.connect("cat")
    seq = world.send("cat", group, "goodbye")["seq"]
    world.services.groups.leave("cat", group)
    for reader in ("ann", "ben"):
        world.services.receipts.record(reader, group, "read", seq + 1)
    assert world.pusher.of_type(phone, "receipt") == []


def test_large_groups_fan_out_through_the_queue(world):
    members = [f"m{i}" for i in range(FANOUT_THRESHOLD + 50)]
    world.users("boss", *members)
    sockets = {user: world.connect(user) for user in members[:3] + members[-3:]}
    chat_id = world.services.groups.create("boss", "big", members)[0].chat_id
    world.queue.tasks.clear()
    world.send("boss", chat_id, "to everyone")
    assert all(world.pusher.of_type(c, "message") == [] for c in sockets.values())
    assert [len(t["user_ids"]) for t in world.queue.tasks] == [RECIPIENTS_PER_TASK, len(members) + 1 - 100]
    for task in world.queue.tasks:
        world.services.fanout.run(task)
    assert all(len(world.pusher.of_type(c, "message")) == 1 for c in sockets.values())


def test_a_group_receipt_reports_the_lowest_cursor_of_the_other_members(world, group):
    phone = world.connect("ann")
    world.send("ann", group, "one")
    world.send("ben", group, "two")
    last = world.send("ben", group, "three")["seq"]
    world.services.receipts.record("cat", group, "read", last)
    assert world.pusher.of_type(phone, "receipt")[-1] == {"type": "receipt", "chat_id": group, "status": "read",
                                                          "seq": last}
