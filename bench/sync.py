"""`sync`, the v1 form (a cursor per chat) beside the changes form (a token; issue 18), side by side in one run.

Two users. One has `sync_chats` chats (200: the v1 form still fits a client frame) and the v1 form is measured
there with 1,000 messages missed and with nothing missed, and the changes form with nothing missed. The other
has `sync_heavy_chats` chats (5,000: the v1 cursor map no longer fits a 32 KiB client frame, so that size is
worked out rather than sent) and the changes form is measured there with nothing missed, with 1,000 messages
missed in 20 chats, and for a fresh device that pages through every chat.

The chats and messages are written through Parley's own storage layer (the chat store's `create`, the message
store's `reserve` and `write`, which create_chat and send call) from the bench process straight into the stack's
tables, together with the news marks a send leaves (`DynamoNewsStore.mark` for both members, at the minute of
the message's time): the same items a thousand sends would leave, without a thousand WebSocket round trips.

"Nothing missed" takes its token from a completed pass, and everything seeded before it is dated BACKDATE
seconds earlier than the stack's clock: a pass re-reads the marks of its token's own minute by design, so marks
at least two minutes older than the token are what a device that has really seen everything would leave behind.
The messages missed after the token are seeded at the stack's present time, so they are newer than the token.

Every `sync` here goes over a bare WebSocket (`RawSyncer`): the frames and bytes counted are what came off the
wire, and no SDK logic sits between the request and the stopwatch.
"""
import asyncio
import itertools
import json
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

import websockets
from parley_sdk import Tokens

from bench.costs import Operation, measure
from bench.progress import note
from bench.world import World
from chalicelib.frames import MAX_FRAME_BYTES
from chalicelib.model import Chat, Member, Message, direct_chat_id
from chalicelib.storage.dynamodb.chats import DynamoChatStore
from chalicelib.storage.dynamodb.messages import DynamoMessageStore
from chalicelib.storage.dynamodb.news import DynamoNewsStore

MESSAGE_TEXT = "Are we still on for Thursday? I can bring the projector if the room does not have one."  # ~90 bytes
BACKDATE = 10 * 60  # seconds: what a device has already seen is dated this far before the token's pass
REPLY_TIMEOUT = 300  # seconds for one `sync` page (a fresh device's page reads 100 chats)
V1_MAX_CHATS = 500  # the v1 form serves clients whose cursor map has up to this many chats (issue 18)
DEVICE = "bench-sync"

# Issue 18's targets, per pass of the changes form over sync_heavy_chats chats.
TARGETS = {"nothing": {"dynamodb_requests": 5, "read_units": 10},
           "missed": {"dynamodb_requests": 30, "frames": 15}}


@dataclass
class Stores:
    chats: DynamoChatStore
    messages: DynamoMessageStore
    news: DynamoNewsStore


def iso(epoch: float) -> str:
    """As chalicelib.model.now_iso writes a time, for a time other than now."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seed_chats(stores: Stores, user_id: str, peers: list[str], at: float, messages_each: int = 0) -> list[str]:
    """A direct chat with each peer, created at `at`, with `messages_each` messages from the peer. Answers the
    chats' ids."""
    chat_ids = []
    for peer in peers:
        chat = Chat(chat_id=direct_chat_id(user_id, peer), kind="direct", created_at=iso(at),
                    members=[Member(user_id=user_id), Member(user_id=peer)])
        stores.chats.create(chat)
        chat_ids.append(chat.chat_id)
        for index in range(messages_each):
            seed_message(stores, chat.chat_id, user_id, peer, f"{peer}-{index}", at)
    return chat_ids


def seed_message(stores: Stores, chat_id: str, user_id: str, sender: str, message_id: str, at: float) -> int:
    """What a send leaves: the seq reserved, the message stored, and news marked for both members (the minute of
    the message's time)."""
    seq = stores.messages.reserve(chat_id, sender, direct=True).seq
    stores.messages.write(Message(chat_id=chat_id, seq=seq, message_id=message_id, sender_id=sender, kind="text",
                                  sent_at=iso(at), text=MESSAGE_TEXT, client_msg_id=message_id))
    stores.news.mark([user_id, sender], chat_id, seq, int(at // 60))
    return seq


def seed_missed(stores: Stores, user_id: str, chat_ids: list[str], peers: list[str], missed: int, at: float,
                tag: str) -> None:
    """`missed` messages spread round-robin over the chats, each from the chat's peer."""
    for index in range(missed):
        chat_id, sender = chat_ids[index % len(chat_ids)], peers[index % len(peers)]
        seed_message(stores, chat_id, user_id, sender, f"{tag}-{index}", at)


def v1_frame_bytes(cursors: dict[str, int]) -> int:
    """The size of the v1 `sync` frame a client with these cursors would send (its `req` as the SDK makes one)."""
    frame = {"action": "sync", "req": uuid.uuid4().hex, "cursors": cursors}
    return len(json.dumps(frame, separators=(",", ":")).encode())


@dataclass
class Pass:
    """What one `sync` (every page of it) brought: messages by (chat, seq), chats listed, frames and bytes."""
    messages: int = 0
    distinct: set = field(default_factory=set)
    chats: int = 0
    frames: int = 0
    message_frames: int = 0
    bytes: int = 0
    pages: int = 0
    largest_frame: int = 0
    since: str | None = None
    seconds: float = 0.0


class RawSyncer:
    """One device of a user on a bare WebSocket: sends `sync` frames and collects the replies by `req`."""

    def __init__(self, connection):
        self._connection = connection
        self._pending: dict[str, asyncio.Queue] = {}
        self._reqs = itertools.count()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, ws_url: str, tokens: Tokens) -> "RawSyncer":
        query = urlencode({"token": tokens.id_token, "device": DEVICE})
        return cls(await websockets.connect(f"{ws_url}?{query}", max_size=2 ** 21, open_timeout=120,
                                            ping_interval=None))

    async def heartbeat(self) -> None:
        await self._connection.send(json.dumps({"action": "heartbeat"}))

    async def _read(self) -> None:
        try:
            async for raw in self._connection:
                size = len(raw.encode() if isinstance(raw, str) else raw)
                frame = json.loads(raw)
                queue = self._pending.get(frame.get("req"))
                if queue is not None:
                    queue.put_nowait((frame, size))
        except websockets.ConnectionClosed:
            pass

    async def _page(self, frame: dict, found: Pass) -> dict:
        req = f"sync-{next(self._reqs)}"
        queue = self._pending[req] = asyncio.Queue()
        try:
            await self._connection.send(json.dumps({**frame, "req": req}))
            while True:
                reply, size = await asyncio.wait_for(queue.get(), REPLY_TIMEOUT)
                found.frames += 1
                found.bytes += size
                found.largest_frame = max(found.largest_frame, size)
                if reply["type"] == "messages":
                    found.message_frames += 1
                    for message in reply["messages"]:
                        found.messages += 1
                        found.distinct.add((message["chat_id"], message["seq"]))
                elif reply["type"] == "synced":
                    found.pages += 1
                    found.chats += len(reply["chats"])
                    return reply
                elif reply["type"] == "error":
                    raise RuntimeError(f"sync answered {reply}")
        finally:
            del self._pending[req]

    async def sync_v1(self, cursors: dict[str, int]) -> Pass:
        found, started = Pass(), time.perf_counter()
        await self._page({"action": "sync", "cursors": cursors}, found)
        found.seconds = time.perf_counter() - started
        return found

    async def sync_changes(self, since: str, limit: int | None = None) -> Pass:
        """A whole pass of the changes form: the first page, then each `next` until a page carries `since`."""
        found, started = Pass(), time.perf_counter()
        frame = {"action": "sync", "since": since} | ({"limit": limit} if limit else {})
        reply = await self._page(frame, found)
        while "next" in reply:
            reply = await self._page({**frame, "page": reply["next"]}, found)
        found.since = reply["since"]
        found.seconds = time.perf_counter() - started
        return found

    async def close(self) -> None:
        await self._connection.close()
        await self._reader


async def open_syncer(world: World, user_id: str) -> RawSyncer:
    (tokens,) = (await world.accounts.tokens([user_id])).values()
    syncer = await RawSyncer.open(world.stack.ws, tokens)
    world.heartbeats.keep_alive(syncer, syncer.heartbeat)
    return syncer


async def dismiss(world: World, syncer: RawSyncer) -> None:
    world.heartbeats.release(syncer)
    await syncer.close()


async def case(world: World, label: str, form: str, chats: int, run, expected: int, runs: int,
               inbound_frames: float = 1.0, timed: list[Pass] | None = None, **about) -> dict:
    """`run` (one whole pass) timed `runs` times after a warm-up (or the passes `timed` already made), then once
    more in an accounting window."""
    async def checked() -> Pass:
        found = await run()
        if len(found.distinct) != expected:
            raise AssertionError(f"{label}: sync brought {len(found.distinct)} messages, not {expected}")
        return found

    if timed is None:
        await checked()  # warm-up
        timed = [await checked() for _ in range(runs)]
    passes = timed
    seconds = [found.seconds for found in passes]
    cost = await measure(world, Operation(label, checked, inbound_frames=inbound_frames), count=1)
    last = passes[-1]
    return {"label": label, "form": form, "chats": chats, "messages": expected, "received_messages": last.messages,
            "chats_listed": last.chats, "frames": last.frames, "message_frames": last.message_frames,
            "bytes": last.bytes, "largest_frame": last.largest_frame, "pages": last.pages,
            "ms": statistics.median(seconds) * 1000, "ms_min": min(seconds) * 1000, "ms_max": max(seconds) * 1000,
            "runs": runs, "cost": cost, **about}


def targets(nothing: dict, missed: dict) -> list[dict]:
    def row(what: str, measured: dict, name: str, limit: float, value: float) -> dict:
        return {"case": measured["label"], "what": what, "metric": name, "limit": limit, "value": value,
                "met": value <= limit}
    return [row("nothing missed", nothing, "dynamodb_requests", TARGETS["nothing"]["dynamodb_requests"],
                nothing["cost"]["dynamodb_requests"]),
            row("nothing missed", nothing, "read_units", TARGETS["nothing"]["read_units"],
                nothing["cost"]["read_units"]),
            row("missed", missed, "dynamodb_requests", TARGETS["missed"]["dynamodb_requests"],
                missed["cost"]["dynamodb_requests"]),
            row("missed", missed, "frames", TARGETS["missed"]["frames"], missed["frames"])]


def v1_arithmetic(chat_ids: list[str], cursors: dict[str, int]) -> dict:
    """The v1 frame a device of the heavy user would have to send: worked out, since the stack refuses it."""
    size = v1_frame_bytes(cursors)
    per_chat = (size - v1_frame_bytes({})) / len(chat_ids)
    return {"label": f"v1 sync, {len(chat_ids):,} chats (not sent)", "chats": len(chat_ids), "frame_bytes": size,
            "bytes_per_chat": per_chat, "limit_bytes": MAX_FRAME_BYTES, "fits": size <= MAX_FRAME_BYTES,
            "chats_that_fit": int((MAX_FRAME_BYTES - v1_frame_bytes({})) // per_chat),
            "v1_max_chats": V1_MAX_CHATS}


async def sync_scenario(world: World) -> dict:
    plan, stack = world.plan, world.stack
    stores = Stores(*await stack.chat_stores(), await stack.news_store())
    seeded = {}

    # The 200-chat user: v1 beside the changes form where both work.
    user_id, peers = world.cast.syncer, world.cast.sync_peers(plan.sync_chats)
    busy_peers, per_chat = peers[:plan.sync_busy_chats], plan.sync_missed // plan.sync_busy_chats
    started, past = time.perf_counter(), await stack.now() - BACKDATE
    chat_ids = await asyncio.to_thread(seed_chats, stores, user_id, peers, past)
    busy = chat_ids[:plan.sync_busy_chats]
    await asyncio.to_thread(seed_missed, stores, user_id, busy, busy_peers, per_chat * len(busy), past, "light")
    seeded["light_seconds"] = time.perf_counter() - started
    behind = dict.fromkeys(chat_ids, 0)  # the client knows every chat; the busy ones moved on without it
    caught_up = behind | dict.fromkeys(busy, per_chat)
    syncer = await open_syncer(world, user_id)
    token = (await syncer.sync_changes("")).since  # a completed pass: everything seeded is older than it
    cases = [
        await case(world, f"v1 sync, {per_chat * len(busy):,} missed in {len(busy)} of {plan.sync_chats:,} chats",
                   "v1", plan.sync_chats, lambda: syncer.sync_v1(behind), per_chat * len(busy), plan.sync_runs,
                   missed=per_chat * len(busy), request_bytes=v1_frame_bytes(behind)),
        await case(world, f"v1 sync, nothing missed in {plan.sync_chats:,} chats", "v1", plan.sync_chats,
                   lambda: syncer.sync_v1(caught_up), 0, plan.sync_runs, missed=0,
                   request_bytes=v1_frame_bytes(caught_up)),
        await case(world, f"changes sync, nothing missed in {plan.sync_chats:,} chats", "changes", plan.sync_chats,
                   lambda: syncer.sync_changes(token), 0, plan.sync_runs, missed=0),
    ]
    await dismiss(world, syncer)

    # The heavy user: the changes form only (the v1 frame would not fit).
    heavy_id, heavy_peers = world.cast.heavy_syncer, world.cast.heavy_peers(plan.sync_heavy_chats)
    note(f"sync: seeding {plan.sync_heavy_chats:,} chats")
    started, past = time.perf_counter(), await stack.now() - BACKDATE
    heavy_chats = await asyncio.to_thread(seed_chats, stores, heavy_id, heavy_peers, past, plan.sync_heavy_messages)
    seeded["heavy_seconds"] = time.perf_counter() - started
    syncer = await open_syncer(world, heavy_id)
    note("sync: a fresh device of the heavy user")
    fresh_expected = plan.sync_heavy_chats * min(plan.sync_heavy_messages, plan.sync_fresh_limit)
    # A whole pass of a fresh device reads every chat: timed once (also the completed pass whose token "nothing
    # missed" starts from), then counted once.
    first = await syncer.sync_changes("", plan.sync_fresh_limit)
    token = first.since
    if len(first.distinct) != fresh_expected or first.chats != plan.sync_heavy_chats:
        raise AssertionError(f"a fresh device got {first.chats} chats and {len(first.distinct)} messages")
    fresh_case = await case(world, f"changes sync, fresh device, {plan.sync_heavy_chats:,} chats, limit"
                            f" {plan.sync_fresh_limit}", "changes", plan.sync_heavy_chats,
                            lambda: syncer.sync_changes("", plan.sync_fresh_limit), fresh_expected, 1,
                            inbound_frames=first.pages, timed=[first], missed=None, fresh=True,
                            limit=plan.sync_fresh_limit)
    note("sync: the heavy user, nothing missed")
    nothing = await case(world, f"changes sync, nothing missed in {plan.sync_heavy_chats:,} chats", "changes",
                         plan.sync_heavy_chats, lambda: syncer.sync_changes(token), 0, plan.sync_runs, missed=0)
    heavy_busy, heavy_busy_peers = heavy_chats[:plan.sync_heavy_busy_chats], heavy_peers[:plan.sync_heavy_busy_chats]
    started = time.perf_counter()
    await asyncio.to_thread(seed_missed, stores, heavy_id, heavy_busy, heavy_busy_peers, plan.sync_heavy_missed,
                            await stack.now(), "heavy")
    seeded["heavy_missed_seconds"] = time.perf_counter() - started
    note("sync: the heavy user, messages missed")
    missed = await case(world, f"changes sync, {plan.sync_heavy_missed:,} missed in {len(heavy_busy)} of"
                        f" {plan.sync_heavy_chats:,} chats", "changes", plan.sync_heavy_chats,
                        lambda: syncer.sync_changes(token), plan.sync_heavy_missed, plan.sync_runs,
                        missed=plan.sync_heavy_missed)
    await dismiss(world, syncer)
    heavy_cursors = dict.fromkeys(heavy_chats, plan.sync_heavy_messages)
    return {"chats": plan.sync_chats, "busy_chats": plan.sync_busy_chats, "heavy_chats": plan.sync_heavy_chats,
            "seeded_seconds": seeded["light_seconds"], "seeded": seeded, "message_text_bytes": len(MESSAGE_TEXT),
            "cases": [*cases, nothing, missed, fresh_case], "v1_heavy": v1_arithmetic(heavy_chats, heavy_cursors),
            "targets": targets(nothing, missed)}
