"""A throttling storm on demand: `POST /_devstack/throttle {"service": "dynamodb", "seconds": N}` answers every
request the app's clients make to that service with its throttling error for N seconds. The answer goes
through botocore's parser and retry handler as AWS's would, so the app sees what a real storm does to it: its
retries, then the error (the soak's storms, docs/security.md)."""
import json
import time

from aiohttp import web
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse

THROTTLING_ERRORS = {"dynamodb": "ProvisionedThroughputExceededException", "sqs": "ThrottlingException"}


class Throttling:
    def __init__(self):
        self._until: dict[str, float] = {}

    def hook(self, session) -> None:
        """Clients made from `session` from now on, ahead of the in-process moto that would answer them (on the
        same, unqualified event: between handlers of `before-send` and `before-send.dynamodb` botocore keeps no
        order)."""
        session.events.register_first("before-send", self._throttled)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/_devstack/throttle", self._start)

    def _throttled(self, request, event_name: str, **_) -> AWSResponse | None:
        service = event_name.split(".")[1]
        if time.monotonic() >= self._until.get(service, 0.0):
            return None
        body = json.dumps({"__type": f"com.amazonaws#{THROTTLING_ERRORS[service]}", "message": "throttled (devstack)"})
        return AWSResponse(request.url, 400, {"x-amzn-RequestId": "throttled"}, MockRawResponse(body))

    async def _start(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("service") not in THROTTLING_ERRORS:
            return web.json_response({"message": f"service is one of {sorted(THROTTLING_ERRORS)}"}, status=400)
        self._until[body["service"]] = time.monotonic() + float(body["seconds"])
        return web.Response(status=204)
