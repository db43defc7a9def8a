"""The local stack under test, reached over HTTP: its URLs, its accounting, and where its AWS lives."""
import asyncio
import time

from tests.e2e.support import Stack, http

QUIET_SECONDS = 0.3  # no new AWS request for this long: whatever an operation set off has finished
SETTLE_LIMIT = 120  # an overloaded stack may take this long to work off its backlog


def requests_in(snapshot: dict) -> int:
    return sum(tally["requests"] for tally in snapshot["operations"].values())


class BenchStack:
    def __init__(self, stack: Stack):
        self.base = stack.base
        self.ws = stack.ws

    async def _call(self, method: str, path: str, body=None):
        status, answer = await asyncio.to_thread(http, method, self.base + path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path} answered {status}: {answer}")
        return answer

    async def reset_accounting(self, sizing: bool = False) -> None:
        await self._call("POST", "/_devstack/accounting/reset", {"sizing": sizing})

    async def accounting(self) -> dict:
        return await self._call("GET", "/_devstack/accounting")

    async def settled_accounting(self) -> dict:
        """The counts once the stack has gone quiet (fan-out queues drained, pushes done)."""
        deadline = time.monotonic() + SETTLE_LIMIT
        last = await self.accounting()
        while time.monotonic() < deadline:
            await asyncio.sleep(QUIET_SECONDS)
            current = await self.accounting()
            if requests_in(current) == requests_in(last):
                return current
            last = current
        raise TimeoutError(f"the stack was still calling AWS {SETTLE_LIMIT} s after the operation")

    async def drop_listeners(self) -> None:
        """Cut every listening socket as a crashed phone would: no close frame, no $disconnect."""
        for socket in await self._call("GET", "/_devstack/sockets"):
            if socket["device"] == "listener":
                await self._call("POST", f"/_devstack/sockets/{socket['connection_id']}/drop")

    async def aws(self) -> dict:
        return await self._call("GET", "/_devstack/aws")
