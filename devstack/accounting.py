"""What the app asks of AWS, counted: requests per operation, the DynamoDB capacity units they would consume on
AWS, the @connections messages API Gateway would bill, and the Lambda invocations that made them.

    GET  /_devstack/accounting          the counts since the last reset
    POST /_devstack/accounting/reset    zero them; a body of {"sizing": true} also sizes what writes touch (below)
    GET  /_devstack/aws                 where the stack's AWS is (moto's endpoint, table and queue names), for
                                        tools that work beside the app, such as the bench's naive baseline

The counts include `in_flight`, the handler invocations under way or waiting for a worker, and the AWS calls
under way: with it and the queues empty, whatever an operation set off has finished. `partitions` lists the
DynamoDB partition keys that took the most load, hottest first: the read and write units each took, and its
partition-seconds (RCU / 3,000 + WCU / 1,000, what a partition can serve in a second), base tables only.

How. botocore event hooks on the session the app's clients come from. A client copies its session's hooks
when it is created, so `install` runs before the app builds its first client (it builds them lazily, on its
first event):
- before-parameter-build.dynamodb asks every request that takes it for ReturnConsumedCapacity=TOTAL;
- before-call notes the time and the request as it goes on the wire; after-call (after-call-error for a
  request that got no answer) counts it and what it cost.
Lambda invocations are counted by wrapping the app's handler functions, which is what the stand-ins call;
those a schedule runs count as `schedule.{name}`, so that a measurement can tell when one fell into it.
An SQS ReceiveMessage that finds nothing is an idle poll of the local stand-in for Lambda's event source
mapping, counted apart (`idle_polls`) since it does not depend on what the app does.

Capacity units: measured or computed. moto answers ReturnConsumedCapacity with constants whatever the items
(GetItem and UpdateItem 0.5, PutItem and Query 1, BatchGetItem 1 per key, TransactWriteItems nothing). Those
are kept as `reported_units`; `read_units` and `write_units` are computed from the items by AWS's rules
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html):
- reads: 1 unit per 4 KB, rounded up per item (GetItem, BatchGetItem) or per response (Query and Scan add
  their items' sizes up first); half for eventually consistent reads; a missing item costs the minimum.
- writes: 1 unit per 1 KB of the larger of the item before and after, rounded up per item; a failed
  condition costs the same; transactions cost twice.
- a write that changes an item's entry in a global secondary index also writes the index
  (`index_write_units`).
Sizes follow https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html.
What the request or the answer carries is sized directly: reads by the items returned, puts by the item sent.
What neither carries (the item an update or delete touches, the item a put replaces, index entries, the
whole item behind a read with a projection, which AWS charges in full) is read with a separate, uncounted
client when sizing is on. That is one more round trip per item, so latency runs leave it off; then such
writes count the 1-unit minimum, index writes are not counted and projected reads are sized by what they
return.
"""
import json
import math
import os
import re
import threading
import time
from base64 import b64decode
from dataclasses import asdict, dataclass, fields

import boto3
from aiohttp import web
from chalice.app import BaseLambdaHandler, ScheduledEventConfig

PARTITION_READ_UNITS = 3000  # per second, what one DynamoDB partition serves
PARTITION_WRITE_UNITS = 1000
HOTTEST_PARTITIONS = 10  # listed in a snapshot
READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
WEBSOCKET_MESSAGE_BYTES = 32 * 1024  # API Gateway bills a WebSocket message per 32 KB
BATCH_GET_KEYS = 100
CONSUMING_ERRORS = ("ConditionalCheckFailedException", "TransactionCanceledException")
TABLE_ENVIRONMENT = {"connections": "CONNECTIONS_TABLE", "users": "USERS_TABLE", "chats": "CHATS_TABLE",
                     "messages": "MESSAGES_TABLE", "media": "MEDIA_TABLE"}
QUEUE_ENVIRONMENT = {"fanout": "FANOUT_QUEUE_URL", "media_events": "MEDIA_EVENTS_QUEUE_URL"}


# Sizes and units ----------------------------------------------------------------------------------------------

def number_size(text: str) -> int:
    significant = text.lower().split("e")[0].lstrip("-").replace(".", "").strip("0")
    return (len(significant) + 1) // 2 + 1


def value_size(value: dict) -> int:
    """The size of one attribute value in DynamoDB's wire format ({"S": "..."}, {"M": {...}}, ...)."""
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(text.encode()) for text in data)
    if kind == "NS":
        return sum(number_size(text) for text in data)
    if kind == "BS":
        return sum(len(b64decode(blob)) for blob in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / READ_UNIT_BYTES)) * (1 if consistent else 0.5)


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


@dataclass
class Tally:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    read_units: float = 0.0
    write_units: float = 0.0
    index_write_units: float = 0.0
    reported_units: float = 0.0
    websocket_messages: int = 0

    def add(self, other: "Tally") -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


# What a DynamoDB request touches -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Write:
    table: str
    key: dict | None  # None for a put: the key is inside `item`
    item: dict | None = None  # what a put stores


def writes_of(operation: str, request: dict) -> list[Write]:
    if operation == "PutItem":
        return [Write(request["TableName"], None, request["Item"])]
    if operation in ("UpdateItem", "DeleteItem"):
        return [Write(request["TableName"], request["Key"])]
    if operation == "BatchWriteItem":
        return [Write(table, None, entry["PutRequest"]["Item"]) if "PutRequest" in entry
                else Write(table, entry["DeleteRequest"]["Key"])
                for table, entries in request["RequestItems"].items() for entry in entries]
    if operation == "TransactWriteItems":
        actions = [next(iter(action.values())) for action in request["TransactItems"]]
        return [Write(action["TableName"], action.get("Key"), action.get("Item")) for action in actions]
    return []


@dataclass(frozen=True)
class Index:
    keys: tuple[str, ...]  # the table's key attributes, then the index's
    projected: tuple[str, ...] | None  # None: every attribute

    def entry(self, item: dict | None) -> dict | None:
        if item is None or any(key not in item for key in self.keys):
            return None
        if self.projected is None:
            return item
        return {name: value for name, value in item.items() if name in self.keys or name in self.projected}

    def write_units(self, before: dict | None, after: dict | None) -> int:
        old, new = self.entry(before), self.entry(after)
        if old == new:
            return 0
        if old is not None and new is not None and all(old[key] == new[key] for key in self.keys):
            return write_units(max(item_size(old), item_size(new)))
        return sum(write_units(item_size(entry)) for entry in (old, new) if entry is not None)


class Sizer:
    """Reads what a request does not show, with a client of its own that the hooks never see. The time it
    takes is kept per thread, so that the timings of calls and handlers can leave it out."""

    def __init__(self, client):
        self._client = client
        self._tables: dict[str, dict] = {}
        self._thread = threading.local()

    def _ask(self, method: str, **request) -> dict:
        started = time.perf_counter()
        try:
            return getattr(self._client, method)(**request)
        finally:
            self._thread.seconds = self.seconds_in_thread() + time.perf_counter() - started

    def seconds_in_thread(self) -> float:
        return getattr(self._thread, "seconds", 0.0)

    def _table(self, name: str) -> dict:
        if name not in self._tables:
            self._tables[name] = self._ask("describe_table", TableName=name)["Table"]
        return self._tables[name]

    def key(self, write: Write) -> dict:
        if write.key is not None:
            return write.key
        return {part["AttributeName"]: write.item[part["AttributeName"]]
                for part in self._table(write.table)["KeySchema"]}

    def partition(self, table: str, key: dict, index: str | None = None) -> str:
        """`table` (or `table/index`) and the value of its partition key in `key` (an item or a key)."""
        description = self._table(table)
        schema = next(i["KeySchema"] for i in description.get("GlobalSecondaryIndexes", [])
                      if i["IndexName"] == index) if index else description["KeySchema"]
        name = next(part["AttributeName"] for part in schema if part["KeyType"] == "HASH")
        value = next(iter(key.get(name, {"NULL": True}).values()))
        return f"{table}/{index}:{value}" if index else f"{table}:{value}"

    def queried_partition(self, request: dict) -> str:
        """The partition a Query reads (its key condition's equality on the partition key)."""
        table, index = request["TableName"], request.get("IndexName")
        names = request.get("ExpressionAttributeNames", {})
        values = request.get("ExpressionAttributeValues", {})
        for name, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", request.get("KeyConditionExpression", "")):
            attribute = names.get(name, name)
            partition = self.partition(table, {attribute: values[placeholder]}, index)
            if not partition.endswith(":True"):
                return partition
        return f"{table}:?"

    def item(self, table: str, key: dict) -> dict | None:
        return self._ask("get_item", TableName=table, Key=key, ConsistentRead=True).get("Item")

    def items(self, writes: list[Write]) -> list[dict | None]:
        return [self.item(write.table, self.key(write)) for write in writes]

    def sizes(self, table: str, keys: list[dict]) -> list[int]:
        """The full sizes of the items under `keys` (0 for a missing one), read 100 keys at a time."""
        sizes = []
        for start in range(0, len(keys), BATCH_GET_KEYS):
            request = {table: {"Keys": keys[start:start + BATCH_GET_KEYS], "ConsistentRead": True}}
            found = self._ask("batch_get_item", RequestItems=request)["Responses"].get(table, [])
            sizes += [item_size(item) for item in found] + [0] * (len(request[table]["Keys"]) - len(found))
        return sizes

    def indexes(self, table: str) -> list[Index]:
        description = self._table(table)
        table_keys = tuple(part["AttributeName"] for part in description["KeySchema"])
        return [Index(keys=table_keys + tuple(part["AttributeName"] for part in index["KeySchema"]),
                      projected=None if index["Projection"]["ProjectionType"] == "ALL"
                      else tuple(index["Projection"].get("NonKeyAttributes", ())))
                for index in description.get("GlobalSecondaryIndexes", [])]

    def unprojected_size(self, operation: str, request: dict) -> int:
        """What a Query or Scan page with a projection read in full: the same page with every attribute (a
        projection does not move page boundaries, which DynamoDB draws on the items it reads)."""
        query = {name: value for name, value in request.items()
                 if name not in ("ProjectionExpression", "ReturnConsumedCapacity")}
        expressions = " ".join(request.get(name, "") for name in ("KeyConditionExpression", "FilterExpression"))
        names = {placeholder: name for placeholder, name in request.get("ExpressionAttributeNames", {}).items()
                 if placeholder in expressions}
        query.pop("ExpressionAttributeNames", None)
        if names:
            query["ExpressionAttributeNames"] = names
        return sum(item_size(item) for item in self._ask(operation.lower(), **query)["Items"])


# Capacity of one DynamoDB call ---------------------------------------------------------------------------------

def reported_units(answer: dict) -> float:
    consumed = answer.get("ConsumedCapacity") or []
    return sum(entry.get("CapacityUnits", 0) for entry in (consumed if isinstance(consumed, list) else [consumed]))


def read_capacity(operation: str, request: dict, answer: dict, sizer: Sizer | None, where: Sizer) \
        -> dict[str, float]:
    """Read units per partition key; `where` names partitions (it reads table descriptions only)."""
    consistent = bool(request.get("ConsistentRead"))
    projected = "ProjectionExpression" in request
    if operation == "GetItem":
        item = sizer.item(request["TableName"], request["Key"]) if projected and sizer else answer.get("Item")
        return {where.partition(request["TableName"], request["Key"]): read_units(item_size(item), consistent)}
    if operation == "BatchGetItem":
        units: dict[str, float] = {}
        for table, spec in request["RequestItems"].items():
            found = answer.get("Responses", {}).get(table, [])
            for partition, read in batch_read_capacity(table, spec, found, sizer, where):
                units[partition] = units.get(partition, 0) + read
        return units
    if operation in ("Query", "Scan"):
        size = sizer.unprojected_size(operation, request) if projected and sizer else \
            sum(item_size(item) for item in answer.get("Items", []))
        partition = where.queried_partition(request) if operation == "Query" else f"{request['TableName']}:*"
        return {partition: read_units(size, consistent)}
    return {}


def batch_read_capacity(table: str, spec: dict, found: list[dict], sizer: Sizer | None,
                        where: Sizer) -> list[tuple[str, float]]:
    """Units per key read; a batch's units are spread evenly over its keys (a projection may leave out the keys
    of what it returns, and each item of a typical batch costs the minimum anyway)."""
    consistent = bool(spec.get("ConsistentRead"))
    keys = spec["Keys"]
    if "ProjectionExpression" in spec and sizer:
        sizes = sizer.sizes(table, keys)
    else:
        sizes = [item_size(item) for item in found] + [0] * (len(keys) - len(found))
    units = sum(read_units(size, consistent) for size in sizes)
    return [(where.partition(table, key), units / len(keys)) for key in keys]


def write_capacity(operation: str, writes: list[Write], before: list | None, after: list | None,
                   where: Sizer) -> dict[str, float]:
    """Write units per partition key; `before` and `after` are the items as read by a Sizer, or None without
    sizing."""
    if before is None or after is None:
        sizes = [item_size(write.item) for write in writes]
    else:
        sizes = [max(item_size(old), item_size(new)) for old, new in zip(before, after, strict=True)]
    units: dict[str, float] = {}
    for write, size in zip(writes, sizes, strict=True):
        partition = where.partition(write.table, where.key(write))
        units[partition] = units.get(partition, 0) + write_units(size) * (2 if operation == "TransactWriteItems"
                                                                            else 1)
    return units


# The hooks -------------------------------------------------------------------------------------------------------

@dataclass
class Call:
    operation: str  # "dynamodb.GetItem"
    started: float = 0.0
    request: dict | None = None  # a DynamoDB request as sent
    writes: list[Write] | None = None
    before: list | None = None  # the written items before the call, when sizing
    in_flight: bool = True  # counted among the calls under way


class Accounting:
    def __init__(self, endpoint: str | None = None, announced: str | None = None):
        """`endpoint`: where the sizer reads (None: this process's moto); `announced`: the moto endpoint that
        `/_devstack/aws` gives tools outside the stack (default: `endpoint`)."""
        self._endpoint = announced or endpoint
        self._sizer = Sizer(boto3.session.Session().client("dynamodb", endpoint_url=endpoint))
        self._lock = threading.Lock()
        self.sizing = False
        self._reset_at, self._cpu_at_reset = time.monotonic(), time.process_time()
        self._tallies: dict[str, Tally] = {}
        self._partitions: dict[str, list[float]] = {}  # partition key -> [read units, write units]
        self._idle_polls = 0
        self._in_flight = 0  # handler invocations and AWS calls under way (polls aside), whatever the resets

    @classmethod
    def install(cls, app_module, announced: str | None = None) -> "Accounting":
        """Count the calls of every client boto3's default session creates from now on, and the app's Lambdas
        (which reach this process's moto)."""
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        accounting = cls(announced=announced)
        accounting.hook(boto3.DEFAULT_SESSION)
        accounting.time_handlers(app_module)
        return accounting

    def hook(self, session: boto3.session.Session) -> None:
        session.events.register("before-parameter-build.dynamodb", self._ask_for_capacity)
        session.events.register("before-call", self._before_call)
        session.events.register("after-call", self._after_call)
        session.events.register("after-call-error", self._after_call_error)

    def time_handlers(self, app_module) -> None:
        """Wrap the app's Lambda handlers: `lambda.{name}`, or `schedule.{name}` for those a schedule runs."""
        scheduled = {source.name for source in app_module.app.event_sources
                     if isinstance(source, ScheduledEventConfig)}
        for name, handler in vars(app_module).copy().items():
            if isinstance(handler, BaseLambdaHandler):
                kind = "schedule" if name in scheduled else "lambda"
                setattr(app_module, name, self.timed(f"{kind}.{name}", handler))

    def reset(self, sizing: bool = False) -> None:
        with self._lock:
            self._tallies, self._partitions, self._idle_polls, self.sizing = {}, {}, 0, sizing
            self._reset_at, self._cpu_at_reset = time.monotonic(), time.process_time()

    def snapshot(self) -> dict:
        with self._lock:
            operations = {name: asdict(tally) for name, tally in sorted(self._tallies.items())}
            services: dict[str, Tally] = {}
            for name, tally in self._tallies.items():
                services.setdefault(name.split(".")[0], Tally()).add(tally)
            partitions = sorted(({"key": key, "read_units": reads, "write_units": writes,
                                  "partition_seconds": reads / PARTITION_READ_UNITS + writes / PARTITION_WRITE_UNITS}
                                 for key, (reads, writes) in self._partitions.items()),
                                key=lambda load: -load["partition_seconds"])
            return {"sizing": self.sizing, "seconds": time.monotonic() - self._reset_at,
                    "cpu_seconds": time.process_time() - self._cpu_at_reset,
                    "in_flight": self._in_flight, "idle_polls": self._idle_polls, "operations": operations,
                    "services": {name: asdict(tally) for name, tally in sorted(services.items())},
                    "partitions": partitions[:HOTTEST_PARTITIONS]}

    def _count(self, operation: str, tally: Tally) -> None:
        with self._lock:
            self._tallies.setdefault(operation, Tally()).add(tally)

    def under_way(self, change: int) -> None:
        with self._lock:
            self._in_flight += change

    def timed(self, operation: str, handler):
        """`handler` counted as `operation`: its calls, failures and seconds."""
        def invoke(*args, **kwargs):
            self.under_way(+1)
            started, sizing_before = time.perf_counter(), self._sizer.seconds_in_thread()
            failed = True
            try:
                answer = handler(*args, **kwargs)
                failed = False
                return answer
            finally:
                sizing = self._sizer.seconds_in_thread() - sizing_before
                self._count(operation, Tally(requests=1, errors=int(failed),
                                             seconds=time.perf_counter() - started - sizing))
                self.under_way(-1)
        return invoke

    @staticmethod
    def _ask_for_capacity(params: dict, model, **_) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _before_call(self, model, params: dict, context: dict, **_) -> None:
        call = Call(operation=f"{model.service_model.service_name}.{model.name}")
        if call.operation == "sqs.ReceiveMessage":
            call.in_flight = False  # a poll is under way nearly all the time, whether or not anything happens
        else:
            self.under_way(+1)
        if model.service_model.service_name == "dynamodb":
            call.request = json.loads(params["body"])
            call.writes = writes_of(model.name, call.request)
            if self.sizing and call.writes:
                call.before = self._sizer.items(call.writes)
        elif call.operation == "apigatewaymanagementapi.PostToConnection":
            call.request = {"bytes": len(params["body"])}
        call.started = time.perf_counter()
        context["accounting"] = call

    def _after_call(self, http_response, parsed: dict, context: dict, **_) -> None:
        call: Call | None = context.get("accounting")
        if call is None:
            return
        if call.operation == "sqs.ReceiveMessage" and not parsed.get("Messages"):
            with self._lock:
                self._idle_polls += 1
            return
        failed = http_response.status_code >= 300
        tally = Tally(requests=1, errors=int(failed), seconds=time.perf_counter() - call.started)
        if call.operation.startswith("dynamodb."):
            self._add_capacity(tally, call, json.loads(http_response.content or b"{}"), failed)
        elif call.operation == "apigatewaymanagementapi.PostToConnection" and not failed:
            tally.websocket_messages = max(1, math.ceil(call.request["bytes"] / WEBSOCKET_MESSAGE_BYTES))
        self._count(call.operation, tally)
        self._finish(call)

    def _after_call_error(self, context: dict, **_) -> None:
        call: Call | None = context.get("accounting")
        if call is not None:
            self._count(call.operation, Tally(requests=1, errors=1, seconds=time.perf_counter() - call.started))
            self._finish(call)

    def _load(self, units: dict[str, float], read: bool) -> None:
        with self._lock:
            for partition, amount in units.items():
                load = self._partitions.setdefault(partition, [0.0, 0.0])
                load[0 if read else 1] += amount

    def _finish(self, call: Call) -> None:
        if call.in_flight:
            self.under_way(-1)

    def _add_capacity(self, tally: Tally, call: Call, answer: dict, failed: bool) -> None:
        operation = call.operation.split(".", 1)[1]
        tally.reported_units = reported_units(answer)
        sizer = self._sizer if self.sizing else None
        if not failed:
            reads = read_capacity(operation, call.request, answer, sizer, self._sizer)
            tally.read_units = sum(reads.values())
            self._load(reads, read=True)
        if call.writes and (not failed or answer.get("__type", "").endswith(CONSUMING_ERRORS)):
            after = self._sizer.items(call.writes) if call.before is not None else None
            writes = write_capacity(operation, call.writes, call.before, after, self._sizer)
            tally.write_units = sum(writes.values())
            self._load(writes, read=False)
            if after is not None:
                tally.index_write_units = sum(index.write_units(old, new)
                                              for write, old, new in zip(call.writes, call.before, after, strict=True)
                                              for index in self._sizer.indexes(write.table))

    # Routes ------------------------------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/_devstack/accounting", self._show)
        app.router.add_post("/_devstack/accounting/reset", self._reset)
        app.router.add_get("/_devstack/aws", self._aws)

    async def _show(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def _reset(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.reset(sizing=bool(body.get("sizing")))
        return web.Response(status=204)

    async def _aws(self, request: web.Request) -> web.Response:
        def named(environment: dict[str, str]) -> dict[str, str | None]:
            return {name: os.environ.get(variable) for name, variable in environment.items()}
        return web.json_response({"endpoint_url": self._endpoint, "region": os.environ.get("AWS_REGION"),
                                  "tables": named(TABLE_ENVIRONMENT), "queues": named(QUEUE_ENVIRONMENT)})
