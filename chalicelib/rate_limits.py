"""Per-user rate limits, counted in fixed windows in DynamoDB so that they hold across Lambda containers.

Each counted event is one conditional write. A container that has seen a limit reached answers the rest of
that window from memory, so a flood costs no further writes there. Going over a limit is `rate_limited`.
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

    def window_start(self, now: float) -> int:
        return int(now) // self.window * self.window


@dataclass(frozen=True)
class RateLimits:
    """Events per user (typing: per user and chat) per window. A deployment sets the counts with SEND_LIMIT,
    UPLOAD_LIMIT and TYPING_LIMIT (config.py)."""
    send: Limit = Limit(30, 10, "messages")
    upload: Limit = Limit(20, 60, "upload slots")
    typing: Limit = Limit(10, 10, "typing frames per chat")


class RateLimiter:
    def __init__(self, counters: Counters, limits: RateLimits = RateLimits()):
        self._counters = counters
        self._limits = limits
        self._over: dict[str, int] = {}  # subject -> the window it is over its limit in

    def take(self, action: str, *about: str) -> None:
        """Count one `action` ("send", "upload", "typing") of the user (and chat) in `about`, or raise
        `RateLimited`."""
        limit: Limit = getattr(self._limits, action)
        subject = "#".join((action, *about))
        window = limit.window_start(clock.now())
        if self._over.get(subject) == window or not self._counters.count(subject, window, limit.events):
            if len(self._over) >= REMEMBERED_SUBJECTS:
                self._over.clear()
            self._over[subject] = window
            raise RateLimited(f"at most {limit.events} {limit.what} every {limit.window} s; try again shortly")
