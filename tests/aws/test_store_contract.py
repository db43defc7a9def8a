"""One contract for every store, held by the in-memory twins (tests/fakes.py) and the DynamoDB stores on moto."""
import threading
from dataclasses import replace

import boto3
import pytest

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.errors import BadRequest, Forbidden, NotFound
from chalicelib.model import CLAIM_TTL, Chat, Connection, Cursors, Device, Member, Message, cursor_shard
from chalicelib.services import dynamodb_stores
from chalicelib.storage import Stores
from tests.fakes import InMemoryBlobs, in_memory_stores


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request, tmp_path) -> Stores:
    if request.param == "memory":
        return in_memory_stores(tmp_path)
    request.getfixturevalue("aws")
    return dynamodb_stores(boto3.resource("dynamodb"), settings(), InMemoryBlobs(tmp_path))


def direct(stores: Stores) -> Chat:
    return stores.chats.create(Chat("direct:a:b", "direct", "t", members=[Member("a"), Member("b")]))[0]


def group(stores: Stores, *users: str) -> Chat:
    members = [Member(users[0], "admin")] + [Member(user) for user in users[1:]]
    return stores.chats.create(Chat("group:g", "group", "t", name="g", members=members))[0]


def message(chat_id: str, seq: int, sender: str = "a", client_msg_id: str | None = None) -> Message:
    return Message(chat_id, seq, f"id-{seq}", sender, "text", "2030-01-01T00:00:00.000Z", text=f"m{seq}",
                   client_msg_id=client_msg_id)


def test_connections_are_found_per_user_in_batches(stores):
    users = stores.users
    for i in range(150):
        users.register(f"u{i}")
        users.add_connection(Connection(f"c{i}", f"u{i}", "phone", "https://e/api", 2_000_000_000, 0))
    went_online, others = users.add_connection(Connection("old", "u0", "tablet", "https://e/api", 1_000, 0))
    assert not went_online and [c.connection_id for c in others] == ["c0"]
    found = {u: r.connections for u, r in users.reach_of(f"u{i}" for i in range(150)).items()}
    assert len(found) == 150 and [c.connection_id for c in found["u0"]] == ["c0"]  # "old" is long past 2 h
    users.remove_connection(found["u1"][0])
    assert users.reach_of(["u1"])["u1"].connections == [] and users.connection("c1") is None
    assert users.existing(["u3", "nobody"]) == {"u3"}
    users.mark_deleted("u3")
    assert users.existing(["u3", "u4"]) == {"u4"}


def test_chats_are_created_once_and_found_by_member(stores):
    chat = direct(stores)
    stored, created = stores.chats.create(chat)
    assert not created and stored.member_ids == ["a", "b"]
    assert [m.chat_id for m in stores.chats.memberships("b")] == ["direct:a:b"]
    assert stores.chats.membership("a", "direct:a:b").kind == "direct"
    assert stores.chats.membership("c", "direct:a:b") is None
    heads = stores.chats.heads(["direct:a:b", "missing"])
    assert list(heads) == ["direct:a:b"] and heads["direct:a:b"].direct.cursors == {"a": Cursors(), "b": Cursors()}
    assert stores.chats.head("missing") is None


def test_a_groups_member_list_moves_with_its_version(stores):
    group(stores, "a", "b", "c")
    version, members = stores.chats.members("group:g")
    assert [(m.user_id, m.role) for m in members] == [("a", "admin"), ("b", "member"), ("c", "member")]
    assert stores.chats.reserve_seats("group:g", 2, 5) and not stores.chats.reserve_seats("group:g", 1, 5)
    stores.chats.add_members("group:g", [Member("d", joined_seq=4), Member("e", joined_seq=4)])
    stores.chats.remove_members("group:g", ["b"])
    stores.chats.set_role("group:g", "c", "admin")
    later, members = stores.chats.members("group:g")
    assert later > version and [(m.user_id, m.role, m.joined_seq) for m in members] == [
        ("a", "admin", 0), ("c", "admin", 0), ("d", "member", 4), ("e", "member", 4)]
    assert stores.chats.membership("b", "group:g") is None
    assert stores.chats.membership("d", "group:g").joined_seq == 4
    assert stores.chats.get("group:g").member_ids == ["a", "c", "d", "e"]
    assert stores.chats.head("group:g").member_count == 4


def test_seqs_are_taken_once_each_under_concurrency(stores):
    direct(stores)
    taken = []
    threads = [threading.Thread(target=lambda: taken.append(stores.messages.reserve("direct:a:b", "a", True).seq))
               for _ in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(taken) == list(range(1, 21))
    assert stores.messages.reserve("direct:x:y", "x", True) is None


def test_a_reservation_notes_when_the_last_seq_was_taken(stores, monkeypatch):
    direct(stores)
    assert stores.chats.head("direct:a:b").reserved_at is None
    monkeypatch.setattr(clock, "now", lambda: 1_800_000_000.5)
    stores.messages.reserve("direct:a:b", "a", direct=True)
    assert stores.chats.heads(["direct:a:b"])["direct:a:b"].reserved_at == 1_800_000_000


def test_a_direct_send_moves_the_senders_cursors_in_the_same_update(stores):
    direct(stores)
    first = stores.messages.reserve("direct:a:b", "a", True)
    assert first.seq == 1 and first.direct.cursors["a"] == Cursors() and first.direct.last_sent == {"a": 0, "b": 0}
    second = stores.messages.reserve("direct:a:b", "b", True)
    assert second.direct.cursors["a"] == Cursors(1, 1) and second.direct.last_sent == {"a": 1, "b": 0}
    assert stores.chats.head("direct:a:b").direct.cursors == {"a": Cursors(1, 1), "b": Cursors(2, 2)}


def test_claims_are_made_once_and_taken_over_once(stores):
    direct(stores)
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(stores.messages.claim("direct:a:b", "a", "k")))
               for _ in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert outcomes.count(None) == 1
    claimed_at = next(outcome for outcome in outcomes if outcome is not None)
    assert stores.messages.take_over("direct:a:b", "a", "k", claimed_at)
    assert not stores.messages.take_over("direct:a:b", "a", "k", claimed_at)
    stores.messages.release("direct:a:b", "a", "k")
    assert stores.messages.claim("direct:a:b", "a", "k") is None


def test_messages_are_written_once_per_seq_and_found_by_their_key(stores):
    direct(stores)
    assert stores.messages.write(message("direct:a:b", 1, client_msg_id="k1"))
    assert stores.messages.write(message("direct:a:b", 1, client_msg_id="k1"))  # a retry of the same write
    assert not stores.messages.write(Message("direct:a:b", 1, "other", "b", "text", "2030-01-01T00:00:00.000Z"))
    assert stores.messages.write(message("direct:a:b", 3, sender="b"))
    assert stores.messages.fill_gap("direct:a:b", 2).kind == "system"
    assert stores.messages.fill_gap("direct:a:b", 3).sender_id == "b"  # a seq already held is left alone
    assert [m.seq for m in stores.messages.messages_after("direct:a:b", 1, 10)] == [2, 3]
    assert [m.seq for m in stores.messages.messages_before("direct:a:b", 3, 1)] == [2]
    assert stores.messages.senders_between("direct:a:b", 0, 3) == {"a", "", "b"}
    assert stores.messages.find_sent("direct:a:b", "a", "k1", 0).seq == 1
    assert stores.messages.find_sent("direct:a:b", "b", "k1", 0) is None


def test_a_page_of_messages_is_whole_past_dynamodbs_one_megabyte_cut(stores):
    direct(stores)
    for seq in range(1, 301):  # 300 messages of 4,000 characters: 1.2 MB, one page of DynamoDB's is 1 MB
        assert stores.messages.write(replace(message("direct:a:b", seq), text="x" * 4000))
    assert [m.seq for m in stores.messages.messages_after("direct:a:b", 0, 300)] == list(range(1, 301))
    assert [m.seq for m in stores.messages.messages_before("direct:a:b", 301, 300)] == list(range(1, 301))
    assert [m.seq for m in stores.messages.messages_after("direct:a:b", 10, 5)] == [11, 12, 13, 14, 15]


def test_direct_cursors_move_up_only_and_never_past_the_last_seq(stores):
    direct(stores)
    for _ in (1, 2, 3):
        stores.messages.reserve("direct:a:b", "b", True)
    before = stores.receipts.raise_direct("direct:a:b", "a", "delivered", 2)
    assert before.cursors["a"] == Cursors() and before.last_sent["b"] == 3
    assert stores.receipts.raise_direct("direct:a:b", "a", "delivered", 1) is None
    assert stores.receipts.raise_direct("direct:a:b", "a", "read", 1).cursors["a"] == Cursors(2, 0)
    assert stores.receipts.raise_direct("direct:a:b", "a", "read", 3).cursors["a"] == Cursors(2, 1)
    assert stores.chats.head("direct:a:b").direct.cursors["a"] == Cursors(3, 3)
    with pytest.raises(BadRequest):
        stores.receipts.raise_direct("direct:a:b", "a", "read", 4)
    with pytest.raises(NotFound):
        stores.receipts.raise_direct("direct:x:y", "x", "read", 1)


def test_group_cursors_move_in_their_shard_and_floors_only_rise(stores):
    group(stores, "a", "b")
    assert stores.receipts.seat("group:g", 3, {"a": Cursors(), "b": Cursors()}) == {}
    assert stores.receipts.seat("group:g", 3, {"c": Cursors(4, 4)}) == {"a": Cursors(), "b": Cursors()}
    before = stores.receipts.raise_in_shard("group:g", 3, "a", "read", 5)
    assert before == {"a": Cursors(), "b": Cursors(), "c": Cursors(4, 4)}
    assert stores.receipts.raise_in_shard("group:g", 3, "a", "delivered", 5) is None
    with pytest.raises(Forbidden):
        stores.receipts.raise_in_shard("group:g", 3, "z", "read", 1)
    assert stores.receipts.unseat("group:g", 3, ["b"])["b"] == Cursors()
    assert stores.receipts.shard("group:g", 3) == {"a": Cursors(5, 5), "c": Cursors(4, 4)}
    assert stores.receipts.shards("group:g") == {3: {"a": Cursors(5, 5), "c": Cursors(4, 4)}}
    assert stores.receipts.set_shard_floor("group:g", "read", 3, 4) == {}
    assert stores.receipts.set_shard_floor("group:g", "read", 5, 2) == {3: 4}
    assert stores.receipts.set_shard_floor("group:g", "read", 3, 3) is None  # never down
    assert stores.receipts.set_shard_floor("group:g", "read", 3, 6) == {3: 4, 5: 2}
    assert stores.receipts.set_shard_floor("group:g", "read", 5, None) == {3: 6, 5: 2}
    assert stores.receipts.floors("group:g") == {"delivered": {}, "read": {3: 6}}


def test_counters_count_up_to_their_limit_per_window(stores):
    assert [stores.counters.count("send#a", 100, 2) for _ in range(3)] == [True, True, False]
    assert stores.counters.count("send#a", 110, 2) and stores.counters.count("send#b", 100, 2)


def test_news_marks_are_read_since_a_minute_with_the_lowest_seq_of_each_chat(stores):
    news = stores.news
    news.mark(["a", "b"], "direct:a:b", 7, minute=100)
    news.mark(["a"], "direct:a:b", 5, minute=101)
    news.mark(["a"], "group:g", 3, minute=102)
    news.mark(["a"], "direct:a:b", 9, minute=103)
    news.mark(["a"], "direct:a:b", 9, minute=103)  # a repeat changes nothing
    assert news.marked_since("a", 100) == {"direct:a:b": 5, "group:g": 3}
    assert news.marked_since("a", 102) == {"direct:a:b": 9, "group:g": 3}
    assert news.marked_since("a", 104) == {}
    assert news.marked_since("b", 0) == {"direct:a:b": 7}
    assert news.newest_first("a", 0) == ["direct:a:b", "group:g"]
    assert news.newest_first("a", 100) == ["direct:a:b", "group:g"]
    news.mark(["a"], "group:g", 4, minute=104)
    assert news.newest_first("a", 0) == ["group:g", "direct:a:b"]


def test_memberships_page_by_chat_id_and_in_batches(stores):
    for i in range(5):
        stores.chats.create(Chat(f"group:g{i}", "group", "t", name="g", members=[Member("a", "admin"), Member("b")]))
    page = stores.chats.memberships_page("b", "group:g1", 2)
    assert [m.chat_id for m in page] == ["group:g2", "group:g3"]
    assert stores.chats.memberships_page("b", "group:g4", 2) == []
    stores.chats.remove_members("group:g3", ["b"])
    found = stores.chats.memberships_in("b", ["group:g1", "group:g3", "group:nope"])
    assert list(found) == ["group:g1"] and found["group:g1"].role == "member"


def test_own_cursors_in_many_groups_at_once(stores):
    for chat_id in ("group:x", "group:y"):
        stores.chats.create(Chat(chat_id, "group", "t", name="g", members=[Member("a", "admin"), Member("b")]))
    stores.receipts.seat("group:x", cursor_shard("b"), {"b": Cursors(4, 2)})
    stores.receipts.seat("group:y", cursor_shard("b"), {"b": Cursors(1, 0)})
    assert stores.receipts.cursors_in("b", ["group:x", "group:y", "group:z"]) == {
        "group:x": Cursors(4, 2), "group:y": Cursors(1, 0)}


def stored(stores: Stores, *messages: Message) -> None:
    for m in messages:
        stores.messages.reserve(m.chat_id, m.sender_id, direct=True)
        assert stores.messages.write(m)


def test_an_edit_folds_into_its_target_and_never_undoes_a_later_one(stores):
    direct(stores)
    stored(stores, message("direct:a:b", 1))
    stores.messages.edit("direct:a:b", 1, "second", "2030-01-01T00:02:00.000Z", edit_seq=3)
    stores.messages.edit("direct:a:b", 1, "first", "2030-01-01T00:01:00.000Z", edit_seq=2)  # late, older
    target = stores.messages.get("direct:a:b", 1)
    assert (target.text, target.edited_at) == ("second", "2030-01-01T00:02:00.000Z")
    assert stores.messages.get("direct:a:b", 9) is None


def test_reactions_one_per_user_in_the_order_they_reacted(stores):
    direct(stores)
    stored(stores, message("direct:a:b", 1))
    stores.messages.react("direct:a:b", 1, "b", "👍", 2)
    stores.messages.react("direct:a:b", 1, "a", "👍", 3)
    stores.messages.react("direct:a:b", 1, "c", "🎉", 4)
    assert stores.messages.get("direct:a:b", 1).reactions == {"👍": ["b", "a"], "🎉": ["c"]}
    stores.messages.react("direct:a:b", 1, "b", "🎉", 5)  # replaces b's
    stores.messages.react("direct:a:b", 1, "b", "😂", 4)  # older than b's latest: ignored
    stores.messages.react("direct:a:b", 1, "c", "", 6)  # takes c's back
    assert stores.messages.get("direct:a:b", 1).reactions == {"👍": ["a"], "🎉": ["b"]}
    assert stores.messages.get("direct:a:b", 1).to_wire()["reactions"] == {"👍": ["a"], "🎉": ["b"]}


def test_a_delete_drops_text_and_media_and_names_the_edits_and_replies_to_clean(stores):
    direct(stores)
    stored(stores, Message("direct:a:b", 1, "id-1", "a", "image", "2030-01-01T00:00:00.000Z", text="caption",
                           media_id="m1"),
           message("direct:a:b", 2), message("direct:a:b", 3))
    stores.messages.edit("direct:a:b", 1, "new caption", "2030-01-01T00:01:00.000Z", edit_seq=2)
    assert stores.messages.note_reply("direct:a:b", 1, 3) is False
    deletion = stores.messages.delete("direct:a:b", 1)
    assert deletion.message.media_id == "m1" and deletion.edit_seqs == {2} and deletion.reply_seqs == {3}
    gone = stores.messages.get("direct:a:b", 1)
    assert gone.deleted and gone.text is None and gone.media_id is None
    assert stores.messages.delete("direct:a:b", 1) is None
    assert stores.messages.note_reply("direct:a:b", 1, 3) is True
    stores.messages.react("direct:a:b", 1, "b", "👍", 4)
    stores.messages.edit("direct:a:b", 1, "again", "2030-01-01T00:03:00.000Z", edit_seq=5)
    assert stores.messages.get("direct:a:b", 1) == gone


def test_forgetting_texts_of_edits_and_quotes(stores):
    direct(stores)
    stored(stores, message("direct:a:b", 1),
           replace(message("direct:a:b", 2), quote={"seq": 1, "sender_id": "a", "kind": "text", "text": "m1"}))
    stores.messages.forget_texts("direct:a:b", [1], [2])
    assert stores.messages.get("direct:a:b", 1).text is None
    reply = stores.messages.get("direct:a:b", 2)
    assert reply.quote == {"seq": 1, "sender_id": "a", "kind": "text"} and reply.text == "m2"


def test_hidden_messages_per_user_and_chat(stores):
    stores.messages.hide("direct:a:b", "a", [3, 4])
    stores.messages.hide("direct:a:b", "a", [4, 7])
    stores.messages.hide("group:g", "b", [1])
    assert stores.messages.hidden("a", ["direct:a:b", "group:g"]) == {"direct:a:b": {3, 4, 7}}
    assert stores.messages.hidden("b", ["direct:a:b", "group:g"]) == {"group:g": {1}}


def test_shared_media_is_released_only_when_no_message_uses_it(stores):
    from chalicelib.model import Media
    stores.media.put(Media("m1", "direct:a:b", "a", "x.png", "image/png", 10, "image", "t", status="ready"))
    stores.media.share("m1", "group:g")
    stores.media.share("m1", "group:h")
    assert stores.media.get("m1").shared_with == ("group:g", "group:h")
    assert stores.media.release("m1") is False
    assert stores.media.release("m1") is False
    assert stores.media.release("m1") is True
    stores.media.delete("m1")
    assert stores.media.get("m1") is None


def test_an_idempotency_claim_is_kept_for_its_ttl_and_no_longer(stores, monkeypatch):
    moment = [1_800_000_000.0]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    assert stores.messages.claim("direct:a:b", "a", "k") is None
    moment[0] += CLAIM_TTL - 1
    assert stores.messages.claim("direct:a:b", "a", "k") == 1_800_000_000.0
    moment[0] += 2
    assert stores.messages.claim("direct:a:b", "a", "k") is None  # expired, deleted by TTL or not


def test_messages_due_to_disappear_are_found_by_their_hour_until_deleted(stores):
    direct(stores)
    due = 1_800_000_000
    stored(stores, replace(message("direct:a:b", 1), expires_at="2027-01-15T08:00:00Z"),
           replace(message("direct:a:b", 2), expires_at="2027-01-15T08:30:00Z"), message("direct:a:b", 3))
    hour = due // 3600
    assert stores.messages.expiring(hour, due) == [("direct:a:b", 1)]
    assert sorted(stores.messages.expiring(hour, due + 1800)) == [("direct:a:b", 1), ("direct:a:b", 2)]
    assert stores.messages.get("direct:a:b", 1).expires_at == "2027-01-15T08:00:00Z"
    stores.messages.delete("direct:a:b", 1)
    assert stores.messages.expiring(hour, due + 1800) == [("direct:a:b", 2)]
    stores.chats.update_info("direct:a:b", {"disappear_after": 86400})
    assert stores.chats.head("direct:a:b").disappear_after == 86400
    assert stores.messages.reserve("direct:a:b", "a", direct=True).disappear_after == 86400
    stores.chats.update_info("direct:a:b", {"disappear_after": None})
    assert stores.chats.get("direct:a:b").disappear_after is None


def test_a_system_event_reads_back_as_written(stores):
    direct(stores)
    event = {"type": "disappear_after", "by": "a", "seconds": 86400}
    stored(stores, replace(message("direct:a:b", 1), kind="system", sender_id="", event=event))
    assert stores.messages.get("direct:a:b", 1).to_wire()["event"] == event
    assert isinstance(stores.messages.get("direct:a:b", 1).event["seconds"], int)


def test_an_export_record_is_its_owners(stores):
    stores.exports.create("a", "x1")
    assert stores.exports.get("a", "x1") == {"status": "pending"}
    assert stores.exports.get("b", "x1") is None
    stores.exports.finish("a", "x1", "exports/a/x1.jsonl")
    assert stores.exports.get("a", "x1") == {"status": "ready", "key": "exports/a/x1.jsonl"}


def test_media_by_uploader(stores):
    from chalicelib.model import Media
    for media_id, uploader in (("m1", "a"), ("m2", "b"), ("m3", "a")):
        stores.media.put(Media(media_id, "direct:a:b", uploader, "x.png", "image/png", 10, "image", "t"))
    assert sorted(stores.media.uploaded_by("a")) == ["m1", "m3"]
    assert stores.media.uploaded_by("c") == []


def test_devices_are_registered_replaced_and_removed_and_come_with_reach(stores):
    users = stores.users
    users.register("a")
    assert users.put_device("a", Device("phone", "fcm", "arn:1")) is None
    assert users.put_device("a", Device("phone", "apns", "arn:2")) == Device("phone", "fcm", "arn:1")
    users.put_device("a", Device("tablet", "fcm", "arn:3"))
    assert users.devices("a") == [Device("phone", "apns", "arn:2"), Device("tablet", "fcm", "arn:3")]
    users.add_connection(Connection("c1", "a", "tablet", "https://e/api", 2_000_000_000, 2_000_000_000))
    reach = users.reach_of(["a"])["a"]
    assert reach.devices == (Device("phone", "apns", "arn:2"), Device("tablet", "fcm", "arn:3")) and reach.previews
    assert reach.unreached_devices(2_000_000_001) == [Device("phone", "apns", "arn:2")]
    assert users.remove_device("a", "phone", "arn:other") is None  # replaced since: kept
    assert users.remove_device("a", "phone") == Device("phone", "apns", "arn:2")
    assert users.remove_device("a", "phone") is None
    assert users.devices("a") == [Device("tablet", "fcm", "arn:3")]


def test_settings_change_one_at_a_time_and_go_with_the_account(stores):
    users = stores.users
    users.register("a")
    assert users.settings("a") == {}
    assert users.update_settings("a", {"push_previews": False}) == {"push_previews": False}
    assert users.reach_of(["a"])["a"].previews is False
    assert users.update_settings("a", {"push_previews": True}) == {"push_previews": True}
    users.mark_deleted("a")
    assert users.settings("a") == {}


def test_mutes_per_user_read_for_many_users_of_one_chat(stores):
    chats = stores.chats
    chats.mute("a", "group:g", 2_000_000_000)
    chats.mute("a", "direct:a:b", 2_000_000_100)
    chats.mute("b", "group:g", 1_000)
    assert chats.mutes("a") == {"group:g": 2_000_000_000, "direct:a:b": 2_000_000_100}
    assert chats.muted_in(["a", "b", "c"], "group:g") == {"a": 2_000_000_000, "b": 1_000}
    chats.mute("a", "group:g", None)
    assert chats.muted_in(["a", "b"], "group:g") == {"b": 1_000} and chats.mutes("c") == {}


def test_unread_candidates_are_replaced_by_newer_ones_and_dropped_only_unreplaced(stores):
    news = stores.news
    news.mark(["a", "b"], "group:g", 5, 100, unread_for=["b"])
    news.mark(["a"], "direct:a:b", 2, 100, unread_for=["a"])
    assert news.unread_candidates("b") == {"group:g": (5, 100)}
    news.mark(["a", "b"], "group:g", 9, 101, unread_for=["b"])
    news.drop_unread("b", "group:g", 5, 100)  # replaced meanwhile: kept
    assert news.unread_candidates("b") == {"group:g": (9, 101)}
    news.drop_unread("b", "group:g", 9, 101)
    assert news.unread_candidates("b") == {} and news.unread_candidates("a") == {"direct:a:b": (2, 100)}
    assert news.marked_since("b", 0) == {"group:g": 5}


def test_a_groups_information_changes_and_is_removed_field_by_field(stores):
    group(stores, "a", "b")
    stores.chats.update_info("group:g", {"name": "climbers", "description": "Saturdays", "avatar_media_id": "m1",
                                         "settings": {"send": "admins"}})
    chat = stores.chats.get("group:g")
    assert (chat.name, chat.description, chat.avatar_media_id) == ("climbers", "Saturdays", "m1")
    assert chat.group_settings == {"send": "admins", "edit_info": "all"}
    stores.chats.update_info("group:g", {"description": None, "settings": None})
    chat = stores.chats.get("group:g")
    assert (chat.description, chat.avatar_media_id, chat.settings) == (None, "m1", {})
    assert chat.to_wire()["settings"] == {"send": "all", "edit_info": "all"} and chat.to_wire()["avatar"] == {
        "media_id": "m1"}


def test_invite_links_are_found_by_token_and_revoked_only_by_their_group(stores):
    stores.chats.put_invite("t1", "group:g", 2_000_000_000)
    assert stores.chats.invite("t1") == ("group:g", 2_000_000_000) and stores.chats.invite("nope") is None
    assert not stores.chats.delete_invite("t1", "group:other")
    assert stores.chats.delete_invite("t1", "group:g") and stores.chats.invite("t1") is None


def test_profiles_blocks_and_settings_come_with_people_and_go_with_the_account(stores):
    users = stores.users
    for user in ("a", "b", "c"):
        users.register(user)
    assert users.update_profile("a", {"display_name": "Ann", "about": "hi"}) == {"display_name": "Ann", "about": "hi"}
    assert users.update_profile("a", {"about": None, "avatar_media_id": "m1"}) == {"display_name": "Ann",
                                                                                 "avatar_media_id": "m1"}
    users.update_settings("a", {"last_seen": "contacts"})
    users.block("a", "b")
    users.block("a", "c")
    users.unblock("a", "c")
    people = users.people(["a", "b", "nobody"])
    assert set(people) == {"a", "b"}
    assert people["a"].profile == {"display_name": "Ann", "avatar_media_id": "m1"}
    assert people["a"].blocked == frozenset({"b"}) and people["a"].settings == {"last_seen": "contacts"}
    assert users.reach_of(["a"])["a"].blocked == frozenset({"b"})
    (presence,) = users.presence_of(["a"]).values()
    assert presence.shown_to == "contacts" and presence.blocked == frozenset({"b"})
    users.mark_deleted("a")
    gone = users.people(["a"])["a"]
    assert gone.deleted and gone.profile == {} and gone.blocked == frozenset() and gone.settings == {}
    assert users.presence_of(["a"])["a"].shown_to == users.presence_now("a").shown_to == "nobody"


def test_reports_page_newest_first(stores):
    for i in range(3):
        stores.reports.add({"report_id": f"r{i}", "reporter_id": "a", "chat_id": "group:g", "seq": i + 1,
                            "reason": "spam", "reported_at": f"2030-01-01T00:00:0{i}.000Z", "messages": []})
    assert [r["report_id"] for r in stores.reports.newest(2)] == ["r2", "r1"]
    assert [r["report_id"] for r in stores.reports.newest(5, before="2030-01-01T00:00:01.000Z")] == ["r0"]
