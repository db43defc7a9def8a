"""Pushes to phones through Amazon SNS mobile push: one platform application per platform (made by `python -m
deploy up` from the deployer's credentials, docs/deploy.md), one platform endpoint per registered device.

A push is one Publish to the device's endpoint with a message per platform: APNs gets an alert with the unread
count as the badge and the chat as thread and collapse id; FCM (HTTP v1) a notification collapsing by chat. Both
carry the contract's payload whole under `parley`, which is what the app reads.
"""
import json

from botocore.exceptions import ClientError

from chalicelib.model import Device

NO_PREVIEW = "New message"


class EndpointGone(Exception):
    """SNS disabled the endpoint (the platform said the token is no longer valid) or it no longer exists."""


def message_for(endpoint: str, payload: dict) -> str:
    """The Publish `Message` (MessageStructure json) carrying `payload` to this endpoint's device."""
    title, body = payload["sender_id"], payload.get("preview") or NO_PREVIEW
    key = endpoint.split(":")[5].split("/")[1]  # arn:aws:sns:region:account:endpoint/APNS_SANDBOX/app/id
    if key.startswith("APNS"):
        platform = {"aps": {"alert": {"title": title, "body": body}, "badge": payload["unread_chats"],
                            "thread-id": payload["chat_id"], "sound": "default"}, "parley": payload}
    else:
        platform = {"fcmV1Message": {"message": {
            "notification": {"title": title, "body": body}, "data": {"parley": json.dumps(payload)},
            "android": {"collapse_key": payload["chat_id"]}}}}
    return json.dumps({"default": json.dumps(payload), key: json.dumps(platform)})


class SnsNotifier:
    def __init__(self, sns, applications: dict[str, str | None]):
        self._sns = sns
        self._applications = {platform: arn for platform, arn in applications.items() if arn}

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(self._applications)

    def register(self, platform: str, token: str, user_id: str, device_id: str) -> tuple[str, dict | None]:
        """The endpoint for this token, enabled and owned by this user's device; answers it and its previous owner
        ({"user_id", "device"}) if the token was registered before by another user or device."""
        owner = json.dumps({"user_id": user_id, "device": device_id})
        try:
            arn = self._sns.create_platform_endpoint(PlatformApplicationArn=self._applications[platform], Token=token,
                                                     CustomUserData=owner)["EndpointArn"]
        except ClientError as error:
            # The token has an endpoint already, with other user data (another owner, or disabled): reuse it.
            message = error.response["Error"].get("Message", "")
            if "already exists" not in message:
                raise
            arn = message.split("Endpoint ")[1].split(" already exists")[0]
        attributes = self._sns.get_endpoint_attributes(EndpointArn=arn)["Attributes"]
        self._sns.set_endpoint_attributes(EndpointArn=arn, Attributes={"Token": token, "Enabled": "true",
                                                                       "CustomUserData": owner})
        previous = json.loads(attributes.get("CustomUserData") or "null")
        return arn, previous if previous != json.loads(owner) else None

    def delete(self, endpoint: str) -> None:
        self._sns.delete_endpoint(EndpointArn=endpoint)  # deleting one already gone succeeds

    def publish(self, device: Device, payload: dict) -> None:
        attributes = {"AWS.SNS.MOBILE.APNS.COLLAPSE_ID": payload["chat_id"], "AWS.SNS.MOBILE.APNS.PUSH_TYPE": "alert"} \
            if device.platform == "apns" else {}
        try:
            self._sns.publish(TargetArn=device.endpoint, MessageStructure="json",
                              Message=message_for(device.endpoint, payload),
                              MessageAttributes={name: {"DataType": "String", "StringValue": value}
                                                 for name, value in attributes.items()})
        except ClientError as error:
            if error.response["Error"]["Code"] in ("EndpointDisabled", "NotFound"):
                raise EndpointGone(device.endpoint) from error
            raise
