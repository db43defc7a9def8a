"""Per-chat delivery state behind ``ParleyClient.events()``: pure logic, no I/O."""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Gap:
    """Messages of ``chat_id`` are held back until the seqs between ``after_seq`` and ``before_seq`` arrive.

    ``after_seq`` is None when the chat has no cursor yet (it was first seen through a message after seq 1).
    """

    chat_id: str
    after_seq: int | None
    before_seq: int


class ChatCursors:
    """Delivers each chat's messages once and in ``seq`` order, whatever order they arrive in.

    A chat's cursor is the highest seq delivered with nothing missing before it (the value ``sync``
    wants). ``add`` returns the messages that can be delivered now; a repeat returns nothing, and a
    message after a hole is held back and reported by ``gaps()`` until the hole is filled.
    ``since`` is the token of the last completed sync pass, kept together with the cursors it vouches for.
    """

    def __init__(self, cursors: Mapping[str, int] | None = None, since: str = ""):
        self._cursors: dict[str, int] = dict(cursors or {})
        self._held: dict[str, dict[int, dict | None]] = {}
        self.since = since
        """Where the next sync pass starts: the token the last completed one ended with ("" before any)."""

    def snapshot(self) -> dict[str, int]:
        """The cursors to send with ``sync``."""
        return dict(self._cursors)

    def knows(self, chat_id: str) -> bool:
        return chat_id in self._cursors

    def start(self, chat_id: str, after_seq: int) -> list[dict]:
        """Set the cursor of a chat seen for the first time; returns the held messages this releases."""
        if chat_id in self._cursors:
            return []
        self._cursors[chat_id] = after_seq
        ready = []
        for seq, message in sorted(self._held.pop(chat_id, {}).items()):
            ready += self._take(chat_id, seq, message)
        return ready

    def add(self, message: dict) -> list[dict]:
        """Take a message from a push, ``sync`` or ``history``; returns those now deliverable, in order."""
        return self._take(message["chat_id"], message["seq"], message)

    def add_own(self, chat_id: str, seq: int) -> list[dict]:
        """Count a message this connection sent (its ``sent`` reply) as seen, without delivering it."""
        return self._take(chat_id, seq, None)

    def gaps(self) -> list[Gap]:
        return [Gap(chat_id, self._cursors.get(chat_id), min(held)) for chat_id, held in self._held.items()]

    def _take(self, chat_id: str, seq: int, message: dict | None) -> list[dict]:
        if seq <= self._cursors.get(chat_id, 0):
            return []
        if seq == 1:
            self._cursors.setdefault(chat_id, 0)
        self._held.setdefault(chat_id, {}).setdefault(seq, message)
        return self._release(chat_id)

    def _release(self, chat_id: str) -> list[dict]:
        cursor = self._cursors.get(chat_id)
        held = self._held.get(chat_id)
        if cursor is None or not held:
            return []
        ready = []
        while cursor + 1 in held:
            cursor += 1
            message = held.pop(cursor)
            if message is not None:
                ready.append(message)
        self._cursors[chat_id] = cursor
        if not held:
            del self._held[chat_id]
        return ready
