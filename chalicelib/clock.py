"""The one place Parley reads the time, so that the local stack's tests can move it forward."""
import time


def now() -> float:
    return time.time()
