"""The Pusher on API Gateway's @connections API, posting to many sockets at once."""
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.delivery import encode
from chalicelib.model import Connection
from chalicelib.observability import logger, metrics

PARALLEL_POSTS = 32
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5,
                       max_pool_connections=PARALLEL_POSTS)


@cache
def _client(endpoint: str):
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, config=CLIENT_CONFIG)


class ConnectionsApiPusher:
    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=PARALLEL_POSTS, thread_name_prefix="push")

    def push(self, frames_by_connection: dict[Connection, list[dict]]) -> list[Connection]:
        items = list(frames_by_connection.items())
        if len(items) == 1:
            outcomes = [self._post(*items[0])]
        else:
            outcomes = list(self._pool.map(lambda item: self._post(*item), items))
        return [connection for connection, alive in zip(frames_by_connection, outcomes, strict=True) if not alive]

    def close(self, endpoint: str, connection_id: str) -> None:
        client = _client(endpoint)
        try:
            client.delete_connection(ConnectionId=connection_id)
        except client.exceptions.GoneException:
            pass

    @staticmethod
    def _post(connection: Connection, frames: list[dict]) -> bool:
        client = _client(connection.endpoint)
        try:
            for frame in frames:
                client.post_to_connection(ConnectionId=connection.connection_id, Data=encode(frame))
        except client.exceptions.GoneException:
            return False
        except (ClientError, BotoCoreError) as error:
            # The recipient catches up through `sync`: a failed push never fails the sender.
            metrics.add_metric(name="PushFailures", unit="Count", value=1)
            logger.warning("push failed", extra={"connection_id": connection.connection_id,
                                                 "error": str(error)})
        return True
