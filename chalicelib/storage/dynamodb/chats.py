"""Chats and their members: the head ("meta"), a group's member list ("roster") and one item per member."""
from collections.abc import Iterable

from boto3.dynamodb.conditions import Key

from chalicelib.model import Chat, ChatHead, Member, Membership, direct_members
from chalicelib.storage.dynamodb import as_int, batch_get, query_all, set_or_remove
from chalicelib.storage.dynamodb.receipts import direct_state

META = "meta"
ROSTER = "roster"
MEMBER_PREFIX = "member#"
MUTES_PREFIX = "mutes#"
HEAD_PROJECTION = ("chat_id, kind, last_seq, #name, member_count, members_version, cursors, last_sent, "
                   "disappear_after, reserved_at")


def member_sk(user_id: str) -> str:
    return MEMBER_PREFIX + user_id


def mutes_key(user_id: str) -> dict:
    """A user's mutes: one item, an attribute {chat_id: until} per muted chat."""
    return {"chat_id": MUTES_PREFIX + user_id, "sk": "mutes"}


def invite_key(token: str) -> dict:
    """A group's invite link: its group and `expires_at` (DynamoDB's TTL deletes it, late: reads check the time)."""
    return {"chat_id": f"invite#{token}", "sk": "invite"}


def head_from_item(item: dict) -> ChatHead:
    return ChatHead(chat_id=item["chat_id"], kind=item["kind"], last_seq=int(item["last_seq"]), name=item.get("name"),
                    member_count=as_int(item.get("member_count")), members_version=as_int(item.get("members_version")),
                    direct=direct_state(item) if item["kind"] == "direct" else None,
                    disappear_after=_optional_int(item, "disappear_after"),
                    reserved_at=_optional_int(item, "reserved_at"))


class DynamoChatStore:
    def __init__(self, resource, chats_table: str):
        self._resource = resource
        self._client = resource.meta.client
        self._table = resource.Table(chats_table)
        self._name = chats_table

    def create(self, chat: Chat) -> tuple[Chat, bool]:
        meta = {"chat_id": chat.chat_id, "sk": META, "kind": chat.kind, "created_at": chat.created_at,
                "last_seq": chat.last_seq, "member_count": len(chat.members), "members_version": 0}
        if chat.name is not None:
            meta["name"] = chat.name
        if chat.kind == "direct":
            meta["cursors"] = {m.user_id: [0, 0] for m in chat.members}
            meta["last_sent"] = {m.user_id: 0 for m in chat.members}
        try:
            self._table.put_item(Item=meta, ConditionExpression="attribute_not_exists(chat_id)")
        except self._client.exceptions.ConditionalCheckFailedException:
            return self.get(chat.chat_id) or chat, False
        self._put_members(chat.chat_id, chat.kind, chat.members, founding=True)
        return chat, True

    def _put_members(self, chat_id: str, kind: str, members: list[Member], founding: bool = False) -> None:
        with self._table.batch_writer() as batch:  # 25 items a request, unprocessed ones retried
            if founding and kind == "group":
                batch.put_item(Item={"chat_id": chat_id, "sk": ROSTER,
                                     "members": {m.user_id: [m.role, m.joined_seq] for m in members}})
            for member in members:
                batch.put_item(Item={"chat_id": chat_id, "sk": member_sk(member.user_id), "member_id": member.user_id,
                                     "kind": kind, "role": member.role, "joined_seq": member.joined_seq})

    def get(self, chat_id: str) -> Chat | None:
        items = {item["sk"]: item for item in self._table.query(
            ConsistentRead=True, KeyConditionExpression=Key("chat_id").eq(chat_id) & Key("sk").between(META, ROSTER))
            ["Items"]}
        meta = items.get(META)
        if meta is None:
            return None
        return Chat(chat_id=chat_id, kind=meta["kind"], created_at=meta["created_at"], last_seq=int(meta["last_seq"]),
                    name=meta.get("name"), members=_members(chat_id, items.get(ROSTER)),
                    members_version=as_int(meta.get("members_version")),
                    disappear_after=_optional_int(meta, "disappear_after"), description=meta.get("description"),
                    avatar_media_id=meta.get("avatar_media_id"), settings=dict(meta.get("settings", {})))

    def head(self, chat_id: str) -> ChatHead | None:
        item = self._table.get_item(Key={"chat_id": chat_id, "sk": META}, ConsistentRead=True,
                                    ProjectionExpression=HEAD_PROJECTION, ExpressionAttributeNames={"#name": "name"})
        return head_from_item(item["Item"]) if "Item" in item else None

    def membership(self, user_id: str, chat_id: str) -> Membership | None:
        item = self._table.get_item(Key={"chat_id": chat_id, "sk": member_sk(user_id)}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        return Membership(chat_id=chat_id, kind=item["kind"], role=item["role"],
                          joined_seq=as_int(item.get("joined_seq")))

    def memberships(self, user_id: str) -> list[Membership]:
        items = query_all(self._table, IndexName="by_member", KeyConditionExpression=Key("member_id").eq(user_id))
        return [_membership(item) for item in items]

    def memberships_page(self, user_id: str, after: str, limit: int) -> list[Membership]:
        condition = Key("member_id").eq(user_id)
        if after:  # a key condition may not compare with ""
            condition &= Key("chat_id").gt(after)
        items = self._table.query(IndexName="by_member", KeyConditionExpression=condition, Limit=limit)["Items"]
        return [_membership(item) for item in items]

    def memberships_in(self, user_id: str, chat_ids: Iterable[str]) -> dict[str, Membership]:
        keys = [{"chat_id": chat_id, "sk": member_sk(user_id)} for chat_id in dict.fromkeys(chat_ids)]
        items = batch_get(self._resource, self._name, keys, consistent=True)
        return {item["chat_id"]: Membership(chat_id=item["chat_id"], kind=item["kind"], role=item["role"],
                                            joined_seq=as_int(item.get("joined_seq"))) for item in items}

    def heads(self, chat_ids: Iterable[str]) -> dict[str, ChatHead]:
        keys = [{"chat_id": chat_id, "sk": META} for chat_id in dict.fromkeys(chat_ids)]
        items = batch_get(self._resource, self._name, keys, HEAD_PROJECTION, {"#name": "name"})
        return {item["chat_id"]: head_from_item(item) for item in items}

    def members(self, chat_id: str) -> tuple[int, list[Member]]:
        items = {item["sk"]: item for item in self._table.query(
            ConsistentRead=True, KeyConditionExpression=Key("chat_id").eq(chat_id) & Key("sk").between(META, ROSTER),
            ProjectionExpression="sk, members_version, members")["Items"]}
        if META not in items:
            return 0, []
        return as_int(items[META].get("members_version")), _members(chat_id, items.get(ROSTER))

    def reserve_seats(self, chat_id: str, count: int, limit: int) -> bool:
        try:
            self._table.update_item(Key={"chat_id": chat_id, "sk": META}, UpdateExpression="ADD member_count :count",
                                    ConditionExpression="member_count <= :room",
                                    ExpressionAttributeValues={":count": count, ":room": limit - count})
            return True
        except self._client.exceptions.ConditionalCheckFailedException:
            return False

    def add_members(self, chat_id: str, members: list[Member]) -> None:
        self._put_members(chat_id, "group", members)
        self._table.update_item(
            Key={"chat_id": chat_id, "sk": ROSTER},
            UpdateExpression="SET " + ", ".join(f"members.#u{i} = :m{i}" for i in range(len(members))),
            ExpressionAttributeNames={f"#u{i}": m.user_id for i, m in enumerate(members)},
            ExpressionAttributeValues={f":m{i}": [m.role, m.joined_seq] for i, m in enumerate(members)})
        self._bump_version(chat_id, 0)

    def remove_members(self, chat_id: str, user_ids: list[str]) -> None:
        with self._table.batch_writer() as batch:
            for user_id in user_ids:
                batch.delete_item(Key={"chat_id": chat_id, "sk": member_sk(user_id)})
        self._table.update_item(Key={"chat_id": chat_id, "sk": ROSTER},
                                UpdateExpression="REMOVE " + ", ".join(f"members.#u{i}" for i in range(len(user_ids))),
                                ExpressionAttributeNames={f"#u{i}": user_id for i, user_id in enumerate(user_ids)})
        self._bump_version(chat_id, -len(user_ids))

    def set_role(self, chat_id: str, user_id: str, role: str) -> None:
        self._table.update_item(Key={"chat_id": chat_id, "sk": member_sk(user_id)},
                                UpdateExpression="SET #role = :role", ConditionExpression="attribute_exists(sk)",
                                ExpressionAttributeNames={"#role": "role"}, ExpressionAttributeValues={":role": role})
        self._table.update_item(Key={"chat_id": chat_id, "sk": ROSTER}, UpdateExpression="SET members.#u[0] = :role",
                                ExpressionAttributeNames={"#u": user_id}, ExpressionAttributeValues={":role": role})
        self._bump_version(chat_id, 0)

    def update_info(self, chat_id: str, changes: dict) -> None:
        update, names, values = set_or_remove(changes)
        self._table.update_item(Key={"chat_id": chat_id, "sk": META}, UpdateExpression=update,
                                ExpressionAttributeNames=names,
                                **({"ExpressionAttributeValues": values} if values else {}))

    def put_invite(self, token: str, chat_id: str, expires_at: int) -> None:
        self._table.put_item(Item={**invite_key(token), "group_id": chat_id, "expires_at": expires_at})

    def invite(self, token: str) -> tuple[str, int] | None:
        item = self._table.get_item(Key=invite_key(token), ConsistentRead=True).get("Item")
        return (item["group_id"], int(item["expires_at"])) if item else None

    def delete_invite(self, token: str, chat_id: str) -> bool:
        try:
            self._table.delete_item(Key=invite_key(token), ConditionExpression="group_id = :chat",
                                    ExpressionAttributeValues={":chat": chat_id})
            return True
        except self._client.exceptions.ConditionalCheckFailedException:
            return False

    def mute(self, user_id: str, chat_id: str, until: int | None) -> None:
        key, names = mutes_key(user_id), {"#chat": chat_id}
        if until is None:
            self._table.update_item(Key=key, UpdateExpression="REMOVE #chat", ExpressionAttributeNames=names)
        else:
            self._table.update_item(Key=key, UpdateExpression="SET #chat = :until", ExpressionAttributeNames=names,
                                    ExpressionAttributeValues={":until": until})

    def mutes(self, user_id: str) -> dict[str, int]:
        return _mutes(self._table.get_item(Key=mutes_key(user_id), ConsistentRead=True).get("Item"))

    def muted_in(self, user_ids: Iterable[str], chat_id: str) -> dict[str, int]:
        keys = [mutes_key(user_id) for user_id in dict.fromkeys(user_ids)]
        items = batch_get(self._resource, self._name, keys, "chat_id, #chat", {"#chat": chat_id})
        return {item["chat_id"].removeprefix(MUTES_PREFIX): int(item[chat_id]) for item in items if chat_id in item}

    def _bump_version(self, chat_id: str, member_change: int) -> None:
        self._table.update_item(Key={"chat_id": chat_id, "sk": META},
                                UpdateExpression="ADD members_version :one, member_count :change",
                                ExpressionAttributeValues={":one": 1, ":change": member_change})


def _optional_int(item: dict, name: str) -> int | None:
    return int(item[name]) if name in item else None


def _mutes(item: dict | None) -> dict[str, int]:
    return {name: int(value) for name, value in (item or {}).items() if name not in ("chat_id", "sk")}


def _membership(index_item: dict) -> Membership:
    return Membership(chat_id=index_item["chat_id"], kind=index_item["chat_id"].partition(":")[0],
                      joined_seq=as_int(index_item.get("joined_seq")))


def _members(chat_id: str, roster: dict | None) -> list[Member]:
    pair = direct_members(chat_id)
    if pair:
        return [Member(user_id) for user_id in pair]
    entries = (roster or {}).get("members", {})
    members = [Member(user_id, role, int(joined)) for user_id, (role, joined) in entries.items()]
    return sorted(members, key=lambda m: (m.joined_seq, m.role != "admin", m.user_id))

