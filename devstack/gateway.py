"""Stand-ins for API Gateway on one port: the REST stage at /api, the WebSocket stage at /ws, the
@connections management API at /@connections/{id}, and the web client at /.

Handlers run in a thread pool, as concurrent Lambda invocations would; the events they get have the shape
API Gateway gives them. The app's own @connections calls are answered in-process (`answer_connections_calls`):
botocore builds, signs and parses them as it would for API Gateway, but no HTTP round trip to this same
process is made; other clients reach the same code over HTTP.
"""
import asyncio
import json
import threading
import time
import uuid
from base64 import b64decode
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jwt
from aiohttp import WSMsgType, web
from botocore.awsrequest import AWSResponse
from chalice.config import Config
from chalice.local import LambdaContext, LocalGateway, LocalGatewayException
from moto.core.botocore_stubber import MockRawResponse

API_ID = "local"
STAGE = "ws"
MAX_MESSAGE_BYTES = 128 * 1024  # what API Gateway accepts per message (in 32 KB frames)
IDLE_SECONDS = 600  # API Gateway closes a socket that carried nothing for 10 minutes
MAX_SECONDS = 7200  # and every socket after 2 hours
GOING_AWAY = 1001  # the close code API Gateway uses for both
WEBCLIENT = Path(__file__).resolve().parent.parent / "webclient"


class Gateway:
    def __init__(self, app_module, port: int, waiting: Callable[[int], None], idle_seconds: float = IDLE_SECONDS,
                 max_seconds: float = MAX_SECONDS, workers: int = 32):
        """`waiting` hears of each invocation queued for a worker (+1) and of each one a worker takes (-1).
        Sockets close as API Gateway closes them: after `idle_seconds` without a frame either way, and
        `max_seconds` after they opened."""
        self._app_module = app_module
        self._waiting = waiting
        self._idle_seconds, self._max_seconds = idle_seconds, max_seconds
        self._port = port
        self._rest = LocalGateway(app_module.app, Config.create(chalice_app=app_module.app, lambda_timeout=29))
        # Chalice keeps the current request on the app object: one REST call at a time, as in one container.
        self._rest_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda")
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self._about: dict[str, dict] = {}  # who holds each socket, for the drop control below
        self._loop: asyncio.AbstractEventLoop | None = None

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES * 2)
        app.router.add_route("*", "/api/{path:.*}", self._rest_call)
        app.router.add_get("/ws", self._websocket)
        for prefix in ("/@connections", "/%40connections"):
            app.router.add_route("*", prefix + "/{connection_id}", self._connections_api)
        app.router.add_get("/_devstack/sockets", self._list_sockets)
        app.router.add_post("/_devstack/sockets/{connection_id}/drop", self._drop_socket)
        app.router.add_get("/", self._index)
        if WEBCLIENT.is_dir():
            app.router.add_static("/", WEBCLIENT)
        app.cleanup_ctx.append(self._closing_expired_sockets)
        return app

    async def _closing_expired_sockets(self, _app):
        self._loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(self._close_expired_sockets())
        yield
        task.cancel()

    async def _close_expired_sockets(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self._idle_seconds / 4))
            now = time.monotonic()
            for connection_id, about in list(self._about.items()):
                socket = self.sockets.get(connection_id)
                if socket is not None and (now - about["active"] > self._idle_seconds
                                           or now - about["opened"] > self._max_seconds):
                    await socket.close(code=GOING_AWAY, message=b"Going away")

    async def _invoke(self, handler, *args):
        def taken(*call_args):
            self._waiting(-1)
            return handler(*call_args)
        self._waiting(+1)
        return await asyncio.get_running_loop().run_in_executor(self._pool, taken, *args)

    # REST -----------------------------------------------------------------------------------------------

    async def _rest_call(self, request: web.Request) -> web.Response:
        body = await request.read()
        path = "/" + request.match_info["path"] + (f"?{request.query_string}" if request.query_string else "")
        headers = {key.lower(): value for key, value in request.headers.items()}
        try:
            answer = await self._invoke(self._rest_locked, request.method, path, headers, body)
        except LocalGatewayException as error:
            return web.Response(status=error.CODE, body=error.body, headers=error.headers)
        payload = answer.get("body") or b""
        if answer.get("isBase64Encoded"):
            payload = b64decode(payload)
        response_headers = {key: value for key, value in (answer.get("headers") or {}).items()
                            if key.lower() not in ("content-length", "transfer-encoding")}
        return web.Response(status=answer["statusCode"], body=payload, headers=response_headers)

    def _rest_locked(self, method, path, headers, body):
        with self._rest_lock:
            return self._rest.handle_request(method=method, path=path, headers=headers, body=body)

    # WebSocket ------------------------------------------------------------------------------------------

    def _event(self, route: str, connection_id: str, body: str | None = None, query: dict | None = None) -> dict:
        event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
        event = {"requestContext": {"routeKey": route, "eventType": event_type,
                                    "connectionId": connection_id, "apiId": API_ID, "stage": STAGE,
                                    "domainName": f"127.0.0.1:{self._port}", "requestId": uuid.uuid4().hex,
                                    "connectedAt": int(time.time() * 1000)},
                 "isBase64Encoded": False}
        if query is not None:
            event["queryStringParameters"] = query or None
        if body is not None:
            event["body"] = body
        return event

    def _lambda(self, name: str, event: dict):
        return getattr(self._app_module, name)(event, LambdaContext(name, 1024, 29_000))

    async def invoke_lambda(self, name: str, event: dict):
        return await self._invoke(self._lambda, name, event)

    async def _websocket(self, request: web.Request):
        connection_id = uuid.uuid4().hex[:16]
        answer = await self._invoke(self._lambda, "connect", self._event("$connect", connection_id,
                                                                         query=dict(request.query)))
        status = (answer or {}).get("statusCode", 200)
        if status != 200:
            return web.Response(status=status, text=(answer or {}).get("body") or "refused")
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True)
        await socket.prepare(request)
        self.sockets[connection_id] = socket
        about = self._about[connection_id] = {
            "connection_id": connection_id, "user_id": _unverified_user(request.query),
            "device": request.query.get("device", "default"), "transport": request.transport,
            "opened": time.monotonic(), "active": time.monotonic()}
        try:
            async for frame in socket:
                if frame.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    about["active"] = time.monotonic()
                    body = frame.data if frame.type == WSMsgType.TEXT else frame.data.decode(errors="replace")
                    asyncio.ensure_future(self._invoke(self._lambda, "message",
                                                       self._event("$default", connection_id, body=body)))
        finally:
            self._about.pop(connection_id, None)
            if self.sockets.pop(connection_id, None) is not None:
                await self._invoke(self._lambda, "disconnect", self._event("$disconnect", connection_id))
        return socket

    # @connections -----------------------------------------------------------------------------------------

    def answer_connections_calls(self, session) -> None:
        """@connections calls of clients made from `session` from now on are answered without HTTP."""
        session.events.register("before-send.apigatewaymanagementapi", self._connections_call_in_process)

    def _connections_call_in_process(self, request, **_) -> AWSResponse:
        connection_id = unquote(urlsplit(request.url).path).rsplit("/", 1)[-1]
        call = self._connections_call(request.method, connection_id, request.body or b"")
        status, headers, body = asyncio.run_coroutine_threadsafe(call, self._loop).result()
        return AWSResponse(request.url, status, headers, MockRawResponse(body))

    async def _connections_api(self, request: web.Request) -> web.Response:
        status, headers, body = await self._connections_call(request.method, request.match_info["connection_id"],
                                                             await request.read())
        return web.Response(status=status, headers=headers, body=body)

    async def _connections_call(self, method: str, connection_id: str, data: bytes) -> tuple[int, dict, bytes]:
        socket = self.sockets.get(connection_id)
        if socket is None or socket.closed:
            return _error(410, "GoneException", "Gone")
        if method == "POST":
            if len(data) > MAX_MESSAGE_BYTES:
                return _error(413, "PayloadTooLargeException", "Message too long")
            await socket.send_str(data.decode())
            self._about.get(connection_id, {})["active"] = time.monotonic()
            return 200, {}, b""
        if method == "DELETE":
            await socket.close()
            return 204, {}, b""
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"ConnectedAt": None, "Identity": {"SourceIp": "127.0.0.1"}}).encode()

    # Fault control for tests ----------------------------------------------------------------------------

    async def _list_sockets(self, request: web.Request) -> web.Response:
        return web.json_response([{key: about[key] for key in ("connection_id", "user_id", "device")}
                                  for about in self._about.values()])

    async def _drop_socket(self, request: web.Request) -> web.Response:
        """Cut a socket the way a crashed phone does: no close frame, and no $disconnect for the app."""
        connection_id = request.match_info["connection_id"]
        about = self._about.pop(connection_id, None)
        if about is None or self.sockets.pop(connection_id, None) is None:
            return web.json_response({"message": "no such socket"}, status=404)
        about["transport"].abort()
        return web.Response(status=204)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if (WEBCLIENT / "index.html").is_file():
            return web.FileResponse(WEBCLIENT / "index.html")
        return web.Response(content_type="text/html", text=(
            "<h1>Parley local stack</h1><p>REST: <code>/api</code> &middot; WebSocket: <code>/ws</code>"
            " &middot; health: <a href='/api/health'>/api/health</a></p>"))


def _error(status: int, error_type: str, message: str) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": error_type}, json.dumps(
        {"message": message}).encode()


def _unverified_user(query) -> str | None:
    """Only to label sockets for the fault controls; the app verifies tokens itself."""
    try:
        return jwt.decode(query.get("token", ""), options={"verify_signature": False}).get("cognito:username")
    except jwt.PyJWTError:
        return None
