"""moto inside the local stack's own process, answering one request at a time, with transactions that cost
what they touch.

The app's clients reach moto's backends in-process (`mock_aws`): no HTTP hop, about a third of the time per
request. What must come from outside (a browser posting an upload to S3, the bench and the soak reading
tables, the Cognito key set) reaches the same backends through a moto server on a thread of this process.

moto's backends are not thread-safe: a transaction that fails restores a snapshot of the whole table,
undoing what concurrent requests wrote meanwhile, and conditional writes check and write in two steps.
AWS is atomic there, and Parley relies on it, so the stand-in must be too: one lock, held for each request
however it arrives (tests/aws/test_store_contract.py races seq counters through `in_process` and fails
without it). moto also deep-copies every table a transaction names, so each send would cost time in
proportion to all the messages ever stored; here a transaction saves and restores only the items it touches.
And moto answers a query by listing and sorting every item of the table, so a query's cost grew with all the
messages ever stored (0.9 s at 60,000 items); here a query is handed only the items its partition key selects.
An index query listed every item too (0.7 s at 270,000, and a thousand sockets' presence announcements query
one a transition): here each table keeps which items held each value of its indexes' partition keys.
Its generic response serializer walks every answer against the service model (a tenth of a send's time, and
most of a 100-key BatchGetItem's); an item operation's answer is already in DynamoDB's wire shape but for
binary values, so here it is written out as JSON directly. An UpdateItem parses its expression anew each
time and deep-copies its syntax tree; here a parse is kept per expression and the tree copied through pickle,
and moto's list of each handler's methods, rebuilt by introspection for every request, is kept.
"""
import asyncio
import base64
import calendar
import copy
import functools
import json
import logging
import pickle
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from xml.sax.saxutils import escape

import boto3
from aiohttp import web
from botocore import UNSIGNED
from moto import mock_aws
from moto.core import responses as core_responses
from moto.core.botocore_stubber import BotocoreStubber
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.dynamodb.responses import DynamoHandler
from moto.s3.responses import S3Response
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.sqs import models as sqs_models
from werkzeug.serving import make_server

from chalicelib import clock


class _TablesAreNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB models: tables pass through uncopied."""

    @staticmethod
    def deepcopy(value, *args):
        return value if isinstance(value, dynamodb_models.Table) else copy.deepcopy(value, *args)


def _item_key(backend, operation: dict) -> tuple[str, dict]:
    table = backend.get_table(operation["TableName"])
    if "Key" in operation:
        return operation["TableName"], operation["Key"]
    key = {table.hash_key_attr: operation["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = operation["Item"][table.range_key_attr]
    return operation["TableName"], key


def _transact_touching_only_its_items(original):
    def transact_write_items(backend, transact_items):
        saved = []
        for action in transact_items:
            operation = next(iter(action.values()))
            if operation.get("TableName") in backend.tables:
                table_name, key = _item_key(backend, operation)
                current = backend.get_item(table_name, key)
                saved.append((table_name, key, current.to_json()["Attributes"] if current else None))
        try:
            return original(backend, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(saved):
                if attributes is None:
                    backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, attributes)
            raise
    return transact_write_items


def _query_only_its_partition(original):
    def query(table, hash_key, *args, hash_key_conditions=None, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is None:
            selected = {hash_key: table.items[hash_key]} if hash_key in table.items else {}
        else:
            selected = _items_matching(table, hash_key_conditions or [])
        partition = copy.copy(table)
        partition.items = selected
        return original(partition, hash_key, *args, hash_key_conditions=hash_key_conditions, **kwargs)
    return query


class _IndexKeys:
    """Per table, which items' keys have held each value of each index's partition key attribute: a superset
    (an item changed or deleted since is left in, and checked at query time), kept up as items are written."""

    def __init__(self, table):
        self.names = {key["AttributeName"] for index in table.all_indexes() for key in index.schema
                      if key["KeyType"] == "HASH"}
        self.keys: dict[tuple, set] = defaultdict(set)
        for item in _every_item(table):
            self.add(item)

    def add(self, item) -> None:
        for name in self.names & item.attrs.keys():
            self.keys[(name, item.attrs[name])].add((item.hash_key, item.range_key))

    @staticmethod
    def of(table) -> "_IndexKeys":
        if "_index_keys" not in table.__dict__:
            table._index_keys = _IndexKeys(table)
        return table._index_keys

    @staticmethod
    def written(table, item) -> None:
        if "_index_keys" in table.__dict__:  # else built from every item at the table's first index query
            table._index_keys.add(item)


def _every_item(table):
    for value in table.items.values():
        yield from value.values() if table.range_key_attr is not None else (value,)


def _items_matching(table, conditions) -> dict:
    """The items an index query could return, in the table's own layout: {hash: {range: item}} or {hash: item}."""
    def matches(item):
        return all(name in item.attrs and item.attrs[name] == value for name, value in conditions)
    index_keys = _IndexKeys.of(table)
    indexed = [condition for condition in conditions if condition[0] in index_keys.names]
    candidates = (table.get_item(*key) for key in index_keys.keys[indexed[0]]) if indexed else _every_item(table)
    selected: dict = {} if table.range_key_attr is None else defaultdict(dict)
    for item in candidates:
        if item is not None and matches(item):
            if table.range_key_attr is None:
                selected[item.hash_key] = item
            else:
                selected[item.hash_key][item.range_key] = item
    return selected


def _indexing_what_it_writes(original):
    def write(owner, *args, **kwargs):
        item = original(owner, *args, **kwargs)
        table = owner if isinstance(owner, dynamodb_models.Table) else owner.get_table(args[0] if args else
                                                                                      kwargs["table_name"])
        _IndexKeys.written(table, item)
        return item
    return write


ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                             "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})


def _item_answers_as_json(original):
    def serialized(handler, action_result):
        if handler._get_action() not in ITEM_OPERATIONS or not isinstance(action_result.result, dict):
            return original(handler, action_result)  # errors, and the table operations' dates and enums
        body = json.dumps(action_result.result, default=_base64)
        return 200, {"Content-Type": "application/x-amz-json-1.0", **handler.response_headers}, body
    return serialized


def _base64(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} in a DynamoDB answer")


def _copied_through_pickle(value, memo=None):
    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def patch_dynamodb() -> None:
    DynamoHandler.serialized = _item_answers_as_json(DynamoHandler.serialized)
    parse = UpdateExpressionParser.make
    UpdateExpressionParser.make = classmethod(functools.lru_cache(maxsize=1024)(lambda _cls, text: parse(text)))
    validators.deepcopy = _copied_through_pickle  # the validator's copy of the cached tree is what it changes
    core_responses.method_names_from_class = functools.cache(core_responses.method_names_from_class)
    dynamodb_models.copy = _TablesAreNotCopied
    backend_class = dynamodb_models.DynamoDBBackend
    backend_class.transact_write_items = _transact_touching_only_its_items(backend_class.transact_write_items)
    table_class = dynamodb_models.Table
    table_class.query = _query_only_its_partition(table_class.query)
    table_class.put_item = _indexing_what_it_writes(table_class.put_item)
    backend_class.update_item = _indexing_what_it_writes(backend_class.update_item)


def post_policy_refusal(policy: dict, bucket: str, fields: dict[str, str], size: int,
                        now: float) -> tuple[int, str, str] | None:
    """S3's refusal (status, code, message) of an upload that breaks its policy's expiration, exact-match
    fields or length range; None if the policy allows it."""
    if calendar.timegm(time.strptime(policy["expiration"][:19], "%Y-%m-%dT%H:%M:%S")) <= now:
        return 403, "AccessDenied", "Invalid according to Policy: Policy expired."
    given = {name.lower(): value for name, value in fields.items()} | {"bucket": bucket}
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            if given.get(name.lower()) != value:
                return 403, "AccessDenied", \
                    f'Invalid according to Policy: Policy Condition failed: ["eq", "${name}", "{value}"]'
        elif condition[0] == "content-length-range" and not condition[1] <= size <= condition[2]:
            return 400, "EntityTooSmall" if size < condition[1] else "EntityTooLarge", \
                f"Your proposed upload is {size} bytes; the policy allows {condition[1]} to {condition[2]}."
    return None


def _post_policy_enforced(original):
    def post(response, request, bucket_name):
        fields = {name: values[0] for name, values in response.querystring.items()}
        body = response.raw_body or b""
        refusal = "policy" in fields and post_policy_refusal(
            json.loads(base64.b64decode(fields["policy"])), bucket_name, fields,
            len(body.encode() if isinstance(body, str) else body), time.time())  # botocore signs by the real clock
        if not refusal:
            return original(response, request, bucket_name)
        status, code, message = refusal
        xml = f"<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        return status, {"Content-Type": "application/xml"}, xml + "</Error>"
    return post


def patch_s3() -> None:
    """moto stores a browser's POST upload without reading its policy; S3 refuses what the policy does not
    allow, and Parley relies on it (an upload slot takes exactly the declared size)."""
    S3Response._bucket_response_post = _post_policy_enforced(S3Response._bucket_response_post)


def unsigned(session) -> None:
    """DynamoDB and SQS requests of clients made from `session` go unsigned: moto answers them in-process and
    checks no signature, and SigV4 was a fifteenth of a send's time. S3 stays signed: browsers post to the URLs
    it signs."""
    for service in ("dynamodb", "sqs"):
        session.events.register(f"choose-signer.{service}", lambda **_: UNSIGNED)


@contextmanager
def in_process(lock: threading.RLock):
    """moto for this process's clients, each request served under `lock`."""
    process = BotocoreStubber.process_request

    def serialized(self, request):
        with lock:
            return process(self, request)
    with mock_aws():
        BotocoreStubber.process_request = serialized
        try:
            yield
        finally:
            BotocoreStubber.process_request = process


def serve(port: int, lock: threading.RLock) -> None:
    """moto's HTTP endpoint on 127.0.0.1:`port`, on a thread of its own, each request served under `lock`."""
    app = DomainDispatcherApplication(create_backend_app)

    def serialized(environ, start_response):
        with lock:
            return list(app(environ, start_response))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a log line per request cost a tenth of moto's time
    server = make_server("127.0.0.1", port, serialized, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, name="moto-http", daemon=True).start()


def on_enqueue(tell: Callable[[str], None]) -> None:
    """Call `tell(queue_name)` whenever a message enters a queue (a send, or an S3 event), from any thread."""
    add = sqs_models.Queue.add_message

    def add_message(queue, message):
        add(queue, message)
        tell(queue.name)
    sqs_models.Queue.add_message = add_message


PARTITIONS_PER_HOLD = 50  # partitions the TTL sweep reads while it holds the lock


class TimeToLive:
    """DynamoDB's TTL deletion, which moto lacks, late as on AWS (which takes up to days): every `every` seconds,
    the items that expired more than `lag` seconds ago by the app's clock are deleted. Code that forgets to
    filter expired items then fails here as it would on AWS, not only after a deploy."""

    def __init__(self, lock: threading.RLock, lag: float, every: float):
        self._lock, self._lag, self._every = lock, lag, every

    def routes(self, app: web.Application) -> None:
        app.cleanup_ctx.append(self._running)

    async def _running(self, _app):
        task = asyncio.ensure_future(self._run())
        yield
        task.cancel()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            await asyncio.to_thread(delete_expired, self._lock, clock.now() - self._lag)


def delete_expired(lock: threading.RLock, cutoff: float) -> int:
    """Delete what DynamoDB's TTL would have deleted by now: items of tables with TTL on whose TTL attribute is a
    number below `cutoff`. Answers how many went.

    A partition at a time, PARTITIONS_PER_HOLD to a hold of the lock: a sweep of every item under one hold took
    seconds once a long soak had written hundreds of thousands of news marks, and every request waited behind it
    (the 1,000-socket soak wedged after ~45 minutes)."""
    deleted = 0
    with lock:
        tables = [table for backend in _dynamodb_backends() for table in backend.tables.values()
                  if table.ttl.get("TimeToLiveStatus") == "ENABLED"]
    for table in tables:
        name = table.ttl["AttributeName"]
        with lock:
            partitions = list(table.items)
        for start in range(0, len(partitions), PARTITIONS_PER_HOLD):
            with lock:
                for hash_key in partitions[start:start + PARTITIONS_PER_HOLD]:
                    entry = table.items.get(hash_key)
                    if entry is None:
                        continue
                    items = list(entry.values()) if table.has_range_key else [entry]
                    for item in items:
                        if _number(item.attrs.get(name)) < cutoff:
                            table.delete_item(item.hash_key, item.range_key)
                            deleted += 1
    return deleted


def _dynamodb_backends():
    return (backend for regions in dynamodb_models.dynamodb_backends.values() for backend in regions.values())


def _number(value) -> float:
    return float(value.value) if value is not None and value.type == "N" else float("inf")


CALIBRATION_SAMPLES = 20


def routes(app: web.Application, table: str) -> None:
    """GET /_devstack/moto: the median time this process's moto takes to answer a GetItem of `table`, as the
    app's own requests reach it (in-process, under the lock): the floor every measured time stands on."""
    client = boto3.client("dynamodb")

    def get_item_ms() -> float:
        samples = []
        for _ in range(CALIBRATION_SAMPLES):
            started = time.perf_counter()
            client.get_item(TableName=table, Key={"connection_id": {"S": "calibration"}})
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    async def show(_request: web.Request) -> web.Response:
        return web.json_response({"get_item_ms": await asyncio.to_thread(get_item_ms)})
    app.router.add_get("/_devstack/moto", show)
