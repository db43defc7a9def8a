"""The reliability tier: Parley's real handlers and services on moto (in-process), with faults injected into the
app's own boto3 clients, and API Gateway's @connections answered by a recorder.

One moto world per test module (deploying the template costs seconds); tests keep out of each other's way
with users and chats of their own.
"""
import functools
import io
import itertools
import json
import os
import threading
import time
import uuid
import warnings

import boto3
import jwt
import pytest

from devstack import moto_server
from devstack.aws import FAKE_CREDENTIALS, deploy
from tests import tokens
from tests.aws.conftest import jwks_url  # noqa: F401  (a fixture, re-exported for this folder)
from tests.reliability.faults import BotocoreFaults, ConnectionsApi

API_ID, STAGE = "abc123", "api"
ENDPOINT = f"https://{API_ID}.execute-api.us-east-1.amazonaws.com/{STAGE}"
PASSWORD = "Passw0rd!"
CONTRACT_CODES = {"bad_request", "unauthorized", "forbidden", "not_found", "too_large", "rate_limited",
                  "conflict", "internal"}
STATUS_OF = {"bad_request": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409,
             "too_large": 413, "rate_limited": 429, "internal": 500}


def fuzz_examples(default: int) -> int:
    """Examples per fuzz test: a few hundred in CI, thousands with PARLEY_FUZZ_EXAMPLES=5000."""
    return int(os.environ.get("PARLEY_FUZZ_EXAMPLES", default))


def fault_seeds(default: int = 1) -> list[int]:
    """Seeds each fault test runs with: PARLEY_FAULT_SEEDS=20 runs twenty."""
    return list(range(int(os.environ.get("PARLEY_FAULT_SEEDS", default))))


@functools.cache
def pool_key():
    """moto's pool signing key, loaded once (as tests.tokens.signed_by_pool signs, without the per-call cost)."""
    return jwt.PyJWK(tokens.MOTO_KEY).key


def ws_event(route: str, connection_id: str, body=None, query=None) -> dict:
    return {"requestContext": {"routeKey": route, "connectionId": connection_id, "apiId": API_ID, "stage": STAGE,
                               "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
                               "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE"),
                               "requestId": uuid.uuid4().hex},
            "queryStringParameters": query, "body": body, "isBase64Encoded": False}


@pytest.fixture(scope="module")
def moto_world(jwks_url):  # noqa: F811
    """moto with Parley's resources for this module; the app's settings and services built on it once."""
    import app as parley_app
    from chalicelib.config import settings
    from chalicelib.services import services

    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        for limit in ("RECEIPT", "PRESENCE", "HISTORY", "SYNC", "HEARTBEAT"):  # fuzzing floods every frame
            patch.setenv(f"{limit}_LIMIT", "100000")
        with moto_server.in_process(threading.RLock()):
            env = deploy()
            env["JWKS_URL"] = jwks_url
            for name, value in env.items():
                patch.setenv(name, value)
            settings.cache_clear(), services.cache_clear(), parley_app.socket_api.cache_clear()
            # Built now, outside chalice.test.Client's invocations (which patch in the 'dev' stage's variables).
            settings(), services(), parley_app.socket_api()
            yield env
            settings.cache_clear(), services.cache_clear(), parley_app.socket_api.cache_clear()


class RetrySleeps:
    """Stands in for the `time` module inside botocore's endpoint: retries back off without waiting."""

    def __init__(self):
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def __getattr__(self, name):
        return getattr(time, name)


class Socket:
    """One WebSocket of a user, driven through the `message` Lambda handler; frames come from @connections."""
    _reqs = itertools.count()

    def __init__(self, parley: "Parley", user_id: str, connection_id: str):
        self.parley, self.user_id, self.connection_id = parley, user_id, connection_id

    @property
    def frames(self) -> list[dict]:
        return self.parley.api.frames[self.connection_id]

    def raw(self, body) -> list[dict]:
        """Send a frame as is; answer every frame this socket got while it was handled."""
        before = len(self.frames)
        self.parley.client.lambda_.invoke("message", ws_event("$default", self.connection_id, body=body))
        return self.frames[before:]

    def call_all(self, action: str, **params) -> list[dict]:
        req = f"r{next(self._reqs)}"
        got = self.raw(json.dumps({"action": action, "req": req, **params}, ensure_ascii=False))  # UTF-8, as clients
        return [frame for frame in got if frame.get("req") == req]

    def call(self, action: str, **params) -> dict:
        replies = self.call_all(action, **params)
        assert replies, f"no reply to {action}"
        return replies[-1]

    def send(self, chat_id: str, text: str, client_msg_id: str | None = None, **params) -> dict:
        return self.call("send", chat_id=chat_id, client_msg_id=client_msg_id or uuid.uuid4().hex, kind="text",
                         text=text, **params)

    def of_type(self, kind: str) -> list[dict]:
        return [frame for frame in self.frames if frame.get("type") == kind]

    def messages(self, chat_id: str) -> dict[int, dict]:
        """Every message this socket got live for a chat, by seq, failing on a repeat with other content."""
        seen: dict[int, dict] = {}
        for frame in self.of_type("message"):
            message = frame["message"]
            if message["chat_id"] == chat_id:
                assert seen.setdefault(message["seq"], message)["message_id"] == message["message_id"]
        return seen

    def view(self, chat_id: str) -> dict[int, dict]:
        """What a client holds of a chat after catching up as the contract says: the live pushes, then `sync`
        from its cursor (the highest seq with nothing missing below), then `history` for any gap left."""
        held = self.messages(chat_id)
        cursor = 0
        while cursor + 1 in held:
            cursor += 1

        def take(messages: list[dict]) -> None:
            seqs = [m["seq"] for m in messages]
            assert seqs == sorted(set(seqs)), f"a page out of order: {seqs}"
            for message in messages:
                assert held.setdefault(message["seq"], message)["message_id"] == message["message_id"], \
                    f"two messages at seq {message['seq']}"

        replies = self.call_all("sync", cursors={chat_id: cursor})
        assert replies[-1]["type"] == "synced", replies[-1]
        for frame in replies[:-1]:
            if frame["chat_id"] == chat_id:
                take(frame["messages"])
        while True:  # backfill the holes with history, newest first
            missing = [seq for seq in range(1, max(held, default=0) + 1) if seq not in held]
            if not missing:
                return held
            page = self.call("history", chat_id=chat_id, before=missing[-1] + 1, limit=100)
            assert page["type"] == "history", page
            known = len(held)
            take(page["messages"])
            assert len(held) > known, f"history does not give back seqs {missing[-5:]}"

    def disconnect(self) -> None:
        self.parley.client.lambda_.invoke("disconnect", ws_event("$disconnect", self.connection_id))


class Parley:
    _names = itertools.count()

    def __init__(self, env: dict, client, faults: BotocoreFaults, api: ConnectionsApi, template: dict):
        from chalicelib.services import services
        self.env, self.client, self.faults, self.api = env, client, faults, api
        self.services = services()
        self._template = template
        self.dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.clock_offset = 0.0

    # People ---------------------------------------------------------------------------------------------

    def name(self, prefix: str) -> str:
        return f"{prefix}{next(self._names)}"

    def token_for(self, user_id: str, **changes) -> str:
        """An ID token as the pool would sign it for `user_id` (no Cognito round trip)."""
        now = int(time.time())
        claims = {**self._template, "cognito:username": user_id, "sub": str(uuid.uuid4()), "iat": now,
                  "auth_time": now, "exp": now + 3600, "jti": str(uuid.uuid4()), **changes}
        return jwt.encode(claims, pool_key(), algorithm="RS256", headers={"kid": tokens.MOTO_KEY["kid"]})

    def user(self, prefix: str = "user") -> str:
        user_id = self.name(prefix)
        self.services.stores.users.register(user_id)
        return user_id

    def signup(self, prefix: str = "user") -> tuple[str, str]:
        """A user signed up and logged in through the REST API: (user_id, id_token)."""
        user_id = self.name(prefix)
        status, _ = self.rest("POST", "/auth/signup", {"username": user_id, "password": PASSWORD})
        assert status == 201
        status, login = self.rest("POST", "/auth/login", {"username": user_id, "password": PASSWORD})
        assert status == 200
        return user_id, login["id_token"]

    def connect(self, user_id: str, device: str = "phone", token: str | None = None) -> Socket:
        connection_id = f"c-{uuid.uuid4().hex[:12]}"
        answer = self.client.lambda_.invoke("connect", ws_event(
            "$connect", connection_id, query={"token": token or self.token_for(user_id), "device": device}))
        assert answer.payload["statusCode"] == 200, answer.payload
        return Socket(self, user_id, connection_id)

    # Chats ----------------------------------------------------------------------------------------------

    def direct(self, a: str, b: str) -> str:
        status, body = self.rest("POST", "/chats", {"kind": "direct", "user_id": b}, token=self.token_for(a))
        assert status in (200, 201), body
        return body["chat"]["chat_id"]

    def group(self, admin: str, members: list[str], name: str = "g") -> str:
        status, body = self.rest("POST", "/chats", {"kind": "group", "name": name, "members": members},
                                 token=self.token_for(admin))
        assert status == 201, body
        return body["chat"]["chat_id"]

    def stored(self, chat_id: str) -> list[dict]:
        """The messages table's items of a chat, ascending (what storage really holds)."""
        from boto3.dynamodb.conditions import Key
        table = self.dynamodb.Table(self.env["MESSAGES_TABLE"])
        items, kwargs = [], {"KeyConditionExpression": Key("chat_id").eq(chat_id), "ConsistentRead": True}
        while True:
            page = table.query(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return [{**item, "seq": int(item["seq"])} for item in items]
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def socket_frames_of(self, connection_id: str) -> list[dict]:
        return list(self.api.frames.get(connection_id, []))

    def last_seq(self, chat_id: str) -> int:
        """The chat's seq counter, read past the app's (possibly faulty) clients."""
        item = self.dynamodb.Table(self.env["CHATS_TABLE"]).get_item(
            Key={"chat_id": chat_id, "sk": "meta"}, ConsistentRead=True)["Item"]
        return int(item["last_seq"])

    def assert_storage_sound(self, chat_id: str) -> list[dict]:
        """One item per seq, seqs 1..last_seq with no hole, no message stored twice; answers the items."""
        items = self.stored(chat_id)
        seqs = [item["seq"] for item in items]
        assert seqs == list(range(1, self.last_seq(chat_id) + 1)), f"holes or extras in {chat_id}: {seqs}"
        ids = [item["message_id"] for item in items]
        assert len(ids) == len(set(ids)), "a message_id stored at two seqs"
        texts = [(item["sender_id"], item.get("text")) for item in items if item["kind"] != "system"]
        assert len(texts) == len(set(texts)), "the same message stored twice"
        return items

    # Time -----------------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self.clock_offset += seconds

    # Event sources --------------------------------------------------------------------------------------

    def drain(self, queue: str = "FANOUT_QUEUE_URL", handler: str = "fan_out", crash_invocations: int = 0,
              rounds: int = 50) -> dict:
        """Run an SQS consumer until its queue is empty, as Lambda's event source mapping would.

        Failed records (batchItemFailures, or all of them when the invocation raises or is crashed on purpose)
        become visible again at once. Answers counts of invocations, records and redeliveries.
        """
        url = self.env[queue]
        stats = {"invocations": 0, "records": 0, "redelivered": 0, "failed": 0}
        for _ in range(rounds):
            answer = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120,
                                              AttributeNames=["All"])
            messages = answer.get("Messages", [])
            if not messages:
                return stats
            stats["invocations"] += 1
            stats["records"] += len(messages)
            stats["redelivered"] += sum(int(m["Attributes"]["ApproximateReceiveCount"]) > 1 for m in messages)
            event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                                  "body": m["Body"], "attributes": m["Attributes"], "messageAttributes": {},
                                  "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                                  "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                                  "awsRegion": "us-east-1"} for m in messages]}
            if crash_invocations > 0:
                crash_invocations -= 1
                failed = {m["MessageId"] for m in messages}
            else:
                try:
                    result = self.client.lambda_.invoke(handler, event).payload or {}
                    failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
                except Exception:
                    failed = {m["MessageId"] for m in messages}
            stats["failed"] += len(failed)
            for m in messages:
                if m["MessageId"] in failed:
                    self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                                       VisibilityTimeout=0)
                else:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        raise AssertionError(f"{queue} still not empty after {rounds} rounds")

    # REST -----------------------------------------------------------------------------------------------

    def rest(self, method: str, path: str, body=None, token: str | None = None, raw: bytes | str | None = None,
             headers: dict | None = None) -> tuple[int, object]:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        answer = getattr(self.client.http, method.lower())(path, body=data, headers=all_headers) \
            if method in ("POST", "PUT", "PATCH") or data is not None else \
            getattr(self.client.http, method.lower())(path, headers=all_headers)
        try:
            payload = json.loads(answer.body or b"null")
        except ValueError:
            payload = answer.body
        self.last_response = answer
        return answer.status_code, payload


def png(width: int = 64, height: int = 48) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(out, "PNG")
    return out.getvalue()


def media_objects(parley, media_id: str) -> list[str]:
    listing = parley.s3.list_objects_v2(Bucket=parley.env["MEDIA_BUCKET"], Prefix=f"media/{media_id}/")
    return sorted(item["Key"] for item in listing.get("Contents", []))


def s3_event(parley, key: str) -> str:
    return json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Post",
                                    "s3": {"bucket": {"name": parley.env["MEDIA_BUCKET"]},
                                           "object": {"key": key, "sequencer": uuid.uuid4().hex}}}]})


@pytest.fixture(scope="module")
def pool_claims(moto_world) -> dict:
    """The claims of a real ID token of this module's pool (through Cognito on moto)."""
    from chalicelib.services import services
    accounts = services().accounts
    user_id = accounts.signup(f"template{uuid.uuid4().hex[:8]}", PASSWORD)
    return tokens.claims_of(accounts.login(user_id, PASSWORD)["id_token"])


@pytest.fixture
def parley(moto_world, pool_claims, monkeypatch, request):
    """The app on moto, its AWS clients under a seeded fault injector, @connections recorded."""
    from chalice.test import Client

    import app as parley_app
    from chalicelib import clock, connections_api
    from chalicelib.services import services

    seed = getattr(request.node, "callspec", None) and request.node.callspec.params.get("seed", 0) or 0
    faults, api = BotocoreFaults(seed), ConnectionsApi()
    built = services()
    faults.attach(built.stores.chats._client)  # the one DynamoDB client every store shares
    faults.attach(built.fanout._queue._sqs)
    faults.attach(built.media._blobs._s3)
    faults.attach(connections_api._client(ENDPOINT), backend=api)
    with Client(parley_app.app) as client:
        world = Parley(moto_world, client, faults, api, pool_claims)
        monkeypatch.setattr(clock, "now", lambda: time.time() + world.clock_offset)
        monkeypatch.setattr("chalicelib.messaging.CLAIM_WAIT", 0.2)
        world.retry_sleeps = RetrySleeps()
        monkeypatch.setattr("botocore.endpoint.time", world.retry_sleeps)  # a stuck claim answers `conflict` sooner
        try:
            yield world
        finally:
            faults.detach()
