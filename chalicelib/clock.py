"""The one place Parley reads the time, so that the local stack's tests can move it forward."""
import time


def now() -> float:
    return time.time()


def issuer_now() -> float:
    """The time as Cognito stamps a token's `iat`: the local stack moves `now` forward, never this."""
    return time.time()
