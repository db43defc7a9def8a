"""Progress on stderr, for a run that takes minutes."""
import sys
import time

STARTED = time.monotonic()


def note(what: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:5.0f} s] {what}", file=sys.stderr, flush=True)
