"""Crowds and groups.

Crowds of 100, then 1,000 connected users. At each, the naive baseline runs beside Parley, message by
message: the naive broadcast to every connection, a Parley 1:1 message, and a message to a group of the whole
crowd (500 members at most), whose fan-out time and cost are measured there as well.

Groups: what a message costs with nobody, some and everyone online. A group is created once its online members
are connected, from users who are online or have gone offline, so that nobody comes online among members
already online: presence announcements are measured on their own (a member of the largest group reconnecting),
not folded into the setup.

At the end the listeners are cut as crashed phones would be (no $disconnect), since a thousand goodbyes, each
announced to the user's contacts, would take longer than the rest of the scenario.
"""
import asyncio
import statistics
import time

from parley_sdk import ParleyClient

from bench.costs import Operation, measure, read_receipts, usage
from bench.naive import NaiveBroadcaster
from bench.world import Delivery, World
from chalicelib.model import MAX_GROUP_MEMBERS

FANOUT_TIMEOUT = 30  # seconds for the last of 500 members to have a message before it counts as late


def delivery_summary(deliveries: list[Delivery]) -> dict:
    """Medians in ms over the runs: to the first recipient, to the last, and to the sender's `sent`."""
    def median_ms(values) -> float:
        return statistics.median(values) * 1000
    return {"runs": len(deliveries), "complete": all(d.complete for d in deliveries),
            "to_first": median_ms(d.to_first() for d in deliveries),
            "to_last": median_ms(d.to_last() for d in deliveries),
            "sent": median_ms(d.acked - d.started for d in deliveries),
            "to_last_max": max(d.to_last() for d in deliveries) * 1000}


async def create_group(admin: ParleyClient, members: list[str]) -> str:
    return (await admin.create_group(f"bench {len(members) + 1}", members))["chat_id"]


def group_send(admin: ParleyClient, chat_id: str, size: int, recipients_online: int) -> Operation:
    return Operation(f"send to a {size}-member group, {recipients_online} recipients online",
                     lambda: admin.send_text(chat_id, "what a message costs"),
                     about={"group": {"members": size, "recipients_online": recipients_online}})


async def fanout_time(world: World, admin: ParleyClient, chat_id: str, size: int) -> dict:
    await world.timed_send(admin, chat_id, size - 1, FANOUT_TIMEOUT)  # warm-up
    deliveries = [await world.timed_send(admin, chat_id, size - 1, FANOUT_TIMEOUT)
                  for _ in range(world.plan.fanout_runs)]
    return {"members": size, "recipients": size - 1, **delivery_summary(deliveries)}


async def timed_broadcast(world: World, naive: NaiveBroadcaster, listeners: int) -> tuple[Delivery, int]:
    tag = world.tag()
    expected = world.arrivals.expect(tag, listeners)
    started = time.perf_counter()
    scanned = await asyncio.to_thread(naive.broadcast, world.cast.admin, tag)
    finished = time.perf_counter()
    await expected.wait(world.plan.drain_seconds)
    world.arrivals.forget(tag)
    return Delivery(started, finished, tuple(expected.times), listeners), scanned


async def naive_usage(naive: NaiveBroadcaster, sender: str) -> dict:
    naive.accounting.reset(sizing=True)
    await asyncio.to_thread(naive.broadcast, sender, "what a message costs")
    return usage("naive broadcast", naive.accounting.snapshot(), 1)


async def side_by_side(world: World, naive: NaiveBroadcaster, admin: ParleyClient, direct_chat: str,
                       group_chat: str, group_size: int, connected: int) -> dict:
    """Naive broadcast, Parley 1:1, Parley group: one message each per round, after a warm-up round."""
    rounds: dict[str, list[Delivery]] = {"naive": [], "direct": [], "group": []}
    scanned = 0
    for _ in range(world.plan.naive_runs + 1):
        delivery, scanned = await timed_broadcast(world, naive, connected - 1)
        rounds["naive"].append(delivery)
        rounds["direct"].append(await world.timed_send(admin, direct_chat, 1))
        rounds["group"].append(await world.timed_send(admin, group_chat, group_size - 1, FANOUT_TIMEOUT))
    direct = Operation(f"send 1:1 with {connected} users connected", lambda: admin.send_text(direct_chat, "cost"))
    return {"connected": connected, "scanned": scanned, "group_size": group_size,
            "timings": {name: delivery_summary(deliveries[1:]) for name, deliveries in rounds.items()},
            "naive_cost": await naive_usage(naive, world.cast.admin), "direct_cost": await measure(world, direct),
            "group_cost": await measure(world, group_send(admin, group_chat, group_size, group_size - 1))}


async def largest_group_costs(world: World, admin: ParleyClient, chat_id: str, size: int) -> list[dict]:
    """A member's read receipt, and a member's socket closing and opening again (presence included)."""
    member_id = world.cast.members(size)[0]
    member = await world.actor(member_id)
    receipt = await read_receipts(world, f"read receipt in a {size}-member group", member, admin, chat_id)
    costs = [await measure(world, receipt)]
    await world.dismiss(member)
    costs.append(await measure(world, Operation(f"reconnect (disconnect + connect), member of a {size}-member group",
                                                lambda: world.crowd.reconnect(member_id), inbound_frames=0)))
    return costs


async def groups_with_members_offline(world: World, admin: ParleyClient) -> tuple[list[dict], list[dict]]:
    """Per group size: a group of offline members, and one whose first members are online (the fully online
    ones get a fan-out time). Offline members: users above the largest crowd group, who now go offline."""
    plan, cast = world.plan, world.cast
    first_offline = plan.largest_crowd_group
    world.note("groups with members offline")
    await world.crowd.online(cast.crowd(first_offline))
    await world.stack.settled_accounting()  # the stack runs the $disconnects after the sockets have closed
    costs, fanouts = [], []
    for size in plan.group_sizes:
        offline = cast.offline(first_offline, size - 1)
        await world.accounts.tokens(offline)
        costs.append(await measure(world, group_send(admin, await create_group(admin, offline), size, 0)))
        online = cast.members(min(plan.partially_online, size))
        chat_id = await create_group(admin, online + offline[:size - 1 - len(online)])
        costs.append(await measure(world, group_send(admin, chat_id, size, len(online))))
        if len(online) == size - 1:
            fanouts.append(await fanout_time(world, admin, chat_id, size))
    return costs, fanouts


async def crowds(world: World) -> dict:
    plan, cast = world.plan, world.cast
    admin, peer = await world.actor(cast.admin), cast.members(2)[0]
    await world.accounts.tokens([peer])
    direct_chat = (await admin.create_direct(peer))["chat_id"]
    naive = NaiveBroadcaster(await world.stack.aws(), world.stack.base)
    results: dict[str, list] = {"naive": [], "fanout": [], "costs": []}
    for connected in plan.crowds:
        world.note(f"a crowd of {connected} connected users")
        await world.crowd.online(cast.crowd(connected))
        world.note(f"a crowd of {connected}: measuring")
        size = min(connected, MAX_GROUP_MEMBERS)
        chat_id = await create_group(admin, cast.members(size))
        results["fanout"].append(await fanout_time(world, admin, chat_id, size))
        results["naive"].append(await side_by_side(world, naive, admin, direct_chat, chat_id, size, connected))
    results["costs"] += await largest_group_costs(world, admin, chat_id, size)
    costs, fanouts = await groups_with_members_offline(world, admin)
    results["costs"] += costs
    results["fanout"] = sorted(results["fanout"] + fanouts, key=lambda fanout: fanout["members"])
    await world.crowd.abandon(world.stack.drop_listeners)
    await world.dismiss(admin)
    return results
