"""Delivered and read cursors: on a direct chat's head, and in a group's cursor shards with a floors item per
status.

Cursors are stored as {user: [delivered, read]}. DynamoDB has no max(): raising a `read` cursor first tries the
update that moves both cursors, and only if delivered is already past the seq, the one that moves read alone.
"""
from collections.abc import Iterable

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from chalicelib.errors import BadRequest, Forbidden, NotFound
from chalicelib.model import CURSOR_SHARDS, Cursors, DirectState, cursor_shard
from chalicelib.storage.dynamodb import batch_get

SHARD_SK = "cursors"
FLOORS_SK = "floors"
STATUS_INDEX = {"delivered": 0, "read": 1}


def cursors_of(item: dict | None) -> dict[str, Cursors]:
    return {user: Cursors(int(pair[0]), int(pair[1])) for user, pair in (item or {}).get("cursors", {}).items()}


def direct_state(item: dict) -> DirectState:
    return DirectState(cursors=cursors_of(item),
                       last_sent={user: int(seq) for user, seq in item.get("last_sent", {}).items()})


def shard_key(chat_id: str, shard: int) -> dict:
    return {"chat_id": f"{chat_id}#cursors#{shard}", "sk": SHARD_SK}


def floors_key(chat_id: str, status: str) -> dict:
    return {"chat_id": f"{chat_id}#floors#{status}", "sk": FLOORS_SK}


class DynamoReceiptStore:
    def __init__(self, resource, chats_table: str):
        self._resource = resource
        self._table = resource.Table(chats_table)
        self._name = chats_table
        self._failed = self._table.meta.client.exceptions.ConditionalCheckFailedException

    def _raise(self, key: dict, user_id: str, status: str, seq: int, guard: str = "") -> tuple[bool, dict | None]:
        """Raise the user's cursors in the item at `key`; answers whether they moved, and the item as it was."""
        steps = ["SET cursors.#u[0] = :seq, cursors.#u[1] = :seq",  # delivered <= seq: both move
                 "SET cursors.#u[1] = :seq"] if status == "read" else ["SET cursors.#u[0] = :seq"]
        conditions = ["cursors.#u[1] < :seq AND cursors.#u[0] <= :seq",
                      "cursors.#u[1] < :seq"] if status == "read" else ["cursors.#u[0] < :seq"]
        old = None
        for update, condition in zip(steps, conditions, strict=True):
            try:
                answer = self._table.update_item(
                    Key=key, UpdateExpression=update, ConditionExpression=condition + guard,
                    ExpressionAttributeNames={"#u": user_id}, ExpressionAttributeValues={":seq": seq},
                    ReturnValues="ALL_OLD", ReturnValuesOnConditionCheckFailure="ALL_OLD")
                return True, answer.get("Attributes")
            except self._failed as error:
                old = _old_item(error)
                cursors = cursors_of(old).get(user_id)
                if cursors is None or cursors.of(status) >= seq:
                    return False, old
        return False, old

    def raise_direct(self, chat_id: str, user_id: str, status: str, seq: int) -> DirectState | None:
        moved, old = self._raise({"chat_id": chat_id, "sk": "meta"}, user_id, status, seq, " AND last_seq >= :seq")
        if old is None:
            raise NotFound(f"no chat {chat_id!r}")
        if seq > int(old["last_seq"]):
            raise BadRequest(f"seq {seq} is beyond the chat's last seq {int(old['last_seq'])}")
        return direct_state(old) if moved else None

    def raise_in_shard(self, chat_id: str, shard: int, user_id: str, status: str, seq: int) \
            -> dict[str, Cursors] | None:
        moved, old = self._raise(shard_key(chat_id, shard), user_id, status, seq)
        cursors = cursors_of(old)
        if user_id not in cursors:
            raise Forbidden("you are not a member of this chat")
        return cursors if moved else None

    def seat(self, chat_id: str, shard: int, cursors: dict[str, Cursors]) -> dict[str, Cursors]:
        key = shard_key(chat_id, shard)
        names = {f"#u{i}": user for i, user in enumerate(cursors)}
        values = {f":c{i}": [c.delivered, c.read] for i, c in enumerate(cursors.values())}
        update = "SET " + ", ".join(f"cursors.#u{i} = :c{i}" for i in range(len(cursors)))
        for _ in range(2):
            try:
                answer = self._table.update_item(Key=key, UpdateExpression=update, ExpressionAttributeNames=names,
                                                 ExpressionAttributeValues=values, ReturnValues="ALL_OLD")
                return cursors_of(answer.get("Attributes"))
            except ClientError as error:
                if error.response["Error"]["Code"] != "ValidationException":
                    raise
            try:  # the shard's first members
                self._table.put_item(Item={**key, "cursors": {u: [c.delivered, c.read] for u, c in cursors.items()}},
                                     ConditionExpression="attribute_not_exists(chat_id)")
                return {}
            except self._failed:
                continue  # someone created it meanwhile: seat into it
        raise RuntimeError("could not seat members in a cursor shard")

    def unseat(self, chat_id: str, shard: int, user_ids: list[str]) -> dict[str, Cursors]:
        answer = self._table.update_item(
            Key=shard_key(chat_id, shard), UpdateExpression="REMOVE " + ", ".join(
                f"cursors.#u{i}" for i in range(len(user_ids))),
            ExpressionAttributeNames={f"#u{i}": user for i, user in enumerate(user_ids)}, ReturnValues="ALL_OLD")
        return cursors_of(answer.get("Attributes"))

    def shard(self, chat_id: str, shard: int) -> dict[str, Cursors]:
        return cursors_of(self._table.get_item(Key=shard_key(chat_id, shard), ConsistentRead=True).get("Item"))

    def cursors_in(self, user_id: str, chat_ids: Iterable[str]) -> dict[str, Cursors]:
        keys = [shard_key(chat_id, cursor_shard(user_id)) for chat_id in dict.fromkeys(chat_ids)]
        items = batch_get(self._resource, self._name, keys, "chat_id, cursors.#u", {"#u": user_id}, consistent=True)
        return {item["chat_id"].partition("#")[0]: cursors for item in items
                if (cursors := cursors_of(item).get(user_id)) is not None}

    def shards(self, chat_id: str) -> dict[int, dict[str, Cursors]]:
        keys = [shard_key(chat_id, shard) for shard in range(CURSOR_SHARDS)]
        items = batch_get(self._resource, self._name, keys, consistent=True)
        return {int(item["chat_id"].rpartition("#")[2]): cursors_of(item) for item in items}

    def set_shard_floor(self, chat_id: str, status: str, shard: int, floor: int | None) -> dict[int, int] | None:
        names = {"#k": str(shard)}
        if floor is None:
            update, condition, values = "REMOVE floors.#k", "attribute_exists(floors.#k)", {}
        else:
            update, condition = "SET floors.#k = :floor", "attribute_not_exists(floors.#k) OR floors.#k < :floor"
            values = {":floor": floor}
        for _ in range(2):
            try:
                answer = self._table.update_item(Key=floors_key(chat_id, status), UpdateExpression=update,
                                                 ConditionExpression=condition, ExpressionAttributeNames=names,
                                                 ReturnValues="ALL_OLD", **({"ExpressionAttributeValues": values}
                                                                            if values else {}))
                return _floors(answer.get("Attributes"))
            except self._failed:
                return None
            except ClientError as error:
                if error.response["Error"]["Code"] != "ValidationException" or floor is None:
                    raise
                self._table.update_item(Key=floors_key(chat_id, status),  # the first floor: make the map
                                        UpdateExpression="SET floors = if_not_exists(floors, :empty)",
                                        ExpressionAttributeValues={":empty": {}})
        raise RuntimeError("could not record a shard floor")

    def floors(self, chat_id: str) -> dict[str, dict[int, int]]:
        keys = [floors_key(chat_id, status) for status in STATUS_INDEX]
        items = {item["chat_id"].rpartition("#")[2]: item
                 for item in batch_get(self._resource, self._name, keys, consistent=True)}
        return {status: _floors(items.get(status)) for status in STATUS_INDEX}


def _old_item(error: ClientError) -> dict | None:
    """The item a failed conditional update returned, deserialized (None if there was no item)."""
    raw = error.response.get("Item")
    return {name: TypeDeserializer().deserialize(value) for name, value in raw.items()} if raw else None


def _floors(item: dict | None) -> dict[int, int]:
    return {int(shard): int(floor) for shard, floor in (item or {}).get("floors", {}).items()}
