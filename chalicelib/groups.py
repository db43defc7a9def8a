"""Group chats: creation, members and admins, and the `system` messages that record each change.

Members read a group from the system message that added them (founders: from the start). Removed members
lose the chat entirely. When the last admin leaves, the longest-standing member (earliest to join; ties
by user id) becomes admin.
"""
import uuid

from chalicelib.access import chat_of_member
from chalicelib.delivery import Delivery
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.fanout import Fanout
from chalicelib.messaging import Messaging
from chalicelib.model import MAX_GROUP_MEMBERS, Chat, Member, now_iso
from chalicelib.receipts import STATUSES, Receipts
from chalicelib.storage import ChatStore, UserStore


def unique_ids(user_ids: list[str]) -> list[str]:
    return list(dict.fromkeys(user_id.lower() for user_id in user_ids))


class Groups:
    def __init__(self, chats: ChatStore, users: UserStore, delivery: Delivery, fanout: Fanout,
                 messaging: Messaging, receipts: Receipts):
        self._chats = chats
        self._users = users
        self._delivery = delivery
        self._fanout = fanout
        self._messaging = messaging
        self._receipts = receipts

    def create(self, creator_id: str, name: str | None, member_ids: list[str] | None) -> tuple[Chat, bool]:
        if not name:
            raise BadRequest("a group needs a name of 1-100 characters")
        ids = unique_ids([creator_id, *(member_ids or [])])
        if len(ids) > MAX_GROUP_MEMBERS:
            raise BadRequest(f"a group has at most {MAX_GROUP_MEMBERS} members, its creator included")
        self._require_users(ids)
        chat = Chat(chat_id=f"group:{uuid.uuid4().hex}", kind="group", created_at=now_iso(), name=name,
                    members=[Member(user_id=creator_id, role="admin")] + [Member(user_id=u) for u in ids[1:]])
        self._chats.create(chat)
        self._fanout.to_members(chat, {"type": "chat", "chat": chat.to_wire()})
        return chat, True

    def add_members(self, actor_id: str, chat_id: str, user_ids: list[str]) -> Chat:
        chat = self._as_admin(actor_id, chat_id)
        newcomers = [user_id for user_id in unique_ids(user_ids) if chat.member(user_id) is None]
        if not newcomers:
            return chat
        self._require_users(newcomers)
        if not self._chats.reserve_seats(chat.chat_id, len(newcomers), MAX_GROUP_MEMBERS):
            raise Conflict(f"the group is full: at most {MAX_GROUP_MEMBERS} members")
        notice = self._messaging.post_system(chat, {"type": "added", "by": actor_id, "user_ids": newcomers},
                                             f"{actor_id} added {', '.join(newcomers)}")
        joined = [Member(user_id=u, joined_seq=notice.seq, delivered_seq=notice.seq - 1, read_seq=notice.seq - 1)
                  for u in newcomers]
        self._chats.add_members(chat.chat_id, joined)
        chat.members.extend(joined)
        chat.last_seq = notice.seq
        self._receipts.shift(chat, {status: {notice.seq - 1: len(joined)} for status in STATUSES})
        self._announce(chat, notice)
        return chat

    def remove_members(self, actor_id: str, chat_id: str, user_ids: list[str]) -> Chat:
        if actor_id in unique_ids(user_ids):
            raise BadRequest("to remove yourself, use leave")
        chat = self._as_admin(actor_id, chat_id)
        leaving = [chat.member(user_id) for user_id in unique_ids(user_ids) if chat.member(user_id)]
        if not leaving:
            raise NotFound("none of those users is a member")
        return self._remove(chat, leaving, {"type": "removed", "by": actor_id,
                                            "user_ids": [m.user_id for m in leaving]},
                            f"{actor_id} removed {', '.join(m.user_id for m in leaving)}")

    def leave(self, user_id: str, chat_id: str) -> None:
        chat, member = chat_of_member(self._chats, user_id, chat_id)
        if chat.kind != "group":
            raise BadRequest("only groups can be left")
        self._remove(chat, [member], {"type": "left", "by": user_id, "user_ids": [user_id]}, f"{user_id} left")

    def _remove(self, chat: Chat, leaving: list[Member], event: dict, text: str) -> Chat:
        self._chats.remove_members(chat.chat_id, [m.user_id for m in leaving])
        chat.members = [m for m in chat.members if m not in leaving]
        self._receipts.shift(chat, {"delivered": self._departures(leaving, "delivered_seq"),
                                    "read": self._departures(leaving, "read_seq")})
        if chat.members and not any(m.role == "admin" for m in chat.members):
            successor = min(chat.members, key=lambda m: (m.joined_seq, m.user_id))
            self._chats.set_role(chat.chat_id, successor.user_id, "admin")
            successor.role = "admin"
            event = {**event, "new_admin": successor.user_id}
        if chat.members:
            notice = self._messaging.post_system(chat, event, text)
            chat.last_seq = notice.seq
            self._announce(chat, notice)
        self._delivery.to_users([m.user_id for m in leaving], {"type": "chat", "chat": chat.to_wire()})
        return chat

    @staticmethod
    def _departures(leaving: list[Member], cursor: str) -> dict[int, int]:
        changes: dict[int, int] = {}
        for member in leaving:
            changes[getattr(member, cursor)] = changes.get(getattr(member, cursor), 0) - 1
        return changes

    def _announce(self, chat: Chat, notice) -> None:
        self._fanout.to_members(chat, {"type": "message", "message": notice.to_wire()})
        self._fanout.to_members(chat, {"type": "chat", "chat": chat.to_wire()})

    def _as_admin(self, actor_id: str, chat_id: str) -> Chat:
        chat, member = chat_of_member(self._chats, actor_id, chat_id)
        if chat.kind != "group":
            raise BadRequest("members can only be added to or removed from groups")
        if member.role != "admin":
            raise Forbidden("only group admins can add or remove members")
        return chat

    def _require_users(self, user_ids: list[str]) -> None:
        missing = sorted(set(user_ids) - self._users.existing(user_ids))
        if missing:
            raise NotFound(f"no such users: {', '.join(missing[:10])}")
