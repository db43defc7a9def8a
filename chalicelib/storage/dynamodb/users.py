"""Users and their sockets: the connections table (connection_id -> the socket's user and device) and the users
table (user_id -> `connections`, a map of the user's live sockets, with `connections_version`, `last_seen` and,
while online, `online_shard`; see the package docstring).

Each socket's entry holds `seen_at` (its last heartbeat) and `window` (how long that keeps it fresh: 60 s, or
150 s after a quiet heartbeat; an entry without one was written before quiet heartbeats and counts 60 s). A
heartbeat rewrites those two in the user's item, and writes no index: only transitions write `online_shard`.
"""
import zlib
from collections.abc import Iterable

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import clock
from chalicelib.errors import Unauthorized
from chalicelib.model import ONLINE_WINDOW, Connection, Device, Person, Reach, UserPresence
from chalicelib.storage.dynamodb import batch_get, query_all, set_or_remove

ONLINE_SHARDS = 8  # partitions of the sparse `online` index, so that connects never crowd one index partition
CONNECTIONS_VERSION = "connections_version"  # bumped by every write to a user's map, for conditional rewrites
PRESENCE_PROJECTION = "user_id, connections, #version, online_shard, last_seen"
PRIVACY_PROJECTION = "settings.last_seen, blocked, deleted"  # who may see a user's presence
PRESENCE_WRITE_ATTEMPTS = 5


class DynamoUserStore:
    def __init__(self, resource, connections_table: str, users_table: str, lifetime: int):
        self._resource = resource
        self._client = resource.meta.client
        self._connections = resource.Table(connections_table)
        self._users = resource.Table(users_table)
        self._users_name = users_table
        self._lifetime = lifetime
        self.online_shards = ONLINE_SHARDS

    def register(self, user_id: str) -> None:
        self._users.update_item(Key={"user_id": user_id},
                                UpdateExpression="SET connections = if_not_exists(connections, :none)",
                                ExpressionAttributeValues={":none": {}})

    def existing(self, user_ids: Iterable[str]) -> set[str]:
        keys = [{"user_id": user_id} for user_id in dict.fromkeys(user_ids)]
        items = batch_get(self._resource, self._users_name, keys, "user_id, deleted")
        return {item["user_id"] for item in items if not item.get("deleted")}

    def add_connection(self, connection: Connection, signed_in_at: int | None = None) -> tuple[bool, list[Connection]]:
        self._connections.put_item(Item={
            "connection_id": connection.connection_id, "user_id": connection.user_id,
            "device": connection.device, "endpoint": connection.endpoint,
            "connected_at": connection.connected_at, "expires_at": connection.connected_at + self._lifetime})
        try:
            old = self._put_in_map(connection, signed_in_at)
        except self._client.exceptions.ConditionalCheckFailedException:
            self._connections.delete_item(Key={"connection_id": connection.connection_id})
            raise Unauthorized("this token was signed out (logout_all); log in again") from None
        others = _presence_from_item({"user_id": connection.user_id, **old}).connections
        return "online_shard" not in old, [c for c in others if c.connection_id != connection.connection_id]

    def refresh_connection(self, connection: Connection) -> bool:
        try:
            self._users.update_item(Key={"user_id": connection.user_id},
                                    UpdateExpression="SET connections.#id.seen_at = :seen, connections.#id.#window = "
                                                     ":window ADD #version :one",
                                    ConditionExpression="attribute_exists(connections.#id)",
                                    ExpressionAttributeNames={"#id": connection.connection_id, "#window": "window",
                                                              "#version": CONNECTIONS_VERSION},
                                    ExpressionAttributeValues={":seen": connection.seen_at,
                                                               ":window": connection.window, ":one": 1})
            return False  # a socket in the map means its user is marked online
        except self._client.exceptions.ConditionalCheckFailedException:
            if self.connection(connection.connection_id) is None:
                return False  # closed meanwhile: $disconnect has removed it
            return "online_shard" not in self._put_in_map(connection)  # the sweep dropped it, yet it is alive

    def _put_in_map(self, connection: Connection, signed_in_at: int | None = None) -> dict:
        """Put the socket in its user's map and mark the user online; answers the user's item as it was. With
        `signed_in_at` (its token's `iat`), only if the user has not signed out everywhere since."""
        entry = {"device": connection.device, "endpoint": connection.endpoint,
                 "connected_at": connection.connected_at, "seen_at": connection.seen_at, "window": connection.window}
        names = {"#version": CONNECTIONS_VERSION}
        values: dict = {":shard": online_shard(connection.user_id), ":one": 1}
        key = {"user_id": connection.user_id}
        condition = {}
        if signed_in_at is not None:
            condition = {"ConditionExpression": "attribute_not_exists(signed_out_at) OR signed_out_at < :signed_in"}
            values[":signed_in"] = signed_in_at
        try:
            old = self._users.update_item(
                Key=key, UpdateExpression="SET connections.#id = :entry, online_shard = :shard ADD #version :one",
                ExpressionAttributeNames={**names, "#id": connection.connection_id},
                ExpressionAttributeValues={**values, ":entry": entry}, ReturnValues="ALL_OLD", **condition)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ValidationException":
                raise
            # First socket of a user without a connections map yet.
            old = self._users.update_item(
                Key=key, UpdateExpression="SET connections = :map, online_shard = :shard ADD #version :one",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":map": {connection.connection_id: entry}},
                ReturnValues="ALL_OLD", **condition)
        return old.get("Attributes", {})

    def sign_out(self, user_id: str, at: int) -> list[Connection]:
        item = self._users.update_item(Key={"user_id": user_id}, UpdateExpression="SET signed_out_at = :at",
                                       ExpressionAttributeValues={":at": at}, ReturnValues="ALL_NEW")["Attributes"]
        return list(_presence_from_item(item).connections)

    def signed_out_at(self, user_id: str) -> int | None:
        item = self._users.get_item(Key={"user_id": user_id}, ProjectionExpression="signed_out_at",
                                    ConsistentRead=True).get("Item") or {}
        return int(item["signed_out_at"]) if "signed_out_at" in item else None

    def mark_deleted(self, user_id: str) -> None:
        self._users.update_item(Key={"user_id": user_id},
                                UpdateExpression="SET deleted = :yes REMOVE settings, profile, blocked",
                                ExpressionAttributeValues={":yes": True})

    def deleted(self, user_id: str) -> bool:
        item = self._users.get_item(Key={"user_id": user_id}, ProjectionExpression="deleted",
                                    ConsistentRead=True).get("Item") or {}
        return bool(item.get("deleted"))

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

    def reach_of(self, user_ids: Iterable[str]) -> dict[str, Reach]:
        keys = [{"user_id": user_id} for user_id in dict.fromkeys(user_ids)]
        found: dict[str, Reach] = {}
        oldest_alive = int(clock.now()) - self._lifetime
        for item in batch_get(self._resource, self._users_name, keys,
                              "user_id, connections, devices, settings.push_previews, blocked"):
            found[item["user_id"]] = Reach(
                connections=[connection for connection in _presence_from_item(item).connections
                             if connection.connected_at > oldest_alive],
                devices=_devices_from_item(item), previews=item.get("settings", {}).get("push_previews", True),
                blocked=frozenset(item.get("blocked", ())))
        return found

    def devices(self, user_id: str) -> list[Device]:
        item = self._users.get_item(Key={"user_id": user_id}, ProjectionExpression="devices",
                                    ConsistentRead=True).get("Item") or {}
        return list(_devices_from_item(item))

    def put_device(self, user_id: str, device: Device) -> Device | None:
        entry = {"platform": device.platform, "endpoint": device.endpoint}
        key = {"user_id": user_id}
        try:
            old = self._users.update_item(Key=key, UpdateExpression="SET devices.#d = :entry",
                                          ExpressionAttributeNames={"#d": device.device},
                                          ExpressionAttributeValues={":entry": entry}, ReturnValues="UPDATED_OLD")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ValidationException":
                raise
            old = self._users.update_item(  # the user's first device: make the map
                Key=key, UpdateExpression="SET devices = :map",
                ExpressionAttributeValues={":map": {device.device: entry}}, ReturnValues="UPDATED_OLD")
        replaced = old.get("Attributes", {}).get("devices", {}).get(device.device)
        return Device(device.device, replaced["platform"], replaced["endpoint"]) if replaced else None

    def remove_device(self, user_id: str, device_id: str, endpoint: str | None = None) -> Device | None:
        condition = "devices.#d.endpoint = :endpoint" if endpoint else "attribute_exists(devices.#d)"
        try:
            old = self._users.update_item(
                Key={"user_id": user_id}, UpdateExpression="REMOVE devices.#d", ConditionExpression=condition,
                ExpressionAttributeNames={"#d": device_id}, ReturnValues="UPDATED_OLD",
                **({"ExpressionAttributeValues": {":endpoint": endpoint}} if endpoint else {}))
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        removed = old["Attributes"]["devices"][device_id]
        return Device(device_id, removed["platform"], removed["endpoint"])

    def settings(self, user_id: str) -> dict:
        item = self._users.get_item(Key={"user_id": user_id}, ProjectionExpression="settings",
                                    ConsistentRead=True).get("Item") or {}
        return item.get("settings", {})

    def update_settings(self, user_id: str, changes: dict) -> dict:
        return self._update_map(user_id, "settings", changes)

    def update_profile(self, user_id: str, changes: dict) -> dict:
        return self._update_map(user_id, "profile", changes)

    def _update_map(self, user_id: str, attribute: str, changes: dict) -> dict:
        """Set (or, for None, remove) entries of a map attribute of the users item; answers the map."""
        key = {"user_id": user_id}
        update, names, values = set_or_remove(changes, under=attribute)
        try:
            item = self._users.update_item(Key=key, UpdateExpression=update, ExpressionAttributeNames=names,
                                           ReturnValues="ALL_NEW", **({"ExpressionAttributeValues": values}
                                                                      if values else {}))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ValidationException":
                raise
            first = {name: value for name, value in changes.items() if value is not None}
            item = self._users.update_item(  # the map's first entries: make it, keeping one made meanwhile
                Key=key, UpdateExpression="SET #map = if_not_exists(#map, :first)",
                ExpressionAttributeNames={"#map": attribute}, ExpressionAttributeValues={":first": first},
                ReturnValues="ALL_NEW")
            if not first.items() <= item["Attributes"][attribute].items():
                return self._update_map(user_id, attribute, changes)
        return item["Attributes"].get(attribute, {})

    def people(self, user_ids: Iterable[str]) -> dict[str, Person]:
        keys = [{"user_id": user_id} for user_id in dict.fromkeys(user_ids)]
        return {item["user_id"]: Person(item["user_id"], item.get("profile", {}), item.get("settings", {}),
                                        frozenset(item.get("blocked", ())), bool(item.get("deleted")))
                for item in batch_get(self._resource, self._users_name, keys,
                                      "user_id, profile, settings, blocked, deleted")}

    def block(self, user_id: str, other_id: str) -> None:
        self._users.update_item(Key={"user_id": user_id}, UpdateExpression="ADD blocked :other",
                                ExpressionAttributeValues={":other": {other_id}})

    def unblock(self, user_id: str, other_id: str) -> None:
        self._users.update_item(Key={"user_id": user_id}, UpdateExpression="DELETE blocked :other",
                                ExpressionAttributeValues={":other": {other_id}})

    def presence_of(self, user_ids: Iterable[str]) -> dict[str, UserPresence]:
        keys = [{"user_id": user_id} for user_id in dict.fromkeys(user_ids)]
        items = batch_get(self._resource, self._users_name, keys,
                          f"user_id, connections, last_seen, {PRIVACY_PROJECTION}")
        return {item["user_id"]: _presence_from_item(item) for item in items}

    def presence_now(self, user_id: str) -> UserPresence | None:
        item = self._users.get_item(Key={"user_id": user_id}, ConsistentRead=True,
                                    ProjectionExpression=f"user_id, connections, last_seen, {PRIVACY_PROJECTION}"
                                    ).get("Item")
        return _presence_from_item(item) if item else None

    def expire_stale_connections(self, shard: int) -> list[UserPresence]:
        """Query one shard of the sparse `online` index, then read those users' maps in batches of 100.

        A write that loses to a concurrent heartbeat, connect or disconnect is skipped: that one has seen to the
        user, or the next sweep will.
        """
        offline = []
        keys = [{"user_id": item["user_id"]} for item in query_all(
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


def online_shard(user_id: str) -> int:
    return zlib.crc32(user_id.encode()) % ONLINE_SHARDS


def _presence_from_item(item: dict) -> UserPresence:
    user_id = item["user_id"]
    connections = tuple(
        Connection(connection_id=connection_id, user_id=user_id, device=entry["device"], endpoint=entry["endpoint"],
                   connected_at=int(entry["connected_at"]), seen_at=int(entry["seen_at"]),
                   window=int(entry.get("window", ONLINE_WINDOW)))
        for connection_id, entry in item.get("connections", {}).items())
    return UserPresence(user_id, connections, int(item["last_seen"]) if "last_seen" in item else None,
                        "nobody" if item.get("deleted") else item.get("settings", {}).get("last_seen", "everyone"),
                        frozenset(item.get("blocked", ())))


def _devices_from_item(item: dict) -> tuple[Device, ...]:
    return tuple(Device(device_id, entry["platform"], entry["endpoint"])
                 for device_id, entry in sorted(item.get("devices", {}).items()))
