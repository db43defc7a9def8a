"""The bench's users: who plays which part, their accounts, and the sockets that time what reaches them.

Users act through the SDK (sign-up, login, chats, sends, receipts, sync). Users who only receive hold a bare
WebSocket instead, a `Listener`, which stamps each pushed message the moment it comes off the wire: an SDK
client would reorder, deduplicate and backfill first, which is work for an app, not for a stopwatch.

Every socket says `heartbeat` regularly, as SDK clients do: presence drops a socket that has been silent for a
minute. The bench sends them all itself (`Heartbeats`), so that it can hold them while an operation's cost is
being counted.
"""
import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlencode

import websockets
from parley_sdk import ParleyClient, ParleyError, Tokens

PASSWORD = "Bench-Passw0rd!"
PARALLEL_SIGNUPS = 4
PARALLEL_HANDSHAKES = 16
# The SDK beats every 30 s; the bench every 45 s, still well inside presence's 60 s window, so that a thousand
# sockets keep the local moto (one request at a time) busy a third less.
HEARTBEAT_SECONDS = 45.0
NEVER = 24 * 3600.0  # the SDK's own heartbeats, replaced by the bench's
LISTENER = "listener"  # the device name of listening sockets (then -1, -2, ...)


def user(index: int) -> str:
    return f"u{index:04d}"


def device_name(number: int) -> str:
    return f"{LISTENER}-{number}"


class Device(NamedTuple):
    user: str
    number: int  # the user's first device, second device, ...


@dataclass(frozen=True)
class Cast:
    """Parts by user index. u0000 is the admin: it creates the groups and sends to them and to the crowds.
    From u0001 up come the crowds, the group members (a group of n is the admin and u0001..u{n-1}) and the sync
    user's peers. From the top down come the 1:1 pairs (senders, then receivers) and below them the sync user and
    the heavy sync user (whose thousands of peers have ids of their own)."""
    population: int
    pairs: int
    crowd_users: int

    admin: str = user(0)

    def members(self, group_size: int) -> list[str]:
        """A group's members besides the admin."""
        return [user(i) for i in range(1, group_size)]

    def crowd(self, connected: int) -> list[Device]:
        """The listening devices of a crowd of `connected` sockets, the admin's making up the count: one each
        for u0001 up to u{crowd_users}, then second devices from u0001 up."""
        listeners = max(connected - 1, 0)
        firsts = min(listeners, self.crowd_users)
        return ([Device(user(i), 1) for i in range(1, firsts + 1)]
                + [Device(user(i), 2) for i in range(1, listeners - firsts + 1)])

    def sync_peers(self, count: int) -> list[str]:
        return [user(i) for i in range(1, count + 1)]

    @property
    def syncer(self) -> str:
        return user(self.population - 2 * self.pairs - 1)

    @property
    def heavy_syncer(self) -> str:
        """The user with thousands of chats, just below the sync user."""
        return user(self.population - 2 * self.pairs - 2)

    @staticmethod
    def heavy_peers(count: int) -> list[str]:
        """The heavy user's peers: ids of their own, never signed up (only their chats are written)."""
        return [f"h{i:05d}" for i in range(1, count + 1)]

    def pair_senders(self) -> list[str]:
        return [user(i) for i in range(self.population - 2 * self.pairs, self.population - self.pairs)]

    def pair_receivers(self) -> list[str]:
        return [user(i) for i in range(self.population - self.pairs, self.population)]


class Accounts:
    """Users signed up and logged in through the SDK, a few at a time, the first time they are needed."""

    def __init__(self, base: str):
        self._base = base
        self._tokens: dict[str, Tokens] = {}

    async def tokens(self, names: list[str]) -> dict[str, Tokens]:
        limit = asyncio.Semaphore(PARALLEL_SIGNUPS)

        async def enrol(name: str) -> None:
            async with limit, ParleyClient(self._base) as client:
                await client.signup(name, PASSWORD)
                await client.login(name, PASSWORD)
                self._tokens[name] = client.tokens
        await asyncio.gather(*(enrol(name) for name in dict.fromkeys(names) if name not in self._tokens))
        return {name: self._tokens[name] for name in names}


class Heartbeats:
    """A heartbeat from every socket the bench holds, every HEARTBEAT_SECONDS (first ones spread at random),
    except while paused."""

    def __init__(self, rng: random.Random):
        self._rng = rng
        self._running = asyncio.Event()
        self._running.set()
        self._beating: dict[object, asyncio.Task] = {}

    def keep_alive(self, owner, beat: Callable[[], Awaitable]) -> None:
        self._beating[owner] = asyncio.ensure_future(self._beat(beat, self._rng.uniform(0, HEARTBEAT_SECONDS)))

    def release(self, owner) -> None:
        self._beating.pop(owner).cancel()

    async def _beat(self, beat: Callable[[], Awaitable], first_after: float) -> None:
        await asyncio.sleep(first_after)
        while True:
            await self._running.wait()
            try:
                await beat()
            except ParleyError:  # no pong in time: an overloaded stack; the next one may fare better
                pass
            await asyncio.sleep(HEARTBEAT_SECONDS)

    @asynccontextmanager
    async def paused(self):
        self._running.clear()
        try:
            yield
        finally:
            self._running.set()


async def actor(base: str, tokens: Tokens, heartbeats: Heartbeats) -> ParleyClient:
    client = ParleyClient(base, tokens=tokens, heartbeat_interval=NEVER)
    await client.connect(device="actor")
    heartbeats.keep_alive(client, client.heartbeat)
    return client


class Expected:
    """The arrivals of one tagged message, done when `count` sockets have it."""

    def __init__(self, count: int):
        self.count = count
        self.times: list[float] = []
        self._done = asyncio.Event()
        if count == 0:
            self._done.set()

    def add(self, when: float) -> None:
        self.times.append(when)
        if len(self.times) >= self.count:
            self._done.set()

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
            return True
        except TimeoutError:
            return False


class Arrivals:
    """Where listeners report what reached them, keyed by the message's text (a tag unique to each send).

    In the chats of `acknowledging`, a listener answers each message with a `delivered` and a `read` receipt, as
    an app in the foreground does, and then reports `acknowledged(tag)`."""

    def __init__(self):
        self._expected: dict[str, Expected] = {}
        self.acknowledging: set[str] = set()

    @staticmethod
    def acknowledged(tag: str) -> str:
        return f"acknowledged {tag}"

    def expect(self, tag: str, count: int) -> Expected:
        self._expected[tag] = Expected(count)
        return self._expected[tag]

    def record(self, tag: str, when: float) -> None:
        expected = self._expected.get(tag)
        if expected is not None:
            expected.add(when)

    def forget(self, tag: str) -> None:
        self._expected.pop(tag, None)


class Listener:
    def __init__(self, connection, arrivals: Arrivals):
        self._connection = connection
        self._arrivals = arrivals
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, ws_url: str, tokens: Tokens, device: int, arrivals: Arrivals) -> "Listener":
        query = urlencode({"token": tokens.id_token, "device": device_name(device)})
        return cls(await websockets.connect(f"{ws_url}?{query}", max_size=2 ** 20, open_timeout=60,
                                            ping_interval=None), arrivals)

    async def heartbeat(self) -> None:
        await self._connection.send(json.dumps({"action": "heartbeat"}))

    async def _read(self) -> None:
        try:
            async for raw in self._connection:
                when = time.perf_counter()
                frame = json.loads(raw)
                if frame.get("type") == "message":
                    message = frame["message"]
                    self._arrivals.record(message.get("text"), when)
                    if message["chat_id"] in self._arrivals.acknowledging:
                        await self._acknowledge(message)
        except websockets.ConnectionClosed:
            pass

    async def _acknowledge(self, message: dict) -> None:
        for status in ("delivered", "read"):
            await self._connection.send(json.dumps({"action": "receipt", "chat_id": message["chat_id"],
                                                    "seq": message["seq"], "status": status}))
        self._arrivals.record(Arrivals.acknowledged(message.get("text")), time.perf_counter())

    async def close(self) -> None:
        await self._connection.close()
        await self._reader


class Crowd:
    """Listening devices, opened and closed so that exactly the chosen ones are online.

    Devices open PARALLEL_HANDSHAKES at a time; then each must be among the sockets the app would push to, or
    it is opened again, alone. (A user's $connect announces their presence to their contacts; a push to a
    socket whose own $connect has not finished is answered 410, and the app then deletes that connection. So
    contacts who connect at once can silently lose each other's sockets.)
    """

    def __init__(self, ws_url: str, accounts: Accounts, arrivals: Arrivals, heartbeats: Heartbeats,
                 registered: Callable[[list[str]], Awaitable[dict[str, set[str]]]]):
        self._ws_url = ws_url
        self._accounts = accounts
        self._arrivals = arrivals
        self._heartbeats = heartbeats
        self._registered = registered
        self._listeners: dict[Device, Listener] = {}

    def sockets_of(self, users: list[str]) -> int:
        wanted = set(users)
        return sum(device.user in wanted for device in self._listeners)

    async def online(self, devices: list[Device]) -> None:
        wanted = set(devices)
        await asyncio.gather(*(self._close(device) for device in list(self._listeners) if device not in wanted))
        await self._accounts.tokens([device.user for device in devices])
        opening = [device for device in devices if device not in self._listeners]
        await self._open_all(opening)
        for device in await self._unregistered(opening):
            await self.reconnect(device)
        lost = await self._unregistered(opening)
        if lost:
            raise RuntimeError(f"{len(lost)} sockets lost their registration even when opened alone: {lost[:3]}")

    async def _open_all(self, devices: list[Device]) -> None:
        limit = asyncio.Semaphore(PARALLEL_HANDSHAKES)

        async def open_one(device: Device) -> None:
            async with limit:
                await self._open(device)
        await asyncio.gather(*(open_one(device) for device in devices))

    async def _unregistered(self, devices: list[Device]) -> list[Device]:
        registered = await self._registered(list({device.user for device in devices}))
        return [device for device in devices if device_name(device.number) not in registered[device.user]]

    async def reconnect(self, device: Device) -> None:
        await self._close(device)
        await self._open(device)

    async def close(self) -> None:
        await self.online([])

    async def abandon(self, cut: Callable[[], Awaitable]) -> None:
        """Let every listener go without a goodbye: `cut` drops the sockets on the server's side (no $disconnect,
        as when a phone dies); then they are closed here."""
        for listener in self._listeners.values():
            self._heartbeats.release(listener)
        await cut()
        await asyncio.gather(*(listener.close() for listener in self._listeners.values()))
        self._listeners.clear()

    async def _open(self, device: Device) -> None:
        (tokens,) = (await self._accounts.tokens([device.user])).values()
        listener = await Listener.open(self._ws_url, tokens, device.number, self._arrivals)
        self._listeners[device] = listener
        self._heartbeats.keep_alive(listener, listener.heartbeat)

    async def _close(self, device: Device) -> None:
        listener = self._listeners.pop(device)
        self._heartbeats.release(listener)
        await listener.close()
