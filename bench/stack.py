"""The local stack under test: its URLs, its accounting, and its storage as the app sees it (Parley's own
storage classes on the stack's moto), for setting up data and for checking where pushes would go."""
import asyncio
import time

import boto3

from bench.people import LISTENER
from chalicelib.model import CONNECTION_LIFETIME
from chalicelib.storage.dynamodb.chats import DynamoChatStore
from chalicelib.storage.dynamodb.messages import DynamoMessageStore
from chalicelib.storage.dynamodb.news import DynamoNewsStore
from chalicelib.storage.dynamodb.users import DynamoUserStore
from tests.e2e.support import Stack, http

POLL_SECONDS = 0.2
SETTLE_LIMIT = 120  # an overloaded stack may take this long to work off its backlog
QUEUE_DEPTHS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


def requests_in(snapshot: dict) -> int:
    return sum(tally["requests"] for tally in snapshot["operations"].values())


class BenchStack:
    def __init__(self, stack: Stack):
        self.base = stack.base
        self.ws = stack.ws
        self._aws: dict | None = None
        self._sqs = None
        self._resource = None

    async def _call(self, method: str, path: str, body=None):
        status, answer = await asyncio.to_thread(http, method, self.base + path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path} answered {status}: {answer}")
        return answer

    async def reset_accounting(self, sizing: bool = False) -> None:
        await self._call("POST", "/_devstack/accounting/reset", {"sizing": sizing})

    async def moto_request_ms(self) -> float:
        """How long the stack's moto takes to answer a GetItem as the app's requests reach it: the floor."""
        return (await self._call("GET", "/_devstack/moto"))["get_item_ms"]

    async def accounting(self) -> dict:
        return await self._call("GET", "/_devstack/accounting")

    async def settled_accounting(self) -> dict:
        """The counts once whatever the last operations set off has finished: no handler and no AWS call under
        way, the queues empty, and the counts unchanged since the look before."""
        deadline = time.monotonic() + SETTLE_LIMIT
        last = await self.accounting()
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            current = await self.accounting()
            if current["in_flight"] == 0 and requests_in(current) == requests_in(last) and await self._queues_empty():
                return current
            last = current
        raise TimeoutError(f"the stack was still busy {SETTLE_LIMIT} s after the operation")

    async def _queues_empty(self) -> bool:
        aws = await self.aws()
        if self._sqs is None:
            self._sqs = boto3.session.Session(region_name=aws["region"]).client("sqs", endpoint_url=aws["endpoint_url"])
        for url in aws["queues"].values():
            depths = (await asyncio.to_thread(self._sqs.get_queue_attributes, QueueUrl=url,
                                              AttributeNames=QUEUE_DEPTHS))["Attributes"]
            if any(int(depths[name]) for name in QUEUE_DEPTHS):
                return False
        return True

    async def drop_listeners(self) -> None:
        """Cut every listening socket as a crashed phone would: no close frame, no $disconnect."""
        for socket in await self._call("GET", "/_devstack/sockets"):
            if socket["device"].startswith(LISTENER):
                await self._call("POST", f"/_devstack/sockets/{socket['connection_id']}/drop")

    async def aws(self) -> dict:
        if self._aws is None:
            self._aws = await self._call("GET", "/_devstack/aws")
        return self._aws

    async def _dynamodb(self):
        if self._resource is None:
            aws = await self.aws()
            session = boto3.session.Session(region_name=aws["region"])
            self._resource = session.resource("dynamodb", endpoint_url=aws["endpoint_url"])
        return self._resource

    async def chat_stores(self) -> tuple[DynamoChatStore, DynamoMessageStore]:
        tables = (await self.aws())["tables"]
        dynamodb = await self._dynamodb()
        return (DynamoChatStore(dynamodb, tables["chats"]),
                DynamoMessageStore(dynamodb, tables["chats"], tables["messages"]))

    async def news_store(self) -> DynamoNewsStore:
        return DynamoNewsStore(await self._dynamodb(), (await self.aws())["tables"]["chats"])

    async def now(self) -> float:
        """The app's clock (epoch seconds), which the devstack's clock control may have moved ahead of ours."""
        return (await self._call("POST", "/_devstack/clock", {"advance_seconds": 0}))["now"]

    async def devices_registered(self, users: list[str]) -> dict[str, set[str]]:
        """Per user, the devices of the sockets the app would push to (`reach_of`, as a send calls it)."""
        tables = (await self.aws())["tables"]
        store = DynamoUserStore(await self._dynamodb(), tables["connections"], tables["users"], CONNECTION_LIFETIME)
        found = await asyncio.to_thread(store.reach_of, users)
        return {user: {connection.device for connection in found[user].connections} if user in found else set()
                for user in users}
