"""Each user's news marks, on the chats table: ("news#{user}", "{minute}#{chat}#{seq}"), deleted by TTL; and
their unread candidates, ("unread#{user}", chat) holding `seq` and `mark_minute`, written in the same batches
(chalicelib/notifications.py counts unread chats from them).

A mark's key says all it holds, so marks are plain puts (batched 25 to a request) and a repeat costs nothing new;
reading a user's news since a minute is one Query over keys only.
"""
from collections.abc import Iterable

from boto3.dynamodb.conditions import Key

from chalicelib.model import NEWS_TTL
from chalicelib.storage.dynamodb import query_all

PREFIX = "news#"
UNREAD_PREFIX = "unread#"


def news_key(user_id: str) -> str:
    return PREFIX + user_id


def mark_sk(minute: int, chat_id: str, seq: int) -> str:
    return f"{minute:010d}#{chat_id}#{seq:012d}"


def parse_sk(sk: str) -> tuple[int, str, int]:
    minute, chat_id, seq = sk.split("#")
    return int(minute), chat_id, int(seq)


class DynamoNewsStore:
    def __init__(self, resource, chats_table: str):
        self._table = resource.Table(chats_table)

    def mark(self, user_ids: Iterable[str], chat_id: str, seq: int, minute: int, unread_for: Iterable[str] = ()) \
            -> None:
        expires_at = minute * 60 + NEWS_TTL
        with self._table.batch_writer(overwrite_by_pkeys=["chat_id", "sk"]) as batch:
            for user_id in dict.fromkeys(user_ids):
                batch.put_item(Item={"chat_id": news_key(user_id), "sk": mark_sk(minute, chat_id, seq),
                                     "expires_at": expires_at})
            for user_id in dict.fromkeys(unread_for):
                batch.put_item(Item={"chat_id": UNREAD_PREFIX + user_id, "sk": chat_id, "seq": seq,
                                     "mark_minute": minute, "expires_at": expires_at})

    def unread_candidates(self, user_id: str) -> dict[str, tuple[int, int]]:
        items = query_all(self._table, KeyConditionExpression=Key("chat_id").eq(UNREAD_PREFIX + user_id),
                          ProjectionExpression="sk, seq, mark_minute", ConsistentRead=True)
        return {item["sk"]: (int(item["seq"]), int(item["mark_minute"])) for item in items}

    def drop_unread(self, user_id: str, chat_id: str, seq: int, minute: int) -> None:
        try:
            self._table.delete_item(Key={"chat_id": UNREAD_PREFIX + user_id, "sk": chat_id},
                                    ConditionExpression="seq = :seq AND mark_minute = :minute",
                                    ExpressionAttributeValues={":seq": seq, ":minute": minute})
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            pass  # a newer candidate replaced it

    def _marks(self, user_id: str, minute: int, newest_first: bool) -> list[tuple[int, str, int]]:
        since = Key("chat_id").eq(news_key(user_id)) & Key("sk").gte(f"{minute:010d}")
        items = query_all(self._table, KeyConditionExpression=since, ProjectionExpression="sk", ConsistentRead=True,
                          ScanIndexForward=not newest_first)
        return [parse_sk(item["sk"]) for item in items]

    def marked_since(self, user_id: str, minute: int) -> dict[str, int]:
        lowest: dict[str, int] = {}
        for _, chat_id, seq in self._marks(user_id, minute, newest_first=False):
            lowest[chat_id] = min(seq, lowest.get(chat_id, seq))
        return lowest

    def newest_first(self, user_id: str, minute: int) -> list[str]:
        return list(dict.fromkeys(chat_id for _, chat_id, _ in self._marks(user_id, minute, newest_first=True)))
