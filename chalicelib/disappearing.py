"""Disappearing messages: a chat's `disappear_after` gives the messages stored after it an `expires_at`; from then on
they are served as tombstones (chalicelib/messaging `with_media`), and a sweep every minute deletes them for
everyone, media and all, as a delete does. `seq` stays gap-free: the message's item stays, emptied.

The sweep reads the sparse index `expiring` (expiry_hour, disappears_at), which holds only messages that are due to
disappear and not yet deleted: each hour's partition from LOOKBACK_HOURS ago to now, up to now. So it costs one small
Query per hour looked at and then only what expired, never a scan.
"""
from chalicelib import clock
from chalicelib.relations import Relations
from chalicelib.storage import MessageStore

LOOKBACK_HOURS = 48  # how long the sweep may have been down and still find everything it missed


class Disappearing:
    def __init__(self, messages: MessageStore, relations: Relations):
        self._messages = messages
        self._relations = relations

    def sweep(self) -> int:
        """Delete every message whose time has come; answers how many."""
        now = int(clock.now())
        due = [message for hour in range(now // 3600 - LOOKBACK_HOURS, now // 3600 + 1)
               for message in self._messages.expiring(hour, now)]
        for chat_id, seq in due:
            self._relations.erase(chat_id, seq)
        return len(due)
