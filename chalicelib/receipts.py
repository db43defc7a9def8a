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


def floor_before(counts_after: dict[int, int], old: int | None, new: int | None) -> int:
    counts = dict(counts_after)
    if new is not None:
        counts[new] = counts.get(new, 0) - 1
    if old is not None:
        counts[old] = counts.get(old, 0) + 1
    return floor_of(counts)


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
        moves = self._chats.raise_cursors(chat.chat_id, user_id, status, seq)
        if moves:
            self.shift(chat, user_id, moves)

    def shift(self, chat: Chat, actor_id: str | None, moves: dict[str, tuple[int | None, int | None]]) -> None:
        """Apply cursor moves (None: a member arrives or leaves) and tell senders whose messages got covered."""
        counts = self._chats.shift_cursor_counts(chat.chat_id, moves)
        covered = {}
        for status, (old, new) in moves.items():
            before, after = floor_before(counts[status], old, new), floor_of(counts[status])
            if after > before:
                covered[status] = (before, after)
        highest_status: dict[str, str] = {}
        for status in STATUSES:  # read overwrites delivered: each sender hears once, of the highest status
            if status in covered:
                for sender in self._chats.senders_between(chat.chat_id, *covered[status]) - {actor_id}:
                    highest_status[sender] = status
        for status in STATUSES:
            senders = [sender for sender, reached in highest_status.items() if reached == status]
            if senders:
                frame = self._receipt(chat, actor_id, status, covered[status][1], moves[status][1])
                self._delivery.to_users(senders, frame)

    @staticmethod
    def _receipt(chat: Chat, actor_id: str | None, status: str, floor: int, actor_cursor: int | None) -> dict:
        if chat.kind == "direct" and actor_id and actor_cursor:
            return {"type": "receipt", "chat_id": chat.chat_id, "user_id": actor_id, "status": status,
                    "seq": actor_cursor}
        return {"type": "receipt", "chat_id": chat.chat_id, "status": status, "seq": floor}
