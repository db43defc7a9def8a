"""Parley's API Gateway routes and Lambda handlers. Each turns an event into a call; logic is in chalicelib."""
from functools import cache, wraps

from chalice import Chalice, Rate, Response

from chalicelib import frames
from chalicelib.config import settings
from chalicelib.observability import logger, metrics
from chalicelib.rest import bearer_token, error_response, json_body, query_int
from chalicelib.services import services

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


@app.middleware("http")
def rest_context(event, get_response):
    logger.set_correlation_id(event.context.get("requestId"))
    try:
        return get_response(event)
    finally:
        metrics.flush_metrics()


@app.middleware("websocket")
def socket_context(event, get_response):
    logger.set_correlation_id(event.connection_id)
    try:
        return get_response(event)
    finally:
        metrics.flush_metrics()


def caller() -> str:
    return services().tokens.user_id(bearer_token(app.current_request.headers))


def body() -> dict:
    return json_body(app.current_request.raw_body)


@app.on_ws_connect()
def connect(event):
    context = event.to_dict()["requestContext"]
    status = socket_api().connect(event.connection_id, event.to_dict().get("queryStringParameters") or {},
                                  context["apiId"], context["stage"])
    return Response(body="", status_code=status)


@app.on_ws_message()
def message(event):
    socket_api().receive(event.connection_id, event.body)


@app.on_ws_disconnect()
def disconnect(event):
    socket_api().disconnect(event.connection_id)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_presence(event):
    """Sockets that died without $disconnect: their users go offline within about a minute of going stale."""
    services().presence.sweep()


@route("/health")
def health():
    return {"status": "ok"}


@route("/auth/signup", methods=["POST"])
def signup():
    request = body()
    user_id = services().accounts.signup(request.get("username"), request.get("password"))
    services().users.register(user_id)
    return Response(body={"user_id": user_id}, status_code=201)


@route("/auth/login", methods=["POST"])
def login():
    request = body()
    return services().accounts.login(request.get("username"), request.get("password"))


@route("/auth/refresh", methods=["POST"])
def refresh():
    return services().accounts.refresh(body().get("refresh_token"))


@route("/me")
def me():
    return {"user_id": caller()}


@route("/presence", methods=["POST"])
def presence():
    user_id, request = caller(), frames.parse({**body(), "action": "presence"})
    return {"users": services().presence.query(user_id, list(request.user_ids))}


@route("/chats")
def list_chats():
    return {"chats": [chat.to_wire() for chat in services().messaging.chats_of(caller())]}


@route("/chats", methods=["POST"])
def create_chat():
    user_id, request = caller(), frames.parse({**body(), "action": "create_chat"})
    chat = services().messaging.create_direct(user_id, request.user_id)
    return Response(body={"chat": chat.to_wire()}, status_code=201)


@route("/chats/{chat_id}")
def get_chat(chat_id):
    chat, _ = services().messaging.chat_of_member(caller(), chat_id)
    return {"chat": chat.to_wire()}


@route("/chats/{chat_id}/messages")
def chat_messages(chat_id):
    params = app.current_request.query_params
    return services().messaging.history(caller(), chat_id, query_int(params, "before", None, 1, 2**53),
                                        query_int(params, "limit", 50, 1, 100))


@route("/chats/{chat_id}/receipts")
def chat_receipts(chat_id):
    return services().receipts.cursors(caller(), chat_id)
