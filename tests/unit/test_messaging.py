import pytest

from chalicelib.errors import BadRequest, Forbidden, NotFound, TooLarge
from chalicelib.messaging import MAX_REPLY_BYTES, size_of
from chalicelib.model import SEND_LEASE, Message, direct_chat_id


@pytest.fixture
def chat_id(world) -> str:
    world.users("alice", "bob", "eve")
    return world.services.messaging.create_direct("alice", "bob")[0].chat_id


def test_direct_chats_have_one_id_whoever_creates_them(world, chat_id):
    assert chat_id == direct_chat_id("bob", "alice")
    assert world.services.messaging.create_direct("bob", "ALICE")[0].chat_id == chat_id


@pytest.mark.parametrize("peer, error", [(None, BadRequest), ("alice", BadRequest), ("nobody", NotFound)])
def test_direct_chat_needs_another_existing_user(world, chat_id, peer, error):
    with pytest.raises(error):
        world.services.messaging.create_direct("alice", peer)


def test_send_pushes_to_every_socket_but_the_sending_one(world, chat_id):
    phone, laptop, bob = world.connect("alice"), world.connect("alice", "laptop"), world.connect("bob")
    sent = world.send("alice", chat_id, "hello", connection_id=phone)
    assert sent["seq"] == 1 and sent["type"] == "sent"
    assert world.pusher.of_type(phone, "message") == []
    for other in (laptop, bob):
        assert [f["message"]["text"] for f in world.pusher.of_type(other, "message")] == ["hello"]


def test_a_repeated_client_msg_id_returns_the_original(world, chat_id):
    first = world.send("alice", chat_id, "once", client_msg_id="k")
    again = world.send("alice", chat_id, "once", client_msg_id="k")
    assert (again["seq"], again["message_id"]) == (first["seq"], first["message_id"])
    assert world.services.messaging.history("alice", chat_id, None, 50)["messages"][-1]["seq"] == 1
    other_sender = world.send("bob", chat_id, "same key, other sender", client_msg_id="k")
    assert other_sender["seq"] == 2


def test_only_members_send_and_read(world, chat_id):
    with pytest.raises(Forbidden):
        world.send("eve", chat_id)
    with pytest.raises(Forbidden):
        world.services.messaging.history("eve", chat_id, None, 10)
    with pytest.raises(NotFound):
        world.services.messaging.history("eve", "direct:x:y", None, 10)


def test_send_rejects_empty_text_and_replies_beyond_the_end(world, chat_id):
    with pytest.raises(BadRequest):
        world.send("alice", chat_id, "")
    with pytest.raises(BadRequest):
        world.services.messaging.send("alice", chat_id, "k", "text", "x", 5)


def test_history_pages_backwards(world, chat_id):
    for i in range(1, 8):
        world.send("alice", chat_id, f"m{i}")
    page = world.services.messaging.history("bob", chat_id, None, 3)
    assert [m["seq"] for m in page["messages"]] == [5, 6, 7] and page["has_more"]
    page = world.services.messaging.history("bob", chat_id, 2, 3)
    assert [m["seq"] for m in page["messages"]] == [1] and not page["has_more"]


def test_a_gap_closed_inside_a_page_of_history_leaves_more_to_page_to(world, chat_id, now):
    world.send("alice", chat_id, "one")
    world.stores.messages.reserve(chat_id, "bob", direct=True)  # a sender that died holding seq 2
    world.send("alice", chat_id, "three")
    now[0] += SEND_LEASE + 1
    page = world.services.messaging.history("bob", chat_id, None, 2)
    assert [m["seq"] for m in page["messages"]] == [2, 3] and page["has_more"]
    older = world.services.messaging.history("bob", chat_id, 2, 2)
    assert [m["seq"] for m in older["messages"]] == [1] and not older["has_more"]


def test_history_stays_under_the_frame_limit(world, chat_id):
    for _ in range(60):
        world.send("alice", chat_id, "x" * 4096)
    page = world.services.messaging.history("bob", chat_id, None, 100)
    assert size_of(page["messages"]) <= MAX_REPLY_BYTES and page["has_more"]
    assert page["messages"][-1]["seq"] == 60


def test_sync_sends_what_was_missed_in_order(world, chat_id):
    world.users("carol")
    other = world.services.messaging.create_direct("bob", "carol")[0].chat_id
    for i in range(5):
        world.send("alice", chat_id, f"a{i}")
    frames = world.services.catch_up.sync("bob", {chat_id: 2, other: 0}, 100)
    assert [f["type"] for f in frames] == ["messages", "synced"]
    assert [m["seq"] for m in frames[0]["messages"]] == [3, 4, 5]
    assert frames[-1]["chats"] == [{"chat_id": chat_id, "kind": "direct", "last_seq": 5, "delivered_seq": 0,
                                    "read_seq": 0, "limited": False}]


def test_sync_limits_and_reports_chats_missing_from_the_cursors(world, chat_id):
    for _ in range(12):
        world.send("alice", chat_id)
    frames = world.services.catch_up.sync("bob", {}, 5)
    assert [m["seq"] for m in frames[0]["messages"]] == [8, 9, 10, 11, 12]
    assert frames[-1]["chats"][0]["limited"] is True
    assert world.services.catch_up.sync("bob", {chat_id: 12}, 5) == [{"type": "synced", "chats": []}]


def test_a_v1_sync_too_large_for_one_frame_says_to_use_the_changes_form(world, chat_id):
    peers = [f"peer{i:04d}" for i in range(1400)]  # about 105 bytes of synced entry each
    world.users(*peers)
    chats = {world.services.messaging.create_direct("bob", peer)[0].chat_id: 0 for peer in peers}
    with pytest.raises(TooLarge, match="changes form"):
        world.services.catch_up.sync("bob", {}, 5)
    assert world.services.catch_up.sync("bob", chats, 5)[-1]["chats"][0]["chat_id"] == chat_id  # only the behind


def test_a_hole_at_the_end_of_a_quiet_chat_is_closed_by_sync_once_its_lease_is_over(world, chat_id, now):
    world.send("alice", chat_id, "one")
    world.stores.messages.reserve(chat_id, "alice", direct=True)  # a sender that died holding seq 2, the last
    assert [m["seq"] for m in world.services.catch_up.sync("bob", {}, 10)[0]["messages"]] == [1]
    assert world.services.catch_up.sync("bob", {chat_id: 1}, 10)[-1]["chats"][0]["last_seq"] == 2
    now[0] += SEND_LEASE + 1
    (messages, synced) = world.services.catch_up.sync("bob", {chat_id: 1}, 10)
    assert [(m["seq"], m["kind"]) for m in messages["messages"]] == [(2, "system")]
    assert world.services.catch_up.sync("bob", {chat_id: 2}, 10) == [{"type": "synced", "chats": []}]


def test_a_limited_sync_never_goes_back_to_the_cursor_when_the_newest_seqs_are_holes(world, chat_id):
    for _ in range(10):
        world.send("alice", chat_id)
    for _ in range(2):  # seqs 11 and 12, held by senders still within their lease
        world.stores.messages.reserve(chat_id, "alice", direct=True)
    frames = world.services.catch_up.sync("bob", {chat_id: 9}, 2)
    assert [m["seq"] for m in frames[0]["messages"]] == [10] and frames[-1]["chats"][0]["limited"]


def test_old_holes_are_closed_on_read(world, chat_id):
    state = world.stores.messages.state
    world.send("alice", chat_id, "one")
    state.heads[chat_id]["last_seq"] = 3  # seq 2 reserved by a sender that died
    state.messages[chat_id][3] = Message(chat_id, 3, "m3", "bob", "text", "2020-01-01T00:00:00Z", text="late")
    page = world.services.messaging.history("alice", chat_id, None, 10)
    assert [(m["seq"], m["kind"]) for m in page["messages"]] == [(1, "text"), (2, "system"), (3, "text")]
