"""A user's settings: stored only where changed from the default, and read by what they govern from the items it
reads anyway, or from a per-container copy at most CACHE_SECONDS old.

- `last_seen` (everyone, contacts, nobody): who sees the user's presence (chalicelib/presence.py).
- `read_receipts`: off, direct chats show neither side's reads to the other (chalicelib/receipts.py).
- `groups_add` (everyone, contacts): who may add the user to a group (chalicelib/groups.py).
- `push_previews`: whether pushes carry the text (chalicelib/notifications.py).
"""
import time
from collections.abc import Iterable

from chalicelib.errors import BadRequest
from chalicelib.storage import UserStore

DEFAULTS: dict[str, object] = {"last_seen": "everyone", "read_receipts": True, "groups_add": "everyone",
                               "push_previews": True}
CHOICES = {"last_seen": ("everyone", "contacts", "nobody"), "groups_add": ("everyone", "contacts")}
CACHE_SECONDS = 30  # how stale a setting read from the cache may be (docs/security.md)
CACHED_USERS = 10_000


class UserSettings:
    def __init__(self, users: UserStore):
        self._users = users
        self._cache: dict[str, tuple[float, dict]] = {}  # user -> (read at, settings with defaults)

    def of(self, user_id: str) -> dict:
        return DEFAULTS | self._users.settings(user_id)

    def update(self, user_id: str, changes: dict) -> dict:
        unknown = sorted(set(changes) - set(DEFAULTS))
        if unknown:
            raise BadRequest(f"unknown settings: {', '.join(unknown)} (known: {', '.join(DEFAULTS)})")
        for name, value in changes.items():
            if name in CHOICES and value not in CHOICES[name]:
                raise BadRequest(f"{name} is one of {', '.join(CHOICES[name])}")
            if name not in CHOICES and type(value) is not bool:
                raise BadRequest(f"{name} must be true or false")
        stored = self._users.update_settings(user_id, changes) if changes else self._users.settings(user_id)
        self._cache.pop(user_id, None)
        return DEFAULTS | stored

    def cached(self, user_ids: Iterable[str]) -> dict[str, dict]:
        """Each user's settings, defaults included, as of at most CACHE_SECONDS ago (one batch read of the rest)."""
        now, wanted = time.monotonic(), list(dict.fromkeys(user_ids))
        stale = [user_id for user_id in wanted if now - self._cache.get(user_id, (-CACHE_SECONDS, {}))[0]
                 >= CACHE_SECONDS]
        if stale:
            if len(self._cache) >= CACHED_USERS:
                self._cache.clear()
            people = self._users.people(stale)
            for user_id in stale:
                self._cache[user_id] = (now, DEFAULTS | (people[user_id].settings if user_id in people else {}))
        return {user_id: self._cache[user_id][1] for user_id in wanted}
