import itertools
from dataclasses import replace

import pytest

from chalicelib.model import Connection
from chalicelib.rate_limits import RateLimits
from chalicelib.services import build
from tests.fakes import RecordingNotifier, RecordingPusher, RecordingQueue, in_memory_stores

# Tests here send (and fuzz every frame) in bursts to set a scene; the limits are tested in test_rate_limits.py.
SETUP_RATE_LIMITS = replace(RateLimits(), **{name: replace(getattr(RateLimits(), name), events=10_000)
                                             for name in ("send", "receipt", "presence", "history", "sync",
                                                          "heartbeat")})


class World:
    """Parley's services on in-memory storage, with users and their sockets."""
    _ids = itertools.count()

    def __init__(self, folder):
        self.pusher = RecordingPusher()
        self.queue = RecordingQueue()
        self.stores = in_memory_stores(folder)
        self.blobs = self.stores.blobs
        self.counters = self.stores.counters
        self.notifier = RecordingNotifier()
        self.services = build(self.stores, self.pusher, tokens=None, accounts=None, notifier=self.notifier,
                              fanout_queue=self.queue,
                              rate_limits=SETUP_RATE_LIMITS)

    def users(self, *names: str) -> None:
        for name in names:
            self.services.stores.users.register(name)

    def connect(self, user_id: str, device: str = "phone") -> str:
        connection_id = f"c{next(self._ids)}"
        self.services.stores.users.add_connection(Connection(connection_id, user_id, device, "https://x/api",
                                                             10**10, 0))
        return connection_id

    def send(self, sender: str, chat_id: str, text: str = "hi", client_msg_id: str | None = None,
             connection_id: str | None = None) -> dict:
        return self.services.messaging.send(sender, chat_id, client_msg_id or f"m{next(self._ids)}", "text", text,
                                            None, connection_id)


START = 1_800_000_000.0  # where `now` holds Parley's clock until a test moves it


@pytest.fixture
def now(monkeypatch) -> list[float]:
    """Parley's clock, held at START; a test moves it by changing `now[0]`."""
    from chalicelib import clock
    moment = [START]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    return moment


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)
