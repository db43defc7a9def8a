"""In-process moto serves requests from many threads at once, each touching its dicts as it goes; AWS applies each
request atomically, and the local stack's moto server serves one at a time. Tests that race requests (as a send's
parallel checks do) serve them one at a time too."""
import threading
from contextlib import contextmanager

from moto.core.botocore_stubber import BotocoreStubber


@contextmanager
def one_request_at_a_time():
    lock, process = threading.Lock(), BotocoreStubber.process_request

    def serialized(self, request):
        with lock:
            return process(self, request)
    BotocoreStubber.process_request = serialized
    try:
        yield
    finally:
        BotocoreStubber.process_request = process
