"""Deployment settings, read once from the environment that `.chalice/config.json` sets per stage."""
import os
from dataclasses import dataclass, fields, replace
from functools import cache

from chalicelib.model import MediaLimits
from chalicelib.rate_limits import RateLimits


@dataclass(frozen=True)
class Settings:
    region: str
    connections_table: str
    users_table: str
    chats_table: str
    messages_table: str
    user_pool_id: str
    user_pool_client_id: str
    fanout_queue_url: str
    media_table: str
    media_bucket: str
    media_limits: MediaLimits
    rate_limits: RateLimits
    # Overrides for a stand-in of AWS (the local stack); on AWS both are derived.
    jwks_url: str | None = None
    connections_endpoint: str | None = None
    # Media through CloudFront: its domain, the public key's id, and the SSM parameter holding the private key.
    cloudfront_domain: str | None = None
    cloudfront_key_pair_id: str | None = None
    cloudfront_private_key_parameter: str | None = None
    # SNS platform applications for pushes, one per platform (made by `python -m deploy up`; unset: none)
    apns_application_arn: str | None = None
    fcm_application_arn: str | None = None

    @property
    def token_issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"


def fanout_queue_name() -> str:
    """Read when the app is loaded (Chalice wires the SQS trigger at deploy time), so it has a default."""
    return os.environ.get("FANOUT_QUEUE_NAME", "parley-dev-fanout")


def media_events_queue_name() -> str:
    return os.environ.get("MEDIA_EVENTS_QUEUE_NAME", "parley-dev-media-events")


@cache
def settings() -> Settings:
    env = os.environ
    return Settings(
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        connections_table=env["CONNECTIONS_TABLE"],
        users_table=env["USERS_TABLE"],
        chats_table=env["CHATS_TABLE"],
        messages_table=env["MESSAGES_TABLE"],
        user_pool_id=env["USER_POOL_ID"],
        user_pool_client_id=env["USER_POOL_CLIENT_ID"],
        fanout_queue_url=env["FANOUT_QUEUE_URL"],
        media_table=env["MEDIA_TABLE"],
        media_bucket=env["MEDIA_BUCKET"],
        media_limits=MediaLimits(**{kind: int(env[f"MAX_{kind.upper()}_BYTES"]) for kind in ("image", "video", "file")
                                    if env.get(f"MAX_{kind.upper()}_BYTES")}),
        rate_limits=rate_limits(env),
        cloudfront_domain=env.get("CLOUD_FRONT_DOMAIN") or None,
        cloudfront_key_pair_id=env.get("CLOUD_FRONT_KEY_PAIR_ID") or None,
        cloudfront_private_key_parameter=env.get("CLOUD_FRONT_PRIVATE_KEY_PARAMETER") or None,
        apns_application_arn=env.get("APNS_APPLICATION_ARN") or None,
        fcm_application_arn=env.get("FCM_APPLICATION_ARN") or None,
        jwks_url=env.get("JWKS_URL") or None,
        connections_endpoint=env.get("CONNECTIONS_ENDPOINT") or None,
    )


def rate_limits(env) -> RateLimits:
    """The defaults, with the counts {ACTION}_LIMIT set (SEND_LIMIT, CHAT_SEND_LIMIT, ...; their windows stay)."""
    defaults = RateLimits()
    counts = {action.name: int(env[f"{action.name.upper()}_LIMIT"]) for action in fields(RateLimits)
              if env.get(f"{action.name.upper()}_LIMIT")}
    return replace(defaults, **{action: replace(getattr(defaults, action), events=count)
                                for action, count in counts.items()})
