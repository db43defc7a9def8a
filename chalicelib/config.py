"""Deployment settings, read once from the environment that `.chalice/config.json` sets per stage."""
import os
from dataclasses import dataclass
from functools import cache


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
    # Overrides for a stand-in of AWS (the local stack); on AWS both are derived.
    jwks_url: str | None = None
    connections_endpoint: str | None = None

    @property
    def token_issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"


def fanout_queue_name() -> str:
    """Read when the app is loaded (Chalice wires the SQS trigger at deploy time), so it has a default."""
    return os.environ.get("FANOUT_QUEUE_NAME", "parley-dev-fanout")


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
        jwks_url=env.get("JWKS_URL") or None,
        connections_endpoint=env.get("CONNECTIONS_ENDPOINT") or None,
    )
