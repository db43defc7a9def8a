"""Chats, sending, history and catch-up: the heart of Parley."""
import json
import uuid

from chalicelib import clock
from chalicelib.access import chat_of_member
from chalicelib.delivery import Delivery
from chalicelib.fanout import Fanout
from chalicelib.media import MediaService
from chalicelib.errors import BadRequest, NotFound
from chalicelib.model import SEND_LEASE, Chat, Member, Message, direct_chat_id, epoch_from_iso, now_iso
from chalicelib.observability import metrics
from chalicelib.rate_limits import RateLimiter
from chalicelib.receipts import Receipts
from chalicelib.storage import ChatStore, UserStore

MAX_REPLY_BYTES = 120 * 1024  # API Gateway's 128 KiB per message, less room for the envelope


def size_of(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def visible_after(joined_seq: int) -> int:
    """The highest seq a member may not read: members see their chat from the message that added them."""
    return max(joined_seq - 1, 0)


class Messaging:
    def __init__(self, chats: ChatStore, users: UserStore, delivery: Delivery, fanout: Fanout, receipts: Receipts,
                 media: MediaService, rate: RateLimiter):
        self._rate = rate
        self._chats = chats
        self._users = users
        self._delivery = delivery
        self._fanout = fanout
        self._receipts = receipts
        self._media = media

    def _wire(self, messages: list[Message]) -> list[dict]:
        """Messages as clients get them: each media item as of now, with fresh URLs (one batch read)."""
        media = self._media.wire_many([m.media_id for m in messages if m.media_id])
        return [m.to_wire() | ({"media": media[m.media_id]} if m.media_id in media else {}) for m in messages]

    def chat_of_member(self, user_id: str, chat_id: str) -> tuple[Chat, Member]:
        return chat_of_member(self._chats, user_id, chat_id)

    def chats_of(self, user_id: str) -> list[Chat]:
        chats = (self._chats.get(membership.chat_id) for membership in self._chats.memberships(user_id))
        return [chat for chat in chats if chat is not None]

    def create_direct(self, user_id: str, peer_id: str | None) -> tuple[Chat, bool]:
        """The direct chat of two users, created if need be; answers it and whether this call created it."""
        if not peer_id:
            raise BadRequest("user_id is required for a direct chat")
        peer_id = peer_id.lower()
        if peer_id == user_id:
            raise BadRequest("a direct chat needs another user")
        if peer_id not in self._users.existing([peer_id]):
            raise NotFound(f"no user {peer_id!r}")
        draft = Chat(chat_id=direct_chat_id(user_id, peer_id), kind="direct", created_at=now_iso(),
                     members=[Member(user_id=user_id), Member(user_id=peer_id)])
        chat, created = self._chats.create(draft)
        if created:
            self._fanout.to_members(chat, {"type": "chat", "chat": chat.to_wire()})
        return chat, created

    def send(self, sender_id: str, chat_id: str, client_msg_id: str, kind: str, text: str | None,
             reply_to: int | None, connection_id: str | None = None, media_id: str | None = None) -> dict:
        self._rate.take("send", sender_id)
        chat, _ = self.chat_of_member(sender_id, chat_id)
        if kind == "text" and not text:
            raise BadRequest("a text message needs a non-empty 'text'")
        media = self._media.attachable(sender_id, chat.chat_id, media_id, kind) if kind != "text" else None
        if reply_to is not None and reply_to > chat.last_seq:
            raise BadRequest(f"reply_to {reply_to} is beyond the chat's last seq {chat.last_seq}")
        draft = Message(chat_id=chat.chat_id, seq=0, message_id=uuid.uuid4().hex, sender_id=sender_id,
                        kind=kind, sent_at=now_iso(), text=text, reply_to=reply_to,
                        media_id=media.media_id if media else None)
        message, stored_now = self._chats.append(chat, draft, client_msg_id)
        if stored_now:
            metrics.add_metric(name="MessagesSent", unit="Count", value=1)
            wire = message.to_wire() | ({"media": self._media.to_wire(media)} if media else {})
        else:  # a resend: the sender never heard `sent`, and the first attempt may have died before its fan-out,
            wire = self._wire([message])[0]  # so the message as stored is pushed again (clients dedupe by seq)
        self._fanout.to_members(chat, {"type": "message", "message": wire}, connection_id)
        self._receipts.mark_own(chat, sender_id, message.seq)
        return {"type": "sent", "chat_id": chat.chat_id, "client_msg_id": client_msg_id, "seq": message.seq,
                "message_id": message.message_id, "sent_at": message.sent_at}

    def post_system(self, chat: Chat, event: dict, text: str) -> Message:
        """Append a `system` message recording a change to the chat; answers it (not yet pushed)."""
        draft = Message(chat_id=chat.chat_id, seq=0, message_id=uuid.uuid4().hex, sender_id="", kind="system",
                        sent_at=now_iso(), text=text, event=event)
        message, _ = self._chats.append(chat, draft, draft.message_id)
        return message

    def history(self, user_id: str, chat_id: str, before: int | None, limit: int) -> dict:
        chat, member = self.chat_of_member(user_id, chat_id)
        upper = min(before or chat.last_seq + 1, chat.last_seq + 1)
        floor = visible_after(member.joined_seq)
        page = self._chats.messages_before(chat.chat_id, upper, limit + 1)
        messages = [m for m in self._closing_gaps(chat.chat_id, page, page[0].seq - 1 if page else 0)
                    if m.seq > floor]
        has_more = len(messages) > limit
        wire = self._wire(messages[-limit:])
        while wire and size_of(wire) > MAX_REPLY_BYTES:
            wire.pop(0)
            has_more = True
        return {"chat_id": chat.chat_id, "messages": wire, "has_more": has_more}

    def sync(self, user_id: str, cursors: dict[str, int], limit: int) -> list[dict]:
        """Everything the user missed: `messages` frames per chat, then one `synced` summary (last)."""
        memberships = self._chats.memberships(user_id)
        heads = self._chats.heads(m.chat_id for m in memberships)
        frames, summary = [], []
        for membership in memberships:
            head = heads.get(membership.chat_id)
            known = cursors.get(membership.chat_id)
            if head is None or (known is not None and head.last_seq <= known):
                continue
            start = max(known or 0, visible_after(membership.joined_seq))
            limited = head.last_seq - start > limit
            if limited:
                messages = self._chats.messages_before(head.chat_id, head.last_seq + 1, limit)
                start = messages[0].seq - 1 if messages else start
            else:
                messages = self._chats.messages_after(head.chat_id, start, limit)
            messages = self._closing_gaps(head.chat_id, messages, start)
            frames.extend(self._message_frames(head.chat_id, messages))
            entry = {"chat_id": head.chat_id, "kind": head.kind, "last_seq": head.last_seq,
                     "delivered_seq": membership.delivered_seq, "read_seq": membership.read_seq,
                     "limited": limited}
            if head.name is not None:
                entry["name"] = head.name
            summary.append(entry)
        return frames + [{"type": "synced", "chats": summary}]

    def _closing_gaps(self, chat_id: str, messages: list[Message], after: int) -> list[Message]:
        """Fill the holes dead senders left between `after` and the messages read, once their lease is over.

        A message's `sent_at` is taken after its seq is reserved, so a hole below a message sent more than
        a lease ago can no longer be written by its sender.
        """
        complete, expected = [], after + 1
        for message in messages:
            if message.seq > expected and epoch_from_iso(message.sent_at) < clock.now() - SEND_LEASE:
                complete.extend(self._chats.fill_gap(chat_id, seq) for seq in range(expected, message.seq))
            complete.append(message)
            expected = message.seq + 1
        return complete

    def _message_frames(self, chat_id: str, messages: list[Message]) -> list[dict]:
        frames, batch, batch_bytes = [], [], 0
        for wire in self._wire(messages):
            wire_bytes = size_of(wire) + 1
            if batch and batch_bytes + wire_bytes > MAX_REPLY_BYTES:
                frames.append({"type": "messages", "chat_id": chat_id, "messages": batch})
                batch, batch_bytes = [], 0
            batch.append(wire)
            batch_bytes += wire_bytes
        if batch:
            frames.append({"type": "messages", "chat_id": chat_id, "messages": batch})
        return frames
