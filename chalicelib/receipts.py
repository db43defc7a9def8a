"""Delivered and read cursors, and the receipts they send.

Each member has two cursors per chat (delivered_seq, read_seq) that only move forward; read implies
delivered. The chat keeps, per status, how many members stand at each cursor value, so the lowest cursor
(the "floor") is known after one atomic update whatever the group's size. When a cursor move raises a
floor, the messages between the old and the new floor are now covered for everyone, and their senders are
told once. Sending a message moves the sender's own cursors to it.
"""
from chalicelib.delivery import Delivery
from chalicelib.access import chat_of_member
from chalicelib.errors import BadRequest
from chalicelib.model import Chat
from chalicelib.storage import ChatStore

STATUSES = ("delivered", "read")  # lowest to highest


def floor_of(counts: dict[int, int]) -> int:
    return min((cursor for cursor, count in counts.items() if count > 0), default=0)


def floor_without(counts: dict[int, int], cursor: int) -> int:
    """The lowest cursor of the other members, when one member stands at `cursor`."""
    return floor_of({**counts, cursor: counts.get(cursor, 0) - 1})


def floor_before(counts_after: dict[int, int], changes: dict[int, int]) -> int:
    counts = dict(counts_after)
    for cursor, delta in changes.items():
        counts[cursor] = counts.get(cursor, 0) - delta
    return floor_of(counts)


def move(old: int | None, new: int | None) -> dict[int, int]:
    """The count changes of one member moving from `old` to `new` (None: arriving, or leaving)."""
    changes: dict[int, int] = {}
    if old is not None:
        changes[old] = changes.get(old, 0) - 1
    if new is not None:
        changes[new] = changes.get(new, 0) + 1
    return changes


class Receipts:
    def __init__(self, chats: ChatStore, delivery: Delivery):
        self._chats = chats
        self._delivery = delivery

    def record(self, user_id: str, chat_id: str, status: str, seq: int) -> None:
        chat, _ = chat_of_member(self._chats, user_id, chat_id)
        if seq > chat.last_seq:
            raise BadRequest(f"seq {seq} is beyond the chat's last seq {chat.last_seq}")
        self._advance(chat, user_id, status, seq)

    def cursors(self, user_id: str, chat_id: str) -> dict:
        chat, _ = chat_of_member(self._chats, user_id, chat_id)
        return {"chat_id": chat_id, "receipts": [{"user_id": m.user_id, "delivered_seq": m.delivered_seq,
                                                  "read_seq": m.read_seq} for m in chat.members]}

    def mark_own(self, chat: Chat, sender_id: str, seq: int) -> None:
        self._advance(chat, sender_id, "read", seq)

    def _advance(self, chat: Chat, user_id: str, status: str, seq: int) -> None:
        moved = self._chats.raise_cursors(chat.chat_id, user_id, status, seq)
        if moved:
            self.shift(chat, {name: move(old, new) for name, (old, new) in moved.items()},
                       actor_id=user_id, actor_cursor=seq)

    def shift(self, chat: Chat, changes: dict[str, dict[int, int]], actor_id: str | None = None,
              actor_cursor: int | None = None) -> None:
        """Apply members' cursor count changes and tell the senders whose messages got covered for everyone."""
        counts = self._chats.shift_cursor_counts(chat.chat_id, changes)
        covered = {}
        for status, status_changes in changes.items():
            before, after = floor_before(counts[status], status_changes), floor_of(counts[status])
            if after > before:
                covered[status] = (before, after)
        highest_status: dict[str, str] = {}
        for status in STATUSES:  # read overwrites delivered: each sender hears once, of the highest status
            if status in covered:
                for sender in self._chats.senders_between(chat.chat_id, *covered[status]) - {actor_id, ""}:
                    highest_status[sender] = status
        receipts: dict[tuple, list[str]] = {}
        for sender, status in highest_status.items():
            if chat.kind == "direct":
                frame = (("user_id", actor_id), ("status", status), ("seq", actor_cursor))
            else:  # the lowest cursor among the members other than this sender
                sender_cursor = getattr(chat.member(sender), f"{status}_seq", 0) if chat.member(sender) else 0
                frame = (("status", status), ("seq", floor_without(counts[status], sender_cursor)))
            receipts.setdefault(frame, []).append(sender)
        for frame, senders in receipts.items():
            self._delivery.to_users(senders, {"type": "receipt", "chat_id": chat.chat_id, **dict(frame)})
