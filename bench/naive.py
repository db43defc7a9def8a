"""The naive baseline: how public WebSocket chat samples send a message.

For every message they Scan the whole connections table and post the message to each connection in turn,
deleting the connections that answer 410. This one runs in the bench process against the stack's own
tables and @connections endpoint, with its own boto3 session counted by the same accounting hooks as the app
(devstack/accounting.py), so both sides are measured alike: its requests, capacity units, and its time as a
Lambda handler ("naive_broadcast", priced as the WebSocket message function).
"""
import json
import time

import boto3

from devstack.accounting import Accounting


class NaiveBroadcaster:
    def __init__(self, aws: dict, connections_endpoint: str):
        session = boto3.session.Session(region_name=aws["region"])
        self.accounting = Accounting(aws["endpoint_url"])
        self.accounting.hook(session)
        self._dynamodb = session.client("dynamodb", endpoint_url=aws["endpoint_url"])
        self._connections = session.client("apigatewaymanagementapi", endpoint_url=connections_endpoint)
        self._table = aws["tables"]["connections"]
        self.broadcast = self.accounting.timed("lambda.naive_broadcast", self._broadcast)

    def _broadcast(self, sender_id: str, text: str) -> int:
        """Post a message to every connection; answers how many connections the scan found."""
        data = json.dumps({"type": "message", "message": {
            "chat_id": "lobby", "sender_id": sender_id, "kind": "text", "text": text,
            "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}).encode()
        connection_ids = self._connection_ids()
        for connection_id in connection_ids:
            try:
                self._connections.post_to_connection(ConnectionId=connection_id, Data=data)
            except self._connections.exceptions.GoneException:
                self._dynamodb.delete_item(TableName=self._table, Key={"connection_id": {"S": connection_id}})
        return len(connection_ids)

    def _connection_ids(self) -> list[str]:
        ids, page = [], {}
        while True:
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]} if "LastEvaluatedKey" in page else {}
            page = self._dynamodb.scan(TableName=self._table, ProjectionExpression="connection_id", **start)
            ids += [item["connection_id"]["S"] for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return ids
