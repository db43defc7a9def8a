"""Getting a chat's frames to its members: straight from the sending Lambda for small chats, through a queue
for large groups, so that a `send` returns at once whatever the group's size.

Above the threshold, the members are split into tasks of RECIPIENTS_PER_TASK users; an SQS consumer turns
each task into one BatchGetItem of sockets and parallel pushes. A `message` is marked as news for its
recipients before it is pushed to them (in the task, for a queued group), and so is a `chat` its recipients
may not know. A task fails (and SQS redelivers it)
only before it pushes anything, since a push that fails is logged and left to `sync`, never raised.

The same queue carries other work that must not run inline, as tasks with a `task` field naming the handler
registered for it (`handle`): a presence transition's announcement, one page of the user's chats a task, and
the presence sweep, one online shard a task (chalicelib/presence.py).
"""
import json
from collections.abc import Callable
from typing import Protocol

from chalicelib.delivery import Delivery
from chalicelib.news import News, unread_for
from chalicelib.observability import metrics

FANOUT_THRESHOLD = 100  # members
RECIPIENTS_PER_TASK = 100  # one BatchGetItem of sockets per task


def news_in(frame: dict) -> tuple[str, int] | None:
    """The chat and first seq a frame is news of: a message, or a chat its recipients may not know (yet)."""
    if frame["type"] == "message":
        return frame["message"]["chat_id"], frame["message"]["seq"]
    if frame["type"] == "chat":
        return frame["chat"]["chat_id"], frame["chat"]["last_seq"] + 1
    return None


class FanoutQueue(Protocol):
    def enqueue(self, tasks: list[dict]) -> None: ...


class SqsFanoutQueue:
    BATCH = 10  # SendMessageBatch's limit

    def __init__(self, sqs, queue_url: str):
        self._sqs = sqs
        self._url = queue_url

    def enqueue(self, tasks: list[dict]) -> None:
        for start in range(0, len(tasks), self.BATCH):
            entries = [{"Id": str(i), "MessageBody": json.dumps(task, separators=(",", ":"))}
                       for i, task in enumerate(tasks[start:start + self.BATCH])]
            for _ in range(3):
                failed = {f["Id"] for f in self._sqs.send_message_batch(QueueUrl=self._url,
                                                                         Entries=entries).get("Failed", [])}
                entries = [entry for entry in entries if entry["Id"] in failed]
                if not entries:
                    break
            else:
                raise RuntimeError(f"SQS refused {len(entries)} fan-out tasks")


class Fanout:
    def __init__(self, delivery: Delivery, news: News, queue: FanoutQueue | None, threshold: int = FANOUT_THRESHOLD):
        self._delivery = delivery
        self._news = news
        self._queue = queue
        self._threshold = threshold
        self._handlers: dict[str, Callable[[dict], None]] = {}

    def handle(self, kind: str, handler: Callable[[dict], None]) -> None:
        """Run tasks whose `task` field is `kind` with `handler`."""
        self._handlers[kind] = handler

    def dispatch(self, tasks: list[dict]) -> None:
        """Hand tasks of registered kinds to the queue (without a queue, as in some tests: run them here)."""
        if self._queue is None:
            for task in tasks:
                self.run(task)
        elif tasks:
            self._queue.enqueue(tasks)

    def to_members(self, user_ids: list[str], frame: dict, skip_connection_id: str | None = None) -> None:
        metrics.add_metric(name="FanoutMembers", unit="Count", value=len(user_ids))
        if self._queue is None or len(user_ids) <= self._threshold:
            self.run({"user_ids": user_ids, "frame": frame, "skip_connection_id": skip_connection_id})
            return
        self._queue.enqueue([{"user_ids": user_ids[start:start + RECIPIENTS_PER_TASK], "frame": frame,
                              "skip_connection_id": skip_connection_id}
                             for start in range(0, len(user_ids), RECIPIENTS_PER_TASK)])

    def run(self, task: dict) -> None:
        if "task" in task:
            self._handlers[task["task"]](task)
            return
        frame, user_ids = task["frame"], task["user_ids"]
        reach = self._delivery.reach_of(user_ids)
        news = news_in(frame)
        if news is not None:
            self._news.mark(user_ids, *news, unread_for=unread_for(frame["message"], reach)
                            if frame["type"] == "message" else ())
        self._delivery.to_sockets(reach, frame, task.get("skip_connection_id"))

    def run_batch(self, event: dict) -> dict:
        """An SQS batch of tasks; answers the failed ones as `batchItemFailures` for redelivery."""
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
        return dict(process_partial_response(event=event, processor=BatchProcessor(event_type=EventType.SQS),
                                             record_handler=lambda record: self.run(json.loads(record.body))))
