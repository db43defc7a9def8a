"""`python -m bench.heavy`: presence, heartbeats and message actions of issues 18 and 21, side by side in one run
on one local stack, written to bench/results/heavy.{json,md} (sync's cases are in the suite: bench/sync.py).

- a connect and a disconnect of a user with 10,000 direct contacts;
- an online minute with the normal heartbeat (two, each answered) and with the quiet one (one, unanswered);
- an edit, a reaction and a delete for everyone, beside a plain 1:1 send;
- pushes: a 1:1 send to a recipient online, and to one whose phone has no socket; a group of PUSH_GROUP members
  with every other member's phone offline (per message, and per offline recipient).

The 10,000 chats are written straight into the stack's tables (keys and items as Parley's chat store writes
them), 25 items a request: the items 10,000 `create_chat`s would leave, in seconds rather than minutes.
"""
import asyncio
import json
import os
import statistics
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from parley_sdk import ParleyClient

from bench.costs import Operation, measure
from bench.plan import FULL
from bench.progress import note
from bench.stack import BenchStack
from bench.world import World
from chalicelib.model import direct_chat_id
from devstack.aws import FAKE_CREDENTIALS
from tests.e2e.support import running_stack

RESULTS = Path(__file__).parent / "results"
PUSH_GROUP = 50
TEXT = "Are we still on for Thursday? I can bring the projector if the room does not have one."  # ~90 characters


async def seed_chats(stack: BenchStack, user_id: str, peers: list[str]) -> list[str]:
    """A direct chat with each peer: its head and two member items, as DynamoChatStore.create writes them."""
    tables = (await stack.aws())["tables"]
    table = (await stack._dynamodb()).Table(tables["chats"])
    chat_ids = [direct_chat_id(user_id, peer) for peer in peers]

    def write() -> None:
        with table.batch_writer() as batch:
            for chat_id, peer in zip(chat_ids, peers, strict=True):
                low, high = sorted((user_id, peer))
                batch.put_item(Item={"chat_id": chat_id, "sk": "meta", "kind": "direct",
                                     "created_at": "2026-12-04T00:00:00Z", "last_seq": 0, "member_count": 2,
                                     "members_version": 0,
                                     "cursors": {low: [0, 0], high: [0, 0]}, "last_sent": {low: 0, high: 0}})
                for member in (user_id, peer):
                    batch.put_item(Item={"chat_id": chat_id, "sk": f"member#{member}", "member_id": member,
                                         "kind": "direct", "role": "member", "joined_seq": 0})
    await asyncio.to_thread(write)
    return chat_ids


async def presence_cases(world: World, stack: BenchStack) -> list[dict]:
    """The handshake's time, and what each transition costs in all, the queued announcements included."""
    note("seeding 10,000 contacts")
    await seed_chats(stack, "social", [f"sp{i:05d}" for i in range(10000)])
    (tokens,) = (await world.accounts.tokens(["social"])).values()
    client = ParleyClient(stack.base, tokens=tokens)
    handshakes = []

    async def connect() -> None:
        started = time.perf_counter()
        await client.connect()
        handshakes.append(time.perf_counter() - started)

    rows = []
    for _ in range(3):
        connected = await measure(world, Operation("connect", connect, inbound_frames=0, undo=client.close), count=1)
        closed = await measure(world, Operation("disconnect", client.close, inbound_frames=0, undo=client.connect),
                               count=1)
    for label, cost in (("connect", connected), ("disconnect", closed)):
        rows.append({"label": f"{label}, 10,000 direct contacts", "ms": statistics.median(handshakes) * 1000
                     if label == "connect" else None, "dynamodb_requests": cost["dynamodb_requests"],
                     "sqs_requests": cost["sqs_requests"], "read_units": cost["read_units"],
                     "dollars_per_million": cost["dollars_per_million"]["total"]})
    return rows


async def action_cases(world: World, stack: BenchStack) -> list[dict]:
    alice, bob = await world.actor("actor_a"), await world.actor("actor_b")
    chat_id = (await alice.create_direct("actor_b"))["chat_id"]
    targets = iter([(await alice.send_text(chat_id, TEXT))["seq"] for _ in range(world.plan.cost_repeats * 4)])
    rows = []
    for label, run in (("1:1 send", lambda: alice.send_text(chat_id, TEXT)),
                       ("edit", lambda: alice._send(chat_id, None, kind="edit", relates_to=next(targets),
                                                    text="fixed")),
                       ("reaction", lambda: bob._send(chat_id, None, kind="reaction", relates_to=next(targets),
                                                     emoji="👍")),
                       ("delete for everyone", lambda: alice._send(chat_id, None, kind="delete",
                                                                   relates_to=next(targets)))):
        cost = await measure(world, Operation(label, run))
        rows.append({"label": label, "dynamodb_requests": cost["dynamodb_requests"], "read_units": cost["read_units"],
                     "write_units": cost["write_units"], "dollars_per_million": cost["dollars_per_million"]["total"]})
    await world.dismiss(alice, bob)
    return rows


async def register_phones(stack: BenchStack, tokens: dict) -> None:
    """Each user's phone registered for pushes, under the device id the bench's actors connect with."""
    def put(user_tokens) -> None:
        request = urllib.request.Request(f"{stack.base}/api/devices/actor", method="PUT", data=json.dumps(
            {"platform": "fcm", "token": f"bench-{user_tokens.user_id}"}).encode(), headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {user_tokens.id_token}"})
        urllib.request.urlopen(request, timeout=30).close()
    await asyncio.gather(*(asyncio.to_thread(put, user_tokens) for user_tokens in tokens.values()))


async def push_cases(world: World, stack: BenchStack) -> list[dict]:
    """What a push adds: the same 1:1 send with the recipient's phone online, then offline; and a group whose
    other members' phones are all offline."""
    members = [f"pusher{i:03d}" for i in range(PUSH_GROUP)]
    await register_phones(stack, await world.accounts.tokens(members))
    sender, recipient = await world.actor(members[0]), await world.actor(members[1])
    chat_id = (await sender.create_direct(members[1]))["chat_id"]
    online = await measure(world, Operation("1:1 send, the recipient's phone online (its socket open)",
                                            lambda: sender.send_text(chat_id, TEXT)))
    await world.dismiss(recipient)
    offline = await measure(world, Operation("1:1 send, the recipient's phone offline: one push",
                                             lambda: sender.send_text(chat_id, TEXT)))
    group = (await sender.create_group("pushes", members[1:]))["chat_id"]
    grouped = await measure(world, Operation(f"group of {PUSH_GROUP}, the {PUSH_GROUP - 1} other phones offline",
                                             lambda: sender.send_text(group, TEXT)))
    await world.dismiss(sender)
    return [push_row(online, 1), push_row(offline, 1), push_row(grouped, PUSH_GROUP - 1)]


def push_row(cost: dict, recipients: int) -> dict:
    return {"label": cost["label"], "recipients": recipients, "pushes": cost["mobile_pushes"],
            "dynamodb_requests": cost["dynamodb_requests"], "sqs_requests": cost["sqs_requests"],
            "read_units": cost["read_units"], "write_units": cost["write_units"],
            "lambda_invocations": cost["lambda_invocations"], "dollars": cost["dollars_per_million"]}


async def heartbeat_cases(world: World, stack: BenchStack) -> list[dict]:
    client = await world.actor("beater")
    normal = await measure(world, Operation("heartbeat", client.heartbeat))
    quiet = await measure(world, Operation("quiet heartbeat", lambda: client._connected_socket().send(
        {"action": "heartbeat", "quiet": True})))
    await world.dismiss(client)
    return [{"label": "online minute, normal heartbeat (2 a minute, each answered)",
             "dollars_per_million": 2 * normal["dollars_per_million"]["total"],
             "websocket_messages": 2 * normal["websocket_messages"]},
            {"label": "online minute, quiet heartbeat (1 a minute, unanswered)",
             "dollars_per_million": quiet["dollars_per_million"]["total"],
             "websocket_messages": quiet["websocket_messages"]}]


CASES = {"presence": presence_cases, "heartbeats": heartbeat_cases, "actions": action_cases, "pushes": push_cases}


async def on_stack(stack: BenchStack, names: list[str]) -> dict:
    world = World(stack, FULL)
    results = {}
    for name in names:
        note(name)
        results[name] = await CASES[name](world, stack)
    await world.crowd.close()
    return results


def table(headers: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]]


def presence_table(rows: list[dict]) -> list[str]:
    return table(["transition", "handshake ms (median of 3)", "DynamoDB requests", "SQS requests", "RCU",
                  "$ per million"],
                 [[r["label"], f"{r['ms']:.0f}" if r["ms"] is not None else "", f"{r['dynamodb_requests']:.0f}",
                   f"{r['sqs_requests']:.0f}", f"{r['read_units']:.1f}", f"{r['dollars_per_million']:.2f}"]
                  for r in rows])


def heartbeat_table(rows: list[dict]) -> list[str]:
    return table(["case", "WebSocket messages", "$ per million minutes"],
                 [[r["label"], f"{r['websocket_messages']:.0f}", f"{r['dollars_per_million']:.2f}"] for r in rows])


def action_table(rows: list[dict]) -> list[str]:
    return table(["action", "DynamoDB requests", "RCU", "WCU", "$ per million"],
                 [[r["label"], f"{r['dynamodb_requests']:.1f}", f"{r['read_units']:.1f}", f"{r['write_units']:.1f}",
                   f"{r['dollars_per_million']:.2f}"] for r in rows])


def push_table(rows: list[dict]) -> list[str]:
    return table(["message", "pushes", "DynamoDB requests", "SQS requests", "Lambda invocations", "RCU", "WCU",
                  "$ per million messages", "of which SNS", "$ per million offline recipients"],
                 [[r["label"], f"{r['pushes']:.0f}", f"{r['dynamodb_requests']:.1f}", f"{r['sqs_requests']:.1f}",
                   f"{r['lambda_invocations']:.1f}", f"{r['read_units']:.1f}", f"{r['write_units']:.1f}",
                   f"{r['dollars']['total']:.2f}", f"{r['dollars']['sns']:.2f}",
                   f"{r['dollars']['total'] / r['recipients']:.2f}" if r["pushes"] else ""] for r in rows])


SECTIONS = {"presence": ("presence", presence_table), "heartbeats": ("an online minute", heartbeat_table),
            "actions": ("message actions", action_table),
            "pushes": ("pushes (SNS mobile push at $0.50 per million)", push_table)}


def markdown(results: dict) -> str:
    lines = [f"# Presence, heartbeats, message actions and pushes ({results['started']}, {results['seconds']:.0f} s)",
             "", "`python -m bench.heavy` on the local stack, one run; costs by the bench's accounting "
             "(bench/costs.py).", ""]
    for name, (title, render) in SECTIONS.items():
        if name in results:
            lines += [f"## {title}", "", *render(results[name]), ""]
    return "\n".join(lines)


def main() -> None:
    """`python -m bench.heavy [presence heartbeats actions pushes]`: all of them into heavy.{json,md}, or the ones
    named into heavy-<names>.{json,md}."""
    names = sys.argv[1:] or list(CASES)
    unknown = set(names) - set(CASES)
    if unknown:
        raise SystemExit(f"unknown cases {sorted(unknown)}; the cases are {list(CASES)}")
    started = time.perf_counter()
    os.environ.update(FAKE_CREDENTIALS)
    note("starting the local stack")
    with running_stack({"SEND_LIMIT": "100000"}) as stack:
        results = {"started": datetime.now(UTC).isoformat(timespec="seconds"),
                   **asyncio.run(on_stack(BenchStack(stack), names))}
    results["seconds"] = time.perf_counter() - started
    stem = "heavy" if names == list(CASES) else "heavy-" + "-".join(names)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2))
    (RESULTS / f"{stem}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
