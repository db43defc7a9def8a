"""1:1 send-to-receive latency under open-loop load, and the highest rate whose p99 stays under target.

Open loop: sends leave at Poisson arrival times whatever happened to the earlier ones, each from a pair
picked at random, so a slow stack meets a queue instead of a politely waiting client. Latency is from just
before the send to the moment the recipient's socket has the message.
"""
import asyncio
import random
import statistics
import time
from dataclasses import dataclass

from parley_sdk import ParleyClient

from bench.people import Device
from bench.progress import note
from bench.stats import latency_summary, median_summary
from bench.world import World


@dataclass(frozen=True)
class Pairs:
    senders: list[ParleyClient]
    chat_ids: list[str]


async def open_pairs(world: World) -> Pairs:
    """The pairs' senders connected through the SDK, their receivers listening, a direct chat each."""
    await world.crowd.online([Device(receiver, 1) for receiver in world.cast.pair_receivers()])
    senders = [await world.actor(name) for name in world.cast.pair_senders()]
    chats = [await sender.create_direct(receiver)
             for sender, receiver in zip(senders, world.cast.pair_receivers(), strict=True)]
    return Pairs(list(senders), [chat["chat_id"] for chat in chats])


async def offered_load(world: World, pairs: Pairs, rate: float, seconds: float, rng: random.Random) -> dict:
    """Send at `rate` messages/s for `seconds`; answers the latency summaries of delivery and of `sent`, and the
    CPU time the stack's process spent per message."""
    await world.stack.reset_accounting()
    sends = []
    start = time.perf_counter()
    due = start + rng.expovariate(rate)
    while not sends or due - start < seconds:  # at least one message per window
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        pair = rng.randrange(len(pairs.senders))
        sends.append(asyncio.ensure_future(world.timed_send(pairs.senders[pair], pairs.chat_ids[pair], 1)))
        due += rng.expovariate(rate)
    deliveries = await asyncio.gather(*sends)
    settled = await world.stack.settled_accounting()  # nothing left queued for the next run
    return {"delivery": latency_summary([d.to_last() for d in deliveries]),
            "sent": latency_summary([d.acked - d.started for d in deliveries]),
            "stack_cpu_ms": settled["cpu_seconds"] * 1000 / len(deliveries)}


async def runs_at(world: World, pairs: Pairs, rate: float, runs: int, rng: random.Random,
                  seconds: float | None = None, warmup: float | None = None) -> dict:
    """A warm-up, then `runs` runs of `seconds` (the plan's load_seconds if not given, or longer if the rate needs
    it for min_messages_per_run): the median of each percentile over the runs."""
    note(f"1:1 at {rate:g} msg/s")
    seconds = max(seconds or world.plan.load_seconds, world.plan.min_messages_per_run / rate)
    await offered_load(world, pairs, rate, world.plan.warmup_seconds if warmup is None else warmup, rng)
    results = [await offered_load(world, pairs, rate, seconds, rng) for _ in range(runs)]
    return {"offered": rate, "seconds": seconds, "delivery": median_summary([r["delivery"] for r in results]),
            "sent": median_summary([r["sent"] for r in results]),
            "stack_cpu_ms": statistics.median(r["stack_cpu_ms"] for r in results)}


async def latency_at_loads(world: World, pairs: Pairs) -> list[dict]:
    rng = random.Random(world.plan.seed)
    return [await runs_at(world, pairs, rate, world.plan.load_runs, rng) for rate in world.plan.loads]


async def sustained_rate(world: World, pairs: Pairs) -> dict:
    """For each p99 target: the highest rate whose p99 stays under it with nothing late, held for the plan's
    probe_seconds after a warm-up of its own. Double the rate from `search_start` until it fails, then bisect the
    last step; probes are shared between the targets."""
    plan = world.plan
    rng = random.Random(plan.seed + 1)  # arrivals of its own, whatever the loads before it drew
    probes: dict[float, dict] = {}

    async def holds(rate: float, target_ms: float) -> bool:
        if rate not in probes:
            probes[rate] = await runs_at(world, pairs, rate, 1, rng, plan.probe_seconds, plan.probe_warmup_seconds)
        delivery = probes[rate]["delivery"]
        return delivery["late"] == 0 and delivery["p99"] < target_ms

    async def highest(target_ms: float) -> dict:
        good, bad, rate = 0.0, None, plan.search_start
        while rate <= plan.search_limit:
            if not await holds(rate, target_ms):
                bad = rate
                break
            good, rate = rate, rate * 2
        for _ in range(plan.search_bisections if good and bad else 0):
            middle = round((good + bad) / 2, 1)
            if await holds(middle, target_ms):
                good = middle
            else:
                bad = middle
        return {"p99_target_ms": target_ms, "rate": good, "first_failing": bad}

    searches = [await highest(target) for target in plan.p99_targets_ms]
    return {"searches": searches, "probes": [probes[rate] for rate in sorted(probes)]}
