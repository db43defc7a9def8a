"""Group chats: creation, members and admins, and the `system` messages that record each change.

Members read a group from the system message that added them (founders: from the start). Removed members
lose the chat entirely. When the last admin leaves, the longest-standing member (earliest to join; ties
by user id) becomes admin; the last admin cannot step down to member. Admins change roles and make invite
links: a random token, kept until it expires (TTL) or is revoked, through which anyone may join.
"""
import secrets
import uuid

from chalicelib import clock
from chalicelib.access import Access
from chalicelib.delivery import Delivery
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.fanout import Fanout
from chalicelib.messaging import Messaging
from chalicelib.model import MAX_GROUP_MEMBERS, Chat, Cursors, Member, Message, iso_from_epoch, now_iso
from chalicelib.people import contacts
from chalicelib.receipts import Receipts
from chalicelib.storage import ChatStore, UserStore

INVITE_TOKEN_BYTES = 16  # 128 random bits: invite links cannot be guessed; in hex, so never a leading `-`


def unique_ids(user_ids: list[str]) -> list[str]:
    return list(dict.fromkeys(user_id.lower() for user_id in user_ids))


class Groups:
    def __init__(self, chats: ChatStore, users: UserStore, access: Access, delivery: Delivery, fanout: Fanout,
                 messaging: Messaging, receipts: Receipts):
        self._chats = chats
        self._access = access
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
        self._check_newcomers(creator_id, ids[1:])
        chat = Chat(chat_id=f"group:{uuid.uuid4().hex}", kind="group", created_at=now_iso(), name=name,
                    members=[Member(user_id=creator_id, role="admin")] + [Member(user_id=u) for u in ids[1:]])
        self._chats.create(chat)
        self._receipts.seat(chat.chat_id, {user_id: Cursors() for user_id in ids})
        self._fanout.to_members(chat.member_ids, {"type": "chat", "chat": chat.to_wire()})
        return chat, True

    def add_members(self, actor_id: str, chat_id: str, user_ids: list[str]) -> Chat:
        chat = self._as_admin(actor_id, chat_id, "add or remove members")
        newcomers = [user_id for user_id in unique_ids(user_ids) if chat.member(user_id) is None]
        if not newcomers:
            return chat
        self._check_newcomers(actor_id, newcomers)
        return self._admit(chat, newcomers, {"type": "added", "by": actor_id, "user_ids": newcomers},
                           f"{actor_id} added {', '.join(newcomers)}")

    def set_role(self, actor_id: str, chat_id: str, user_id: str, role: str) -> Chat:
        chat = self._as_admin(actor_id, chat_id, "change roles")
        member = chat.member(user_id.lower())
        if member is None:
            raise NotFound(f"{user_id} is not a member of this group")
        if member.role == role:
            return chat
        if role == "member" and not any(m.role == "admin" for m in chat.members if m is not member):
            raise BadRequest("a group needs an admin: make someone else admin first")
        self._chats.set_role(chat.chat_id, member.user_id, role)
        self._access.forget(chat.chat_id)
        member.role = role
        title = "an admin" if role == "admin" else "a member"
        notice = self._messaging.post_system(chat, {"type": "role", "by": actor_id, "user_id": member.user_id,
                                                    "role": role}, f"{actor_id} made {member.user_id} {title}")
        chat.last_seq = notice.seq
        self._announce(chat, notice)
        return chat

    def create_invite(self, actor_id: str, chat_id: str, expires_in: int) -> dict:
        self._as_admin(actor_id, chat_id, "create invite links")
        token, expires_at = secrets.token_hex(INVITE_TOKEN_BYTES), int(clock.now()) + expires_in
        self._chats.put_invite(token, chat_id, expires_at)
        return {"type": "invite", "chat_id": chat_id, "token": token, "expires_at": iso_from_epoch(expires_at)}

    def revoke_invite(self, actor_id: str, chat_id: str, token: str) -> None:
        self._as_admin(actor_id, chat_id, "revoke invite links")
        if not self._chats.delete_invite(token, chat_id):
            raise NotFound("no such invite link of this group")

    def join(self, user_id: str, token: str) -> Chat:
        invite = self._chats.invite(token)
        if invite is None or invite[1] <= clock.now():
            raise NotFound("no such invite link: it expired or was revoked")
        chat = self._chats.get(invite[0])
        if chat is None:
            raise NotFound("the group of this invite link is gone")
        if chat.member(user_id) is not None:
            return chat
        return self._admit(chat, [user_id], {"type": "joined", "by": user_id, "user_ids": [user_id],
                                             "via": "invite"}, f"{user_id} joined with an invite link")

    def _admit(self, chat: Chat, newcomers: list[str], event: dict, text: str) -> Chat:
        if not self._chats.reserve_seats(chat.chat_id, len(newcomers), MAX_GROUP_MEMBERS):
            raise Conflict(f"the group is full: at most {MAX_GROUP_MEMBERS} members")
        notice = self._messaging.post_system(chat, event, text)
        joined = [Member(user_id=u, joined_seq=notice.seq) for u in newcomers]
        self._chats.add_members(chat.chat_id, joined)
        self._receipts.seat(chat.chat_id, {u: Cursors(notice.seq - 1, notice.seq - 1) for u in newcomers})
        self._access.forget(chat.chat_id)
        chat.members.extend(joined)
        chat.last_seq = notice.seq
        self._announce(chat, notice)
        return chat

    def remove_members(self, actor_id: str, chat_id: str, user_ids: list[str]) -> Chat:
        if actor_id in unique_ids(user_ids):
            raise BadRequest("to remove yourself, use leave")
        chat = self._as_admin(actor_id, chat_id, "add or remove members")
        leaving = [member for user_id in unique_ids(user_ids) if (member := chat.member(user_id)) is not None]
        if not leaving:
            raise NotFound("none of those users is a member")
        return self._remove(chat, leaving, {"type": "removed", "by": actor_id,
                                            "user_ids": [m.user_id for m in leaving]},
                            f"{actor_id} removed {', '.join(m.user_id for m in leaving)}")

    def leave(self, user_id: str, chat_id: str) -> None:
        if not chat_id.startswith("group:"):
            self._access.member(user_id, chat_id)
            raise BadRequest("only groups can be left")
        chat, member = self._chat_of(user_id, chat_id)
        self._remove(chat, [member], {"type": "left", "by": user_id, "user_ids": [user_id]}, f"{user_id} left")

    def _remove(self, chat: Chat, leaving: list[Member], event: dict, text: str) -> Chat:
        self._chats.remove_members(chat.chat_id, [m.user_id for m in leaving])
        self._access.forget(chat.chat_id)
        chat.members = [m for m in chat.members if m not in leaving]
        self._receipts.unseat(chat.chat_id, [m.user_id for m in leaving])
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

    def _announce(self, chat: Chat, notice: Message) -> None:
        self._fanout.to_members(chat.member_ids, {"type": "message", "message": notice.to_wire()})
        self._fanout.to_members(chat.member_ids, {"type": "chat", "chat": chat.to_wire()})

    def _chat_of(self, user_id: str, chat_id: str) -> tuple[Chat, Member]:
        """The chat with every member (a membership change reads and writes the member list anyway)."""
        chat = self._chats.get(chat_id)
        member = chat.member(user_id) if chat else None
        if chat is None or member is None:
            raise Forbidden("you are not a member of this chat")
        return chat, member

    def _as_admin(self, actor_id: str, chat_id: str, action: str) -> Chat:
        chat, member = self._chat_of(actor_id, chat_id)
        if chat.kind != "group":
            raise BadRequest(f"only groups have admins who {action}")
        if member.role != "admin":
            raise Forbidden(f"only group admins can {action}")
        return chat

    def _check_newcomers(self, actor_id: str, user_ids: list[str]) -> None:
        """Whether `actor_id` may add these users (one batch read of their users items, and of the direct chats
        of those who let only contacts add them): their accounts exist and were not deleted, none blocked the
        actor, and each whose `groups_add` is `contacts` counts the actor as a contact. Any refusal refuses the
        whole request."""
        people = self._users.people(user_ids)
        missing = sorted(set(user_ids) - {user_id for user_id, person in people.items() if not person.deleted})
        if missing:
            raise NotFound(f"no such users: {', '.join(missing[:10])}")
        if any(actor_id in person.blocked for person in people.values()):
            raise Forbidden("someone you named does not take group invitations from you")
        choosy = [(user_id, actor_id) for user_id, person in people.items()
                  if person.settings.get("groups_add") == "contacts"]
        refusing = sorted(user for user, _ in set(choosy) - contacts(self._chats, choosy))
        if refusing:
            raise Forbidden(f"only their contacts may add {', '.join(refusing[:10])} to groups")
