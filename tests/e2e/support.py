"""Drives a running local stack over real HTTP and real WebSockets."""
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import websockets

from devstack.aws import free_port

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "test-artifacts"
PASSWORD = "Passw0rd!"
HEARTBEAT_EVERY = 20  # seconds: sockets heartbeat as clients must (at least every 30 s), or presence drops them
HEARTBEAT_REQ = "heartbeat"  # the automatic heartbeats' pongs carry it and are not events


@contextmanager
def running_stack(environment: dict[str, str] | None = None):
    """`python -m devstack` on a free port, its environment extended by `environment`."""
    port = free_port()
    LOGS.mkdir(exist_ok=True)
    log = open(LOGS / f"devstack-{port}.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "devstack", "--port", str(port)], cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1", **(environment or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http("GET", f"{base}/api/health")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local stack did not start; see {log.name}")
            time.sleep(0.1)
        yield Stack(base)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def http(method: str, url: str, body=None, token: str | None = None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Stack:
    _names = itertools.count()

    def __init__(self, base: str):
        self.base = base
        self.api = base + "/api"
        self.ws = base.replace("http", "ws", 1) + "/ws"

    def advance_clock(self, seconds: float) -> None:
        """Move the app's clock forward for everyone on the stack (it never goes back)."""
        assert http("POST", f"{self.base}/_devstack/clock", {"advance_seconds": seconds})[0] == 200

    def run_schedule(self, name: str) -> None:
        """Run a scheduled handler now, and wait for it to finish."""
        assert http("POST", f"{self.base}/_devstack/schedules/{name}")[0] == 204

    def drop(self, user_id: str, device: str) -> None:
        """Cut that socket as a crashed phone would: no close frame, no $disconnect."""
        _, sockets = http("GET", f"{self.base}/_devstack/sockets")
        (connection_id,) = [s["connection_id"] for s in sockets if (s["user_id"], s["device"]) == (user_id, device)]
        assert http("POST", f"{self.base}/_devstack/sockets/{connection_id}/drop")[0] == 204

    def user(self, prefix: str = "user") -> "User":
        """A new, signed-up, logged-in user with a name no other test uses."""
        name = f"{prefix}{next(self._names)}_{os.getpid() % 1000}"
        status, _ = http("POST", f"{self.api}/auth/signup", {"username": name, "password": PASSWORD})
        assert status == 201
        status, login = http("POST", f"{self.api}/auth/login", {"username": name, "password": PASSWORD})
        assert status == 200
        return User(self, name, login["id_token"])


class User:
    def __init__(self, stack: Stack, user_id: str, token: str):
        self.stack, self.user_id, self.token = stack, user_id, token

    def get(self, path: str):
        return http("GET", self.stack.api + path, token=self.token)

    def post(self, path: str, body):
        return http("POST", self.stack.api + path, body, token=self.token)

    async def connect(self, device: str = "phone") -> "Socket":
        return await Socket.open(f"{self.stack.ws}?token={self.token}&device={device}")


class Socket:
    """A WebSocket whose replies are matched to requests by `req`; everything else queues as an event."""
    _reqs = itertools.count()

    def __init__(self, connection):
        self.connection = connection
        self.events: asyncio.Queue = asyncio.Queue()
        self._waiting: dict[str, asyncio.Queue] = {}
        self._reader = asyncio.ensure_future(self._read())
        self._heart = asyncio.ensure_future(self._beat())

    @classmethod
    async def open(cls, url: str) -> "Socket":
        return cls(await websockets.connect(url, max_size=2 ** 20, open_timeout=60))

    async def _read(self):
        try:
            async for raw in self.connection:
                frame = json.loads(raw)
                if frame.get("req") == HEARTBEAT_REQ:
                    continue
                queue = self._waiting.get(frame.get("req"))
                await (queue or self.events).put(frame)
        except websockets.ConnectionClosed:
            pass

    async def _beat(self):
        try:
            while True:
                await asyncio.sleep(HEARTBEAT_EVERY)
                await self.connection.send(json.dumps({"action": "heartbeat", "req": HEARTBEAT_REQ}))
        except websockets.ConnectionClosed:
            pass

    async def tell(self, action: str, **params) -> str:
        """Send a request that has no reply on success; answers its `req` (an error comes as an event)."""
        req = f"r{next(self._reqs)}"
        await self.connection.send(json.dumps({"action": action, "req": req, **params}))
        return req

    async def call(self, action: str, timeout: float = 10, **params) -> dict:
        """Send one request; answer its (single) reply."""
        return (await self.call_many(action, done=lambda frame: True, timeout=timeout, **params))[-1]

    async def call_many(self, action: str, done, timeout: float = 10, **params) -> list[dict]:
        req = f"r{next(self._reqs)}"
        queue = self._waiting[req] = asyncio.Queue()
        await self.connection.send(json.dumps({"action": action, "req": req, **params}))
        replies = []
        try:
            while not replies or not done(replies[-1]):
                replies.append(await asyncio.wait_for(queue.get(), timeout))
                if replies[-1]["type"] == "error":
                    break
        finally:
            del self._waiting[req]
        return replies

    async def sync(self, cursors: dict[str, int], limit: int | None = None) -> tuple[dict[str, list[dict]], dict]:
        """Run a `sync`; answer the messages per chat and the `synced` frame."""
        params = {"cursors": cursors} | ({"limit": limit} if limit else {})
        frames = await self.call_many("sync", done=lambda frame: frame["type"] == "synced", **params)
        assert frames[-1]["type"] == "synced", frames[-1]
        messages: dict[str, list[dict]] = {}
        for frame in frames[:-1]:
            messages.setdefault(frame["chat_id"], []).extend(frame["messages"])
        return messages, frames[-1]

    async def sync_pages(self, since: str, limit: int = 100, pages: int | None = None) \
            -> tuple[list[dict], list[dict], str | None]:
        """Run a pass of the changes form of `sync`, or only its first `pages` pages; answer its messages, its
        `synced` entries and the token it ends with (None if stopped early)."""
        messages: list[dict] = []
        entries: list[dict] = []
        step: dict = {}
        while pages is None or pages > 0:
            frames = await self.call_many("sync", done=lambda frame: frame["type"] == "synced", timeout=60,
                                          since=since, limit=limit, **step)
            assert frames[-1]["type"] == "synced", frames[-1]
            messages += [message for frame in frames[:-1] for message in frame["messages"]]
            entries += frames[-1]["chats"]
            if "since" in frames[-1]:
                return messages, entries, frames[-1]["since"]
            step = {"page": frames[-1]["next"]}
            pages = None if pages is None else pages - 1
        return messages, entries, None

    async def send_raw(self, data) -> dict:
        await self.connection.send(data)
        return await self.next_event()

    async def next_event(self, timeout: float = 10) -> dict:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def events_of(self, kind: str, count: int, timeout: float = 20) -> list[dict]:
        found = []
        while len(found) < count:
            frame = await self.next_event(timeout)
            if frame["type"] == kind:
                found.append(frame)
        return found

    async def no_event(self, wait: float = 0.5, kind: str | None = None) -> None:
        """Fail if an event (of `kind`, if given) arrives within `wait` seconds; other events are dropped."""
        deadline = asyncio.get_running_loop().time() + wait
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                frame = await asyncio.wait_for(self.events.get(), left)
            except TimeoutError:
                return
            if kind is None or frame["type"] == kind:
                raise AssertionError(f"unexpected event {frame}")

    async def close(self):
        self._heart.cancel()
        await self.connection.close()
        await self._reader
