"""What SNS would have delivered to phones: `GET /_devstack/pushes?user_id=U` answers
`{"pushes": [{"user_id", "device", "platform", "payload"}]}` in the order published (the contract's payload, as
the app reads it from the platform message: APNs' `parley`, FCM's `data.parley`).

moto records each publish on its endpoint only, so the order across a user's endpoints is kept here, by wrapping
moto's PlatformEndpoint.publish. The endpoint's CustomUserData names its owner (chalicelib/sns_notifier.py).
"""
import json
import threading

from aiohttp import web
from moto.sns.models import PlatformEndpoint

PLATFORMS = {"APNS": "apns", "APNS_SANDBOX": "apns", "GCM": "fcm"}


def payload_of(message: str) -> tuple[str, dict]:
    """(platform, the contract's payload) of a Publish `Message` sent with MessageStructure json."""
    by_key = json.loads(message)
    key = next(key for key in by_key if key in PLATFORMS)
    platform = json.loads(by_key[key])
    if PLATFORMS[key] == "apns":
        return "apns", platform["parley"]
    return "fcm", json.loads(platform["fcmV1Message"]["message"]["data"]["parley"])


class Pushes:
    def __init__(self):
        self._lock = threading.Lock()
        self._sent: list[dict] = []

    def install(self) -> None:
        original = PlatformEndpoint.publish
        pushes = self

        def publish(endpoint: PlatformEndpoint, message: str) -> str:
            message_id = original(endpoint, message)  # raises for a disabled endpoint, as SNS does
            owner = json.loads(endpoint.custom_user_data or "{}")
            platform, payload = payload_of(message)
            with pushes._lock:
                pushes._sent.append({"user_id": owner.get("user_id"), "device": owner.get("device"),
                                     "platform": platform, "payload": payload})
            return message_id

        PlatformEndpoint.publish = publish  # type: ignore[method-assign]

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/_devstack/pushes", self._show)

    async def _show(self, request: web.Request) -> web.Response:
        user_id = request.query.get("user_id")
        with self._lock:
            pushes = [push for push in self._sent if user_id is None or push["user_id"] == user_id]
        return web.json_response({"pushes": pushes})
