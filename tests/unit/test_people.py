"""People on the in-memory stores: profiles, privacy settings enforced where they apply, blocking tried every
way in, and reports."""
import itertools

import pytest

from chalicelib import clock
from chalicelib.errors import BadRequest, Forbidden, NotFound, RateLimited
from chalicelib.model import Connection, Media
from chalicelib.people import MAX_IDS
from chalicelib.reports import CONTEXT

_ids = itertools.count()


@pytest.fixture
def people(world, now):
    """alice and bob have a direct chat in which both have written; carol shares only a group with them."""
    world.users("alice", "bob", "carol", "dave")
    world.direct = world.services.messaging.create_direct("alice", "bob")[0].chat_id
    world.send("alice", world.direct, "hi bob")
    world.send("bob", world.direct, "hi alice")
    world.group = world.services.groups.create("alice", "g", ["bob", "carol"])[0].chat_id
    drain(world)
    return world


def drain(world) -> None:
    while world.queue.tasks:
        world.services.fanout.run(world.queue.tasks.pop(0))


def connect(world, user_id: str) -> str:
    moment = int(clock.now())
    connection = Connection(f"s{next(_ids)}", user_id, "phone", "https://x/api", moment, moment)
    world.services.presence.connected(connection)
    drain(world)
    return connection.connection_id


def frames(world, connection_id: str, kind: str) -> list[dict]:
    return world.pusher.of_type(connection_id, kind)


def presence_of(world, viewer: str, user: str) -> dict:
    return world.services.presence.query(viewer, [user])[0]


def avatar(world, user: str, media_id: str = "av1") -> str:
    world.stores.media.put(Media(media_id, f"profile:{user}", user, "me.jpg", "image/jpeg", 10, "image", "2030",
                                 "ready"))
    return media_id


# profiles -----------------------------------------------------------------------------------------------

def test_a_profile_is_set_field_by_field_and_read_in_one_batch(people):
    profiles = people.services.people
    avatar(people, "alice")
    assert profiles.update_profile("alice", {"display_name": "Alice A.", "about": "climber",
                                             "avatar_media_id": "av1"})["display_name"] == "Alice A."
    profiles.update_profile("alice", {"about": None})
    (alice, bob) = profiles.users("carol", ["alice", "BOB", "nobody"])
    assert alice["display_name"] == "Alice A." and "about" not in alice and alice["avatar"]["media_id"] == "av1"
    assert bob == {"user_id": "bob"}
    with pytest.raises(BadRequest, match="1 to 100"):
        profiles.users("carol", [f"u{i}" for i in range(MAX_IDS + 1)])


@pytest.mark.parametrize("changes, error", [({"display_name": ""}, "display_name"), ({"about": "x" * 141}, "about"),
                                            ({"nickname": "al"}, "unknown"), ({"avatar_media_id": 7}, "media id")])
def test_bad_profiles_are_refused(people, changes, error):
    with pytest.raises(BadRequest, match=error):
        people.services.people.update_profile("alice", changes)


def test_an_avatar_is_the_users_own_profile_upload(people):
    avatar(people, "bob", "bobs")
    with pytest.raises(NotFound):
        people.services.people.update_profile("alice", {"avatar_media_id": "bobs"})
    upload = people.services.media.request_upload("alice", "profile", "me.png", "image/png", 100)
    assert people.stores.media.get(upload["media_id"]).chat_id == "profile:alice"
    with pytest.raises(BadRequest, match="image"):
        people.services.media.request_upload("alice", "profile", "me.mp4", "video/mp4", 100)
    with pytest.raises(Forbidden, match="profile"):
        people.services.media.describe("alice", "bobs")


def test_a_profile_change_reaches_those_who_share_a_chat_but_not_the_blocked(people):
    bob, carol, dave = connect(people, "bob"), connect(people, "carol"), connect(people, "dave")
    people.services.people.block("alice", "carol")
    people.services.people.update_profile("alice", {"display_name": "Al"})
    drain(people)
    assert frames(people, bob, "profile") == [{"type": "profile", "user": {"user_id": "alice",
                                                                            "display_name": "Al"}}]
    assert frames(people, carol, "profile") == [] and frames(people, dave, "profile") == []


def test_a_deleted_account_reads_as_deleted(people):
    people.stores.users.mark_deleted("bob")
    assert people.services.people.users("alice", ["bob"]) == [{"user_id": "bob", "deleted": True}]


def test_a_deleted_account_is_not_found_for_a_new_chat_or_group(people):
    people.stores.users.mark_deleted("dave")
    with pytest.raises(NotFound, match="dave"):
        people.services.messaging.create_direct("alice", "dave")
    with pytest.raises(NotFound, match="dave"):
        people.services.groups.add_members("alice", people.group, ["dave"])
    with pytest.raises(NotFound, match="dave"):
        people.services.groups.create("alice", "new", ["bob", "dave"])


# blocking -----------------------------------------------------------------------------------------------

def test_a_blocked_user_tries_every_way_in(people):
    profiles = people.services.people
    avatar(people, "alice")
    profiles.update_profile("alice", {"display_name": "Alice", "about": "private", "avatar_media_id": "av1"})
    profiles.block("alice", "bob")
    assert profiles.blocked("alice") == ["bob"]
    with pytest.raises(Forbidden, match="does not take messages"):
        people.send("bob", people.direct, "let me in")
    with pytest.raises(Forbidden, match="group invitations"):
        people.services.groups.create("bob", "trap", ["alice"])
    people.services.groups.add_members("alice", people.group, ["dave"])  # the blocker adds as before
    people.services.groups.set_role("alice", people.group, "bob", "admin")
    other = people.services.groups.create("bob", "other", ["carol"])[0].chat_id
    with pytest.raises(Forbidden, match="group invitations"):
        people.services.groups.add_members("bob", other, ["alice", "dave"])  # the whole request is refused
    assert "dave" not in people.stores.chats.get(other).member_ids
    assert presence_of(people, "bob", "alice") == {"user_id": "alice", "status": "unknown", "last_seen": None}
    assert profiles.users("bob", ["alice"]) == [{"user_id": "alice", "display_name": "Alice"}]
    assert people.send("alice", people.direct, "I can still write")["type"] == "sent"
    assert people.send("bob", people.group, "the group is still shared")["type"] == "sent"
    profiles.unblock("alice", "bob")
    assert people.send("bob", people.direct, "thanks")["type"] == "sent"


def test_a_blocked_users_presence_pushes_stop(people):
    bob = connect(people, "bob")
    people.services.people.block("alice", "bob")
    connect(people, "alice")
    assert frames(people, bob, "presence") == []


def test_blocking_checks(people):
    profiles = people.services.people
    with pytest.raises(BadRequest, match="yourself"):
        profiles.block("alice", "alice")
    with pytest.raises(NotFound):
        profiles.block("alice", "nobody")
    with pytest.raises(BadRequest):
        profiles.block("alice", 7)


# privacy settings ---------------------------------------------------------------------------------------

def test_last_seen_nobody_hides_presence_from_everyone_but_the_user(people):
    carol = connect(people, "carol")
    connect(people, "alice")
    people.services.settings.update("alice", {"last_seen": "nobody"})
    assert presence_of(people, "bob", "alice")["status"] == "unknown"
    assert presence_of(people, "alice", "alice")["status"] == "online"
    assert presence_of(people, "dave", "alice") == {"user_id": "alice", "status": "offline", "last_seen": None}
    people.services.presence.disconnected(people.stores.users.connection(
        next(iter(people.stores.users.users["alice"]))))
    drain(people)
    assert [f["users"][0]["status"] for f in frames(people, carol, "presence")] == ["online"]  # not the offline


def test_last_seen_contacts_shows_presence_only_to_contacts(people):
    bob, carol = connect(people, "bob"), connect(people, "carol")
    people.services.settings.update("alice", {"last_seen": "contacts"})
    connect(people, "alice")
    assert presence_of(people, "bob", "alice")["status"] == "online"  # alice wrote to bob: a contact
    assert presence_of(people, "carol", "alice")["status"] == "unknown"  # only a group in common
    about_alice = [f for f in frames(people, bob, "presence") + frames(people, carol, "presence")
                   if f["users"][0]["user_id"] == "alice"]
    assert about_alice == frames(people, bob, "presence")[-1:]  # bob's, and none for carol


def test_read_receipts_off_shows_delivered_only_both_ways(people):
    alice, bob = connect(people, "alice"), connect(people, "bob")
    people.services.settings.update("bob", {"read_receipts": False})
    sent = people.send("alice", people.direct, "did you read this?")
    people.services.receipts.record("bob", people.direct, "read", sent["seq"])
    assert [f["status"] for f in frames(people, alice, "receipt")] == ["delivered"]
    receipts = people.services.receipts.cursors("alice", people.direct)["receipts"]
    assert {r["user_id"]: r["read_seq"] for r in receipts}["bob"] == 0
    assert {r["user_id"]: r["read_seq"] for r in people.services.receipts.cursors("bob", people.direct)[
        "receipts"]}["bob"] == sent["seq"]  # bob's own devices still know
    back = people.send("bob", people.direct, "yes")
    people.services.receipts.record("alice", people.direct, "read", back["seq"])
    assert {f["status"] for f in frames(people, bob, "receipt")} == {"delivered"}  # reciprocal
    assert frames(people, bob, "receipt")[-1]["seq"] == back["seq"]


def test_a_send_that_tells_the_peer_nothing_reads_no_settings(people, monkeypatch):
    """A cached setting may lag a change made elsewhere: it is read only where a receipt is about to be told."""
    people.users("erin", "fred")
    chat = people.services.messaging.create_direct("erin", "fred")[0].chat_id
    looked_up = []
    people_of = people.stores.users.people
    monkeypatch.setattr(people.stores.users, "people", lambda ids: looked_up.append(list(ids)) or people_of(ids))
    people.send("erin", chat, "fred has written nothing yet")
    assert looked_up == []
    people.send("fred", chat, "now I have")
    assert ["erin", "fred"] in looked_up or ["fred", "erin"] in looked_up


def test_groups_add_contacts_lets_only_contacts_add(people):
    people.services.settings.update("carol", {"groups_add": "contacts"})
    with pytest.raises(Forbidden, match="only their contacts may add carol"):
        people.services.groups.create("alice", "new", ["carol"])
    with_carol = people.services.messaging.create_direct("alice", "carol")[0].chat_id
    people.send("alice", with_carol, "hello carol")
    with pytest.raises(Forbidden):  # alice wrote; carol did not: alice is not carol's contact yet
        people.services.groups.create("alice", "new", ["carol"])
    people.send("carol", with_carol, "hi alice")
    assert "carol" in people.services.groups.create("alice", "new", ["carol"])[0].member_ids


# reports ------------------------------------------------------------------------------------------------

def test_a_report_keeps_the_message_and_five_before_it(people):
    for i in range(8):
        people.send("bob", people.group, f"message {i}")
    last = people.stores.chats.head(people.group).last_seq
    report_id = people.services.reports.report("carol", people.group, last, "spam")
    (report,) = people.stores.reports.newest(10)
    assert report["report_id"] == report_id and report["reporter_id"] == "carol" and report["reason"] == "spam"
    assert [m["seq"] for m in report["messages"]] == list(range(last - CONTEXT, last + 1))


@pytest.mark.parametrize("chat, seq, reason, error", [(None, 1, "spam", BadRequest), ("g", 0, "spam", BadRequest),
                                                      ("g", 1, "", BadRequest), ("g", 99, "spam", BadRequest)])
def test_bad_reports_are_refused(people, chat, seq, reason, error):
    people.send("bob", people.group, "something")
    with pytest.raises(error):
        people.services.reports.report("carol", people.group if chat == "g" else chat, seq, reason)


def test_a_message_from_before_the_reporter_joined_is_not_found(people):
    sent = people.send("bob", people.group, "before dave")
    people.services.groups.add_members("alice", people.group, ["dave"])
    with pytest.raises(NotFound):
        people.services.reports.report("dave", people.group, sent["seq"], "spam")


def test_only_members_report_and_reports_are_rate_limited(people):
    people.send("bob", people.group, "buy my stuff")
    with pytest.raises(Forbidden):
        people.services.reports.report("dave", people.group, 1, "spam")
    for _ in range(10):
        people.services.reports.report("carol", people.group, 1, "spam")
    with pytest.raises(RateLimited):
        people.services.reports.report("carol", people.group, 1, "spam")


def test_a_profile_saved_unchanged_tells_no_one(people):
    bob = connect(people, "bob")
    people.services.people.update_profile("alice", {"display_name": "Al"})
    people.services.people.update_profile("alice", {"display_name": "Al", "about": None})
    drain(people)
    assert len(frames(people, bob, "profile")) == 1
