"""Faults injected at the botocore level, deterministic by seed.

`BotocoreFaults` attaches to the app's own boto3 clients (the ones `chalicelib.services.services()` builds) and
decides, per call, whether that call fails and how:

- `refuse`: AWS answers an error and does nothing (a throttle, a 410, a 500 before any effect). The answer goes
  through botocore's parser and retry handler, exactly as a real one would: retryable errors are retried by
  the client's own retry policy.
- `lost`: AWS does the work, but the answer is lost (a 500 or a timeout after the write was applied).
  botocore retries, so the request reaches AWS a second time.
- `raise`: the call fails past any retry (retries exhausted): a modelled ClientError raised from `before-call`.

Each decision draws from a `random.Random` seeded with (seed, rule, key, the key's call count), so a run is
the same whatever the order in which threads make their calls. `log` lists what was injected, to reproduce
or explain a failure.
"""
import json
import random
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber

MAX_SERVER_FRAME = 128 * 1024  # what API Gateway accepts per @connections post

# (status, code) of the errors the tests inject, as each protocol spells them on the wire.
THROTTLED = (400, "ProvisionedThroughputExceededException")
THROTTLING = (400, "ThrottlingException")
SERVER_ERROR = (500, "InternalServerError")
GONE = (410, "GoneException")


def _response(url: str, protocol: str, status: int, code: str) -> AWSResponse:
    if protocol == "json":
        headers, body = {"x-amzn-RequestId": "fault"}, json.dumps({"__type": f"com.amazonaws#{code}",
                                                                   "message": f"injected {code}"})
    elif protocol == "rest-json":
        headers, body = {"x-amzn-ErrorType": code, "x-amzn-RequestId": "fault"}, json.dumps({"message": code})
    else:  # rest-xml (S3)
        headers = {"x-amz-request-id": "fault"}
        body = f"<Error><Code>{code}</Code><Message>injected {code}</Message></Error>"
    return AWSResponse(url, status, headers, MockRawResponse(body))


def payload_of(protocol: str, body, url: str, method: str) -> dict:
    """What a rule can match on: the JSON body (DynamoDB, SQS) or the method and path (REST protocols)."""
    if protocol == "json":
        try:
            return json.loads(body or b"{}")
        except ValueError:
            return {}
    return {"method": method, "path": unquote(urlsplit(url).path), "body": body}


@dataclass
class Rule:
    service: str  # botocore service id as in event names: "dynamodb", "sqs", "s3", "apigatewaymanagementapi"
    operations: set[str] | None  # None: every operation
    mode: str  # refuse, lost or raise
    error: tuple[int, str]
    probability: float = 1.0
    nth: int | None = None  # fire on this matching call only (0-based), instead of by probability
    limit: int | None = None  # fire at most this often
    match: Callable[[str, dict], bool] = lambda operation, payload: True
    key: Callable[[str, dict], str] = lambda operation, payload: ""
    matched: int = 0
    fired: int = 0
    per_key: dict = field(default_factory=lambda: defaultdict(int))


class BotocoreFaults:
    def __init__(self, seed: int):
        self.seed = seed
        self.rules: list[Rule] = []
        self.log: list[tuple] = []
        self.calls: list[tuple[str, str]] = []  # every (service, operation) seen, in order
        self._lock = threading.Lock()
        self._attached: list[tuple] = []

    # Wiring -------------------------------------------------------------------------------------------

    def attach(self, client, backend=None) -> None:
        """Route `client`'s requests through the faults, then to `backend` (default: moto)."""
        events = client.meta.events
        protocol = client.meta.service_model.metadata["protocol"]
        backend = backend or botocore_stubber

        def before_send(request, event_name, **kwargs):
            operation = event_name.rsplit(".", 1)[-1]
            service = event_name.split(".")[1]
            rule = self._decide(service, operation, payload_of(protocol, request.body, request.url, request.method),
                                modes=("refuse", "lost"))
            if rule is None:
                return backend(request=request, event_name=event_name, **kwargs)
            if rule.mode == "lost":
                backend(request=request, event_name=event_name, **kwargs)  # applied; the answer is what is lost
            return _response(request.url, protocol, *rule.error)

        def before_call(model, params, event_name, **kwargs):
            service = event_name.split(".")[1]
            rule = self._decide(service, model.name, payload_of(protocol, params.get("body"),
                                                                 params.get("url_path", ""), params.get("method")),
                                modes=("raise",), record=False)
            if rule is not None:
                status, code = rule.error
                raise client.exceptions.from_code(code)(
                    {"Error": {"Code": code, "Message": f"injected {code}"},
                     "ResponseMetadata": {"HTTPStatusCode": status}}, model.name)

        events.unregister("before-send", botocore_stubber)
        events.register_first("before-send", before_send)
        events.register_first("before-call", before_call)
        self._attached.append((events, before_send, before_call))

    def detach(self) -> None:
        for events, before_send, before_call in self._attached:
            events.unregister("before-send", before_send)
            events.unregister("before-call", before_call)
            events.register("before-send", botocore_stubber)
        self._attached.clear()

    # Rules --------------------------------------------------------------------------------------------

    def add(self, service: str, mode: str, error: tuple[int, str], operations=None, **options) -> Rule:
        rule = Rule(service=service, operations=set(operations) if operations else None, mode=mode, error=error,
                    **options)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def fired(self, mode: str | None = None) -> int:
        return sum(1 for entry in self.log if mode is None or entry[2] == mode)

    def _decide(self, service: str, operation: str, payload: dict, modes, record: bool = True) -> Rule | None:
        with self._lock:
            if record:
                self.calls.append((service, operation))
            for index, rule in enumerate(self.rules):
                if rule.mode not in modes or rule.service != service:
                    continue
                if rule.operations is not None and operation not in rule.operations:
                    continue
                if not rule.match(operation, payload):
                    continue
                if rule.limit is not None and rule.fired >= rule.limit:
                    continue
                position, rule.matched = rule.matched, rule.matched + 1
                key = rule.key(operation, payload)
                draw = random.Random(f"{self.seed}:{index}:{key}:{rule.per_key[key]}").random()
                rule.per_key[key] += 1
                if (position == rule.nth) if rule.nth is not None else draw < rule.probability:
                    rule.fired += 1
                    self.log.append((service, operation, rule.mode, rule.error[1], key))
                    return rule
        return None


class ConnectionsApi:
    """API Gateway's @connections endpoint as the app's pusher sees it: records what each socket gets.

    Sockets in `gone` answer 410; posts over 128 KiB answer 413 as API Gateway does; everything else 200.
    """

    def __init__(self):
        self.frames: dict[str, list[dict]] = defaultdict(list)
        self.raw: dict[str, list[bytes]] = defaultdict(list)
        self.gone: set[str] = set()
        self.deleted: list[str] = []  # sockets the app closed (DELETE @connections/{id})
        self.too_large: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def __call__(self, request, **kwargs) -> AWSResponse:
        connection_id = unquote(urlsplit(request.url).path).rsplit("/", 1)[-1]
        if connection_id in self.gone:
            return _response(request.url, "rest-json", *GONE)
        if request.method == "POST":
            data = request.body if isinstance(request.body, bytes) else (request.body or b"").encode()
            if len(data) > MAX_SERVER_FRAME:
                with self._lock:
                    self.too_large.append((connection_id, len(data)))
                return _response(request.url, "rest-json", 413, "PayloadTooLargeException")
            with self._lock:
                self.raw[connection_id].append(data)
                self.frames[connection_id].append(json.loads(data))
        elif request.method == "DELETE":
            self.deleted.append(connection_id)
            self.gone.add(connection_id)
        return AWSResponse(request.url, 200, {}, MockRawResponse(b"{}"))
