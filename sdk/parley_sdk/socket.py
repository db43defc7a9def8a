"""A WebSocket that stays open: replies matched by ``req``, heartbeats, reconnection with backoff."""

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from .errors import ConnectionLost, ParleyError

log = logging.getLogger("parley_sdk")

CONNECTED = object()
"""Put among the incoming frames after every successful (re)connect."""

_CLOSED = object()

# Refusals worth another try: the server is overloaded or failing, not saying no to this client.
_RETRYABLE_CODES = {"internal", "rate_limited"}


class _PendingReply:
    def __init__(self, final_type: str | None, also_incoming: bool):
        self.frames: list[dict] = []
        self.done: asyncio.Future[list[dict]] = asyncio.get_running_loop().create_future()
        self.final_type = final_type
        self.also_incoming = also_incoming

    def feed(self, frame: dict) -> None:
        self.frames.append(frame)
        if self.final_type is None or frame.get("type") in (self.final_type, "error"):
            self.done.set_result(self.frames)


class ReconnectingSocket:
    """One logical connection over as many WebSockets as it takes.

    ``connect_url`` is called before every handshake, so each one carries a fresh token.
    Frames that are not replies arrive through ``incoming()``, with ``CONNECTED`` after each
    (re)connect so the reader knows to catch up on what it may have missed.
    """

    def __init__(
        self,
        connect_url: Callable[[], Awaitable[str]],
        *,
        request_timeout: float,
        heartbeat_interval: float,
        background_heartbeat_interval: float,
        max_backoff: float,
        background: bool = False,
    ):
        self._connect_url = connect_url
        self._request_timeout = request_timeout
        self._heartbeat_interval = heartbeat_interval
        self._background_heartbeat_interval = background_heartbeat_interval
        self._max_backoff = max_backoff
        self._background = background
        self._background_changed = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._connections = 0
        self._failure: ParleyError | None = None
        self._state = asyncio.Condition()
        self._pending: dict[str, _PendingReply] = {}
        self._incoming: asyncio.Queue = asyncio.Queue()
        self._supervisor: asyncio.Task | None = None

    async def open(self) -> None:
        """Connect once (raising if refused), then keep the connection up in the background."""
        ws = await self._handshake()
        await self._set_connection(ws)
        self._supervisor = asyncio.create_task(self._keep_open(ws))

    async def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self._ws is not None:
            await self._ws.close()
        await self._lose_connection()
        await self._stop(ConnectionLost("the client was closed"), _CLOSED)

    def set_background(self, background: bool) -> None:
        """Quiet heartbeats every ``background_heartbeat_interval`` s instead of normal ones; at once."""
        if background != self._background:
            self._background = background
            self._background_changed.set()

    async def connection(self) -> int:
        """Which connection is open (waiting for one to be), for ``request(..., connection=)``."""
        await self._connection()
        return self._connections

    async def request(
        self,
        frame: dict,
        *,
        final_type: str | None = None,
        retry: bool = True,
        also_incoming: bool = False,
        connection: int | None = None,
    ) -> list[dict]:
        """Send ``frame`` with a fresh ``req`` and return the frames of its reply.

        The reply is one frame, or every frame up to one of type ``final_type``. An ``error`` frame
        raises ``ParleyError``. When the socket drops first, the same frame is sent again after the
        reconnect if ``retry``, otherwise ``ConnectionLost`` is raised. With ``also_incoming`` a
        successful reply is also put among the incoming frames, in the order it came off the wire.
        With ``connection`` (from ``connection()``) the frame goes on that connection only: once it is
        gone, ``ConnectionLost``.
        """
        while True:
            ws = await self._connection()
            if connection not in (None, self._connections):
                raise ConnectionLost("the connection dropped")
            try:
                frames = await self._request_once(ws, frame, final_type, also_incoming)
            except ConnectionLost:
                if not retry or connection is not None:
                    raise
                continue
            if frames[-1].get("type") == "error":
                error = frames[-1]
                raise ParleyError(error.get("code", "internal"), error.get("message", ""))
            return frames

    async def send(self, frame: dict) -> None:
        """Send a frame that gets no reply on success."""
        ws = await self._connection()
        try:
            await ws.send(json.dumps(frame))
        except ConnectionClosed as closed:
            raise ConnectionLost("the connection dropped while sending") from closed

    async def incoming(self) -> AsyncIterator[Any]:
        """Frames (dicts) and ``CONNECTED`` markers; ends when the socket closes, raises if it gave up."""
        while True:
            item = await self._incoming.get()
            if item is _CLOSED:
                return
            if isinstance(item, ParleyError):
                raise item
            yield item

    async def _request_once(
        self, ws: ClientConnection, frame: dict, final_type: str | None, also_incoming: bool
    ) -> list[dict]:
        req = uuid.uuid4().hex
        reply = _PendingReply(final_type, also_incoming)
        self._pending[req] = reply
        try:
            # A send into a closed socket needs no handling here: the reader sees the close
            # and fails every pending reply, this one included.
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps({**frame, "req": req}))
            async with asyncio.timeout(self._request_timeout):
                return await reply.done
        except TimeoutError:
            raise ParleyError(
                "timeout", f"no reply to {frame['action']} within {self._request_timeout} s"
            ) from None
        finally:
            del self._pending[req]

    async def _connection(self) -> ClientConnection:
        """The open WebSocket, once there is one; raises once the socket is closed or gave up."""
        async with self._state:
            await self._state.wait_for(lambda: self._ws is not None or self._failure is not None)
            if self._failure is not None:
                raise self._failure
            assert self._ws is not None  # what the wait was for
            return self._ws

    async def _handshake(self) -> ClientConnection:
        url = await self._connect_url()
        try:
            # The protocol's heartbeat detects dead sockets; API Gateway does not need pings.
            return await connect(url, ping_interval=None, open_timeout=self._request_timeout)
        except InvalidStatus as refused:
            response = refused.response
            raw_body = response.body or b""
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = raw_body.decode(errors="replace")
            raise ParleyError.from_http(response.status_code, body) from refused

    async def _keep_open(self, ws: ClientConnection) -> None:
        while True:
            await self._serve(ws)
            await self._lose_connection()
            try:
                ws = await self._reconnect()
            except ParleyError as refused:
                log.error("giving up reconnecting: %s", refused)
                await self._stop(refused, refused)
                return
            await self._set_connection(ws)

    async def _serve(self, ws: ClientConnection) -> None:
        heartbeats = asyncio.create_task(self._send_heartbeats(ws))
        try:
            async for raw in ws:
                self._route(raw)
        except ConnectionClosed:
            pass
        finally:
            heartbeats.cancel()
        log.warning("connection lost (close code %s); reconnecting", ws.close_code)

    def _route(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            log.warning("ignoring a frame that is not JSON: %.200r", raw)
            return
        req = frame.get("req")
        reply = self._pending.get(req)
        if reply is not None and not reply.done.done():
            reply.feed(frame)
            if reply.also_incoming and frame.get("type") != "error":
                self._incoming.put_nowait(frame)
        elif req is None:
            self._incoming.put_nowait(frame)
        # Otherwise it is a late reply to a request that gave up waiting: nobody wants it.

    async def _send_heartbeats(self, ws: ClientConnection) -> None:
        while True:
            interval = self._background_heartbeat_interval if self._background else self._heartbeat_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._background_changed.wait(), interval)
            self._background_changed.clear()
            try:
                if self._background:
                    # No reply to time out: in the background a dead link is left to the socket's own close.
                    await self.send({"action": "heartbeat", "quiet": True})
                else:
                    await self.request({"action": "heartbeat"}, retry=False)
            except ConnectionLost:
                return
            except ParleyError as error:
                if error.code == "timeout":
                    log.warning("no answer to a heartbeat; dropping the connection")
                    await ws.close()
                    return
                log.warning("heartbeat refused: %s", error)

    async def _reconnect(self) -> ClientConnection:
        """Handshake until it works, first at once, then with doubling, jittered delays."""
        delay = 0.5
        while True:
            try:
                ws = await self._handshake()
                log.info("reconnected")
                return ws
            except ParleyError as refused:
                if refused.code not in _RETRYABLE_CODES:
                    raise
                log.warning("reconnect refused: %s", refused)
            except (OSError, TimeoutError, WebSocketException, aiohttp.ClientError) as failure:
                log.warning("reconnect failed: %s", failure)
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, self._max_backoff)

    async def _set_connection(self, ws: ClientConnection) -> None:
        async with self._state:
            self._ws = ws
            self._connections += 1
            self._state.notify_all()
        self._incoming.put_nowait(CONNECTED)

    async def _lose_connection(self) -> None:
        async with self._state:
            self._ws = None
        for reply in self._pending.values():
            if not reply.done.done():
                reply.done.set_exception(ConnectionLost())

    async def _stop(self, failure: ParleyError, incoming_item: object) -> None:
        async with self._state:
            self._failure = failure
            self._state.notify_all()
        self._incoming.put_nowait(incoming_item)
