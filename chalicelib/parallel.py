"""Independent storage requests of one action, made at once: each round trip is milliseconds of the budget."""
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="parley")


def settled(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls concurrently and wait for all of them; answer each one's result, or the exception it raised."""
    futures = [_pool.submit(call) for call in calls]
    return [future.exception() or future.result() for future in futures]


def gathered(*calls: Callable[[], Any]) -> list[Any]:
    """As `settled`, but once every call has finished, raise the first exception (in call order) if any."""
    outcomes = settled(*calls)
    failure = next((outcome for outcome in outcomes if isinstance(outcome, Exception)), None)
    if failure is not None:
        raise failure
    return outcomes
