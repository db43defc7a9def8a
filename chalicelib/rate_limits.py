"""Rate limits in fixed windows. Going over a limit is `rate_limited`.

Limits on what costs writes or pushes to others (sends, a group's sends, uploads, typing) are counted in
DynamoDB so that they hold across Lambda containers: each counted event is one conditional write, and a
container that has seen a limit reached answers the rest of that window from memory, so a flood costs no
further writes there. Limits on what only reads or answers the caller (receipts, presence, history, sync,
heartbeats) are counted in each container's memory: a write per frame would double what those frames cost,
and what they guard against is one socket flooding the containers it lands on.
"""
from dataclasses import dataclass

from chalicelib import clock
from chalicelib.errors import RateLimited
from chalicelib.storage import Counters

REMEMBERED_SUBJECTS = 10_000  # subjects a container remembers as over their limit, before it forgets them all


@dataclass(frozen=True)
class Limit:
    events: int
    window: int  # seconds
    what: str  # for the error message
    shared: bool = True  # counted in DynamoDB for every container, or in this container's memory

    def window_start(self, now: float) -> int:
        return int(now) // self.window * self.window


@dataclass(frozen=True)
class RateLimits:
    """Events per user (typing: per user and chat; chat_send: per chat) per window. A deployment sets each count
    with {NAME}_LIMIT, SEND_LIMIT or CHAT_SEND_LIMIT say (config.py)."""
    send: Limit = Limit(30, 10, "messages")
    chat_send: Limit = Limit(200, 10, "messages in one chat")
    upload: Limit = Limit(20, 60, "upload slots")
    typing: Limit = Limit(10, 10, "typing frames per chat")
    receipt: Limit = Limit(200, 10, "receipts", shared=False)
    presence: Limit = Limit(30, 10, "presence queries", shared=False)
    history: Limit = Limit(60, 10, "history pages", shared=False)
    sync: Limit = Limit(20, 10, "syncs", shared=False)
    sync_page: Limit = Limit(100, 10, "sync pages", shared=False)  # continuing a pass: 10,000 chats in 10 s
    heartbeat: Limit = Limit(20, 10, "heartbeats", shared=False)
    report: Limit = Limit(10, 600, "reports")


class RateLimiter:
    def __init__(self, counters: Counters, limits: RateLimits = RateLimits()):
        self._counters = counters
        self._limits = limits
        self._over: dict[str, int] = {}  # subject -> the window it is over its limit in
        self._local: dict[tuple[str, int], int] = {}  # (subject, window) -> events counted here

    def take(self, action: str, *about: str) -> None:
        """Count one `action` (a field of RateLimits) of the user, chat or both in `about`, or raise
        `RateLimited`."""
        limit: Limit = getattr(self._limits, action)
        subject = "#".join((action, *about))
        window = limit.window_start(clock.now())
        if self._over.get(subject) == window or not self._count(limit, subject, window):
            if len(self._over) >= REMEMBERED_SUBJECTS:
                self._over.clear()
            self._over[subject] = window
            raise RateLimited(f"at most {limit.events} {limit.what} every {limit.window} s; try again shortly")

    def _count(self, limit: Limit, subject: str, window: int) -> bool:
        if limit.shared:
            return self._counters.count(subject, window, limit.events)
        if len(self._local) >= REMEMBERED_SUBJECTS:
            self._local = {key: count for key, count in self._local.items() if key[1] == window}
        counted = self._local.get((subject, window), 0)
        if counted >= limit.events:
            return False
        self._local[(subject, window)] = counted + 1
        return True
