"""Each chat's log: the seq counter on the chat's head, idempotency claims beside it, messages in their table."""
from collections.abc import Iterable
from decimal import Decimal

from boto3.dynamodb.conditions import Key

from chalicelib import clock
from chalicelib.errors import Forbidden
from chalicelib.model import CLAIM_TTL, Deletion, Message, Reservation, epoch_from_iso, iso_from_epoch, now_iso
from chalicelib.storage.dynamodb import as_int, batch_get, plain, query_all, query_up_to
from chalicelib.storage.dynamodb.receipts import direct_state

FIND_PAGE = 100  # messages read per page when a resend looks for its original
OPTIONAL_FIELDS = ("text", "media_id", "reply_to", "event", "client_msg_id", "relates_to", "emoji", "quote",
                   "edited_at")
HIDDEN_PREFIX = "hidden#"  # (chat, "hidden#{user}"): the seqs the user hid in the chat, on the chats table
REACTION_PREFIX = "react#"  # one attribute per reacting user, [emoji, the reaction's seq]: no map to create first


def _optional_int(item: dict, name: str) -> int | None:
    return as_int(item[name]) if name in item else None


def reactions_of(item: dict) -> dict[str, list[str]] | None:
    """{emoji: [user_id, ...]} from the message's reaction attributes, users in the order they reacted."""
    picked = sorted((int(value[1]), name.removeprefix(REACTION_PREFIX), value[0]) for name, value in item.items()
                    if name.startswith(REACTION_PREFIX))
    reactions: dict[str, list[str]] = {}
    for _, user_id, emoji in picked:
        reactions.setdefault(emoji, []).append(user_id)
    return reactions or None


def message_from_item(item: dict) -> Message:
    quote = item.get("quote")
    return Message(chat_id=item["chat_id"], seq=int(item["seq"]), message_id=item["message_id"],
                   sender_id=item["sender_id"], kind=item["kind"], sent_at=item["sent_at"],
                   text=item.get("text"), media_id=item.get("media_id"), reply_to=_optional_int(item, "reply_to"),
                   event=plain(item["event"]) if "event" in item else None, client_msg_id=item.get("client_msg_id"),
                   relates_to=_optional_int(item, "relates_to"), emoji=item.get("emoji"),
                   mentions=tuple(item["mentions"]) if "mentions" in item else None,
                   quote={**quote, "seq": int(quote["seq"])} if quote else None,
                   forwarded=bool(item.get("forwarded")), edited_at=item.get("edited_at"),
                   deleted=bool(item.get("deleted")), reactions=reactions_of(item),
                   expires_at=iso_from_epoch(int(item["disappears_at"])) if "disappears_at" in item else None)


def message_item(message: Message) -> dict:
    item = {"chat_id": message.chat_id, "seq": message.seq, "message_id": message.message_id,
            "sender_id": message.sender_id, "kind": message.kind, "sent_at": message.sent_at}
    if message.expires_at is not None:  # the sparse index `expiring` finds it once its hour comes
        disappears_at = int(epoch_from_iso(message.expires_at))
        item |= {"disappears_at": disappears_at, "expiry_hour": disappears_at // 3600}
    for name in OPTIONAL_FIELDS:
        if getattr(message, name) is not None:
            item[name] = getattr(message, name)
    if message.mentions:
        item["mentions"] = list(message.mentions)
    if message.forwarded:
        item["forwarded"] = True
    return item


class DynamoMessageStore:
    def __init__(self, resource, chats_table: str, messages_table: str):
        self._resource = resource
        self._chats = resource.Table(chats_table)
        self._messages = resource.Table(messages_table)
        self._failed = self._chats.meta.client.exceptions.ConditionalCheckFailedException

    @staticmethod
    def _claim_key(chat_id: str, sender_id: str, client_msg_id: str) -> dict:
        return {"chat_id": chat_id, "sk": f"send#{sender_id}#{client_msg_id}"}

    def claim(self, chat_id: str, sender_id: str, client_msg_id: str) -> float | None:
        now = clock.now()
        try:  # a claim past its TTL counts as gone, whether or not DynamoDB has deleted it yet
            self._chats.put_item(Item={**self._claim_key(chat_id, sender_id, client_msg_id),
                                       "claimed_at": Decimal(str(now)), "expires_at": int(now) + CLAIM_TTL},
                                 ConditionExpression="attribute_not_exists(sk) OR expires_at < :now",
                                 ExpressionAttributeValues={":now": int(now)},
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return None
        except self._failed as error:
            return float(error.response["Item"]["claimed_at"]["N"])

    def release(self, chat_id: str, sender_id: str, client_msg_id: str) -> None:
        self._chats.delete_item(Key=self._claim_key(chat_id, sender_id, client_msg_id))

    def take_over(self, chat_id: str, sender_id: str, client_msg_id: str, claimed_at: float) -> bool:
        try:
            self._chats.update_item(Key=self._claim_key(chat_id, sender_id, client_msg_id),
                                    UpdateExpression="SET claimed_at = :now", ConditionExpression="claimed_at = :then",
                                    ExpressionAttributeValues={":now": Decimal(str(clock.now())),
                                                               ":then": Decimal(str(claimed_at))})
            return True
        except self._failed:
            return False

    def reserve(self, chat_id: str, sender_id: str | None, direct: bool, sender_is_admin: bool = True) \
            -> Reservation | None:
        update, condition = "SET last_seq = last_seq + :one, reserved_at = :now", "attribute_exists(last_seq)"
        names: dict[str, str] = {}
        values: dict[str, object] = {":one": 1, ":now": int(clock.now())}
        if direct and sender_id:
            update += (", cursors.#me[0] = last_seq + :one, cursors.#me[1] = last_seq + :one, "
                       "last_sent.#me = last_seq + :one")
            names = {"#me": sender_id}
        if not sender_is_admin:
            condition += " AND (attribute_not_exists(settings.#send) OR settings.#send <> :admins)"
            names, values = {**names, "#send": "send"}, {**values, ":admins": "admins"}
        try:
            old = self._chats.update_item(Key={"chat_id": chat_id, "sk": "meta"}, UpdateExpression=update,
                                          ConditionExpression=condition, ExpressionAttributeValues=values,
                                          ReturnValues="ALL_OLD", ReturnValuesOnConditionCheckFailure="ALL_OLD",
                                          **({"ExpressionAttributeNames": names} if names else {}))["Attributes"]
        except self._failed as error:
            if error.response.get("Item"):
                raise Forbidden("only admins may send in this group") from None
            return None
        return Reservation(seq=int(old["last_seq"]) + 1, members_version=as_int(old.get("members_version")),
                           direct=direct_state(old) if direct else None,
                           disappear_after=_optional_int(old, "disappear_after"))

    def write(self, message: Message) -> bool:
        try:
            self._messages.put_item(Item=message_item(message), ConditionExpression="attribute_not_exists(seq)",
                                    ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return True
        except self._failed as error:
            # botocore's retry of a write that landed but whose answer was lost finds this very message there
            return error.response.get("Item", {}).get("message_id") == {"S": message.message_id}

    def find_sent(self, chat_id: str, sender_id: str, client_msg_id: str, since: float) -> Message | None:
        """Page back from the newest message: the original took its seq after the claim, so no further back than
        the first message sent before `since`."""
        query = {"KeyConditionExpression": Key("chat_id").eq(chat_id), "ScanIndexForward": False, "Limit": FIND_PAGE}
        while True:
            page = self._messages.query(**query)
            for item in page["Items"]:
                if item["sender_id"] == sender_id and item.get("client_msg_id") == client_msg_id:
                    return message_from_item(item)
                if epoch_from_iso(item["sent_at"]) < since:
                    return None
            if "LastEvaluatedKey" not in page:
                return None
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def fill_gap(self, chat_id: str, seq: int) -> Message:
        gap = Message(chat_id=chat_id, seq=seq, message_id=f"gap-{seq}", sender_id="", kind="system",
                      sent_at=now_iso())
        if self.write(gap):
            return gap
        item = self._messages.get_item(Key={"chat_id": chat_id, "seq": seq}, ConsistentRead=True)["Item"]
        return message_from_item(item)

    def messages_after(self, chat_id: str, after: int, limit: int) -> list[Message]:
        items = query_up_to(self._messages, limit,
                            KeyConditionExpression=Key("chat_id").eq(chat_id) & Key("seq").gt(after))
        return [message_from_item(item) for item in items]

    def messages_before(self, chat_id: str, before: int, limit: int) -> list[Message]:
        items = query_up_to(self._messages, limit, ScanIndexForward=False,
                            KeyConditionExpression=Key("chat_id").eq(chat_id) & Key("seq").lt(before))
        return [message_from_item(item) for item in reversed(items)]

    def senders_between(self, chat_id: str, low: int, high: int) -> set[str]:
        if high <= low:
            return set()
        items = query_all(self._messages, ProjectionExpression="sender_id",
                          KeyConditionExpression=Key("chat_id").eq(chat_id) & Key("seq").between(low + 1, high))
        return {item["sender_id"] for item in items}

    def get(self, chat_id: str, seq: int) -> Message | None:
        item = self._messages.get_item(Key={"chat_id": chat_id, "seq": seq}, ConsistentRead=True).get("Item")
        return message_from_item(item) if item else None

    def _fold(self, chat_id: str, seq: int, update: str, condition: str, names: dict, values: dict) -> dict | None:
        """One conditional update of a message; answers its old item, or None when the condition failed."""
        try:
            return self._messages.update_item(
                Key={"chat_id": chat_id, "seq": seq}, UpdateExpression=update, ConditionExpression=condition,
                ExpressionAttributeNames=names, ReturnValues="ALL_OLD",
                **({"ExpressionAttributeValues": values} if values else {}))["Attributes"]
        except self._failed:
            return None

    def edit(self, chat_id: str, seq: int, text: str, edited_at: str, edit_seq: int) -> None:
        self._fold(chat_id, seq, "SET #text = :text, edited_at = :at, edit_seq = :seq ADD edits :seqs",
                   "attribute_exists(seq) AND attribute_not_exists(deleted) AND "
                   "(attribute_not_exists(edit_seq) OR edit_seq < :seq)",
                   {"#text": "text"}, {":text": text, ":at": edited_at, ":seq": edit_seq, ":seqs": {edit_seq}})

    def react(self, chat_id: str, seq: int, user_id: str, emoji: str, reaction_seq: int) -> None:
        names = {"#r": REACTION_PREFIX + user_id}
        condition = "attribute_exists(seq) AND attribute_not_exists(deleted) AND " \
                    "(attribute_not_exists(#r) OR #r[1] < :seq)"
        if emoji:
            self._fold(chat_id, seq, "SET #r = :reaction", condition, names,
                       {":reaction": [emoji, reaction_seq], ":seq": reaction_seq})
        else:
            self._fold(chat_id, seq, "REMOVE #r", condition, names, {":seq": reaction_seq})

    def delete(self, chat_id: str, seq: int) -> Deletion | None:
        old = self._fold(chat_id, seq, "SET deleted = :yes REMOVE #text, media_id, expiry_hour",
                         "attribute_exists(seq) AND attribute_not_exists(deleted)", {"#text": "text"}, {":yes": True})
        if old is None:
            return None
        return Deletion(message_from_item(old), frozenset(int(s) for s in old.get("edits", ())),
                        frozenset(int(s) for s in old.get("quoted_by", ())))

    def note_reply(self, chat_id: str, seq: int, reply_seq: int) -> bool:
        new = self._messages.update_item(Key={"chat_id": chat_id, "seq": seq}, UpdateExpression="ADD quoted_by :seqs",
                                         ConditionExpression="attribute_exists(seq)",
                                         ExpressionAttributeValues={":seqs": {reply_seq}},
                                         ReturnValues="ALL_NEW")["Attributes"]
        return bool(new.get("deleted"))

    def forget_texts(self, chat_id: str, edit_seqs: Iterable[int], reply_seqs: Iterable[int]) -> None:
        for seqs, update, names in ((edit_seqs, "REMOVE #text", {"#text": "text"}),
                                    (reply_seqs, "REMOVE quote.#text", {"#text": "text"})):
            for seq in seqs:
                self._fold(chat_id, seq, update, "attribute_exists(seq)", names, {})

    def expiring(self, hour: int, until: int) -> list[tuple[str, int]]:
        items = query_all(self._messages, IndexName="expiring",
                          KeyConditionExpression=Key("expiry_hour").eq(hour) & Key("disappears_at").lte(until))
        return [(item["chat_id"], int(item["seq"])) for item in items]

    def hide(self, chat_id: str, user_id: str, seqs: Iterable[int]) -> None:
        self._chats.update_item(Key={"chat_id": chat_id, "sk": HIDDEN_PREFIX + user_id},
                                UpdateExpression="ADD seqs :seqs", ExpressionAttributeValues={":seqs": set(seqs)})

    def hidden(self, user_id: str, chat_ids: Iterable[str]) -> dict[str, set[int]]:
        keys = [{"chat_id": chat_id, "sk": HIDDEN_PREFIX + user_id} for chat_id in dict.fromkeys(chat_ids)]
        items = batch_get(self._resource, self._chats.name, keys)  # half the read units of a consistent read
        return {item["chat_id"]: {int(seq) for seq in item["seqs"]} for item in items}
