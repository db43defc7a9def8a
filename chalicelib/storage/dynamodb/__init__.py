"""The stores on DynamoDB, on the tables infra/parley.yaml declares.

- connections: connection_id -> the socket's user and device; expires after API Gateway's 2 h limit.
- users: user_id -> `connections` (a map of the user's live sockets with each one's last heartbeat `seen_at`
  and the `window` it keeps the socket fresh for, 60 s or a quiet heartbeat's 150 s, so the sockets of 100
  users are one BatchGetItem), `connections_version` (bumped by every write to the map), `last_seen`
  (recorded when the user goes offline) and, while the user is marked online, `online_shard`: the key of the
  sparse index `online` (online_shard, user_id; keys only), through which the presence sweep reads
  the online users and no one else. The mark changes only on transitions, so heartbeats never write the index.
- chats, keyed (chat_id, sk); every key a hot path touches per message is its own partition or small:
  - (chat, "meta"): kind, name, the `last_seq` counter, `member_count`, `members_version`; a direct chat's also
    holds its two members' `cursors` ({user: [delivered, read]}) and `last_sent` ({user: seq}), so that a send
    takes its seq and moves the sender's cursors in one write.
  - (chat, "roster"): a group's members as one item, {user: [role, joined_seq]}, read once per members version.
  - (chat, "member#{user}"): one per member (role, joined_seq): the O(1) membership check, and through the
    index `by_member` (member_id, chat_id) each user's chat list.
  - (chat, "send#{user}#{client_msg_id}"): idempotency claims.
  - ("{chat}#cursors#{k}", "cursors"): a group's cursors, {user: [delivered, read]}, spread over CURSOR_SHARDS
    partitions by user; ("{chat}#floors#{status}", "floors"): each shard's lowest cursor of that status.
  - ("count#{subject}", window): rate-limit counters, deleted by TTL on `expires_at`.
- messages: chat_id + seq.
"""
import random
import time
from decimal import Decimal

BATCH_GET_LIMIT = 100


def query_all(table, **kwargs) -> list[dict]:
    items, page = [], table.query(**kwargs)
    items.extend(page["Items"])
    while "LastEvaluatedKey" in page:
        page = table.query(ExclusiveStartKey=page["LastEvaluatedKey"], **kwargs)
        items.extend(page["Items"])
    return items


def query_up_to(table, limit: int, **kwargs) -> list[dict]:
    """Up to limit items, across the pages DynamoDB's 1 MB cut makes of them even below the limit."""
    items: list[dict] = []
    while True:
        page = table.query(Limit=limit - len(items), **kwargs)
        items.extend(page["Items"])
        if len(items) >= limit or "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def batch_get(resource, table_name: str, keys: list[dict], projection: str | None = None,
              names: dict[str, str] | None = None, consistent: bool = False) -> list[dict]:
    """BatchGetItem in chunks of 100 keys, retrying what DynamoDB leaves unprocessed."""
    items = []
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict = {table_name: {"Keys": keys[start:start + BATCH_GET_LIMIT], "ConsistentRead": consistent}}
        if projection:
            request[table_name]["ProjectionExpression"] = projection
        if names:
            request[table_name]["ExpressionAttributeNames"] = names
        for attempt in range(8):
            answer = resource.batch_get_item(RequestItems=request)
            items.extend(answer["Responses"].get(table_name, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(0.05 * 2 ** attempt, 1) * random.random())
        else:
            raise RuntimeError("DynamoDB left keys unprocessed after retries")
    return items


def set_or_remove(changes: dict, under: str | None = None) -> tuple[str, dict[str, str], dict]:
    """An UpdateExpression setting each change (a None removes the attribute), with its names and values; with
    `under`, the changes are entries of that map attribute."""
    names = {f"#k{i}": name for i, name in enumerate(changes)}
    prefix = ""
    if under is not None:
        names["#map"], prefix = under, "#map."
    values = {f":v{i}": value for i, value in enumerate(changes.values()) if value is not None}
    sets = [f"{prefix}#k{i} = :v{i}" for i, value in enumerate(changes.values()) if value is not None]
    removes = [f"{prefix}#k{i}" for i, value in enumerate(changes.values()) if value is None]
    update = " ".join(part for part in (f"SET {', '.join(sets)}" if sets else "",
                                        f"REMOVE {', '.join(removes)}" if removes else "") if part)
    return update, names, values


def as_int(value) -> int:
    return int(value) if value is not None else 0


def plain(value):
    """A value read from DynamoDB with its numbers (Decimal there) as int or float, at any depth."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
