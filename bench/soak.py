"""Load and soak on the local stack: many sockets, random disconnects and reconnects, then a full audit.

    .venv/bin/python -m bench.soak                                  # 200 sockets, 20,000 messages at 25/s (~20 min)
    .venv/bin/python -m bench.soak --sockets 40 --messages 1000     # the short version `make test` runs
    .venv/bin/python -m bench.soak --url http://127.0.0.1:8000       # against a stack already running

Without `--url` it starts its own `python -m devstack` and stops it afterwards. Users sign up and log in over
REST; they share 1:1 chats and groups (small ones, and one above the fan-out threshold when there are
enough users, whose frames go through SQS). Client processes each drive their share of the sockets with
asyncio and `websockets`: every device sends its quota of messages to its chats, one at a time, and now and
then leaves — a clean close, or a crash (POST /_devstack/sockets/{id}/drop: no close frame, no
$disconnect), sometimes with a send in flight — and comes back, catching up with `sync` from its cursors
and `history` for what `sync` leaves out. A send whose answer was lost goes again with the same
client_msg_id. The fan-out consumer is crashed on purpose now and then (POST /_devstack/faults/fan_out).

When every device has sent its quota, each one catches up a last time, and the audit checks, for every
member device of every chat: it holds every stored message exactly once after dedupe by seq, the same
message at each seq as storage, nothing else; that storage holds seqs 1..last_seq once each, and each
client_msg_id that got `sent` once, at the seq its `sent` named; that every `messages`/`history` page was in
ascending order; and counts the repeats an open socket got live (the contract allows them only after a
retried push). The figures go to stdout, and as JSON to `--json` (default: bench/results/soak-*.json).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Passw0rd!"
FANOUT_THRESHOLD = 100  # members; above it a group's frames go through the SQS fan-out
SLOW_SEND_SECONDS = 2.0  # a send that took longer is kept with its wall-clock times, to see a storm drain


@dataclass
class Config:
    sockets: int = 200
    messages: int = 20_000
    procs: int = 3
    seed: int = 1
    url: str | None = None
    # messages a second offered by all devices together, each device pausing between its sends as a person
    # would (0: every device sends again as soon as it is answered, which saturates any stack: once answers
    # take longer than the heartbeat timeout, sockets are dropped in waves)
    rate: float = 25.0
    # the devices' first handshakes spread over this long, and their last catch-ups too: a thousand syncs at
    # once queue behind moto's one lock for minutes
    ramp_seconds: float = 30.0
    disconnect_every: int = 25  # sends per device between disconnects, on average
    drop_share: float = 0.6  # of disconnects: crashes (the rest close cleanly)
    mid_send_share: float = 0.3  # of crashes: while a send is in flight
    crash_fanout_every: float = 20.0  # seconds between crashed fan-out invocations (0: never)
    # throttling storms: every DynamoDB request of the app throttled for storm_seconds, the k-th starting
    # k * storm_every seconds into the sending; what a storm sends to the fan-out's dead-letter queue is redriven
    storms: int = 2
    storm_seconds: float = 30.0
    storm_every: float = 300.0
    redrive_after: float = 15.0  # seconds after a storm's end
    big_group_share: float = 0.01  # of messages, to the group above the fan-out threshold
    group_share: float = 0.4  # of messages, to the small groups
    send_timeout: float = 90.0
    reply_timeout: float = 30.0  # sync, history
    # an unanswered heartbeat: the client drops the socket and reconnects. Generous, because moto serves one
    # request at a time: a burst of reconnects and syncs queues everything behind it for tens of seconds, and a
    # tight timeout turns that queue into a storm of reconnects that feeds itself
    heartbeat_timeout: float = 60.0
    heartbeat_every: float = 25.0
    deadline: float = 4 * 3600.0  # seconds of sending at most; then the devices stop and what was sent is audited
    json_path: str | None = None
    quiet: bool = False


# HTTP ---------------------------------------------------------------------------------------------------

def http(method: str, url: str, body=None, token: str | None = None, timeout: float = 60):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw) if raw else None
        except ValueError:
            return error.code, raw.decode(errors="replace")


def free_port() -> int:
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalStack:
    """`python -m devstack` in its own process group; its log in test-artifacts/."""

    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        logs = ROOT / "test-artifacts"
        logs.mkdir(exist_ok=True)
        self.log_path = logs / f"soak-devstack-{self.port}.log"
        self.moto_endpoint: str | None = None
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> LocalStack:
        log = open(self.log_path, "wb")
        self._process = subprocess.Popen([sys.executable, "-m", "devstack", "--port", str(self.port)], cwd=ROOT,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        deadline = time.monotonic() + 120
        while True:
            try:
                if http("GET", f"{self.base}/api/health", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the local stack did not start; see {self.log_path}")
            time.sleep(0.2)
        match = re.search(r"moto on (http://\S+)", self.log_path.read_text(errors="replace"))
        self.moto_endpoint = match[1] if match else None
        return self

    def __exit__(self, *exc) -> None:
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGINT)
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        except ProcessLookupError:
            pass
        self._process = None


# The plan: users, devices and chats ---------------------------------------------------------------------

@dataclass
class Plan:
    base: str
    users: dict[str, str] = field(default_factory=dict)  # user_id -> id_token
    devices: list[tuple[str, str]] = field(default_factory=list)  # (user_id, device)
    chats: dict[str, dict] = field(default_factory=dict)  # chat_id -> {"kind", "members", "category"}


def make_plan(config: Config, base: str, log) -> Plan:
    rng = random.Random(config.seed)
    plan = Plan(base=base)
    user_count = max(4, math.ceil(config.sockets * 0.6))
    run = f"{os.getpid() % 10000}{rng.randrange(10**4):04d}"
    names = [f"s{run}u{i}" for i in range(user_count)]

    def account(name: str) -> tuple[str, str]:
        status, body = http("POST", f"{base}/api/auth/signup", {"username": name, "password": PASSWORD})
        assert status == 201, (status, body)
        status, body = http("POST", f"{base}/api/auth/login", {"username": name, "password": PASSWORD})
        assert status == 200, (status, body)
        return name, body["id_token"]

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        plan.users = dict(pool.map(account, names))
    log(f"  {user_count} users signed up and logged in in {time.monotonic() - started:.1f} s")
    two_devices = config.sockets - user_count
    for i, name in enumerate(names):
        plan.devices.append((name, "phone"))
        if i < two_devices:
            plan.devices.append((name, "laptop"))

    def create(args) -> tuple[str, dict]:
        creator, body, members, category = args
        status, answer = http("POST", f"{base}/api/chats", body, token=plan.users[creator])
        assert status in (200, 201), (status, answer)
        return answer["chat"]["chat_id"], {"kind": body["kind"], "members": members, "category": category}

    requests = []
    pairs = {tuple(sorted((names[i], names[(i + step) % user_count]))) for i in range(user_count) for step in (1, 7)
             if names[i] != names[(i + step) % user_count]}
    for a, b in sorted(pairs):
        requests.append((a, {"kind": "direct", "user_id": b}, [a, b], "direct"))
    group_count = max(1, user_count // 6)
    for g in range(group_count):
        members = rng.sample(names, rng.randint(3, min(12, user_count)))
        requests.append((members[0], {"kind": "group", "name": f"group {g}", "members": members[1:]}, members,
                         "group"))
    if user_count > FANOUT_THRESHOLD:
        members = rng.sample(names, min(user_count, FANOUT_THRESHOLD + 10))
        requests.append((members[0], {"kind": "group", "name": "everyone", "members": members[1:]}, members,
                         "big group"))
    with ThreadPoolExecutor(8) as pool:
        plan.chats = dict(pool.map(create, requests))
    log(f"  {len(plan.chats)} chats ({len(pairs)} direct, {len(requests) - len(pairs)} groups)")
    return plan


# A client process -------------------------------------------------------------------------------------

class Closed(Exception):
    pass


class Device:
    """One device of a user: its socket (re-opened as often as it takes) and what it holds of each chat."""

    def __init__(self, worker: Worker, user_id: str, name: str, chats: list[str], quota: int, seed: int):
        self.worker, self.user_id, self.name, self.chats, self.quota = worker, user_id, name, chats, quota
        self.rng = random.Random(seed)
        self.held: dict[str, dict[int, str]] = {chat_id: {} for chat_id in chats}
        self.source = {"live": 0, "sync": 0, "history": 0}
        self.stats = {"sent": 0, "resent": 0, "conflicts": 0, "internal": 0, "timeouts": 0, "clean_closes": 0,
                      "drops": 0, "drops_mid_send": 0, "connects": 0, "live_repeats_same_socket": 0,
                      "unordered_pages": 0, "mismatches": 0, "limited_syncs": 0, "history_pages": 0,
                      "silent_sockets": 0, "unsent_at_deadline": 0}
        self.sent: dict[str, list] = {}  # client_msg_id -> [chat_id, seq, message_id]
        self.latencies: list[float] = []
        self.slow_sends: list[list[float]] = []  # [started, finished], wall clock
        self.ws = None
        self.epoch = 0
        self._reader: asyncio.Task | None = None
        self._beat: asyncio.Task | None = None
        self._waiting: dict[str, tuple[asyncio.Future, list, str | None]] = {}
        self._live_seen: set[tuple[str, int]] = set()
        self._reqs = 0
        self.activity = time.monotonic()

    @property
    def label(self) -> str:
        return f"{self.name}.{self.epoch}"

    # Socket -------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open a socket and catch up; again, on a fresh socket, until both work."""
        for attempt in range(30):
            try:
                await self._open()
                # A socket the server does not know answers nothing: a heartbeat tells before anything else.
                (pong,) = await self.request("heartbeat", timeout=self.worker.config.heartbeat_timeout)
                if pong.get("type") != "pong":
                    raise Closed()
                await self.catch_up()
                return
            except TimeoutError:
                self.stats["silent_sockets"] += 1
            except Closed:
                pass
            await self.close()
            await asyncio.sleep(min(0.2 * 2 ** attempt, 5) * (0.5 + self.rng.random()))
        raise RuntimeError(f"{self.label} cannot get a working socket")

    async def _open(self) -> None:
        import websockets
        self.epoch += 1
        url = f"{self.worker.ws_url}?token={self.worker.tokens[self.user_id]}&device={self.label}"
        try:
            self.ws = await websockets.connect(url, max_size=2 ** 21, open_timeout=60, ping_interval=None,
                                               close_timeout=5)
        except websockets.InvalidStatus as error:
            if error.response.status_code in (401, 403):  # ID tokens live an hour: log in again
                await self.worker.log_in_again(self.user_id)
            raise Closed() from error
        except (TimeoutError, OSError, websockets.WebSocketException) as error:
            raise Closed() from error
        self.stats["connects"] += 1
        self._live_seen = set()
        self._reader = asyncio.ensure_future(self._read(self.ws))
        self._beat = asyncio.ensure_future(self._heartbeats(self.ws))

    async def _heartbeats(self, ws) -> None:
        """A heartbeat every 25 s, as the contract asks; a socket that stops answering is closed here."""
        while self.ws is ws:
            await asyncio.sleep(self.worker.config.heartbeat_every)
            if self.ws is not ws:
                return
            try:
                await self.request("heartbeat", timeout=self.worker.config.heartbeat_timeout)
            except TimeoutError:
                self.stats["silent_sockets"] += 1
                await ws.close()
                return
            except Closed:
                return

    async def _read(self, ws) -> None:
        import websockets
        try:
            async for raw in ws:
                self.activity = time.monotonic()
                frame = json.loads(raw)
                waiting = self._waiting.get(frame.get("req"))
                if waiting is not None:
                    future, frames, final = waiting
                    frames.append(frame)
                    if (final is None or frame.get("type") in (final, "error")) and not future.done():
                        future.set_result(frames)
                elif frame.get("type") == "message":
                    message = frame["message"]
                    key = (message["chat_id"], message["seq"])
                    if key in self._live_seen:
                        self.stats["live_repeats_same_socket"] += 1
                    self._live_seen.add(key)
                    self.take(message, "live")
        except websockets.ConnectionClosed:
            pass
        finally:
            for future, _, _ in list(self._waiting.values()):
                if not future.done():
                    future.set_exception(Closed())

    async def request(self, action: str, final: str | None = None, timeout: float | None = None,
                      **params) -> list[dict]:
        timeout = timeout or self.worker.config.reply_timeout
        self._reqs += 1
        req = f"{self.label}:{self._reqs}"
        future = asyncio.get_running_loop().create_future()
        self._waiting[req] = (future, [], final)
        try:
            try:
                await self.ws.send(json.dumps({"action": action, "req": req, **params}))
            except Exception as error:
                raise Closed() from error
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(req, None)
            if future.done() and not future.cancelled():
                future.exception()  # the reader's Closed, when the send failed first, is seen here, not logged

    async def close(self, crash: bool = False) -> None:
        if self.ws is None:
            return
        if crash:
            await self.worker.drop(self.label)
        else:
            await self.ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 30)
            except TimeoutError:
                self._reader.cancel()
        if self._beat is not None and self._beat is not asyncio.current_task():
            self._beat.cancel()
        self.ws = None

    # Holding messages ---------------------------------------------------------------------------------

    def take(self, message: dict, source: str) -> None:
        held = self.held.get(message["chat_id"])
        if held is None:
            self.stats["mismatches"] += 1  # a chat this device is not in
            return
        known = held.get(message["seq"])
        if known is None:
            held[message["seq"]] = message["message_id"]
            self.source[source] += 1
        elif known != message["message_id"]:
            self.stats["mismatches"] += 1

    def cursor(self, chat_id: str) -> int:
        held, seq = self.held[chat_id], 0
        while seq + 1 in held:
            seq += 1
        return seq

    def take_page(self, messages: list[dict], source: str) -> None:
        seqs = [m["seq"] for m in messages]
        if seqs != sorted(set(seqs)):
            self.stats["unordered_pages"] += 1
        for message in messages:
            self.take(message, source)

    async def catch_up(self) -> None:
        """`sync` from the cursors, then `history` back to the cursor where `sync` gave only the newest."""
        cursors = {chat_id: self.cursor(chat_id) for chat_id in self.chats}
        frames = await self.request("sync", final="synced", cursors=cursors, limit=200)
        if frames[-1]["type"] != "synced":
            raise Closed()
        for frame in frames[:-1]:
            self.take_page(frame["messages"], "sync")
        for chat in frames[-1]["chats"]:
            if chat["limited"]:
                self.stats["limited_syncs"] += 1
            await self.backfill(chat["chat_id"], chat["last_seq"])

    async def backfill(self, chat_id: str, last_seq: int) -> None:
        held = self.held[chat_id]
        while True:
            missing = [seq for seq in range(1, last_seq + 1) if seq not in held]
            if not missing:
                return
            (page,) = await self.request("history", chat_id=chat_id, before=missing[-1] + 1, limit=100)
            if page["type"] != "history" or not page["messages"]:
                raise Closed()
            self.stats["history_pages"] += 1
            self.take_page(page["messages"], "history")

    # Sending ------------------------------------------------------------------------------------------

    def pick_chat(self) -> str:
        """A direct chat, a small group or the big group by the config's shares, then one of that kind evenly.
        (Weighing each chat by its share alone sent a fifth of all messages to the big group: most users are
        in it, and each has only a few chats of the other kinds.)"""
        config = self.worker.config
        shares = {"direct": 1 - config.group_share - config.big_group_share, "group": config.group_share,
                  "big group": config.big_group_share}
        by_category: dict[str, list[str]] = {}
        for chat_id in self.chats:
            by_category.setdefault(self.worker.chats[chat_id]["category"], []).append(chat_id)
        categories = list(by_category)
        chosen = self.rng.choices(categories, [shares[category] for category in categories])[0]
        return self.rng.choice(by_category[chosen])

    async def send(self, chat_id: str, client_msg_id: str, crash_midway: bool = False) -> None:
        """Send until a `sent` comes back: across lost answers, reconnects and `conflict`s."""
        params = {"chat_id": chat_id, "client_msg_id": client_msg_id, "kind": "text",
                  "text": f"{client_msg_id} from {self.user_id}"}
        started, first = time.monotonic(), True
        while True:
            if self.ws is None:
                await self.connect()
            try:
                pending = asyncio.ensure_future(self.request("send", timeout=self.worker.config.send_timeout,
                                                             **params))
                if crash_midway:
                    crash_midway = False
                    await asyncio.sleep(self.rng.random() * 0.05)
                    self.stats["drops"] += 1
                    self.stats["drops_mid_send"] += 1
                    await self.close(crash=True)
                (reply,) = await pending
            except (TimeoutError, Closed) as error:
                if isinstance(error, asyncio.TimeoutError):
                    self.stats["timeouts"] += 1
                await self.close()
                self.stats["resent"] += 1
                first = False
                continue
            if reply["type"] == "sent":
                self.sent[client_msg_id] = [chat_id, reply["seq"], reply["message_id"]]
                self.stats["sent"] += 1
                took = time.monotonic() - started
                self.latencies.append(took)
                if took > SLOW_SEND_SECONDS:
                    self.slow_sends.append([time.time() - took, time.time()])
                if first:
                    self.held[chat_id].setdefault(reply["seq"], reply["message_id"])
                return
            code = reply.get("code")
            if code not in ("conflict", "internal", "rate_limited"):
                raise RuntimeError(f"{self.label}: send answered {reply}")
            self.stats["conflicts" if code == "conflict" else "internal"] += 1
            first = False
            await asyncio.sleep(0.5 + self.rng.random())

    def think_time(self) -> float:
        """Half to one and a half times the mean pause. (Exponential pauses, summed over a device's quota, left
        the slowest of 200 devices sending for 30% longer than the average one.)"""
        config = self.worker.config
        return (0.5 + self.rng.random()) * config.sockets / config.rate if config.rate else self.rng.random() * 0.2

    async def run(self, deadline: float) -> None:
        await asyncio.sleep(self.rng.random() * self.worker.config.ramp_seconds)
        await self.connect()
        for n in range(self.quota):
            if time.monotonic() > deadline:
                self.stats["unsent_at_deadline"] = self.quota - n
                break
            crash_midway = False
            if self.rng.random() < 1 / max(1, self.worker.config.disconnect_every):
                if self.rng.random() < self.worker.config.drop_share:
                    if self.rng.random() < self.worker.config.mid_send_share:
                        crash_midway = True
                    else:
                        self.stats["drops"] += 1
                        await self.close(crash=True)
                else:
                    self.stats["clean_closes"] += 1
                    await self.close()
                if self.ws is None:
                    await asyncio.sleep(self.rng.random() * 1.5)  # offline a while; others keep sending
            await self.send(self.pick_chat(), f"{self.name}-{n}", crash_midway)
            await asyncio.sleep(self.think_time())

    async def finish(self) -> None:
        """The last catch-up, once everyone is done sending and the pushes have settled."""
        await asyncio.sleep(self.rng.random() * self.worker.config.ramp_seconds)
        for _ in range(5):
            try:
                if self.ws is None:
                    await self.connect()
                else:
                    await self.catch_up()
                return
            except (TimeoutError, Closed):
                self.stats["timeouts"] += 1
                await self.close()
        raise RuntimeError(f"{self.label} could not catch up")


class Worker:
    def __init__(self, config: Config, base: str, tokens: dict[str, str], chats: dict[str, dict],
                 devices: list[tuple[str, str]], quotas: list[int], seed: int):
        self.config, self.base, self.chats = config, base, chats
        self.ws_url = base.replace("http", "ws", 1) + "/ws"
        self.tokens = dict(tokens)  # its own copy: a user who logs in again gets a new token
        self.logins = 0
        member_of: dict[str, list[str]] = {}
        for chat_id, chat in chats.items():
            for user_id in chat["members"]:
                member_of.setdefault(user_id, []).append(chat_id)
        self.devices = [Device(self, user_id, f"{user_id}.{device}", sorted(member_of.get(user_id, [])), quota,
                               seed * 100_003 + i)
                        for i, ((user_id, device), quota) in enumerate(zip(devices, quotas, strict=True))]

    async def log_in_again(self, user_id: str) -> None:
        loop = asyncio.get_running_loop()
        status, body = await loop.run_in_executor(None, http, "POST", f"{self.base}/api/auth/login",
                                                  {"username": user_id, "password": PASSWORD})
        if status == 200:
            self.tokens[user_id] = body["id_token"]
            self.logins += 1

    async def drop(self, label: str) -> None:
        loop = asyncio.get_running_loop()
        _, sockets = await loop.run_in_executor(None, http, "GET", f"{self.base}/_devstack/sockets")
        ids = [s["connection_id"] for s in sockets or [] if s.get("device") == label]
        for connection_id in ids:
            await loop.run_in_executor(None, http, "POST", f"{self.base}/_devstack/sockets/{connection_id}/drop")
        if not ids:  # not listed (yet, or any more): close it ourselves
            device = next(d for d in self.devices if d.label == label)
            if device.ws is not None:
                await device.ws.close()

    async def main(self, done_sending, go_finish) -> dict:
        deadline = time.monotonic() + self.config.deadline
        await asyncio.gather(*(device.run(deadline) for device in self.devices))
        done_sending.set()
        while not go_finish.is_set():
            await asyncio.sleep(0.1)
        # Wait for the pushes to settle: no frame for 2 s (at most 60 s).
        settle = time.monotonic() + 60
        while time.monotonic() < settle and time.monotonic() - max(d.activity for d in self.devices) < 2:
            await asyncio.sleep(0.2)
        await asyncio.gather(*(device.finish() for device in self.devices))
        await asyncio.gather(*(device.close() for device in self.devices))
        return {"logins_again": self.logins, "devices": [{"user_id": d.user_id, "name": d.name, "chats": d.chats,
                             "held": {chat_id: {str(seq): mid for seq, mid in held.items()}
                                      for chat_id, held in d.held.items()},
                             "sent": d.sent, "stats": d.stats, "source": d.source, "latencies": d.latencies,
                             "slow_sends": d.slow_sends}
                            for d in self.devices]}


def _worker_process(config: Config, base: str, tokens, chats, devices, quotas, seed, out_path, done_sending,
                    go_finish) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = Worker(config, base, tokens, chats, devices, quotas, seed)
    try:
        result = asyncio.run(worker.main(done_sending, go_finish))
    except BaseException as error:  # report, so that the parent does not wait forever
        done_sending.set()
        result = {"error": f"{type(error).__name__}: {error}"}
    Path(out_path).write_text(json.dumps(result))


# The audit --------------------------------------------------------------------------------------------

def stored_messages(plan: Plan, moto_endpoint: str | None) -> dict[str, list[dict]]:
    """Every chat's stored messages: straight from the messages table when the stack's moto is known,
    otherwise through the REST history of a member."""
    if moto_endpoint:
        import boto3
        from boto3.dynamodb.conditions import Key
        options = {"endpoint_url": moto_endpoint, "region_name": "us-east-1", "aws_access_key_id": "testing",
                   "aws_secret_access_key": "testing"}
        outputs = boto3.client("cloudformation", **options).describe_stacks(StackName="parley-local")[
            "Stacks"][0]["Outputs"]
        table_name = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "MessagesTable")
        table = boto3.resource("dynamodb", **options).Table(table_name)
        stored = {}
        for chat_id in plan.chats:
            items, kwargs = [], {"KeyConditionExpression": Key("chat_id").eq(chat_id), "ConsistentRead": True}
            while True:
                page = table.query(**kwargs)
                items += page["Items"]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            stored[chat_id] = [{"seq": int(i["seq"]), "message_id": i["message_id"], "kind": i["kind"],
                                "sender_id": i["sender_id"], "text": i.get("text")} for i in items]
        return stored
    stored = {}
    for chat_id, chat in plan.chats.items():
        token, messages, before = plan.users[chat["members"][0]], [], ""
        while True:
            status, page = http("GET", f"{plan.base}/api/chats/{chat_id}/messages?limit=100{before}", token=token)
            assert status == 200, page
            messages = page["messages"] + messages
            if not page["has_more"] or not page["messages"]:
                break
            before = f"&before={page['messages'][0]['seq']}"
        stored[chat_id] = messages
    return stored


def audit(plan: Plan, results: list[dict], stored: dict[str, list[dict]]) -> dict:
    problems: list[str] = []
    devices = [device for result in results for device in result["devices"]]
    # Storage: seqs 1..N once each, each message_id once, each client_msg_id once, where its `sent` said.
    sent = {cmid: entry for device in devices for cmid, entry in device["sent"].items()}
    seen_cmids: dict[str, int] = {}
    for chat_id, messages in stored.items():
        seqs = [m["seq"] for m in messages]
        if seqs != list(range(1, len(seqs) + 1)):
            problems.append(f"storage of {chat_id}: seqs are not 1..{len(seqs)}")
        if len({m["message_id"] for m in messages}) != len(messages):
            problems.append(f"storage of {chat_id}: a message_id at two seqs")
        for message in messages:
            if message["kind"] != "text":
                continue
            cmid = (message.get("text") or "").split(" ", 1)[0]
            seen_cmids[cmid] = seen_cmids.get(cmid, 0) + 1
            if cmid not in sent:
                problems.append(f"storage of {chat_id}: {cmid} stored but never answered `sent`")
            elif sent[cmid][:2] != [chat_id, message["seq"]] or sent[cmid][2] != message["message_id"]:
                problems.append(f"{cmid}: `sent` said {sent[cmid]}, storage has seq {message['seq']}")
    stored_twice = [cmid for cmid, count in seen_cmids.items() if count > 1]
    lost_sends = [cmid for cmid in sent if cmid not in seen_cmids]
    problems += [f"{cmid} stored {seen_cmids[cmid]} times" for cmid in stored_twice[:20]]
    problems += [f"{cmid} answered `sent` but is not stored" for cmid in lost_sends[:20]]
    # Every member device: every stored message once (after dedupe by seq), the same message, nothing else.
    missing = extra = wrong = 0
    for device in devices:
        for chat_id in device["chats"]:
            truth = {m["seq"]: m["message_id"] for m in stored[chat_id]}
            held = {int(seq): mid for seq, mid in device["held"][chat_id].items()}
            missing_here = sorted(set(truth) - set(held))
            missing += len(missing_here)
            extra += len(set(held) - set(truth))
            wrong += sum(1 for seq in set(truth) & set(held) if truth[seq] != held[seq])
            if missing_here and len(problems) < 200:
                problems.append(f"{device['name']} lacks {chat_id} seqs {missing_here[:10]}")
    totals = {key: sum(device["stats"][key] for device in devices) for key in devices[0]["stats"]} if devices else {}
    if totals.get("mismatches"):
        problems.append(f"{totals['mismatches']} frames carried another message than storage at a seq, "
                        "or a chat the device is not in")
    if totals.get("unordered_pages"):
        problems.append(f"{totals['unordered_pages']} messages/history pages out of order")
    deliveries = sum(len(m) * sum(1 for d in devices if chat_id in d["chats"]) for chat_id, m in stored.items())
    latencies = sorted(x for device in devices for x in device["latencies"])

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else 0.0

    return {
        "ok": not problems and not missing and not extra and not wrong,
        "problems": problems[:50],
        "messages_stored": sum(len(m) for m in stored.values()),
        # seqs a failed send had taken, closed by a reader once its lease ended (a `system` message of no one)
        "gaps_closed": sum(1 for m in stored.values() for message in m
                           if message["kind"] == "system" and not message["sender_id"]),
        "messages_sent": len(sent),
        "chats": len(stored),
        "member_devices_checked": sum(len(d["chats"]) for d in devices),
        "deliveries_checked": deliveries,
        "missing": missing, "extra": extra, "wrong_content": wrong,
        "stored_twice": len(stored_twice), "sent_but_lost": len(lost_sends),
        "received_first_via": {source: sum(d["source"][source] for d in devices) for source in ("live", "sync",
                                                                                              "history")},
        "send_latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99), "max": pct(1.0)},
        **totals,
    }


# Running it -------------------------------------------------------------------------------------------

def run(config: Config) -> dict:
    log = (lambda *args: None) if config.quiet else (lambda *args: print(*args, flush=True))
    started = time.monotonic()
    stack = None
    try:
        if config.url:
            base, moto_endpoint = config.url.rstrip("/"), None
        else:
            stack = LocalStack().__enter__()
            base, moto_endpoint = stack.base, stack.moto_endpoint
            log(f"local stack on {base} (moto {moto_endpoint}); log {stack.log_path}")
        plan = make_plan(config, base, log)
        report = drive(config, plan, log)
        stored = stored_messages(plan, moto_endpoint)
        report.update(audit(plan, report.pop("results"), stored))
        report["total_seconds"] = round(time.monotonic() - started, 1)
        report["config"] = asdict(config)
        return report
    finally:
        if stack is not None:
            stack.__exit__()


def drive(config: Config, plan: Plan, log) -> dict:
    rng = random.Random(config.seed)
    devices = list(plan.devices)
    rng.shuffle(devices)
    quotas = [config.messages // len(devices) + (1 if i < config.messages % len(devices) else 0)
              for i in range(len(devices))]
    procs = max(1, min(config.procs, len(devices)))
    context = multiprocessing.get_context("spawn")
    go_finish = context.Event()
    out_dir = Path(tempfile.mkdtemp(prefix="parley-soak-"))
    workers = []
    for p in range(procs):
        share = slice(p, None, procs)
        done = context.Event()
        process = context.Process(target=_worker_process, daemon=True, args=(
            config, plan.base, plan.users, plan.chats, devices[share], quotas[share], config.seed * 31 + p,
            str(out_dir / f"worker{p}.json"), done, go_finish))
        process.start()
        workers.append((process, done))
    log(f"  {len(devices)} sockets over {procs} client processes, {config.messages} messages to send")
    started = time.monotonic()
    peak_sockets, last_crash, last_log, fanout_crashes = 0, time.monotonic(), time.monotonic(), 0
    storms: list[dict] = []  # each: its wall-clock start and end, and whether its dead letters were redriven
    redriven = 0

    def redrive(storm: dict) -> None:
        nonlocal redriven
        redriven += http("POST", f"{plan.base}/_devstack/redrive/fan_out", {})[1]["moved"]
        storm["redriven"] = True
    while not all(done.is_set() for _, done in workers):
        time.sleep(0.5)
        try:
            if len(storms) < config.storms and time.monotonic() - started >= (len(storms) + 1) * config.storm_every:
                http("POST", f"{plan.base}/_devstack/throttle",
                     {"service": "dynamodb", "seconds": config.storm_seconds})
                storms.append({"start": time.time(), "end": time.time() + config.storm_seconds, "redriven": False})
                log(f"  {time.monotonic() - started:5.0f} s: DynamoDB throttled for {config.storm_seconds:g} s")
            for storm in storms:
                if not storm["redriven"] and time.time() > storm["end"] + config.redrive_after:
                    redrive(storm)
            _, sockets = http("GET", f"{plan.base}/_devstack/sockets", timeout=30)
            peak_sockets = max(peak_sockets, len(sockets or []))
            if config.crash_fanout_every and time.monotonic() - last_crash > config.crash_fanout_every:
                if http("POST", f"{plan.base}/_devstack/faults/fan_out", {"count": 1})[0] == 204:
                    fanout_crashes += 1
                last_crash = time.monotonic()
        except OSError:
            pass
        if time.monotonic() - last_log > 15:
            last_log = time.monotonic()
            log(f"  {time.monotonic() - started:5.0f} s: {len(sockets or [])} sockets open")
        if not all(process.is_alive() or done.is_set() for process, done in workers):
            raise RuntimeError("a client process died")
    send_seconds = time.monotonic() - started
    for storm in storms:  # a storm near the end: its dead letters too go back before the last catch-up
        if not storm["redriven"]:
            time.sleep(max(0.0, storm["end"] + config.redrive_after - time.time()))
            redrive(storm)
    go_finish.set()
    for process, _ in workers:
        process.join(timeout=600)
    results = [json.loads((out_dir / f"worker{p}.json").read_text()) for p in range(procs)]
    errors = [result["error"] for result in results if "error" in result]
    if errors:
        raise RuntimeError(f"client processes failed: {errors}")
    sent = sum(len(d["sent"]) for r in results for d in r["devices"])
    log(f"  sending done in {send_seconds:.1f} s ({sent / send_seconds:.0f} messages/s); audit follows")
    slow_sends = [span for r in results for d in r["devices"] for span in d["slow_sends"]]
    return {"results": results, "sockets": len(devices), "peak_open_sockets": peak_sockets,
            "logins_again": sum(result.get("logins_again", 0) for result in results),
            "client_processes": procs, "send_seconds": round(send_seconds, 1),
            "messages_per_second": round(sent / send_seconds, 1), "fanout_crashes_injected": fanout_crashes,
            "storms": [storm_figures(storm, slow_sends) for storm in storms], "fanout_tasks_redriven": redriven,
            "users": len(plan.users), "direct_chats": sum(c["kind"] == "direct" for c in plan.chats.values()),
            "groups": sum(c["kind"] == "group" for c in plan.chats.values()),
            "largest_group": max(len(c["members"]) for c in plan.chats.values())}


def storm_figures(storm: dict, slow_sends: list[list[float]]) -> dict:
    """The sends a storm held up (slow ones that overlapped it) and how long after its end the last of them was
    answered: the time its backlog took to drain."""
    caught = [finished for started, finished in slow_sends if started < storm["end"] and finished > storm["start"]]
    return {"seconds": round(storm["end"] - storm["start"], 1), "sends_held_up": len(caught),
            "drained_after_end_s": round(max(0.0, max(caught, default=storm["end"]) - storm["end"]), 1)}


def summary(report: dict) -> str:
    lines = [
        f"{'OK' if report['ok'] else 'FAILED'}: {report['messages_sent']} messages sent, {report['messages_stored']} "
        f"stored ({report['gaps_closed']} of them seqs closed as gaps) in {report['chats']} chats "
        f"({report['direct_chats']} direct, {report['groups']} groups, the largest "
        f"of {report['largest_group']})" + (f"; the deadline stopped sending with {report['unsent_at_deadline']} of "
                                           f"{report['config']['messages']} unsent"
                                           if report["unsent_at_deadline"] else ""),
        f"{report['sockets']} sockets ({report['users']} users; peak {report['peak_open_sockets']} open) over "
        f"{report['client_processes']} client processes; sending took {report['send_seconds']} s "
        f"({report['messages_per_second']} messages/s), {report['total_seconds']} s in all",
        f"reconnects: {report['connects'] - report['sockets']} ({report['clean_closes']} clean closes, "
        f"{report['drops']} crash drops of which {report['drops_mid_send']} mid-send); resends "
        f"{report['resent']}, conflicts {report['conflicts']}, internal errors {report['internal']}, timeouts "
        f"{report['timeouts']}; new sockets silent past the heartbeat timeout "
        f"{report['silent_sockets']}; fan-out crashes injected {report['fanout_crashes_injected']}; logins after "
        f"token expiry {report['logins_again']}",
        f"audit: {report['deliveries_checked']} (message, member device) pairs over {report['member_devices_checked']} "
        f"member devices; first received live {report['received_first_via']['live']}, via sync "
        f"{report['received_first_via']['sync']}, via history {report['received_first_via']['history']}; "
        f"limited syncs {report['limited_syncs']}, history pages {report['history_pages']}",
        f"loss: {report['missing']} missing, {report['extra']} extra, {report['wrong_content']} wrong; storage: "
        f"{report['stored_twice']} stored twice, {report['sent_but_lost']} `sent` but not stored; repeats on an "
        f"open socket {report['live_repeats_same_socket']}; unordered pages {report['unordered_pages']}",
        f"send latency ms: {report['send_latency_ms']}",
    ]
    lines += [f"storm {n}: DynamoDB throttled {storm['seconds']:g} s; {storm['sends_held_up']} sends held up, the last"
              f" answered {storm['drained_after_end_s']:g} s after it ended"
              for n, storm in enumerate(report["storms"], 1)]
    if report["storms"]:
        lines.append(f"fan-out tasks redriven from the dead-letter queue: {report['fanout_tasks_redriven']}")
    lines += [f"  problem: {problem}" for problem in report["problems"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    defaults = Config()
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        if name in ("quiet",):
            parser.add_argument(flag, action="store_true")
        elif name == "json_path":
            parser.add_argument("--json", dest=name, default=None, help="where to write the figures as JSON")
        else:
            parser.add_argument(flag, type=type(value) if value is not None else str, default=value)
    config = Config(**vars(parser.parse_args(argv)))
    report = run(config)
    print(summary(report), flush=True)
    path = Path(config.json_path) if config.json_path else \
        ROOT / "bench" / "results" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"figures in {path}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
