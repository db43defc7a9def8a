"""In-memory twins of the storage and delivery interfaces, for the logic's unit tests."""
import copy
import shutil
import threading
from collections.abc import Iterable
from dataclasses import replace

from chalicelib import clock
from chalicelib.errors import BadRequest, Forbidden, NotFound, Unauthorized
from chalicelib.model import (
    CLAIM_TTL,
    CONNECTION_LIFETIME,
    Chat,
    ChatHead,
    Connection,
    Cursors,
    Deletion,
    Device,
    DirectState,
    Media,
    Member,
    Membership,
    Message,
    Person,
    Reach,
    Reservation,
    UserPresence,
    cursor_shard,
    epoch_from_iso,
    now_iso,
)
from chalicelib.sns_notifier import EndpointGone
from chalicelib.storage import Stores
from chalicelib.storage.dynamodb.users import ONLINE_SHARDS, online_shard


class InMemoryUserStore:
    def __init__(self):
        self.users: dict[str, dict[str, Connection]] = {}
        self.by_id: dict[str, Connection] = {}
        self.marked_online: set[str] = set()
        self.last_seen: dict[str, int] = {}
        self.signed_out: dict[str, int] = {}
        self.deleted_users: set[str] = set()
        self.devices_by_user: dict[str, dict[str, Device]] = {}
        self.user_settings: dict[str, dict] = {}
        self.profiles: dict[str, dict] = {}
        self.blocks: dict[str, set[str]] = {}
        self.online_shards = ONLINE_SHARDS

    def register(self, user_id: str) -> None:
        self.users.setdefault(user_id, {})

    def existing(self, user_ids: Iterable[str]) -> set[str]:
        return {user_id for user_id in user_ids if user_id in self.users and user_id not in self.deleted_users}

    def add_connection(self, connection: Connection, signed_in_at: int | None = None) -> tuple[bool, list[Connection]]:
        signed_out = self.signed_out.get(connection.user_id)
        if signed_in_at is not None and signed_out is not None and signed_in_at <= signed_out:
            raise Unauthorized("this token was signed out (logout_all); log in again")
        self.by_id[connection.connection_id] = connection
        others = [c for c in self.users.get(connection.user_id, {}).values()
                  if c.connection_id != connection.connection_id]
        return self._put_in_map(connection), others

    def refresh_connection(self, connection: Connection) -> bool:
        sockets = self.users.setdefault(connection.user_id, {})
        if connection.connection_id in sockets:
            sockets[connection.connection_id] = replace(sockets[connection.connection_id], seen_at=connection.seen_at,
                                                        window=connection.window)
            return False
        return connection.connection_id in self.by_id and self._put_in_map(connection)

    def _put_in_map(self, connection: Connection) -> bool:
        self.users.setdefault(connection.user_id, {})[connection.connection_id] = connection
        was_marked = connection.user_id in self.marked_online
        self.marked_online.add(connection.user_id)
        return not was_marked

    def connection(self, connection_id: str) -> Connection | None:
        return self.by_id.get(connection_id)

    def sign_out(self, user_id: str, at: int) -> list[Connection]:
        self.signed_out[user_id] = at
        return list(self.users.get(user_id, {}).values())

    def signed_out_at(self, user_id: str) -> int | None:
        return self.signed_out.get(user_id)

    def mark_deleted(self, user_id: str) -> None:
        self.deleted_users.add(user_id)
        for kept in (self.user_settings, self.profiles, self.blocks):
            kept.pop(user_id, None)

    def deleted(self, user_id: str) -> bool:
        return user_id in self.deleted_users

    def remove_connection(self, connection: Connection) -> UserPresence | None:
        self.by_id.pop(connection.connection_id, None)
        user_id, now = connection.user_id, clock.now()
        before = self._presence(user_id)
        leaving = self.users.get(user_id, {}).pop(connection.connection_id, None)
        if user_id not in self.marked_online or self._presence(user_id).is_online(now):
            return None
        return self._take_offline(user_id, int(now) if leaving and leaving.is_fresh(now) else before.seen_last())

    def _take_offline(self, user_id: str, last_seen: int | None) -> UserPresence:
        self.users[user_id].clear()
        self.marked_online.discard(user_id)
        if last_seen is not None:
            self.last_seen[user_id] = last_seen
        return UserPresence(user_id, last_seen=last_seen)

    def reach_of(self, user_ids: Iterable[str]) -> dict[str, Reach]:
        oldest_alive = clock.now() - CONNECTION_LIFETIME
        return {user_id: Reach([c for c in self.users[user_id].values() if c.connected_at > oldest_alive],
                               tuple(sorted(self.devices_by_user.get(user_id, {}).values(), key=lambda d: d.device)),
                               self.user_settings.get(user_id, {}).get("push_previews", True),
                               frozenset(self.blocks.get(user_id, set())))
                for user_id in user_ids if user_id in self.users}

    def devices(self, user_id: str) -> list[Device]:
        return sorted(self.devices_by_user.get(user_id, {}).values(), key=lambda d: d.device)

    def put_device(self, user_id: str, device: Device) -> Device | None:
        replaced = self.devices_by_user.setdefault(user_id, {}).get(device.device)
        self.devices_by_user[user_id][device.device] = device
        return replaced

    def remove_device(self, user_id: str, device_id: str, endpoint: str | None = None) -> Device | None:
        device = self.devices_by_user.get(user_id, {}).get(device_id)
        if device is None or (endpoint is not None and device.endpoint != endpoint):
            return None
        return self.devices_by_user[user_id].pop(device_id)

    def settings(self, user_id: str) -> dict:
        return dict(self.user_settings.get(user_id, {}))

    def update_settings(self, user_id: str, changes: dict) -> dict:
        self.user_settings.setdefault(user_id, {}).update(changes)
        return self.settings(user_id)

    def update_profile(self, user_id: str, changes: dict) -> dict:
        profile = self.profiles.setdefault(user_id, {})
        for name, value in changes.items():
            if value is None:
                profile.pop(name, None)
            else:
                profile[name] = value
        return dict(profile)

    def people(self, user_ids: Iterable[str]) -> dict[str, Person]:
        return {user_id: Person(user_id, dict(self.profiles.get(user_id, {})), self.settings(user_id),
                                frozenset(self.blocks.get(user_id, set())), user_id in self.deleted_users)
                for user_id in user_ids if user_id in self.users}

    def block(self, user_id: str, other_id: str) -> None:
        self.blocks.setdefault(user_id, set()).add(other_id)

    def unblock(self, user_id: str, other_id: str) -> None:
        self.blocks.get(user_id, set()).discard(other_id)

    def presence_of(self, user_ids: Iterable[str]) -> dict[str, UserPresence]:
        return {user_id: self._presence(user_id) for user_id in user_ids if user_id in self.users}

    def _presence(self, user_id: str) -> UserPresence:
        return UserPresence(user_id, tuple(self.users.get(user_id, {}).values()), self.last_seen.get(user_id),
                            "nobody" if user_id in self.deleted_users
                            else self.user_settings.get(user_id, {}).get("last_seen", "everyone"),
                            frozenset(self.blocks.get(user_id, set())))

    def presence_now(self, user_id: str) -> UserPresence | None:
        return self._presence(user_id) if user_id in self.users else None

    def expire_stale_connections(self, shard: int) -> list[UserPresence]:
        now, offline = clock.now(), []
        for user_id in sorted(u for u in self.marked_online if online_shard(u) == shard):
            presence = self._presence(user_id)
            if not presence.is_online(now):
                offline.append(self._take_offline(user_id, presence.seen_last()))
            for stale in [c for c in presence.connections if not c.is_fresh(now)]:
                self.users[user_id].pop(stale.connection_id, None)
        return offline


class InMemoryChats:
    """The state the chat, message and receipt twins share, as their DynamoDB stores share items: heads (with a
    direct chat's cursors), member lists, messages, claims, cursor shards and floors."""

    def __init__(self):
        self.lock = threading.RLock()
        self.heads: dict[str, dict] = {}
        self.members: dict[str, dict[str, Member]] = {}
        self.messages: dict[str, dict[int, Message]] = {}
        self.claims: dict[tuple[str, str, str], float] = {}
        self.shards: dict[tuple[str, int], dict[str, Cursors]] = {}
        self.floors: dict[str, dict[str, dict[int, int]]] = {}
        self.folds: dict[tuple[str, int], dict] = {}  # what a message item keeps of the relations folded into it
        self.hidden: dict[tuple[str, str], set[int]] = {}
        self.mutes: dict[str, dict[str, int]] = {}
        self.invites: dict[str, tuple[str, int]] = {}


class InMemoryChatStore:
    def __init__(self, state: InMemoryChats):
        self.state = state

    def create(self, chat: Chat) -> tuple[Chat, bool]:
        with self.state.lock:
            if chat.chat_id in self.state.heads:
                return self.get(chat.chat_id) or chat, False
            head = {"kind": chat.kind, "name": chat.name, "created_at": chat.created_at, "last_seq": chat.last_seq,
                    "members_version": 0, "member_count": len(chat.members)}
            if chat.kind == "direct":
                head["direct"] = DirectState({m.user_id: Cursors() for m in chat.members},
                                             {m.user_id: 0 for m in chat.members})
            self.state.heads[chat.chat_id] = head
            self.state.members[chat.chat_id] = {m.user_id: copy.deepcopy(m) for m in chat.members}
            self.state.messages[chat.chat_id] = {}
            return chat, True

    def get(self, chat_id: str) -> Chat | None:
        with self.state.lock:
            head = self.state.heads.get(chat_id)
            if head is None:
                return None
            return Chat(chat_id, head["kind"], head["created_at"], head["last_seq"], head["name"],
                        self._member_list(chat_id), head["members_version"], head.get("disappear_after"),
                        head.get("description"), head.get("avatar_media_id"), dict(head.get("settings", {})))

    def _member_list(self, chat_id: str) -> list[Member]:
        members = copy.deepcopy(list(self.state.members[chat_id].values()))
        if self.state.heads[chat_id]["kind"] == "direct":
            return sorted(members, key=lambda m: m.user_id)
        return sorted(members, key=lambda m: (m.joined_seq, m.role != "admin", m.user_id))

    def head(self, chat_id: str) -> ChatHead | None:
        return self.heads([chat_id]).get(chat_id)

    def membership(self, user_id: str, chat_id: str) -> Membership | None:
        with self.state.lock:
            member = self.state.members.get(chat_id, {}).get(user_id)
            if member is None:
                return None
            return Membership(chat_id, self.state.heads[chat_id]["kind"], member.role, member.joined_seq)

    def memberships(self, user_id: str) -> list[Membership]:
        with self.state.lock:
            return [Membership(chat_id, chat_id.partition(":")[0], joined_seq=members[user_id].joined_seq)
                    for chat_id, members in self.state.members.items() if user_id in members]

    def memberships_page(self, user_id: str, after: str, limit: int) -> list[Membership]:
        return sorted((m for m in self.memberships(user_id) if m.chat_id > after), key=lambda m: m.chat_id)[:limit]

    def memberships_in(self, user_id: str, chat_ids: Iterable[str]) -> dict[str, Membership]:
        return {chat_id: membership for chat_id in chat_ids
                if (membership := self.membership(user_id, chat_id)) is not None}

    def heads(self, chat_ids: Iterable[str]) -> dict[str, ChatHead]:
        with self.state.lock:
            return {chat_id: ChatHead(chat_id, head["kind"], head["last_seq"], head["name"],
                                      head["member_count"], head["members_version"],
                                      copy.deepcopy(head.get("direct")), head.get("disappear_after"),
                                      head.get("reserved_at"))
                    for chat_id in chat_ids if (head := self.state.heads.get(chat_id))}

    def members(self, chat_id: str) -> tuple[int, list[Member]]:
        with self.state.lock:
            if chat_id not in self.state.heads:
                return 0, []
            return self.state.heads[chat_id]["members_version"], self._member_list(chat_id)

    def reserve_seats(self, chat_id: str, count: int, limit: int) -> bool:
        with self.state.lock:
            head = self.state.heads[chat_id]
            if head["member_count"] + count > limit:
                return False
            head["member_count"] += count
            return True

    def add_members(self, chat_id: str, members: list[Member]) -> None:
        with self.state.lock:
            self.state.members[chat_id].update({m.user_id: copy.deepcopy(m) for m in members})
            self.state.heads[chat_id]["members_version"] += 1

    def remove_members(self, chat_id: str, user_ids: list[str]) -> None:
        with self.state.lock:
            for user_id in user_ids:
                self.state.members[chat_id].pop(user_id, None)
            self.state.heads[chat_id]["members_version"] += 1
            self.state.heads[chat_id]["member_count"] -= len(user_ids)

    def set_role(self, chat_id: str, user_id: str, role: str) -> None:
        with self.state.lock:
            self.state.members[chat_id][user_id].role = role
            self.state.heads[chat_id]["members_version"] += 1

    def update_info(self, chat_id: str, changes: dict) -> None:
        with self.state.lock:
            head = self.state.heads[chat_id]
            for name, value in changes.items():
                if value is None:
                    head.pop(name, None)
                else:
                    head[name] = copy.deepcopy(value)

    def put_invite(self, token: str, chat_id: str, expires_at: int) -> None:
        self.state.invites[token] = (chat_id, expires_at)

    def invite(self, token: str) -> tuple[str, int] | None:
        return self.state.invites.get(token)

    def delete_invite(self, token: str, chat_id: str) -> bool:
        with self.state.lock:
            if self.state.invites.get(token, ("",))[0] != chat_id:
                return False
            del self.state.invites[token]
            return True

    def mute(self, user_id: str, chat_id: str, until: int | None) -> None:
        with self.state.lock:
            if until is None:
                self.state.mutes.get(user_id, {}).pop(chat_id, None)
            else:
                self.state.mutes.setdefault(user_id, {})[chat_id] = until

    def mutes(self, user_id: str) -> dict[str, int]:
        return dict(self.state.mutes.get(user_id, {}))

    def muted_in(self, user_ids: Iterable[str], chat_id: str) -> dict[str, int]:
        return {user_id: self.state.mutes[user_id][chat_id] for user_id in user_ids
                if chat_id in self.state.mutes.get(user_id, {})}


class InMemoryMessageStore:
    def __init__(self, state: InMemoryChats):
        self.state = state

    def claim(self, chat_id: str, sender_id: str, client_msg_id: str) -> float | None:
        with self.state.lock:
            earlier = self.state.claims.get((chat_id, sender_id, client_msg_id))
            if earlier is not None and earlier < clock.now() - CLAIM_TTL:
                earlier = None
            if earlier is None:
                self.state.claims[(chat_id, sender_id, client_msg_id)] = clock.now()
            return earlier

    def release(self, chat_id: str, sender_id: str, client_msg_id: str) -> None:
        with self.state.lock:
            self.state.claims.pop((chat_id, sender_id, client_msg_id), None)

    def take_over(self, chat_id: str, sender_id: str, client_msg_id: str, claimed_at: float) -> bool:
        with self.state.lock:
            if self.state.claims.get((chat_id, sender_id, client_msg_id)) != claimed_at:
                return False
            self.state.claims[(chat_id, sender_id, client_msg_id)] = clock.now()
            return True

    def reserve(self, chat_id: str, sender_id: str | None, direct: bool, sender_is_admin: bool = True) \
            -> Reservation | None:
        with self.state.lock:
            head = self.state.heads.get(chat_id)
            if head is None:
                return None
            if not sender_is_admin and head.get("settings", {}).get("send") == "admins":
                raise Forbidden("only admins may send in this group")
            before = copy.deepcopy(head.get("direct"))
            head["last_seq"] += 1
            head["reserved_at"] = int(clock.now())
            seq = head["last_seq"]
            if direct and sender_id:
                head["direct"].cursors[sender_id] = Cursors(seq, seq)
                head["direct"].last_sent[sender_id] = seq
            return Reservation(seq, head["members_version"], before if direct else None, head.get("disappear_after"))

    def write(self, message: Message) -> bool:
        with self.state.lock:
            stored = self.state.messages[message.chat_id].setdefault(message.seq, message)
            return stored.message_id == message.message_id

    def find_sent(self, chat_id: str, sender_id: str, client_msg_id: str, since: float) -> Message | None:
        with self.state.lock:
            return next((m for m in self.state.messages.get(chat_id, {}).values()
                         if m.sender_id == sender_id and m.client_msg_id == client_msg_id), None)

    def fill_gap(self, chat_id: str, seq: int) -> Message:
        gap = Message(chat_id, seq, f"gap-{seq}", "", "system", now_iso())
        with self.state.lock:
            return self.state.messages[chat_id].setdefault(seq, gap)

    def messages_after(self, chat_id: str, after: int, limit: int) -> list[Message]:
        with self.state.lock:
            return [m for seq, m in sorted(self.state.messages[chat_id].items()) if seq > after][:limit]

    def messages_before(self, chat_id: str, before: int, limit: int) -> list[Message]:
        with self.state.lock:
            older = [m for seq, m in sorted(self.state.messages[chat_id].items()) if seq < before]
            return older[-limit:] if limit else []

    def senders_between(self, chat_id: str, low: int, high: int) -> set[str]:
        with self.state.lock:
            return {m.sender_id for seq, m in self.state.messages[chat_id].items() if low < seq <= high}

    def get(self, chat_id: str, seq: int) -> Message | None:
        with self.state.lock:
            return self.state.messages.get(chat_id, {}).get(seq)

    def _folds(self, chat_id: str, seq: int) -> dict:
        return self.state.folds.setdefault((chat_id, seq), {"edit_seq": 0, "edits": set(), "replies": set(),
                                                            "reactions": {}})

    def _change(self, chat_id: str, seq: int, **changes) -> None:
        self.state.messages[chat_id][seq] = replace(self.state.messages[chat_id][seq], **changes)

    def edit(self, chat_id: str, seq: int, text: str, edited_at: str, edit_seq: int) -> None:
        with self.state.lock:
            target, folds = self.get(chat_id, seq), self._folds(chat_id, seq)
            if target is not None and not target.deleted and folds["edit_seq"] < edit_seq:
                folds["edit_seq"] = edit_seq
                folds["edits"].add(edit_seq)
                self._change(chat_id, seq, text=text, edited_at=edited_at)

    def react(self, chat_id: str, seq: int, user_id: str, emoji: str, reaction_seq: int) -> None:
        with self.state.lock:
            target, reactions = self.get(chat_id, seq), self._folds(chat_id, seq)["reactions"]
            if target is None or target.deleted or reactions.get(user_id, ("", 0))[1] >= reaction_seq:
                return
            reactions[user_id] = (emoji, reaction_seq)
            shown: dict[str, list[str]] = {}
            for user, (chosen, _) in sorted(reactions.items(), key=lambda entry: entry[1][1]):
                if chosen:
                    shown.setdefault(chosen, []).append(user)
            self._change(chat_id, seq, reactions=shown or None)

    def delete(self, chat_id: str, seq: int) -> Deletion | None:
        with self.state.lock:
            target = self.get(chat_id, seq)
            if target is None or target.deleted:
                return None
            self._change(chat_id, seq, deleted=True, text=None, media_id=None)
            folds = self._folds(chat_id, seq)
            return Deletion(target, frozenset(folds["edits"]), frozenset(folds["replies"]))

    def note_reply(self, chat_id: str, seq: int, reply_seq: int) -> bool:
        with self.state.lock:
            self._folds(chat_id, seq)["replies"].add(reply_seq)
            return self.state.messages[chat_id][seq].deleted

    def forget_texts(self, chat_id: str, edit_seqs: Iterable[int], reply_seqs: Iterable[int]) -> None:
        with self.state.lock:
            for seq in edit_seqs:
                self._change(chat_id, seq, text=None)
            for seq in reply_seqs:
                quote = {k: v for k, v in (self.state.messages[chat_id][seq].quote or {}).items() if k != "text"}
                self._change(chat_id, seq, quote=quote)

    def expiring(self, hour: int, until: int) -> list[tuple[str, int]]:
        with self.state.lock:
            return [(m.chat_id, m.seq) for chat in self.state.messages.values() for m in chat.values()
                    if m.expires_at and not m.deleted and int(epoch_from_iso(m.expires_at)) // 3600 == hour
                    and epoch_from_iso(m.expires_at) <= until]

    def hide(self, chat_id: str, user_id: str, seqs: Iterable[int]) -> None:
        with self.state.lock:
            self.state.hidden.setdefault((chat_id, user_id), set()).update(seqs)

    def hidden(self, user_id: str, chat_ids: Iterable[str]) -> dict[str, set[int]]:
        with self.state.lock:
            return {chat_id: set(self.state.hidden[(chat_id, user_id)]) for chat_id in chat_ids
                    if (chat_id, user_id) in self.state.hidden}


class InMemoryReceiptStore:
    def __init__(self, state: InMemoryChats):
        self.state = state

    def raise_direct(self, chat_id: str, user_id: str, status: str, seq: int) -> DirectState | None:
        with self.state.lock:
            head = self.state.heads.get(chat_id)
            if head is None:
                raise NotFound(f"no chat {chat_id!r}")
            if seq > head["last_seq"]:
                raise BadRequest(f"seq {seq} is beyond the chat's last seq {head['last_seq']}")
            before = copy.deepcopy(head["direct"])
            old = before.cursors[user_id]
            if old.of(status) >= seq:
                return None
            head["direct"].cursors[user_id] = old.raised(status, seq)
            return before

    def raise_in_shard(self, chat_id: str, shard: int, user_id: str, status: str, seq: int) \
            -> dict[str, Cursors] | None:
        with self.state.lock:
            cursors = self.state.shards.get((chat_id, shard), {})
            if user_id not in cursors:
                raise Forbidden("you are not a member of this chat")
            before = dict(cursors)
            if cursors[user_id].of(status) >= seq:
                return None
            cursors[user_id] = cursors[user_id].raised(status, seq)
            return before

    def seat(self, chat_id: str, shard: int, cursors: dict[str, Cursors]) -> dict[str, Cursors]:
        with self.state.lock:
            stored = self.state.shards.setdefault((chat_id, shard), {})
            before = dict(stored)
            stored.update(cursors)
            return before

    def unseat(self, chat_id: str, shard: int, user_ids: list[str]) -> dict[str, Cursors]:
        with self.state.lock:
            stored = self.state.shards.setdefault((chat_id, shard), {})
            before = dict(stored)
            for user_id in user_ids:
                stored.pop(user_id, None)
            return before

    def shard(self, chat_id: str, shard: int) -> dict[str, Cursors]:
        with self.state.lock:
            return dict(self.state.shards.get((chat_id, shard), {}))

    def cursors_in(self, user_id: str, chat_ids: Iterable[str]) -> dict[str, Cursors]:
        return {chat_id: cursors for chat_id in chat_ids
                if (cursors := self.shard(chat_id, cursor_shard(user_id)).get(user_id)) is not None}

    def shards(self, chat_id: str) -> dict[int, dict[str, Cursors]]:
        with self.state.lock:
            return {shard: dict(cursors) for (chat, shard), cursors in self.state.shards.items() if chat == chat_id}

    def set_shard_floor(self, chat_id: str, status: str, shard: int, floor: int | None) -> dict[int, int] | None:
        with self.state.lock:
            floors = self.state.floors.setdefault(chat_id, {"delivered": {}, "read": {}})[status]
            before = dict(floors)
            if floor is None:
                if shard not in floors:
                    return None
                del floors[shard]
            elif shard in floors and floors[shard] >= floor:
                return None
            else:
                floors[shard] = floor
            return before

    def floors(self, chat_id: str) -> dict[str, dict[int, int]]:
        with self.state.lock:
            return copy.deepcopy(self.state.floors.get(chat_id, {"delivered": {}, "read": {}}))


class RecordingPusher:
    """Keeps what would have been pushed, per connection id; connections in `gone` answer 410."""

    def __init__(self):
        self.frames: dict[str, list[dict]] = {}
        self.gone: set[str] = set()

    def push(self, frames_by_connection: dict[Connection, list[dict]]) -> list[Connection]:
        for connection, frames in frames_by_connection.items():
            if connection.connection_id not in self.gone:
                self.frames.setdefault(connection.connection_id, []).extend(frames)
        return [c for c in frames_by_connection if c.connection_id in self.gone]

    def close(self, endpoint: str, connection_id: str) -> None:
        self.gone.add(connection_id)

    def of_type(self, connection_id: str, kind: str) -> list[dict]:
        return [frame for frame in self.frames.get(connection_id, []) if frame["type"] == kind]


class RecordingNotifier:
    """SNS mobile push in memory: endpoints by token, what each publish carried, endpoints in `disabled` refused."""

    def __init__(self, platforms: Iterable[str] = ("apns", "fcm")):
        self.platforms = frozenset(platforms)
        self.endpoints: dict[str, dict] = {}  # arn -> {"token", "owner"}
        self.published: list[tuple[Device, dict]] = []
        self.disabled: set[str] = set()

    def register(self, platform: str, token: str, user_id: str, device_id: str) -> tuple[str, dict | None]:
        owner = {"user_id": user_id, "device": device_id}
        arn = next((arn for arn, e in self.endpoints.items() if e["token"] == token), f"arn:{platform}:{token}")
        previous = self.endpoints.get(arn, {}).get("owner")
        self.endpoints[arn] = {"token": token, "owner": owner}
        self.disabled.discard(arn)
        return arn, previous if previous not in (None, owner) else None

    def delete(self, endpoint: str) -> None:
        self.endpoints.pop(endpoint, None)

    def publish(self, device: Device, payload: dict) -> None:
        if device.endpoint in self.disabled or device.endpoint not in self.endpoints:
            raise EndpointGone(device.endpoint)
        self.published.append((device, payload))

    def to(self, user_id: str) -> list[dict]:
        """The payloads published to the user's devices, in order, each with the device it went to."""
        return [{"device": d.device, **p} for d, p in self.published
                if self.endpoints.get(d.endpoint, {}).get("owner", {}).get("user_id") == user_id]


class RecordingQueue:
    """Keeps fan-out tasks until a test runs them, as the SQS consumer would."""

    def __init__(self):
        self.tasks: list[dict] = []

    def enqueue(self, tasks: list[dict]) -> None:
        self.tasks.extend(tasks)


class InMemoryMediaStore:
    def __init__(self):
        self.items: dict[str, Media] = {}
        self.forwards: dict[str, int] = {}

    def put(self, media: Media) -> None:
        self.items[media.media_id] = copy.deepcopy(media)

    def get(self, media_id: str) -> Media | None:
        return copy.deepcopy(self.items.get(media_id))

    def get_many(self, media_ids) -> dict[str, Media]:
        return {media_id: self.get(media_id) for media_id in media_ids if media_id in self.items}

    def settle(self, media: Media) -> bool:
        if self.items[media.media_id].status != "pending":
            return False
        self.put(media)
        return True

    def uploaded_by(self, user_id: str) -> list[str]:
        return [media_id for media_id, media in self.items.items() if media.uploader_id == user_id]

    def share(self, media_id: str, chat_id: str) -> None:
        media = self.items[media_id]
        self.items[media_id] = replace(media, shared_with=tuple(sorted({*media.shared_with, chat_id})))
        self.forwards[media_id] = self.forwards.get(media_id, 0) + 1

    def release(self, media_id: str) -> bool:
        if self.forwards.get(media_id, 0) > 0:
            self.forwards[media_id] -= 1
            return False
        return True

    def delete(self, media_id: str) -> None:
        self.items.pop(media_id, None)


class InMemoryBlobs:
    """Blobs as files in a folder; URLs name the key and expiry so tests can tell them apart."""

    def __init__(self, folder):
        self.folder = folder

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self.folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def upload_form(self, key: str, content_type: str, size: int, expires_in: int) -> dict:
        return {"url": "memory://upload", "fields": {"key": key, "Content-Type": content_type}}

    def download(self, key: str, path: str) -> None:
        shutil.copyfile(self.folder / key, path)

    def upload(self, path: str, key: str, content_type: str) -> None:
        self.put_bytes(key, open(path, "rb").read())

    def delete(self, key: str) -> None:
        (self.folder / key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return (self.folder / key).exists()

    def url(self, key: str, expires_in: int, disposition: str | None = None) -> str:
        return f"memory://{key}?expires_in={expires_in}" + (f"&disposition={disposition}" if disposition else "")


class InMemoryExportStore:
    def __init__(self):
        self.exports: dict[tuple[str, str], dict] = {}

    def create(self, user_id: str, export_id: str) -> None:
        self.exports[(user_id, export_id)] = {"status": "pending"}

    def finish(self, user_id: str, export_id: str, key: str) -> None:
        self.exports[(user_id, export_id)] = {"status": "ready", "key": key}

    def get(self, user_id: str, export_id: str) -> dict | None:
        return dict(self.exports[(user_id, export_id)]) if (user_id, export_id) in self.exports else None


class InMemoryCounters:
    def __init__(self):
        self.counts: dict[tuple[str, int], int] = {}

    def count(self, subject: str, window_start: int, limit: int) -> bool:
        key = (subject, window_start)
        if self.counts.get(key, 0) >= limit:
            return False
        self.counts[key] = self.counts.get(key, 0) + 1
        return True


class InMemoryNewsStore:
    def __init__(self):
        self.marks: dict[str, set[tuple[int, str, int]]] = {}
        self.unread: dict[str, dict[str, tuple[int, int]]] = {}

    def mark(self, user_ids: Iterable[str], chat_id: str, seq: int, minute: int, unread_for: Iterable[str] = ()) \
            -> None:
        for user_id in user_ids:
            self.marks.setdefault(user_id, set()).add((minute, chat_id, seq))
        for user_id in unread_for:
            self.unread.setdefault(user_id, {})[chat_id] = (seq, minute)

    def unread_candidates(self, user_id: str) -> dict[str, tuple[int, int]]:
        return dict(self.unread.get(user_id, {}))

    def drop_unread(self, user_id: str, chat_id: str, seq: int, minute: int) -> None:
        if self.unread.get(user_id, {}).get(chat_id) == (seq, minute):
            del self.unread[user_id][chat_id]

    def marked_since(self, user_id: str, minute: int) -> dict[str, int]:
        lowest: dict[str, int] = {}
        for _, chat_id, seq in sorted(mark for mark in self.marks.get(user_id, set()) if mark[0] >= minute):
            lowest[chat_id] = min(seq, lowest.get(chat_id, seq))
        return lowest

    def newest_first(self, user_id: str, minute: int) -> list[str]:
        marks = sorted((mark for mark in self.marks.get(user_id, set()) if mark[0] >= minute), reverse=True)
        return list(dict.fromkeys(chat_id for _, chat_id, _ in marks))


class InMemoryReportStore:
    def __init__(self):
        self.reports: list[dict] = []

    def add(self, report: dict) -> None:
        self.reports.append(copy.deepcopy(report))

    def newest(self, limit: int, before: str | None = None) -> list[dict]:
        ordered = sorted(self.reports, key=lambda r: (r["reported_at"], r["report_id"]), reverse=True)
        return [r for r in ordered if before is None or f"{r['reported_at']}#{r['report_id']}" < before][:limit]


def in_memory_stores(folder) -> Stores:
    """Every store's in-memory twin; blobs as files under `folder`."""
    chats = InMemoryChats()
    return Stores(users=InMemoryUserStore(), chats=InMemoryChatStore(chats), messages=InMemoryMessageStore(chats),
                  news=InMemoryNewsStore(), exports=InMemoryExportStore(), reports=InMemoryReportStore(),
                  receipts=InMemoryReceiptStore(chats), counters=InMemoryCounters(), media=InMemoryMediaStore(),
                  blobs=InMemoryBlobs(folder))

