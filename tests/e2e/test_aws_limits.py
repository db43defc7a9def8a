"""What AWS does on its own, done by the local stack too (with short settings): API Gateway closes idle and old
sockets, DynamoDB's TTL deletes expired items, late, and Cognito's ID tokens expire."""
import asyncio
import time

import boto3
import pytest
import websockets

from devstack.aws import FAKE_CREDENTIALS, REGION
from tests.e2e.support import http, running_stack
from tests.e2e.test_messaging import run

IDLE, MAX_AGE, TTL_LAG = 2, 6, 5


@pytest.fixture(scope="module")
def short_lived():
    with running_stack({"DEVSTACK_SOCKET_IDLE_SECONDS": str(IDLE), "DEVSTACK_SOCKET_MAX_SECONDS": str(MAX_AGE),
                        "DEVSTACK_TTL_LAG_SECONDS": str(TTL_LAG), "DEVSTACK_TTL_EVERY_SECONDS": "0.5"}) as stack:
        yield stack


def test_idle_sockets_close_and_so_does_every_socket_when_it_is_too_old(short_lived):
    user = short_lived.user("idle")
    url = f"{short_lived.ws}?token={user.token}"

    async def scenario():
        async with websockets.connect(url + "&device=silent") as silent, \
                websockets.connect(url + "&device=chatty") as chatty:
            opened = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await chatty.send('{"action": "heartbeat"}')
                    await asyncio.sleep(IDLE / 4)
                    assert silent.close_code is None or time.monotonic() - opened > IDLE
            lived = time.monotonic() - opened
            assert silent.close_code == 1001 and chatty.close_code == 1001
            assert MAX_AGE <= lived < MAX_AGE + 3  # heartbeats kept it past the idle limit, not past the maximum

    run(scenario())


def test_expired_items_are_deleted_late_and_unexpired_ones_kept(short_lived):
    _, aws = http("GET", f"{short_lived.base}/_devstack/aws")
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=aws["endpoint_url"],
                            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    table, now = aws["tables"]["chats"], time.time()
    keys = {name: {"chat_id": {"S": f"ttl#{name}"}, "sk": {"S": "x"}} for name in ("expired", "recent", "alive")}
    for name, expires_at in (("expired", now - 60), ("recent", now - 1), ("alive", now + 3600)):
        dynamodb.put_item(TableName=table, Item={**keys[name], "expires_at": {"N": str(int(expires_at))}})

    def present() -> set[str]:
        return {name for name, key in keys.items()
                if "Item" in dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)}

    time.sleep(2)
    assert present() == {"recent", "alive"}  # past expiry, but not yet by more than the lag
    short_lived.advance_clock(TTL_LAG + 1)
    time.sleep(2)
    assert present() == {"alive"}


def test_a_cognito_token_past_its_expiry_is_refused_at_the_handshake_and_on_rest():
    """A token Cognito really issued (not a forged one), once the clock has passed its `exp`: its own stack,
    since the clock only moves forward."""
    with running_stack() as stack:
        user = stack.user("aging")
        assert user.get("/chats")[0] == 200
        stack.advance_clock(3601)

        status, answer = user.get("/chats")
        assert status == 401 and answer["code"] == "unauthorized" and "expired" in answer["message"]

        async def handshake():
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(f"{stack.ws}?token={user.token}"):
                    pass
            assert refused.value.response.status_code == 401

        run(handshake())
