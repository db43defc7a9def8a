"""Crowds and groups, step by step as more sockets come online (0, 50, 100, 500, then 1,000).

Groups: a group's fan-out time once all its members are online, and what one of its messages costs with
nobody, some and everyone online. The groups of `group_sizes` are created before any member is online; a
crowd's group when its members already are (so that nobody comes online among many members already online:
presence announcements are measured on their own, as a member reconnecting, not folded into the setup).

Crowds: at 100 and 1,000 connected sockets, the naive baseline runs beside Parley, message by message: the
naive broadcast to every connection, a Parley 1:1 message, and a message to a group of the whole crowd.

At the end the listeners are cut as crashed phones would be (no $disconnect): a thousand goodbyes, each
announced to the user's contacts, would take longer than everything else here.
"""
import asyncio
import statistics
import time

from parley_sdk import ParleyClient

from bench.costs import Operation, measure, read_receipts, usage
from bench.naive import NaiveBroadcaster
from bench.people import Device
from bench.progress import note
from bench.world import Delivery, World
from chalicelib.model import MAX_GROUP_MEMBERS

FANOUT_TIMEOUT = 30  # seconds for the last of 1,000 sockets to have a message before it counts as late
ACKNOWLEDGE_TIMEOUT = 300  # seconds for 499 members' receipts, which the local stack handles one request at a time


def delivery_summary(deliveries: list[Delivery]) -> dict:
    """Medians in ms over the runs: to the first recipient, to the last, and to the sender's `sent`."""
    def median_ms(values) -> float:
        return statistics.median(values) * 1000
    return {"runs": len(deliveries), "recipients": deliveries[0].recipients,
            "complete": all(d.complete for d in deliveries),
            "to_first": median_ms(d.to_first() for d in deliveries),
            "to_last": median_ms(d.to_last() for d in deliveries),
            "sent": median_ms(d.acked - d.started for d in deliveries),
            "to_last_max": max(d.to_last() for d in deliveries) * 1000}


class Crowds:
    def __init__(self, world: World, admin: ParleyClient, naive: NaiveBroadcaster):
        self.world = world
        self.plan = world.plan
        self.admin = admin
        self.naive = naive
        self.groups: dict[int, str] = {}  # size -> chat id
        self.results: dict[str, list] = {"fanout": [], "costs": [], "naive": []}

    def steps(self) -> list[int]:
        plan = self.plan
        return sorted({0, plan.partially_online, *plan.group_sizes, *plan.crowds})

    def crowd_group(self, connected: int) -> int:
        return min(connected, self.plan.crowd_users + 1, MAX_GROUP_MEMBERS)

    def recipients(self, size: int) -> int:
        """The sockets online of a group's members besides the admin, who sends."""
        return self.world.crowd.sockets_of(self.world.cast.members(size))

    async def create_group(self, size: int) -> None:
        members = self.world.cast.members(size)
        await self.world.accounts.tokens(members)
        self.groups[size] = (await self.admin.create_group(f"bench {size}", members))["chat_id"]

    def group_send(self, size: int) -> Operation:
        recipients = self.recipients(size)
        return Operation(f"send to a {size}-member group, {recipients} recipient sockets online",
                         lambda: self.admin.send_text(self.groups[size], "what a message costs"),
                         about={"group": {"members": size, "recipients_online": recipients}})

    def costs_counted_at(self, step: int, size: int) -> bool:
        """Nobody, some, everyone online; and the crowd's group at each crowd."""
        return (step in (0, self.plan.partially_online) and step < size or step == size
                or step in self.plan.crowds and size == self.crowd_group(step))

    async def timed_group_send(self, size: int) -> Delivery:
        return await self.world.timed_send(self.admin, self.groups[size], self.recipients(size), FANOUT_TIMEOUT)

    async def fanout_time(self, size: int) -> dict:
        await self.timed_group_send(size)  # warm-up
        deliveries = [await self.timed_group_send(size) for _ in range(self.plan.fanout_runs)]
        return {"members": size, **delivery_summary(deliveries)}

    async def acknowledging_group(self, size: int) -> dict:
        """Every member online answers every message with `delivered` and `read`: what a message costs then,
        and the load on the hottest partition key (the message's share of what one partition serves a second).
        One message after a warm-up, unsized: every item these receipts write is under 1 KB (1 unit each)."""
        world, chat_id, recipients = self.world, self.groups[size], self.recipients(size)

        async def acknowledged_send() -> None:
            tag = world.tag()
            acknowledged = world.arrivals.expect(world.arrivals.acknowledged(tag), recipients)
            await self.admin.send_text(chat_id, tag)
            if not await acknowledged.wait(ACKNOWLEDGE_TIMEOUT):
                raise TimeoutError(f"{len(acknowledged.times)} of {recipients} members acknowledged {tag}")
            await world.stack.settled_accounting()  # the receipts handled, before the next message joins them

        world.arrivals.acknowledging.add(chat_id)
        try:
            await acknowledged_send()  # warm-up
            return await measure(world, Operation(
                f"send to a {size}-member group, {recipients} recipient sockets online, each answering delivered "
                "and read", acknowledged_send, about={"group": {"members": size, "recipients_online": recipients},
                                                     "acknowledging": True}), count=1, sizing=False)
        finally:
            world.arrivals.acknowledging.discard(chat_id)

    async def largest_group_extras(self, size: int) -> list[dict]:
        """A member's read receipt, and a member's socket closing and opening again (presence included)."""
        member_id = self.world.cast.members(size)[0]
        member = await self.world.actor(member_id)
        receipt = await read_receipts(self.world, f"read receipt in a {size}-member group", member, self.admin,
                                      self.groups[size])
        costs = [await measure(self.world, receipt)]
        await self.world.dismiss(member)
        reconnect = Operation(f"reconnect (disconnect + connect), member of a {size}-member group",
                              lambda: self.world.crowd.reconnect(Device(member_id, 1)), inbound_frames=0)
        return costs + [await measure(self.world, reconnect)]

    async def timed_broadcast(self, listeners: int) -> tuple[Delivery, int]:
        world = self.world
        tag = world.tag()
        expected = world.arrivals.expect(tag, listeners)
        started = time.perf_counter()
        scanned = await asyncio.to_thread(self.naive.broadcast, world.cast.admin, tag)
        finished = time.perf_counter()
        await expected.wait(FANOUT_TIMEOUT)
        world.arrivals.forget(tag)
        return Delivery(started, finished, tuple(expected.times), listeners), scanned

    async def naive_usage(self) -> dict:
        self.naive.accounting.reset(sizing=True)
        await asyncio.to_thread(self.naive.broadcast, self.world.cast.admin, "what a message costs")
        return usage("naive broadcast", self.naive.accounting.snapshot(), 1)

    async def side_by_side(self, connected: int, direct_chat: str, group_cost: dict) -> dict:
        """Naive broadcast, Parley 1:1, Parley group: one message each per round, after a warm-up round."""
        world, size = self.world, self.crowd_group(connected)
        peer = world.cast.members(2)
        rounds: dict[str, list[Delivery]] = {"naive": [], "direct": [], "group": []}
        scanned = 0
        for _ in range(self.plan.naive_runs + 1):
            delivery, scanned = await self.timed_broadcast(connected - 1)
            rounds["naive"].append(delivery)
            rounds["direct"].append(await world.timed_send(self.admin, direct_chat, world.crowd.sockets_of(peer)))
            rounds["group"].append(await self.timed_group_send(size))
        direct = Operation(f"send 1:1 with {connected} sockets connected",
                           lambda: self.admin.send_text(direct_chat, "what a message costs"))
        return {"connected": connected, "scanned": scanned, "group_size": size,
                "timings": {name: delivery_summary(deliveries[1:]) for name, deliveries in rounds.items()},
                "naive_cost": await self.naive_usage(), "direct_cost": await measure(world, direct),
                "group_cost": group_cost}

    async def step(self, connected: int, direct_chat: str) -> None:
        world, plan = self.world, self.plan
        note(f"bringing {connected} sockets online")
        await world.crowd.online(world.cast.crowd(connected))
        note(f"{connected} sockets online")
        if connected in plan.crowds and self.crowd_group(connected) not in self.groups:
            await self.create_group(self.crowd_group(connected))
        counted = {}
        for size in sorted(self.groups):
            if self.costs_counted_at(connected, size):
                counted[size] = await measure(world, self.group_send(size))
                self.results["costs"].append(counted[size])
            if connected == size:
                self.results["fanout"].append(await self.fanout_time(size))
        if connected == max(plan.group_sizes):
            self.results["acknowledging"] = await self.acknowledging_group(connected)
            self.results["costs"] += await self.largest_group_extras(connected)
        if connected in plan.crowds:
            group_cost = counted[self.crowd_group(connected)]
            self.results["naive"].append(await self.side_by_side(connected, direct_chat, group_cost))


async def crowds(world: World) -> dict:
    admin, peer = await world.actor(world.cast.admin), world.cast.members(2)[0]
    await world.accounts.tokens([peer])
    direct_chat = (await admin.create_direct(peer))["chat_id"]
    scenario = Crowds(world, admin, NaiveBroadcaster(await world.stack.aws(), world.stack.base))
    for size in world.plan.group_sizes:
        await scenario.create_group(size)
    for connected in scenario.steps():
        await scenario.step(connected, direct_chat)
    await world.crowd.abandon(world.stack.drop_listeners)
    await world.dismiss(admin)
    return scenario.results
