"""Parley's API Gateway routes and Lambda handlers. Each turns an event into a call; logic is in chalicelib."""
import time
from functools import cache, wraps

from chalice import Chalice, Rate, Response
from chalice.app import Request

from chalicelib.config import fanout_queue_name, media_events_queue_name, settings
from chalicelib.observability import logger, metrics
from chalicelib.rest import bearer_token, error_response, query_int
from chalicelib.services import services
from chalicelib.wire import json_object

app = Chalice(app_name="parley", configure_logs=False)  # powertools owns the "parley" logger
app.experimental_feature_flags.update(["WEBSOCKETS"])


@cache
def socket_api():
    from chalicelib.socket_api import SocketApi
    return SocketApi(services(), settings().region, settings().connections_endpoint)


def route(path: str, **options):
    """`app.route` whose contract errors become `{"code", "message"}` responses with their status."""
    def register(view):
        @wraps(view)
        def answer(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except Exception as error:
                return error_response(error)
        return app.route(path, content_types=["application/json", "text/plain"], **options)(answer)
    return register


@app.middleware("all")
def observed(event, get_response):
    """Correlate logs by request or connection id, time the handler, and flush its metrics."""
    context = getattr(event, "context", None)
    logger.set_correlation_id(getattr(event, "connection_id", None)
                              or (context.get("requestId") if isinstance(context, dict) else None))
    started = time.perf_counter()
    try:
        return get_response(event)
    finally:
        metrics.add_metric(name="HandlerLatency", unit="Milliseconds", value=(time.perf_counter() - started) * 1000)
        metrics.flush_metrics()


def current_request() -> Request:
    """The request a route is handling (Chalice sets it before calling the route)."""
    if app.current_request is None:
        raise RuntimeError("no request is being handled")
    return app.current_request


def caller() -> str:
    return services().sessions.check(services().tokens.verify(bearer_token(current_request().headers)))


def body() -> dict:
    return json_object(current_request().raw_body, "the body")


def request_as(action: str, **fields):
    """The body validated as the WebSocket action it mirrors (pydantic loads on first use, not at cold start)."""
    from chalicelib import frames
    return frames.parse({**body(), **fields, "action": action})


@app.on_ws_connect()
def connect(event):
    context = event.to_dict()["requestContext"]
    status = socket_api().connect(event.connection_id, event.to_dict().get("queryStringParameters") or {},
                                  context["apiId"], context["stage"])
    return Response(body="", status_code=status)


@app.on_ws_message()
def message(event):
    context = event.to_dict()["requestContext"]
    socket_api().receive(event.connection_id, event.body, context["apiId"], context["stage"])


@app.on_ws_disconnect()
def disconnect(event):
    socket_api().disconnect(event.connection_id)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_presence(event):
    """Sockets that died without $disconnect: their users go offline within about a minute of going stale. The
    schedule only queues one task per online shard; fan_out workers sweep the shards in parallel."""
    services().presence.sweep()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def expire_messages(event):
    """Disappearing messages whose time has come: deleted for everyone, media and all."""
    services().disappearing.sweep()


@route("/health")
def health():
    return {"status": "ok"}


@route("/auth/signup", methods=["POST"])
def signup():
    request = body()
    return Response(body={"user_id": services().signup(request.get("username"), request.get("password"))},
                    status_code=201)


@route("/auth/login", methods=["POST"])
def login():
    request = body()
    return services().accounts.login(request.get("username"), request.get("password"))


@route("/auth/logout_all", methods=["POST"])
def logout_all():
    services().sessions.logout_all(caller())
    return {}


@route("/auth/refresh", methods=["POST"])
def refresh():
    return services().accounts.refresh(body().get("refresh_token"))


@route("/me")
def me():
    user_id = caller()
    return {"user_id": user_id, "profile": services().people.profile(user_id),
            "settings": services().settings.of(user_id)}


@route("/me/profile", methods=["PUT"])
def update_profile():
    user_id = caller()
    return {"profile": services().people.update_profile(user_id, body())}


@route("/users")
def users():
    user_id, params = caller(), current_request().query_params
    ids = params.get("ids", "") if params else ""
    return {"users": services().people.users(user_id, ids.split(","))}


@route("/blocks", methods=["POST"])
def block():
    user_id = caller()
    services().people.block(user_id, body().get("user_id"))
    return Response(body={}, status_code=201)


@route("/blocks/{other_id}", methods=["DELETE"])
def unblock(other_id):
    services().people.unblock(caller(), other_id)
    return {}


@route("/blocks")
def blocked():
    return {"user_ids": services().people.blocked(caller())}


@route("/reports", methods=["POST"])
def report():
    user_id, request = caller(), body()
    report_id = services().reports.report(user_id, request.get("chat_id"), request.get("seq"), request.get("reason"))
    return Response(body={"report_id": report_id}, status_code=201)


@route("/me/settings", methods=["PUT"])
def update_settings():
    user_id = caller()
    return {"settings": services().settings.update(user_id, body())}


@route("/devices/{device}", methods=["PUT"])
def register_device(device):
    user_id, request = caller(), body()
    return services().notifications.register(user_id, device, request.get("platform"), request.get("token"))


@route("/devices/{device}", methods=["DELETE"])
def unregister_device(device):
    services().notifications.unregister(caller(), device)
    return {}


@route("/me", methods=["DELETE"])
def delete_account():
    services().account_deletion.request(caller(), body().get("password"))
    return {}


@route("/me/export", methods=["POST"])
def request_export():
    return Response(body={"export_id": services().exports.request(caller())}, status_code=202)


@route("/me/export/{export_id}")
def export_status(export_id):
    return services().exports.status(caller(), export_id)


@route("/presence", methods=["POST"])
def presence():
    user_id, request = caller(), request_as("presence")
    return {"users": services().presence.query(user_id, list(request.user_ids))}


@route("/chats")
def list_chats():
    params = current_request().query_params
    if params and ("limit" in params or "cursor" in params):
        return services().messaging.chats_page(caller(), query_int(params, "limit", 50, 1, 100), params.get("cursor"))
    user_id = caller()
    return {"chats": services().messaging.as_seen_by(user_id, services().messaging.chats_of(user_id))}


@route("/chats", methods=["POST"])
def create_chat():
    user_id, request = caller(), request_as("create_chat")
    chat, created = services().create_chat(user_id, request.kind, request.user_id, request.name, request.members)
    return Response(body={"chat": services().messaging.seen_by(user_id, chat)}, status_code=201 if created else 200)


@route("/chats/{chat_id}/members", methods=["POST"])
def add_members(chat_id):
    user_id, request = caller(), request_as("add_members", chat_id=chat_id)
    chat = services().groups.add_members(user_id, chat_id, request.user_ids)
    return {"chat": services().messaging.seen_by(user_id, chat)}


@route("/chats/{chat_id}/members/{member_id}", methods=["DELETE"])
def remove_member(chat_id, member_id):
    user_id = caller()
    if member_id.lower() == user_id:
        services().groups.leave(user_id, chat_id)
        return {}
    chat = services().groups.remove_members(user_id, chat_id, [member_id])
    return {"chat": services().messaging.seen_by(user_id, chat)}


@route("/chats/{chat_id}")
def get_chat(chat_id):
    user_id, messaging = caller(), services().messaging
    return {"chat": messaging.seen_by(user_id, messaging.chat_of_member(user_id, chat_id))}


@route("/chats/{chat_id}/messages")
def chat_messages(chat_id):
    params = current_request().query_params
    return services().messaging.history(caller(), chat_id, query_int(params, "before", None, 1, 2**53),
                                        query_int(params, "limit", 50, 1, 100))


@route("/chats/{chat_id}/receipts")
def chat_receipts(chat_id):
    return services().receipts.cursors(caller(), chat_id)


@app.on_sqs_message(queue=fanout_queue_name(), batch_size=1)  # a group's tasks fan out in parallel
def fan_out(event):
    return services().fanout.run_batch(event.to_dict())


@route("/media", methods=["POST"])
def request_upload():
    user_id, request = caller(), request_as("upload")
    slot = services().media.request_upload(user_id, request.chat_id, request.filename, request.content_type,
                                           request.size)
    return Response(body=slot, status_code=201)


@route("/media/{media_id}")
def get_media(media_id):
    return {"media": services().media.describe(caller(), media_id)}


@app.on_sqs_message(queue=media_events_queue_name(), batch_size=5)
def process_media(event):
    return services().media.process_batch(event.to_dict())
