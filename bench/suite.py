"""The whole suite in one run: the offline benchmarks, then one local stack for everything else, in an order
that only ever brings more users online (1:1 pairs, then the sync user, then ever larger crowds)."""
import asyncio
import os
import platform
import time
from dataclasses import asdict
from datetime import UTC, datetime

from bench.crowds import crowds
from bench.direct import direct_costs
from bench.latency import latency_at_loads, open_pairs, sustained_rate
from bench.offline import coldstart_ratio, media_timings
from bench.plan import Plan
from bench.progress import note
from bench.stack import BenchStack
from bench.sync import sync_scenario
from bench.world import World
from devstack.aws import FAKE_CREDENTIALS
from tests.e2e.support import running_stack

PAIR_SCENARIOS = ("latency", "sustained", "direct")
STACK_SCENARIOS = (*PAIR_SCENARIOS, "sync", "crowds")
SCENARIOS = ("coldstart", "media", *STACK_SCENARIOS)


async def on_stack(plan: Plan, selected: set[str], stack: BenchStack) -> dict:
    world = World(stack, plan)
    results = {"moto_request_ms": {"before": await stack.moto_request_ms()}}
    if selected & set(PAIR_SCENARIOS):
        note("1:1 pairs")
        pairs = await open_pairs(world)
        if "latency" in selected:
            results["latency"] = await latency_at_loads(world, pairs)
        if "sustained" in selected:
            results["sustained"] = await sustained_rate(world, pairs)
        if "direct" in selected:
            note("1:1 costs")
            results["direct_costs"] = await direct_costs(world, pairs)
        await world.dismiss(*pairs.senders)
    if "sync" in selected:
        note("sync")
        results["sync"] = await sync_scenario(world)
    if "crowds" in selected:
        results["crowds"] = await crowds(world)
    await world.crowd.close()
    results["moto_request_ms"]["after"] = await stack.moto_request_ms()
    return results


def run(plan: Plan, selected: set[str]) -> dict:
    started = time.perf_counter()
    results = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "plan": asdict(plan),
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_average_before": os.getloadavg()}}
    if "coldstart" in selected:
        note("cold start")
        results["coldstart"] = coldstart_ratio(plan.coldstart_runs)
    if "media" in selected and plan.media:
        note("media processing")
        results["media"] = media_timings()
    if selected & set(STACK_SCENARIOS):
        os.environ.update(FAKE_CREDENTIALS)  # the bench talks to the local stack's moto only
        note("starting the local stack")
        # The bench's senders are load generators, faster than any person: the send limit is raised (its
        # counter write is still made and counted in every send's cost). So are the per-container sync limits:
        # the sync scenario repeats its passes back to back, faster than a device would.
        with running_stack({"SEND_LIMIT": "100000", "SYNC_LIMIT": "100000", "SYNC_PAGE_LIMIT": "100000"}) as stack:
            results.update(asyncio.run(on_stack(plan, selected, BenchStack(stack))))
    results["machine"]["load_average_after"] = os.getloadavg()
    results["seconds"] = time.perf_counter() - started
    return results
