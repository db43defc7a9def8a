"""Rate-limit counters as items of the chats table: one partition per subject (`count#send#alice`), one item per
window, deleted by TTL."""

COUNTER_PREFIX = "count#"  # partitions of rate counters, apart from chats ("direct:…", "group:…")
COUNTER_LIFETIME = 3600  # seconds a rate counter is kept after its window starts (then TTL deletes it)


class DynamoCounters:
    def __init__(self, resource, chats_table: str):
        self._table = resource.Table(chats_table)

    def count(self, subject: str, window_start: int, limit: int) -> bool:
        try:
            self._table.update_item(Key={"chat_id": f"{COUNTER_PREFIX}{subject}", "sk": str(window_start)},
                                    UpdateExpression="ADD events :one SET expires_at = :expires",
                                    ConditionExpression="attribute_not_exists(events) OR events < :limit",
                                    ExpressionAttributeValues={":one": 1, ":limit": limit,
                                                               ":expires": window_start + COUNTER_LIFETIME})
            return True
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
