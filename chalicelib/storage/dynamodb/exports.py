"""Data exports on the chats table: ("export#{user}", export_id), kept EXPORT_TTL, deleted by TTL."""
from chalicelib import clock

EXPORT_TTL = 7 * 86400  # seconds an export's record is kept (its file expires sooner: see infra's lifecycle rules)


class DynamoExportStore:
    def __init__(self, resource, chats_table: str):
        self._table = resource.Table(chats_table)

    @staticmethod
    def _key(user_id: str, export_id: str) -> dict:
        return {"chat_id": f"export#{user_id}", "sk": export_id}

    def create(self, user_id: str, export_id: str) -> None:
        self._table.put_item(Item={**self._key(user_id, export_id), "status": "pending",
                                   "expires_at": int(clock.now()) + EXPORT_TTL})

    def finish(self, user_id: str, export_id: str, key: str) -> None:
        self._table.update_item(Key=self._key(user_id, export_id), UpdateExpression="SET #status = :ready, #key = :key",
                                ExpressionAttributeNames={"#status": "status", "#key": "key"},
                                ExpressionAttributeValues={":ready": "ready", ":key": key})

    def get(self, user_id: str, export_id: str) -> dict | None:
        item = self._table.get_item(Key=self._key(user_id, export_id), ConsistentRead=True).get("Item")
        return {k: item[k] for k in ("status", "key") if k in item} if item else None
