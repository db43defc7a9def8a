"""What every scenario works with: the stack, the cast and their accounts, the listening crowd, and a
stopwatch for sends."""
import asyncio
import itertools
import math
import random
import time
from dataclasses import dataclass

from parley_sdk import ParleyClient, ParleyError

from bench.people import Accounts, Arrivals, Cast, Crowd, Heartbeats, actor
from bench.plan import Plan
from bench.stack import BenchStack


@dataclass(frozen=True)
class Delivery:
    """One send: when it left, when its `sent` came back, and when each recipient got it."""
    started: float
    acked: float
    arrivals: tuple[float, ...]
    recipients: int

    @property
    def complete(self) -> bool:
        return len(self.arrivals) >= self.recipients

    def to_last(self) -> float:
        """Seconds from the send to the last recipient; math.inf if someone never got it."""
        return max(self.arrivals, default=self.acked) - self.started if self.complete else math.inf

    def to_first(self) -> float:
        return min(self.arrivals) - self.started if self.arrivals else math.inf


class World:
    def __init__(self, stack: BenchStack, plan: Plan):
        self.stack = stack
        self.plan = plan
        self.cast = Cast(plan.population, plan.pairs, plan.crowd_users)
        self.accounts = Accounts(stack.base)
        self.arrivals = Arrivals()
        self.heartbeats = Heartbeats(random.Random(plan.seed))
        self.crowd = Crowd(stack.ws, self.accounts, self.arrivals, self.heartbeats, stack.devices_registered)
        self._tags = itertools.count()

    async def actor(self, name: str) -> ParleyClient:
        (tokens,) = (await self.accounts.tokens([name])).values()
        return await actor(self.stack.base, tokens, self.heartbeats)

    async def dismiss(self, *actors: ParleyClient) -> None:
        for client in actors:
            self.heartbeats.release(client)
        await asyncio.gather(*(client.close() for client in actors))

    def tag(self) -> str:
        return f"bench-{next(self._tags)}"

    async def timed_send(self, sender: ParleyClient, chat_id: str, recipients: int,
                         timeout: float | None = None) -> Delivery:
        """Send a tagged text and wait until `recipients` listeners have it (or the drain time is over)."""
        tag = self.tag()
        expected = self.arrivals.expect(tag, recipients)
        started = time.perf_counter()
        try:
            await sender.send_text(chat_id, tag)
        except ParleyError:  # refused or timed out: it never arrives, as far as the bench is concerned
            self.arrivals.forget(tag)
            return Delivery(started, math.inf, (), recipients)
        acked = time.perf_counter()
        await expected.wait(self.plan.drain_seconds if timeout is None else timeout)
        self.arrivals.forget(tag)
        return Delivery(started, acked, tuple(expected.times), recipients)
