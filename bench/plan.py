"""What a bench run measures, and how hard: the full suite that `make bench` runs, and a tiny one for tests."""
from dataclasses import dataclass, replace

from chalicelib.model import MAX_GROUP_MEMBERS


@dataclass(frozen=True)
class Plan:
    seed: int = 20240611  # every random choice (arrival times, which pair sends) comes from this
    population: int = 1000  # users signed up; the naive baseline's largest crowd must fit in it

    # 1:1 latency under offered load: open-loop Poisson arrivals over `pairs` chats
    pairs: int = 25
    loads: tuple[float, ...] = (5, 20, 50)  # messages per second
    load_seconds: float = 3
    load_runs: int = 3
    warmup_seconds: float = 1
    drain_seconds: float = 5  # how long after its `sent` a message may take to arrive; later counts as late

    # the highest sustained rate: double from search_start while p99 stays under target, then bisect
    p99_target_ms: float = 100
    search_start: float = 1
    search_limit: float = 256
    search_bisections: int = 2
    search_min_messages: int = 20

    # crowds of connected users: at each, the naive baseline beside a Parley 1:1 message and a message to a
    # group of the whole crowd (up to 500 members), with that group's fan-out time and cost
    crowds: tuple[int, ...] = (100, 1000)
    fanout_runs: int = 5
    naive_runs: int = 3
    # what a group message costs with nobody, `partially_online` and everyone online
    group_sizes: tuple[int, ...] = (50, 500)
    partially_online: int = 50

    # sync: a user with sync_chats chats misses sync_missed messages spread over sync_busy_chats of them
    sync_chats: int = 200
    sync_busy_chats: int = 20
    sync_missed: int = 1000
    sync_runs: int = 5

    cost_repeats: int = 5  # operations per accounting window (the window's counts are divided by it)

    coldstart_runs: int = 7  # fresh interpreters per import
    media: bool = True  # run bench/media_bench.py (short settings) too

    def __post_init__(self):
        # groups, crowds and sync peers count up from u0001; the sync user and the pairs down from the top; the
        # groups of offline members are drawn from above the largest crowd group (see Cast)
        needed = max(max(self.crowds), self.largest_crowd_group + max(self.group_sizes) - 1,
                     max(self.largest_crowd_group, self.sync_chats + 1) + 1 + 2 * self.pairs)
        if self.population < needed:
            raise ValueError(f"a population of {self.population} is too small for this plan (needs {needed})")

    @property
    def largest_crowd_group(self) -> int:
        return min(max(self.crowds), MAX_GROUP_MEMBERS)


FULL = Plan()

SMOKE = replace(FULL, population=12, pairs=2, loads=(5,), load_seconds=1, load_runs=1, warmup_seconds=0.2,
                drain_seconds=2, search_start=4, search_limit=4, search_bisections=0, search_min_messages=4,
                crowds=(6,), fanout_runs=1, naive_runs=1, group_sizes=(4,), partially_online=2, sync_chats=4,
                sync_busy_chats=2, sync_missed=10, sync_runs=1, cost_repeats=2, coldstart_runs=1, media=False)
