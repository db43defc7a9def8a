"""The app's non-HTTP event sources, run locally as AWS would: SQS consumers and schedules.

SQS queues are polled by POLLERS_PER_QUEUE consumers each, as a Lambda event source mapping starts with five,
and their messages handed to the `@app.on_sqs_message` handler in SQS-shaped events.
An empty queue is polled less and less often by its first poller (up to IDLE_POLL_MAX apart), while the others
wait; all are woken at once when a message enters it (`enqueued`, which the stack's moto calls), so that idle
pollers leave moto alone and a new message still starts within milliseconds; a message that only becomes
visible again (a retry) waits for the first poller's next poll;
what the handler reports in `batchItemFailures` (or everything, if it raises) stays on the queue and comes
back after the visibility timeout, as with a Lambda event source mapping that reports batch item failures.
A batch stays invisible for the queue's own timeout while its invocation runs (a slow invocation under load
must not be handed out twice); a failed one comes back after RETRY_SECONDS, sooner than on AWS, so that
redelivery shows quickly.
Schedules run at their rate, and on demand through POST /_devstack/schedules/{name}. What a consumer's queue
gave up on goes back to it through POST /_devstack/redrive/{name}, as `python -m deploy redrive` does on AWS.
"""
import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime

from aiohttp import web
from chalice.app import ScheduledEventConfig, SQSEventConfig

from chalicelib import clock

RETRY_SECONDS = 2
POLLERS_PER_QUEUE = 5
IDLE_POLL_FIRST = 0.05  # seconds between polls of a queue found empty, doubling up to IDLE_POLL_MAX
IDLE_POLL_MAX = 1.0
UNIT_SECONDS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression) -> float:
    text = expression if isinstance(expression, str) else expression.to_string()
    match = re.fullmatch(r"rate\((\d+) (\w+)\)", text)
    if not match:
        raise ValueError(f"the local stack runs rate() schedules only, not {text}")
    return int(match[1]) * UNIT_SECONDS[match[2]]


class Triggers:
    def __init__(self, app_module, invoke, sqs):
        self._app_module = app_module
        self._invoke = invoke
        self._sqs = sqs
        self._offset = 0.0
        self._failures: dict[str, int] = {}  # handler name -> invocations still to crash
        self._tasks: list[asyncio.Task] = []
        self._schedules = {source.name: source for source in app_module.app.event_sources
                           if isinstance(source, ScheduledEventConfig)}
        self._queues = [source for source in app_module.app.event_sources if isinstance(source, SQSEventConfig)]
        self._arrivals = {source.queue: asyncio.Event() for source in self._queues}
        self._loop: asyncio.AbstractEventLoop | None = None
        clock.now = lambda: time.time() + self._offset

    def enqueued(self, queue_name: str) -> None:
        """A message entered a queue (called from any thread): wake its poller."""
        if self._loop is not None and queue_name in self._arrivals:
            self._loop.call_soon_threadsafe(self._arrivals[queue_name].set)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/_devstack/schedules/{name}", self._run_schedule_now)
        app.router.add_post("/_devstack/clock", self._advance_clock)
        app.router.add_post("/_devstack/faults/{name}", self._crash_next)
        app.router.add_post("/_devstack/redrive/{name}", self._redrive)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)

    async def _start(self, _app) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks = [asyncio.ensure_future(self._poll(source, timed=poller == 0)) for source in self._queues
                       for poller in range(POLLERS_PER_QUEUE)]
        self._tasks += [asyncio.ensure_future(self._every(source)) for source in self._schedules.values()]

    async def _stop(self, _app) -> None:
        for task in self._tasks:
            task.cancel()

    async def _poll(self, source: SQSEventConfig, timed: bool) -> None:
        queue_url = await asyncio.to_thread(lambda: self._sqs.get_queue_url(QueueName=source.queue)["QueueUrl"])
        queue_arn = f"arn:aws:sqs:us-east-1:123456789012:{source.queue}"
        arrived, idle = self._arrivals[source.queue], IDLE_POLL_FIRST
        while True:
            arrived.clear()  # before the poll: a message that enters during it wakes the wait below
            answer = await asyncio.to_thread(self._sqs.receive_message, QueueUrl=queue_url,
                                             MaxNumberOfMessages=min(source.batch_size, 10), AttributeNames=["All"])
            messages = answer.get("Messages", [])
            if not messages:
                try:
                    await asyncio.wait_for(arrived.wait(), idle if timed else None)
                except TimeoutError:
                    idle = min(idle * 2, IDLE_POLL_MAX)
                continue
            idle = IDLE_POLL_FIRST
            event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                                  "attributes": m.get("Attributes", {}), "messageAttributes": {},
                                  "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                                  "eventSourceARN": queue_arn, "awsRegion": "us-east-1"} for m in messages]}
            try:
                if self._failures.get(source.name, 0) > 0:
                    self._failures[source.name] -= 1
                    raise RuntimeError(f"injected crash of {source.name}")
                result = await self._invoke(source.name, event)
                failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
            except Exception:
                failed = {m["MessageId"] for m in messages}
            done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages) if m["MessageId"] not in failed]
            retry = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": RETRY_SECONDS}
                     for i, m in enumerate(messages) if m["MessageId"] in failed]
            if done:
                await asyncio.to_thread(self._sqs.delete_message_batch, QueueUrl=queue_url, Entries=done)
            if retry:
                await asyncio.to_thread(self._sqs.change_message_visibility_batch, QueueUrl=queue_url, Entries=retry)

    async def _every(self, source: ScheduledEventConfig) -> None:
        period = rate_seconds(source.schedule_expression)
        while True:
            await asyncio.sleep(period)
            await self._run(source)

    async def _run(self, source: ScheduledEventConfig):
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": "123456789012", "region": "us-east-1", "detail": {},
                 "time": datetime.fromtimestamp(clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{source.name}"]}
        return await self._invoke(source.name, event)

    async def _run_schedule_now(self, request: web.Request) -> web.Response:
        source = self._schedules.get(request.match_info["name"])
        if source is None:
            return web.json_response({"message": "no such schedule"}, status=404)
        await self._run(source)
        return web.Response(status=204)

    async def _crash_next(self, request: web.Request) -> web.Response:
        """Make the next N invocations of an SQS consumer crash before it runs (as a dead container would)."""
        self._failures[request.match_info["name"]] = int((await request.json())["count"])
        return web.Response(status=204)

    async def _redrive(self, request: web.Request) -> web.Response:
        """Move every message of an SQS consumer's dead-letter queue back to its queue; answers how many moved.
        moto has no StartMessageMoveTask, which the AWS command uses, so here they are received, sent and deleted."""
        source = next((source for source in self._queues if source.name == request.match_info["name"]), None)
        if source is None:
            return web.json_response({"message": "no such consumer"}, status=404)
        return web.json_response({"moved": await asyncio.to_thread(self._move_back, source.queue)})

    def _move_back(self, queue_name: str) -> int:
        queue_url = self._sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        policy = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
        dead_letters = json.loads(policy["RedrivePolicy"])["deadLetterTargetArn"].rsplit(":", 1)[1]
        dead_letters_url = self._sqs.get_queue_url(QueueName=dead_letters)["QueueUrl"]
        moved = 0
        while messages := self._sqs.receive_message(QueueUrl=dead_letters_url, MaxNumberOfMessages=10,
                                                    VisibilityTimeout=60).get("Messages", []):
            self._sqs.send_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "MessageBody": message["Body"]} for i, message in enumerate(messages)])
            self._sqs.delete_message_batch(QueueUrl=dead_letters_url, Entries=[
                {"Id": str(i), "ReceiptHandle": message["ReceiptHandle"]} for i, message in enumerate(messages)])
            moved += len(messages)
        return moved

    async def _advance_clock(self, request: web.Request) -> web.Response:
        """Move the app's clock forward (never back), for tests of what time alone changes."""
        self._offset += max(0.0, float((await request.json())["advance_seconds"]))
        return web.json_response({"now": clock.now()})
