"""Disappearing messages: update_chat's disappear_after, tombstones once due, and the sweep that deletes them."""
import pytest

from chalicelib.errors import BadRequest, Forbidden
from chalicelib.frames import parse
from chalicelib.relations import Forward
from tests.unit.test_media import jpeg_with_gps, upload


@pytest.fixture
def chat(world, now) -> str:
    world.users("ann", "ben", "eve")
    return world.services.messaging.create_direct("ann", "ben")[0].chat_id


def served(world, chat_id: str) -> dict[int, dict]:
    return {m["seq"]: m for m in world.services.messaging.history("ben", chat_id, None, 100)["messages"]}


def test_messages_after_the_setting_disappear_and_the_sweep_deletes_them(world, chat, now):
    ben = world.connect("ben")
    before = world.send("ann", chat, "kept")
    updated = world.services.messaging.update_chat("ben", chat, {"disappear_after": 86400})
    assert updated.to_wire()["disappear_after"] == 86400
    notice = world.pusher.of_type(ben, "message")[-1]["message"]
    assert notice["kind"] == "system" and notice["event"] == {"type": "disappear_after", "by": "ben",
                                                               "seconds": 86400}
    media_id = upload(world, chat, jpeg_with_gps())
    world.services.media.process_key(f"uploads/{media_id}")
    picture = world.services.messaging.send("ann", chat, "p", "image", "beach", None, media_id=media_id)
    note = world.send("ann", chat, "gone tomorrow")
    assert served(world, chat)[note["seq"]]["expires_at"] == "2027-01-16T08:00:00Z"
    assert world.services.disappearing.sweep() == 0
    now[0] += 86400
    tombstone = served(world, chat)[note["seq"]]  # due: served deleted before the sweep runs
    assert tombstone["deleted"] is True and "text" not in tombstone
    assert world.services.disappearing.sweep() == 2
    messages = served(world, chat)
    assert sorted(messages) == list(range(1, note["seq"] + 1))  # seq stays gap-free
    assert messages[before["seq"]]["text"] == "kept" and "expires_at" not in messages[before["seq"]]
    assert messages[notice["seq"]]["kind"] == "system" and "deleted" not in messages[notice["seq"]]
    assert messages[picture["seq"]]["deleted"] is True and world.stores.media.get(media_id) is None
    assert world.services.disappearing.sweep() == 0  # deleted once


def test_a_message_due_to_disappear_is_not_quoted_forwarded_or_acted_on_before_the_sweep(world, chat, now):
    world.services.messaging.update_chat("ann", chat, {"disappear_after": 86400})
    note = world.send("ann", chat, "gone tomorrow")["seq"]
    now[0] += 86400 + 3600  # expiry is rounded up to the hour
    reply = world.services.messaging.send("ben", chat, "r", "text", "what was it?", note)
    assert served(world, chat)[reply["seq"]]["quote"] == {"seq": note, "sender_id": "ann", "kind": "text"}
    keep = world.services.messaging.create_direct("ben", "eve")[0].chat_id
    with pytest.raises(BadRequest, match="was deleted"):
        world.services.messaging.send("ben", keep, "f", "text", None, None, forward_of=Forward(chat, note))
    with pytest.raises(BadRequest, match="was deleted"):
        world.services.messaging.send("ben", chat, "e", "reaction", None, None, relates_to=note, emoji="👍")


def test_turning_it_off_and_who_may(world, chat, now):
    world.services.messaging.update_chat("ann", chat, {"disappear_after": 604800})
    world.services.messaging.update_chat("ann", chat, {"disappear_after": None})
    sent = world.send("ann", chat, "stays")
    now[0] += 10 * 86400
    assert served(world, chat)[sent["seq"]]["text"] == "stays"
    assert "disappear_after" not in world.services.messaging.chat_of_member("ann", chat).to_wire()
    with pytest.raises(Forbidden):
        world.services.messaging.update_chat("eve", chat, {"disappear_after": 86400})


@pytest.mark.parametrize("value", [60, 0, "86400", True])
def test_only_the_offered_durations(value):
    with pytest.raises(BadRequest):
        parse({"action": "update_chat", "chat_id": "direct:a:b", "disappear_after": value})


def test_a_frame_without_the_field_changes_nothing():
    assert parse({"action": "update_chat", "chat_id": "direct:a:b"}).changes() == {}
    assert parse({"action": "update_chat", "chat_id": "direct:a:b", "disappear_after": None}).changes() == {
        "disappear_after": None}
