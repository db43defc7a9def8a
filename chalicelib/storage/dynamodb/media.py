"""Media items in their DynamoDB table."""
import uuid
from collections.abc import Iterable
from dataclasses import asdict
from decimal import Decimal

from boto3.dynamodb.conditions import Key

from chalicelib.model import Media, Rendition
from chalicelib.storage.dynamodb import batch_get, plain, query_all

SETTLED_BY = "settled_by"  # which processing attempt settled the item: storage's own, not the model's
FORWARDS = "forwards"  # how many forwarded messages use the item besides its own: storage's own too


def _rendition(value: dict | None) -> Rendition | None:
    return Rendition(**plain(value)) if value else None


def _media_from_item(item: dict) -> Media:
    fields = plain(item)
    fields.pop(SETTLED_BY, None)
    fields.pop(FORWARDS, None)
    fields["shared_with"] = tuple(sorted(fields.get("shared_with", ())))
    fields["original"] = _rendition(fields.get("original"))
    fields["variants"] = {name: _rendition(value) for name, value in fields.get("variants", {}).items()}
    return Media(**fields)


def _item(media: Media) -> dict:
    item = {k: v for k, v in asdict(media).items() if v is not None and k != "shared_with"}
    if media.duration is not None:
        item["duration"] = Decimal(str(round(media.duration, 3)))
    item["variants"] = {name: {k: v for k, v in asdict(r).items() if v is not None}
                        for name, r in media.variants.items()}
    return item


class DynamoMediaStore:
    def __init__(self, resource, table_name: str):
        self._resource = resource
        self._table = resource.Table(table_name)
        self._name = table_name

    def put(self, media: Media) -> None:
        self._table.put_item(Item=_item(media))

    def get(self, media_id: str) -> Media | None:
        item = self._table.get_item(Key={"media_id": media_id}, ConsistentRead=True).get("Item")
        return _media_from_item(item) if item else None

    def get_many(self, media_ids: Iterable[str]) -> dict[str, Media]:
        keys = [{"media_id": media_id} for media_id in dict.fromkeys(media_ids)]
        return {item["media_id"]: _media_from_item(item) for item in batch_get(self._resource, self._name, keys)}

    def settle(self, media: Media) -> bool:
        """Write the item's outcome if it is still pending; False when another attempt settled it first."""
        attempt = uuid.uuid4().hex
        try:
            self._table.put_item(Item={**_item(media), SETTLED_BY: attempt}, ConditionExpression="#status = :pending",
                                 ExpressionAttributeNames={"#status": "status"},
                                 ExpressionAttributeValues={":pending": "pending"},
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return True
        except self._table.meta.client.exceptions.ConditionalCheckFailedException as error:
            # botocore's retry of a write that landed but whose answer was lost finds this very attempt there
            return error.response.get("Item", {}).get(SETTLED_BY) == {"S": attempt}

    def uploaded_by(self, user_id: str) -> list[str]:
        items = query_all(self._table, IndexName="by_uploader", KeyConditionExpression=Key("uploader_id").eq(user_id))
        return [item["media_id"] for item in items]

    def share(self, media_id: str, chat_id: str) -> None:
        self._table.update_item(Key={"media_id": media_id}, UpdateExpression="ADD shared_with :chat, #forwards :one",
                                ConditionExpression="attribute_exists(media_id)",
                                ExpressionAttributeNames={"#forwards": FORWARDS},
                                ExpressionAttributeValues={":chat": {chat_id}, ":one": 1})

    def release(self, media_id: str) -> bool:
        try:
            self._table.update_item(Key={"media_id": media_id}, UpdateExpression="ADD #forwards :less",
                                    ConditionExpression="#forwards > :none",
                                    ExpressionAttributeNames={"#forwards": FORWARDS},
                                    ExpressionAttributeValues={":less": -1, ":none": 0})
            return False
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return True

    def delete(self, media_id: str) -> None:
        self._table.delete_item(Key={"media_id": media_id})
