"""What one operation asks of AWS, as devstack/accounting.py counts it, and what that costs at on-demand prices.

An operation is measured in a window of its own: reset the counters (sizing on, so every write is sized),
run it `cost_repeats` times one after the other, wait until the stack is quiet (fan-out queues drained), read
the counters and divide. The bench adds what no hook sees: the frame each operation sends in.
"""
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from parley_sdk import ParleyClient

from bench.world import World
from deploy.functions import FUNCTIONS

# us-east-1, on-demand, as quoted in /work/shared/AWS-LOCAL-NOTES.md ("verify before quoting"); the pages:
PRICE_SOURCES = {
    "api_gateway": "https://aws.amazon.com/api-gateway/pricing/",
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "sqs": "https://aws.amazon.com/sqs/pricing/",
    "sns": "https://aws.amazon.com/sns/pricing/",
}
PRICES = {
    "websocket_message": 1.00e-6,  # API Gateway WebSocket, per message (32 KB each, either direction)
    "connection_minute": 0.25e-6,  # API Gateway WebSocket, per connection-minute
    "lambda_request": 0.20e-6,
    "lambda_gb_second": 0.0000166667,  # x86
    "write_request_unit": 0.625e-6,  # DynamoDB on-demand (prices since November 2024)
    "read_request_unit": 0.125e-6,
    "sqs_request": 0.40e-6,  # standard queue, per request (64 KB each)
    "mobile_push": 0.50e-6,  # SNS, per mobile push notification (after the first million a month)
}
WINDOW_ATTEMPTS = 3
PARTITION_LOADS = ("read_units", "write_units", "partition_seconds")  # per partition key, divided per operation
HOTTEST_SHOWN = 3
DYNAMODB_ROUND_TRIP = 0.005  # seconds, for pricing Lambda time: DynamoDB answers in single-digit milliseconds
# The Chalice function behind each handler the accounting times, for its memory size (deploy/functions.py).
HANDLER_FUNCTIONS = {"connect": "websocket_connect", "message": "websocket_message",
                     "disconnect": "websocket_disconnect", "naive_broadcast": "websocket_message"}


def lambda_gb(handler: str) -> float:
    return FUNCTIONS[HANDLER_FUNCTIONS.get(handler, handler)].memory / 1024


def lambda_usage(operations: dict[str, dict]) -> dict:
    """Invocations and GB-seconds. The handlers' time is measured here, where a moto round trip takes far
    longer than DynamoDB's single-digit milliseconds: each DynamoDB call's local time is replaced by
    DYNAMODB_ROUND_TRIP before pricing (the local time is kept too)."""
    handlers = {name.split(".", 1)[1]: tally for name, tally in operations.items() if name.startswith("lambda.")}
    dynamodb = [tally for name, tally in operations.items() if name.startswith("dynamodb.")]
    local = sum(tally["seconds"] for tally in handlers.values())
    on_aws = (max(0.0, local - sum(tally["seconds"] for tally in dynamodb))
              + sum(tally["requests"] for tally in dynamodb) * DYNAMODB_ROUND_TRIP)
    gigabytes = (sum(tally["seconds"] * lambda_gb(handler) for handler, tally in handlers.items()) / local
                 if local else 0)
    return {"lambda_invocations": sum(tally["requests"] for tally in handlers.values()),
            "lambda_seconds_local": local, "lambda_seconds": on_aws, "lambda_gb_seconds": on_aws * gigabytes}


def usage(label: str, snapshot: dict, count: int, inbound_frames: float = 1.0) -> dict:
    """An accounting snapshot of `count` operations, per operation, with its price per million."""
    operations = {name: {key: value / count for key, value in tally.items()}
                  for name, tally in snapshot["operations"].items()}
    dynamodb = [tally for name, tally in operations.items() if name.startswith("dynamodb.")]
    per_operation = {
        "label": label, "count": count,
        "requests": {name: tally["requests"] for name, tally in operations.items()},
        "dynamodb_requests": sum(tally["requests"] for tally in dynamodb),
        "read_units": sum(tally["read_units"] for tally in dynamodb),
        "write_units": sum(tally["write_units"] for tally in dynamodb),
        "index_write_units": sum(tally["index_write_units"] for tally in dynamodb),
        "websocket_messages": inbound_frames + sum(tally["websocket_messages"] for tally in operations.values()),
        "sqs_requests": sum(tally["requests"] for name, tally in operations.items() if name.startswith("sqs.")),
        "mobile_pushes": operations.get("sns.Publish", {}).get("requests", 0.0),
        **lambda_usage(operations),
        "hottest_partitions": [{**load, **{name: load[name] / count for name in PARTITION_LOADS}}
                               for load in snapshot.get("partitions", [])[:HOTTEST_SHOWN]],
    }
    return {**per_operation, "dollars_per_million": dollars_per_million(per_operation)}


def dollars_per_million(used: dict) -> dict:
    bill = {
        "api_gateway": used["websocket_messages"] * PRICES["websocket_message"],
        "lambda": used["lambda_invocations"] * PRICES["lambda_request"]
        + used["lambda_gb_seconds"] * PRICES["lambda_gb_second"],
        "dynamodb": (used["write_units"] + used["index_write_units"]) * PRICES["write_request_unit"]
        + used["read_units"] * PRICES["read_request_unit"],
        "sqs": used["sqs_requests"] * PRICES["sqs_request"],
        "sns": used.get("mobile_pushes", 0.0) * PRICES["mobile_push"],
    }
    bill = {service: dollars * 1e6 for service, dollars in bill.items()}
    return {**bill, "total": sum(bill.values())}


@dataclass(frozen=True)
class Operation:
    label: str
    run: Callable[[], Awaitable]
    inbound_frames: float = 1.0  # WebSocket messages the client sends per operation
    about: dict = field(default_factory=dict)  # facts kept with the result, such as a group's size
    undo: Callable[[], Awaitable] | None = None  # for one that cannot run twice: undone before a window is retried


async def measure(world: World, operation: Operation, count: int | None = None, sizing: bool = True) -> dict:
    """The operation's usage over a window of its own, heartbeats held; a window that a scheduled Lambda (the
    presence sweep) fell into is measured again, since what it did is not the operation's. Without `sizing`,
    writes count 1 unit each (exact for items under 1 KB) and the stack runs about three times faster."""
    count = count or world.plan.cost_repeats
    async with world.heartbeats.paused():
        for attempt in range(WINDOW_ATTEMPTS):
            if attempt and operation.undo is not None:
                await operation.undo()
            await world.stack.settled_accounting()
            await world.stack.reset_accounting(sizing=sizing)
            for _ in range(count):
                await operation.run()
            snapshot = await world.stack.settled_accounting()
            if not any(name.startswith("schedule.") for name in snapshot["operations"]):
                break
        else:
            raise RuntimeError(f"a schedule ran in each of {WINDOW_ATTEMPTS} windows of {operation.label!r}")
    await world.stack.reset_accounting()  # sizing off again: it slows every write down
    return {**usage(operation.label, snapshot, count, operation.inbound_frames), **operation.about}


async def read_receipts(world: World, label: str, reader: ParleyClient, sender: ParleyClient,
                        chat_id: str) -> Operation:
    """Receipts by a member who has read nothing yet, each marking the next message read; first the sender
    makes sure there are enough messages for every window `measure` may need."""
    for _ in range((await sender.chat(chat_id))["last_seq"], world.plan.cost_repeats * WINDOW_ATTEMPTS):
        await sender.send_text(chat_id, "one more to read")
    seqs = itertools.count(1)
    return Operation(label, lambda: reader.receipt(chat_id, next(seqs), "read"))
