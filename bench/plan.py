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
    load_seconds: float = 2
    load_runs: int = 3
    min_messages_per_run: int = 20  # a run lasts longer than load_seconds if its rate needs it to
    warmup_seconds: float = 1
    drain_seconds: float = 5  # how long after its `sent` a message may take to arrive; later counts as late

    # the highest sustained rate per p99 target (the goal; and where queueing takes over on this machine):
    # double from search_start while p99 stays under the target, then bisect
    p99_targets_ms: tuple[float, ...] = (100, 1000)
    search_start: float = 2
    search_limit: float = 256
    search_bisections: int = 2
    # each probe is held this long after its own warm-up: a queue that builds slowly needs time to show
    probe_seconds: float = 20
    probe_warmup_seconds: float = 5

    # crowds of connected sockets: at each, the naive baseline beside a Parley 1:1 message and a message to a
    # group of the whole crowd (up to 500 members). Sockets beyond `crowd_users` are second devices of the same
    # users: connections are what the naive baseline pays for, and enrolling and connecting a thousand
    # distinct users would take this stack minutes.
    crowds: tuple[int, ...] = (100, 1000)
    crowd_users: int = 500
    naive_runs: int = 2
    # groups: fan-out time with every member online, and what a message costs with nobody, `partially_online`
    # and everyone online
    group_sizes: tuple[int, ...] = (50, 500)
    partially_online: int = 50
    fanout_runs: int = 3

    # sync: a user with sync_chats chats misses sync_missed messages spread over sync_busy_chats of them
    sync_chats: int = 200
    sync_busy_chats: int = 20
    sync_missed: int = 1000
    sync_runs: int = 3
    # ... and a heavy user with sync_heavy_chats chats (sync_heavy_messages messages in each, seeded) misses
    # sync_heavy_missed messages in sync_heavy_busy_chats of them; its fresh device pages through every chat with
    # a `limit` of sync_fresh_limit messages per chat
    sync_heavy_chats: int = 5000
    sync_heavy_messages: int = 1
    sync_heavy_busy_chats: int = 20
    sync_heavy_missed: int = 1000
    sync_fresh_limit: int = 20

    cost_repeats: int = 3  # operations per accounting window (the window's counts are divided by it)

    coldstart_runs: int = 7  # fresh interpreters per import
    media: bool = True  # run bench/media_bench.py (short settings) too

    def __post_init__(self):
        # crowds, groups and sync peers count up from u0001, the sync user and the pairs down from the top
        needed = max(self.crowd_users, max(self.group_sizes), self.sync_chats) + 3 + 2 * self.pairs
        if self.population < needed:
            raise ValueError(f"a population of {self.population} is too small for this plan (needs {needed})")
        if max(self.crowds) > 2 * self.crowd_users + 1:
            raise ValueError("the largest crowd needs more than two devices per crowd user")
        if self.sync_heavy_busy_chats > self.sync_heavy_chats:
            raise ValueError("the heavy sync user misses messages in more chats than it has")
        if max(self.group_sizes) > MAX_GROUP_MEMBERS:
            raise ValueError(f"groups have at most {MAX_GROUP_MEMBERS} members")


FULL = Plan()

SMOKE = replace(FULL, population=12, pairs=2, loads=(5,), load_seconds=1, load_runs=1, warmup_seconds=0.2,
                drain_seconds=2, search_start=4, search_limit=8, search_bisections=0, min_messages_per_run=4,
                probe_seconds=1, probe_warmup_seconds=0.2,
                crowds=(4, 8), crowd_users=5, naive_runs=1, group_sizes=(3, 5), partially_online=2, fanout_runs=1,
                sync_chats=4, sync_busy_chats=2, sync_missed=10, sync_runs=1,
                sync_heavy_chats=120, sync_heavy_busy_chats=3, sync_heavy_missed=30, sync_fresh_limit=2,
                cost_repeats=2, coldstart_runs=1,
                media=False)
