"""Group information, settings, roles and invite links, on the in-memory stores."""
import re

import pytest

from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.model import MAX_GROUP_MEMBERS, Media
from tests.unit.conftest import START


@pytest.fixture
def club(world, now):
    """alice (admin) with bob and carol; dave is outside."""
    world.users("alice", "bob", "carol", "dave")
    chat_id = world.services.groups.create("alice", "club", ["bob", "carol"])[0].chat_id
    return world, chat_id


def events(world, chat_id: str) -> list[dict]:
    return [m.event for m in world.stores.messages.messages_after(chat_id, 0, 100) if m.kind == "system"]


def test_members_change_name_and_description_each_with_a_system_message(club):
    world, chat_id = club
    chat = world.services.messaging.update_chat("bob", chat_id, {"name": "climbers", "description": "Saturdays"})
    assert chat.to_wire()["name"] == "climbers" and chat.to_wire()["description"] == "Saturdays"
    assert chat.to_wire()["settings"] == {"send": "all", "edit_info": "all"}
    assert events(world, chat_id)[-1] == {"type": "chat_updated", "by": "bob",
                                          "changes": {"name": "climbers", "description": "Saturdays"}}
    world.services.messaging.update_chat("bob", chat_id, {"description": None})
    assert "description" not in world.services.messaging.chat_of_member("bob", chat_id).to_wire()
    last = world.stores.chats.head(chat_id).last_seq
    world.services.messaging.update_chat("bob", chat_id, {"name": "climbers"})  # no change: no message
    assert world.stores.chats.head(chat_id).last_seq == last


def test_only_admins_change_settings_and_edit_info_admins_locks_the_information(club):
    world, chat_id = club
    messaging = world.services.messaging
    with pytest.raises(Forbidden, match="settings"):
        messaging.update_chat("bob", chat_id, {"settings": {"edit_info": "admins"}})
    chat = messaging.update_chat("alice", chat_id, {"settings": {"edit_info": "admins"}})
    assert chat.to_wire()["settings"] == {"send": "all", "edit_info": "admins"}
    for change in ({"name": "x"}, {"description": "y"}, {"disappear_after": 86400}):
        with pytest.raises(Forbidden, match="information"):
            messaging.update_chat("bob", chat_id, change)
    messaging.update_chat("alice", chat_id, {"name": "admins only"})
    messaging.update_chat("alice", chat_id, {"settings": {"edit_info": "all"}})
    assert world.stores.chats.get(chat_id).settings == {}  # back to the defaults: nothing stored


def test_send_admins_lets_only_admins_send_and_the_claim_is_released(club):
    world, chat_id = club
    world.services.messaging.update_chat("alice", chat_id, {"settings": {"send": "admins"}})
    with pytest.raises(Forbidden, match="only admins may send"):
        world.send("bob", chat_id, "hello?", client_msg_id="b1")
    assert world.send("alice", chat_id, "announcement")["type"] == "sent"
    world.services.groups.set_role("alice", chat_id, "bob", "admin")
    assert world.send("bob", chat_id, "now I can", client_msg_id="b1")["type"] == "sent"  # same key: released


def test_an_avatar_is_the_callers_own_image_upload_into_the_group(club):
    world, chat_id = club
    world.stores.media.put(Media("img1", chat_id, "bob", "a.jpg", "image/jpeg", 10, "image", "2030", "ready"))
    world.stores.media.put(Media("vid1", chat_id, "bob", "a.mp4", "video/mp4", 10, "video", "2030", "ready"))
    with pytest.raises(NotFound):
        world.services.messaging.update_chat("carol", chat_id, {"avatar_media_id": "img1"})
    with pytest.raises(BadRequest, match="not a image"):
        world.services.messaging.update_chat("bob", chat_id, {"avatar_media_id": "vid1"})
    chat = world.services.messaging.update_chat("bob", chat_id, {"avatar_media_id": "img1"})
    assert chat.to_wire()["avatar"] == {"media_id": "img1"}


def test_a_direct_chat_has_no_group_information(club):
    world, _ = club
    direct = world.services.messaging.create_direct("alice", "bob")[0].chat_id
    with pytest.raises(BadRequest, match="direct chat"):
        world.services.messaging.update_chat("alice", direct, {"name": "us"})
    with pytest.raises(BadRequest, match="name"):
        world.services.messaging.update_chat("alice", world.services.groups.create("alice", "g", [])[0].chat_id,
                                             {"name": None})


def test_roles_change_by_admins_only_and_a_group_keeps_an_admin(club):
    world, chat_id = club
    groups = world.services.groups
    with pytest.raises(Forbidden, match="change roles"):
        groups.set_role("bob", chat_id, "carol", "admin")
    with pytest.raises(NotFound):
        groups.set_role("alice", chat_id, "dave", "admin")
    with pytest.raises(BadRequest, match="needs an admin"):
        groups.set_role("alice", chat_id, "alice", "member")
    chat = groups.set_role("alice", chat_id, "bob", "admin")
    assert {m["user_id"]: m["role"] for m in chat.to_wire()["members"]}["bob"] == "admin"
    assert events(world, chat_id)[-1] == {"type": "role", "by": "alice", "user_id": "bob", "role": "admin"}
    groups.set_role("bob", chat_id, "alice", "member")  # another admin is left: fine
    assert world.stores.chats.membership("alice", chat_id).role == "member"
    with pytest.raises(Forbidden):
        groups.add_members("alice", chat_id, ["dave"])


def test_an_invite_link_lets_anyone_join_until_it_expires_or_is_revoked(club, now):
    world, chat_id = club
    groups = world.services.groups
    with pytest.raises(Forbidden, match="invite links"):
        groups.create_invite("bob", chat_id, 3600)
    invite = groups.create_invite("alice", chat_id, 3600)
    assert invite["type"] == "invite" and invite["chat_id"] == chat_id
    assert re.fullmatch(r"[0-9a-f]{32}", invite["token"])  # 128 bits, and no leading "-" to trip a command line
    chat = groups.join("dave", invite["token"])
    assert "dave" in chat.member_ids and events(world, chat_id)[-1]["type"] == "joined"
    assert groups.join("dave", invite["token"]).chat_id == chat_id  # joining again: the chat, no change
    world.users("erin", "frank")
    now[0] = START + 3601
    with pytest.raises(NotFound, match="expired or was revoked"):
        groups.join("erin", invite["token"])
    second = groups.create_invite("alice", chat_id, 60)
    groups.revoke_invite("alice", chat_id, second["token"])
    with pytest.raises(NotFound):
        groups.join("frank", second["token"])
    with pytest.raises(NotFound):
        groups.revoke_invite("alice", chat_id, second["token"])
    with pytest.raises(NotFound):
        groups.join("frank", "made-up")


def test_joining_a_full_group_is_a_conflict(club):
    world, chat_id = club
    others = [f"u{i}" for i in range(MAX_GROUP_MEMBERS - 3)]
    world.users(*others, "late")
    world.services.groups.add_members("alice", chat_id, others)
    invite = world.services.groups.create_invite("alice", chat_id, 3600)
    with pytest.raises(Conflict, match="full"):
        world.services.groups.join("late", invite["token"])
