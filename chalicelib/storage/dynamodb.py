"""DynamoDB implementations of the storage interfaces.

Tables (declared in infra/parley.yaml):
- connections: connection_id -> the socket's user and device; expires after API Gateway's 2 h limit.
- users: user_id -> `connections` (a map of the user's live sockets with each one's last heartbeat `seen_at`,
  so the sockets of 100 users are one BatchGetItem), `connections_version` (bumped by every write to the map),
  `last_seen` (recorded when the user goes offline) and, while the user is marked online, `online_shard`: the
  key of the sparse index `online` (online_shard, user_id; keys only), through which the presence sweep reads
  the online users and no one else. The mark changes only on transitions, so heartbeats never write the index.
- chats: one partition per chat. sk "meta" (kind, name, the `last_seq` counter), "member#{user}"
  (role, cursors), "receipts" (how many members stand at each cursor value), "send#{user}#{client_msg_id}"
  (idempotency keys) and "typing#{user}#{window}" (rate-limit counters, deleted by TTL on `expires_at`).
  Index `by_member` (member_id, chat_id) lists a user's chats.
- messages: chat_id + seq.
"""
import random
import time
import zlib
from dataclasses import replace
from decimal import Decimal
from typing import Iterable

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import clock
from chalicelib.errors import Conflict
from chalicelib.model import (SEND_LEASE, Chat, ChatHead, Connection, Member, Membership, Message, UserPresence,
                              now_iso)

META = "meta"
RECEIPTS = "receipts"
MEMBER_PREFIX = "member#"
BATCH_GET_LIMIT = 100
EMPTY_COUNTS_KEPT = 16  # cursor values nobody stands at, tolerated on the receipts item before a clean-up
CLAIM_WAIT = 3  # seconds a repeated send waits for the first one to finish
ONLINE_SHARDS = 8  # partitions of the sparse `online` index, so that connects never crowd one index partition
CONNECTIONS_VERSION = "connections_version"  # bumped by every write to a user's map, for conditional rewrites
PRESENCE_PROJECTION = "user_id, connections, #version, online_shard, last_seen"
PRESENCE_WRITE_ATTEMPTS = 5
COUNTER_PREFIX = "count#"  # partitions of rate counters, apart from chats ("direct:…", "group:…")
COUNTER_LIFETIME = 3600  # seconds a rate counter is kept after its window starts (then TTL deletes it)


def _member_sk(user_id: str) -> str:
    return MEMBER_PREFIX + user_id


def _int(value) -> int:
    return int(value) if value is not None else 0


def _query_all(table, **kwargs) -> list[dict]:
    items, page = [], table.query(**kwargs)
    items.extend(page["Items"])
    while "LastEvaluatedKey" in page:
        page = table.query(ExclusiveStartKey=page["LastEvaluatedKey"], **kwargs)
        items.extend(page["Items"])
    return items


def batch_get(resource, table_name: str, keys: list[dict], projection: str | None = None,
              names: dict[str, str] | None = None) -> list[dict]:
    """BatchGetItem in chunks of 100 keys, retrying what DynamoDB leaves unprocessed."""
    items = []
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request = {table_name: {"Keys": keys[start:start + BATCH_GET_LIMIT]}}
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


def _message_from_item(item: dict) -> Message:
    return Message(chat_id=item["chat_id"], seq=int(item["seq"]), message_id=item["message_id"],
                   sender_id=item["sender_id"], kind=item["kind"], sent_at=item["sent_at"],
                   text=item.get("text"), media_id=item.get("media_id"),
                   reply_to=_int(item["reply_to"]) if "reply_to" in item else None, event=item.get("event"))


def _message_item(message: Message) -> dict:
    item = {"chat_id": message.chat_id, "seq": message.seq, "message_id": message.message_id,
            "sender_id": message.sender_id, "kind": message.kind, "sent_at": message.sent_at}
    for name in ("text", "media_id", "reply_to", "event"):
        if getattr(message, name) is not None:
            item[name] = getattr(message, name)
    return item


class DynamoUserStore:
    def __init__(self, resource, connections_table: str, users_table: str, lifetime: int):
        self._resource = resource
        self._client = resource.meta.client
        self._connections = resource.Table(connections_table)
        self._users = resource.Table(users_table)
        self._users_name = users_table
        self._lifetime = lifetime

    def register(self, user_id: str) -> None:
        self._users.update_item(Key={"user_id": user_id},
                                UpdateExpression="SET connections = if_not_exists(connections, :none)",
                                ExpressionAttributeValues={":none": {}})

    def existing(self, user_ids: Iterable[str]) -> set[str]:
        keys = [{"user_id": user_id} for user_id in dict.fromkeys(user_ids)]
        return {item["user_id"] for item in batch_get(self._resource, self._users_name, keys, "user_id")}

    def add_connection(self, connection: Connection) -> bool:
        self._connections.put_item(Item={
            "connection_id": connection.connection_id, "user_id": connection.user_id,
            "device": connection.device, "endpoint": connection.endpoint,
            "connected_at": connection.connected_at, "expires_at": connection.connected_at + self._lifetime})
        return self._put_in_map(connection)

    def refresh_connection(self, connection: Connection) -> bool:
        try:
            self._users.update_item(Key={"user_id": connection.user_id},
                                    UpdateExpression="SET connections.#id.seen_at = :seen ADD #version :one",
                                    ConditionExpression="attribute_exists(connections.#id)",
                                    ExpressionAttributeNames={"#id": connection.connection_id,
                                                              "#version": CONNECTIONS_VERSION},
                                    ExpressionAttributeValues={":seen": connection.seen_at, ":one": 1})
            return False  # a socket in the map means its user is marked online
        except self._client.exceptions.ConditionalCheckFailedException:
            if self.connection(connection.connection_id) is None:
                return False  # closed meanwhile: $disconnect has removed it
            return self._put_in_map(connection)  # the sweep dropped it, yet it is alive

    def _put_in_map(self, connection: Connection) -> bool:
        """Put the socket in its user's map and mark the user online; answers whether they were not marked."""
        entry = {"device": connection.device, "endpoint": connection.endpoint,
                 "connected_at": connection.connected_at, "seen_at": connection.seen_at}
        names = {"#version": CONNECTIONS_VERSION}
        values = {":shard": _online_shard(connection.user_id), ":one": 1}
        key = {"user_id": connection.user_id}
        try:
            old = self._users.update_item(
                Key=key, UpdateExpression="SET connections.#id = :entry, online_shard = :shard ADD #version :one",
                ExpressionAttributeNames={**names, "#id": connection.connection_id},
                ExpressionAttributeValues={**values, ":entry": entry}, ReturnValues="ALL_OLD")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ValidationException":
                raise
            # First socket of a user without a connections map yet.
            old = self._users.update_item(
                Key=key, UpdateExpression="SET connections = :map, online_shard = :shard ADD #version :one",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":map": {connection.connection_id: entry}},
                ReturnValues="ALL_OLD")
        return "online_shard" not in old.get("Attributes", {})

    def connection(self, connection_id: str) -> Connection | None:
        item = self._connections.get_item(Key={"connection_id": connection_id}).get("Item")
        if not item:
            return None
        return Connection(connection_id=connection_id, user_id=item["user_id"], device=item["device"],
                          endpoint=item["endpoint"], connected_at=int(item["connected_at"]),
                          seen_at=int(item["connected_at"]))

    def remove_connection(self, connection: Connection) -> UserPresence | None:
        """Read the user's map, decide, and write on condition that nothing changed since; retry if something did.

        A socket that closes while fresh was seen until now; a stale one, at its last heartbeat.
        """
        self._connections.delete_item(Key={"connection_id": connection.connection_id})
        key = {"user_id": connection.user_id}
        for _ in range(PRESENCE_WRITE_ATTEMPTS):
            item = self._users.get_item(Key=key, ConsistentRead=True, ProjectionExpression=PRESENCE_PROJECTION,
                                        ExpressionAttributeNames={"#version": CONNECTIONS_VERSION}).get("Item")
            if item is None:
                return None
            now = clock.now()
            presence = _presence_from_item(item)
            leaving = [c for c in presence.connections if c.connection_id == connection.connection_id]
            staying = [c for c in presence.connections if c.connection_id != connection.connection_id]
            if "online_shard" in item and not any(c.is_fresh(now) for c in staying):
                last_seen = int(now) if leaving and leaving[0].is_fresh(now) else presence.seen_last()
                if self._rewrite_map(item, presence.connections, last_seen, offline=True):
                    return UserPresence(connection.user_id, last_seen=last_seen)
            elif not leaving or self._rewrite_map(item, leaving, None, offline=False):
                return None
        # Contended all along: forget the socket alone; the sweep takes the user offline if that is due.
        try:
            self._users.update_item(Key=key, UpdateExpression="REMOVE connections.#id",
                                    ConditionExpression="attribute_exists(connections)",
                                    ExpressionAttributeNames={"#id": connection.connection_id})
        except self._client.exceptions.ConditionalCheckFailedException:
            pass
        return None

    def _rewrite_map(self, item: dict, dropped: Iterable[Connection], last_seen: int | None, offline: bool) -> bool:
        """Remove sockets from the map (and the online mark) unless the map changed since `item` was read."""
        names = {"#version": CONNECTIONS_VERSION}
        values: dict = {":one": 1}
        removed = []
        for index, gone in enumerate(dropped):
            names[f"#c{index}"] = gone.connection_id
            removed.append(f"connections.#c{index}")
        update = ""
        if offline:
            removed.append("online_shard")
            if last_seen is not None:
                update, values[":last_seen"] = " SET last_seen = :last_seen", last_seen
        if CONNECTIONS_VERSION in item:
            condition, values[":version"] = "#version = :version", item[CONNECTIONS_VERSION]
        else:
            condition = "attribute_not_exists(#version)"
        try:
            self._users.update_item(Key={"user_id": item["user_id"]},
                                    UpdateExpression=f"REMOVE {', '.join(removed)}{update} ADD #version :one",
                                    ConditionExpression=condition, ExpressionAttributeNames=names,
                                    ExpressionAttributeValues=values)
            return True
        except self._client.exceptions.ConditionalCheckFailedException:
            return False

    def connections_of(self, user_ids: Iterable[str]) -> dict[str, list[Connection]]:
        keys = [{"user_id": user_id} for user_id in dict.fromkeys(user_ids)]
        found: dict[str, list[Connection]] = {}
        oldest_alive = int(clock.now()) - self._lifetime
        for item in batch_get(self._resource, self._users_name, keys, "user_id, connections"):
            found[item["user_id"]] = [connection for connection in _presence_from_item(item).connections
                                      if connection.connected_at > oldest_alive]
        return found

    def presence_of(self, user_ids: Iterable[str]) -> dict[str, UserPresence]:
        keys = [{"user_id": user_id} for user_id in dict.fromkeys(user_ids)]
        items = batch_get(self._resource, self._users_name, keys, "user_id, connections, last_seen")
        return {item["user_id"]: _presence_from_item(item) for item in items}

    def expire_stale_connections(self) -> list[UserPresence]:
        """Query the sparse `online` index shard by shard, then read those users' maps in batches.

        A write that loses to a concurrent heartbeat, connect or disconnect is skipped: that one has seen to the
        user, or the next sweep will.
        """
        offline = []
        for shard in range(ONLINE_SHARDS):
            keys = [{"user_id": item["user_id"]} for item in _query_all(
                self._users, IndexName="online", KeyConditionExpression=Key("online_shard").eq(shard))]
            now = clock.now()
            for item in batch_get(self._resource, self._users_name, keys, PRESENCE_PROJECTION,
                                   {"#version": CONNECTIONS_VERSION}):
                presence = _presence_from_item(item)
                stale = [c for c in presence.connections if not c.is_fresh(now)]
                if "online_shard" not in item or (presence.connections and not stale):
                    continue
                going_offline = len(stale) == len(presence.connections)
                last_seen = presence.seen_last() if going_offline else None
                if self._rewrite_map(item, stale, last_seen, offline=going_offline) and going_offline:
                    offline.append(UserPresence(presence.user_id, last_seen=last_seen))
        return offline


def _online_shard(user_id: str) -> int:
    return zlib.crc32(user_id.encode()) % ONLINE_SHARDS


def _presence_from_item(item: dict) -> UserPresence:
    user_id = item["user_id"]
    connections = tuple(
        Connection(connection_id=connection_id, user_id=user_id, device=entry["device"], endpoint=entry["endpoint"],
                   connected_at=int(entry["connected_at"]), seen_at=int(entry["seen_at"]))
        for connection_id, entry in item.get("connections", {}).items())
    return UserPresence(user_id, connections, int(item["last_seen"]) if "last_seen" in item else None)


def _member_from_item(item: dict) -> Member:
    return Member(user_id=item["member_id"], role=item["role"], joined_seq=_int(item.get("joined_seq")),
                  delivered_seq=_int(item.get("delivered_seq")), read_seq=_int(item.get("read_seq")))


def _counts(item: dict, status: str) -> dict[int, int]:
    return {int(cursor): int(count) for cursor, count in item.get(status, {}).items() if int(count) > 0}


class DynamoChatStore:
    def __init__(self, resource, chats_table: str, messages_table: str):
        self._resource = resource
        self._client = resource.meta.client
        self._chats = resource.Table(chats_table)
        self._chats_name = chats_table
        self._messages = resource.Table(messages_table)
        self._messages_name = messages_table

    def create(self, chat: Chat) -> tuple[Chat, bool]:
        members = [m.user_id for m in chat.members]
        meta = {"chat_id": chat.chat_id, "sk": META, "kind": chat.kind, "created_at": chat.created_at,
                "last_seq": chat.last_seq, "member_count": len(members)}
        if chat.name is not None:
            meta["name"] = chat.name
        receipts = {"chat_id": chat.chat_id, "sk": RECEIPTS,
                    "delivered": {"0": len(members)}, "read": {"0": len(members)}}
        actions = [{"Put": {"TableName": self._chats_name, "Item": meta,
                            "ConditionExpression": "attribute_not_exists(chat_id)"}},
                   {"Put": {"TableName": self._chats_name, "Item": receipts}}]
        try:
            self._client.transact_write_items(TransactItems=actions)
        except self._client.exceptions.TransactionCanceledException as error:
            if error.response["CancellationReasons"][0]["Code"] != "ConditionalCheckFailed":
                raise
            return self.get(chat.chat_id), False
        self._put_members(chat.chat_id, chat.members)
        return chat, True

    def _put_members(self, chat_id: str, members: list[Member]) -> None:
        with self._chats.batch_writer() as batch:  # 25 items a request, unprocessed ones retried
            for member in members:
                batch.put_item(Item=self._member_item(chat_id, member))

    def reserve_seats(self, chat_id: str, count: int, limit: int) -> bool:
        try:
            self._chats.update_item(Key={"chat_id": chat_id, "sk": META}, UpdateExpression="ADD member_count :count",
                                    ConditionExpression="member_count <= :room",
                                    ExpressionAttributeValues={":count": count, ":room": limit - count})
            return True
        except self._client.exceptions.ConditionalCheckFailedException:
            return False

    def add_members(self, chat_id: str, members: list[Member]) -> None:
        self._put_members(chat_id, members)

    def remove_members(self, chat_id: str, user_ids: list[str]) -> None:
        with self._chats.batch_writer() as batch:
            for user_id in user_ids:
                batch.delete_item(Key={"chat_id": chat_id, "sk": _member_sk(user_id)})
        self._chats.update_item(Key={"chat_id": chat_id, "sk": META}, UpdateExpression="ADD member_count :count",
                                ExpressionAttributeValues={":count": -len(user_ids)})

    def set_role(self, chat_id: str, user_id: str, role: str) -> None:
        self._chats.update_item(Key={"chat_id": chat_id, "sk": _member_sk(user_id)}, UpdateExpression="SET #role = :role",
                                ConditionExpression="attribute_exists(sk)", ExpressionAttributeNames={"#role": "role"},
                                ExpressionAttributeValues={":role": role})

    @staticmethod
    def _member_item(chat_id: str, member: Member) -> dict:
        return {"chat_id": chat_id, "sk": _member_sk(member.user_id), "member_id": member.user_id,
                "role": member.role, "joined_seq": member.joined_seq,
                "delivered_seq": member.delivered_seq, "read_seq": member.read_seq}

    def get(self, chat_id: str) -> Chat | None:
        # "member#..." sorts just before "meta": one query reads the members and the counter.
        items = _query_all(self._chats, ConsistentRead=True,
                           KeyConditionExpression=Key("chat_id").eq(chat_id) & Key("sk").between(MEMBER_PREFIX, META))
        meta = next((item for item in items if item["sk"] == META), None)
        if meta is None:
            return None
        members = [_member_from_item(item) for item in items if item["sk"].startswith(MEMBER_PREFIX)]
        return Chat(chat_id=chat_id, kind=meta["kind"], created_at=meta["created_at"],
                    last_seq=int(meta["last_seq"]), name=meta.get("name"), members=members)

    def memberships(self, user_id: str) -> list[Membership]:
        items = _query_all(self._chats, IndexName="by_member", KeyConditionExpression=Key("member_id").eq(user_id))
        return [Membership(chat_id=item["chat_id"], joined_seq=_int(item.get("joined_seq")),
                           delivered_seq=_int(item.get("delivered_seq")), read_seq=_int(item.get("read_seq")))
                for item in items]

    def heads(self, chat_ids: Iterable[str]) -> dict[str, ChatHead]:
        keys = [{"chat_id": chat_id, "sk": META} for chat_id in dict.fromkeys(chat_ids)]
        items = batch_get(self._resource, self._chats_name, keys, "chat_id, kind, last_seq, #name, member_count",
                          {"#name": "name"})
        return {item["chat_id"]: ChatHead(chat_id=item["chat_id"], kind=item["kind"],
                                          last_seq=int(item["last_seq"]), name=item.get("name"),
                                          member_count=_int(item.get("member_count")))
                for item in items}

    def member_ids(self, chat_id: str) -> list[str]:
        items = _query_all(self._chats, ProjectionExpression="member_id",
                           KeyConditionExpression=Key("chat_id").eq(chat_id) & Key("sk").begins_with(MEMBER_PREFIX))
        return [item["member_id"] for item in items]

    def append(self, chat: Chat, message: Message, client_msg_id: str) -> tuple[Message, bool]:
        """Claim the idempotency key, reserve the next seq with an atomic counter, then write the message.

        The counter never contends, however many senders a chat has. A sender that dies between reserving a
        seq and recording it on its key leaves a hole that `fill_gap` closes once the lease is over.
        """
        key = {"chat_id": chat.chat_id, "sk": f"send#{message.sender_id}#{client_msg_id}"}
        seq = None
        try:
            self._chats.put_item(Item={**key, "claimed_at": Decimal(str(clock.now()))},
                                 ConditionExpression="attribute_not_exists(sk)")
        except self._client.exceptions.ConditionalCheckFailedException:
            original, seq = self._wait_for_claim(key, chat.chat_id)
            if original is not None:
                return original, False
        while True:
            if seq is None:
                seq = int(self._chats.update_item(
                    Key={"chat_id": chat.chat_id, "sk": META}, UpdateExpression="ADD last_seq :one",
                    ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")["Attributes"]["last_seq"])
                self._chats.update_item(Key=key, UpdateExpression="SET seq = :seq",
                                        ExpressionAttributeValues={":seq": seq})
            stored = replace(message, seq=seq, sent_at=now_iso())
            if self._write(stored):
                return stored, True
            seq = None  # the seq was closed as a gap after our lease ran out: take another

    def _write(self, message: Message) -> bool:
        """Store the message at its seq; False when another message holds that seq (a gap closed it)."""
        try:
            self._messages.put_item(Item=_message_item(message), ConditionExpression="attribute_not_exists(seq)",
                                    ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return True
        except self._client.exceptions.ConditionalCheckFailedException as error:
            # botocore's retry of a write that landed but whose answer was lost finds this very message there
            return error.response.get("Item", {}).get("message_id") == {"S": message.message_id}

    def _wait_for_claim(self, key: dict, chat_id: str) -> tuple[Message | None, int | None]:
        """The message an earlier send with this key stored, waiting while that send is under way.

        When the earlier send died (its lease is over), this one takes its claim over and answers
        (None, the seq it had reserved, if any) to carry on in its place.
        """
        give_up = time.monotonic() + CLAIM_WAIT
        while True:
            claim = self._chats.get_item(Key=key, ConsistentRead=True)["Item"]
            seq = int(claim["seq"]) if "seq" in claim else None
            if seq is not None and (stored := self._message(chat_id, seq)) is not None:
                return stored, None
            if float(claim["claimed_at"]) < clock.now() - SEND_LEASE and self._take_over(key, claim["claimed_at"]):
                return None, seq
            if time.monotonic() > give_up:
                raise Conflict("this client_msg_id is being sent right now; send it again shortly")
            time.sleep(0.02)

    def _take_over(self, key: dict, claimed_at: Decimal) -> bool:
        try:
            self._chats.update_item(Key=key, UpdateExpression="SET claimed_at = :now",
                                    ConditionExpression="claimed_at = :then",
                                    ExpressionAttributeValues={":now": Decimal(str(clock.now())), ":then": claimed_at})
            return True
        except self._client.exceptions.ConditionalCheckFailedException:
            return False

    def fill_gap(self, chat_id: str, seq: int) -> Message:
        """Close a hole left by a sender that died after reserving `seq`, with an empty system message."""
        gap = Message(chat_id=chat_id, seq=seq, message_id=f"gap-{seq}", sender_id="", kind="system",
                      sent_at=now_iso())
        return gap if self._write(gap) else self._message(chat_id, seq)

    def _message(self, chat_id: str, seq: int) -> Message | None:
        item = self._messages.get_item(Key={"chat_id": chat_id, "seq": seq}, ConsistentRead=True).get("Item")
        return _message_from_item(item) if item else None

    def messages_after(self, chat_id: str, after: int, limit: int) -> list[Message]:
        page = self._messages.query(KeyConditionExpression=Key("chat_id").eq(chat_id) & Key("seq").gt(after),
                                    Limit=limit)
        return [_message_from_item(item) for item in page["Items"]]

    def messages_before(self, chat_id: str, before: int, limit: int) -> list[Message]:
        page = self._messages.query(KeyConditionExpression=Key("chat_id").eq(chat_id) & Key("seq").lt(before),
                                    ScanIndexForward=False, Limit=limit)
        return [_message_from_item(item) for item in reversed(page["Items"])]

    def senders_between(self, chat_id: str, low: int, high: int) -> set[str]:
        if high <= low:
            return set()
        items = _query_all(self._messages, ProjectionExpression="sender_id",
                           KeyConditionExpression=Key("chat_id").eq(chat_id) & Key("seq").between(low + 1, high))
        return {item["sender_id"] for item in items}

    def raise_cursors(self, chat_id: str, user_id: str, status: str, seq: int) -> dict[str, tuple[int, int]]:
        # DynamoDB has no max(): try the update that moves both cursors, then the one that moves read alone.
        steps = [("delivered_seq < :seq", "SET delivered_seq = :seq, read_seq = :seq"),
                 ("read_seq < :seq", "SET read_seq = :seq")] if status == "read" else \
                [("delivered_seq < :seq", "SET delivered_seq = :seq")]
        for condition, update in steps:
            try:
                old = self._chats.update_item(Key={"chat_id": chat_id, "sk": _member_sk(user_id)},
                                              UpdateExpression=update, ConditionExpression=condition,
                                              ExpressionAttributeValues={":seq": seq}, ReturnValues="ALL_OLD")
            except self._client.exceptions.ConditionalCheckFailedException:
                continue
            before = {"delivered": int(old["Attributes"]["delivered_seq"]), "read": int(old["Attributes"]["read_seq"])}
            moved = ("delivered", "read") if "delivered_seq" in update and "read_seq" in update else \
                ("delivered",) if "delivered_seq" in update else ("read",)
            return {name: (before[name], seq) for name in moved}
        return {}

    def shift_cursor_counts(self, chat_id: str, deltas: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
        updates, names, values = [], {}, {":zero": 0}
        for s_index, (status, changes) in enumerate(deltas.items()):
            names[f"#s{s_index}"] = status
            for c_index, (cursor, delta) in enumerate(changes.items()):
                path, value = f"#s{s_index}.#c{s_index}_{c_index}", f":d{s_index}_{c_index}"
                names[f"#c{s_index}_{c_index}"], values[value] = str(cursor), delta
                # if_not_exists even when leaving: one member's moves may land out of order, leaving -1 a moment
                updates.append(f"{path} = if_not_exists({path}, :zero) + {value}")
        item = self._chats.update_item(Key={"chat_id": chat_id, "sk": RECEIPTS},
                                       UpdateExpression="SET " + ", ".join(updates),
                                       ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                                       ReturnValues="ALL_NEW")["Attributes"]
        if sum(int(count) == 0 for status in deltas for count in item.get(status, {}).values()) > EMPTY_COUNTS_KEPT:
            self._forget_empty_counts(chat_id, item)
        return {status: _counts(item, status) for status in deltas}

    def _forget_empty_counts(self, chat_id: str, item: dict) -> None:
        """Drop cursor values nobody stands at any more, so the receipts item stays small."""
        empties = [(status, cursor) for status in ("delivered", "read")
                   for cursor, count in item.get(status, {}).items() if int(count) == 0]
        if not empties:
            return
        names = {f"#s{i}": status for i, (status, _) in enumerate(empties)}
        names.update({f"#c{i}": cursor for i, (_, cursor) in enumerate(empties)})
        try:
            self._chats.update_item(
                Key={"chat_id": chat_id, "sk": RECEIPTS},
                UpdateExpression="REMOVE " + ", ".join(f"#s{i}.#c{i}" for i in range(len(empties))),
                ConditionExpression=" AND ".join(f"#s{i}.#c{i} = :zero" for i in range(len(empties))),
                ExpressionAttributeNames=names, ExpressionAttributeValues={":zero": 0})
        except self._client.exceptions.ConditionalCheckFailedException:
            pass  # someone moved onto one of them meanwhile; a later receipt tidies up


class DynamoCounters:
    """Counters as items of the chats table, one partition per subject (`count#send#alice`), one item per
    window; TTL deletes them."""

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
