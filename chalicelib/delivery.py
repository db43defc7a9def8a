"""Who receives a frame, and what happens when a socket is gone."""
import json
from collections.abc import Callable, Iterable
from typing import Protocol

from chalicelib import clock
from chalicelib.model import Connection, Reach
from chalicelib.observability import logger
from chalicelib.storage import UserStore

# @connections answers 410 for a socket until its $connect handler has returned, and $connect stores the socket
# before that: a socket this young that answers 410 is most likely still opening, not gone.
HANDSHAKE_GRACE = 30  # seconds; API Gateway gives $connect 29 s at most


class Pusher(Protocol):
    def push(self, frames_by_connection: dict[Connection, list[dict]]) -> list[Connection]:
        """Send each connection its frames, in parallel; answer the connections that are gone (410)."""

    def close(self, endpoint: str, connection_id: str) -> None:
        """Close a socket from the server's side; one already gone is left as it is."""


def encode(frame: dict) -> bytes:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode()


class Delivery:
    def __init__(self, users: UserStore, pusher: Pusher):
        self.users = users
        self._pusher = pusher
        self._forget: Callable[[Connection], object] = users.remove_connection
        self._watchers: list[Callable[[dict, dict[str, Reach]], None]] = []

    def when_gone(self, forget: Callable[[Connection], object]) -> None:
        """Hand the sockets a push finds gone (410) to `forget`, rather than only removing them from their user."""
        self._forget = forget

    def watch(self, watcher: Callable[[dict, dict[str, Reach]], None]) -> None:
        """Call `watcher(frame, reach)` after each frame pushed to users' sockets (push notifications start there)."""
        self._watchers.append(watcher)

    def reply_many(self, connection: Connection, frames: list[dict]) -> None:
        self._deliver({connection: frames})

    def reach_of(self, user_ids: Iterable[str]) -> dict[str, Reach]:
        return self.users.reach_of(user_ids)

    def to_users(self, user_ids: Iterable[str], frame: dict, skip_connection_id: str | None = None) -> int:
        """Push `frame` to every live socket of these users; answers how many sockets were tried."""
        return self.to_sockets(self.reach_of(user_ids), frame, skip_connection_id)

    def to_sockets(self, reach: dict[str, Reach], frame: dict, skip_connection_id: str | None = None) -> int:
        """Push `frame` to the sockets of these users (as `reach_of` found them); answers how many were tried."""
        targets = {connection: [frame] for user in reach.values()
                   for connection in user.connections if connection.connection_id != skip_connection_id}
        self._deliver(targets)
        for watcher in self._watchers:
            watcher(frame, reach)
        return len(targets)

    def close(self, endpoint: str, connection_id: str) -> None:
        self._pusher.close(endpoint, connection_id)

    def _deliver(self, frames_by_connection: dict[Connection, list[dict]]) -> None:
        if not frames_by_connection:
            return
        opening_since = clock.now() - HANDSHAKE_GRACE
        for gone in self._pusher.push(frames_by_connection):
            if gone.connected_at > opening_since:
                continue  # if it really is gone, the presence sweep removes it once its heartbeats stop
            try:
                self._forget(gone)
            except Exception:  # tidying up must never fail the send or fan-out that found the socket gone
                logger.exception("could not forget a gone socket; the presence sweep will",
                                 extra={"connection_id": gone.connection_id})
