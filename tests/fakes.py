"""In-memory twins of the storage and delivery interfaces, for the logic's unit tests."""
import copy
import shutil
from dataclasses import replace
from typing import Iterable

from chalicelib import clock
from chalicelib.model import (CONNECTION_LIFETIME, Chat, ChatHead, Connection, Media, Member, Membership, Message,
                              UserPresence, now_iso)


class InMemoryUserStore:
    def __init__(self):
        self.users: dict[str, dict[str, Connection]] = {}
        self.by_id: dict[str, Connection] = {}
        self.marked_online: set[str] = set()
        self.last_seen: dict[str, int] = {}

    def register(self, user_id: str) -> None:
        self.users.setdefault(user_id, {})

    def existing(self, user_ids: Iterable[str]) -> set[str]:
        return {user_id for user_id in user_ids if user_id in self.users}

    def add_connection(self, connection: Connection) -> bool:
        self.by_id[connection.connection_id] = connection
        return self._put_in_map(connection)

    def refresh_connection(self, connection: Connection) -> bool:
        sockets = self.users.setdefault(connection.user_id, {})
        if connection.connection_id in sockets:
            sockets[connection.connection_id] = replace(sockets[connection.connection_id], seen_at=connection.seen_at)
            return False
        return connection.connection_id in self.by_id and self._put_in_map(connection)

    def _put_in_map(self, connection: Connection) -> bool:
        self.users.setdefault(connection.user_id, {})[connection.connection_id] = connection
        was_marked = connection.user_id in self.marked_online
        self.marked_online.add(connection.user_id)
        return not was_marked

    def connection(self, connection_id: str) -> Connection | None:
        return self.by_id.get(connection_id)

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

    def connections_of(self, user_ids: Iterable[str]) -> dict[str, list[Connection]]:
        oldest_alive = clock.now() - CONNECTION_LIFETIME
        return {user_id: [c for c in self.users[user_id].values() if c.connected_at > oldest_alive]
                for user_id in user_ids if user_id in self.users}

    def presence_of(self, user_ids: Iterable[str]) -> dict[str, UserPresence]:
        return {user_id: self._presence(user_id) for user_id in user_ids if user_id in self.users}

    def _presence(self, user_id: str) -> UserPresence:
        return UserPresence(user_id, tuple(self.users.get(user_id, {}).values()), self.last_seen.get(user_id))

    def expire_stale_connections(self) -> list[UserPresence]:
        now, offline = clock.now(), []
        for user_id in sorted(self.marked_online):
            presence = self._presence(user_id)
            if not presence.is_online(now):
                offline.append(self._take_offline(user_id, presence.seen_last()))
            for stale in [c for c in presence.connections if not c.is_fresh(now)]:
                self.users[user_id].pop(stale.connection_id, None)
        return offline


class InMemoryChatStore:
    def __init__(self):
        self.chats: dict[str, Chat] = {}
        self.messages: dict[str, dict[int, Message]] = {}
        self.send_keys: dict[tuple[str, str, str], int] = {}
        self.counts: dict[str, dict[str, dict[int, int]]] = {}

    def create(self, chat: Chat) -> tuple[Chat, bool]:
        if chat.chat_id in self.chats:
            return self.get(chat.chat_id), False
        self.chats[chat.chat_id] = copy.deepcopy(chat)
        self.messages[chat.chat_id] = {}
        self.counts[chat.chat_id] = {status: {0: len(chat.members)} for status in ("delivered", "read")}
        return chat, True

    def get(self, chat_id: str) -> Chat | None:
        return copy.deepcopy(self.chats.get(chat_id))

    def reserve_seats(self, chat_id: str, count: int, limit: int) -> bool:
        return len(self.chats[chat_id].members) + count <= limit

    def add_members(self, chat_id: str, members: list[Member]) -> None:
        self.chats[chat_id].members.extend(copy.deepcopy(members))

    def remove_members(self, chat_id: str, user_ids: list[str]) -> None:
        self.chats[chat_id].members = [m for m in self.chats[chat_id].members if m.user_id not in user_ids]

    def set_role(self, chat_id: str, user_id: str, role: str) -> None:
        self.chats[chat_id].member(user_id).role = role

    def memberships(self, user_id: str) -> list[Membership]:
        return [Membership(chat.chat_id, m.joined_seq, m.delivered_seq, m.read_seq)
                for chat in self.chats.values() for m in chat.members if m.user_id == user_id]

    def heads(self, chat_ids: Iterable[str]) -> dict[str, ChatHead]:
        return {chat_id: ChatHead(chat_id, self.chats[chat_id].kind, self.chats[chat_id].last_seq,
                                  self.chats[chat_id].name, len(self.chats[chat_id].members))
                for chat_id in chat_ids if chat_id in self.chats}

    def member_ids(self, chat_id: str) -> list[str]:
        return self.chats[chat_id].member_ids if chat_id in self.chats else []

    def append(self, chat: Chat, message: Message, client_msg_id: str) -> tuple[Message, bool]:
        key = (chat.chat_id, message.sender_id, client_msg_id)
        if key in self.send_keys:
            return self.messages[chat.chat_id][self.send_keys[key]], False
        stored_chat = self.chats[chat.chat_id]
        stored_chat.last_seq += 1
        stored = replace(message, seq=stored_chat.last_seq, sent_at=now_iso())
        self.messages[chat.chat_id][stored.seq] = stored
        self.send_keys[key] = stored.seq
        return stored, True

    def fill_gap(self, chat_id: str, seq: int) -> Message:
        gap = Message(chat_id, seq, f"gap-{seq}", "", "system", now_iso())
        return self.messages[chat_id].setdefault(seq, gap)

    def messages_after(self, chat_id: str, after: int, limit: int) -> list[Message]:
        return [m for seq, m in sorted(self.messages[chat_id].items()) if seq > after][:limit]

    def messages_before(self, chat_id: str, before: int, limit: int) -> list[Message]:
        older = [m for seq, m in sorted(self.messages[chat_id].items()) if seq < before]
        return older[-limit:] if limit else []

    def senders_between(self, chat_id: str, low: int, high: int) -> set[str]:
        return {m.sender_id for seq, m in self.messages[chat_id].items() if low < seq <= high}

    def raise_cursors(self, chat_id: str, user_id: str, status: str, seq: int) -> dict[str, tuple[int, int]]:
        member = self.chats[chat_id].member(user_id)
        moves = {"delivered": (member.delivered_seq, max(member.delivered_seq, seq))}
        if status == "read":
            moves["read"] = (member.read_seq, max(member.read_seq, seq))
        member.delivered_seq, member.read_seq = moves["delivered"][1], moves.get("read", (0, member.read_seq))[1]
        return {name: move for name, move in moves.items() if move[0] != move[1]}

    def shift_cursor_counts(self, chat_id: str, deltas: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
        for status, changes in deltas.items():
            counts = self.counts[chat_id][status]
            for cursor, delta in changes.items():
                counts[cursor] = counts.get(cursor, 0) + delta
        return {status: {c: n for c, n in self.counts[chat_id][status].items() if n > 0} for status in deltas}


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


class RecordingQueue:
    """Keeps fan-out tasks until a test runs them, as the SQS consumer would."""

    def __init__(self):
        self.tasks: list[dict] = []

    def enqueue(self, tasks: list[dict]) -> None:
        self.tasks.extend(tasks)


class InMemoryMediaStore:
    def __init__(self):
        self.items: dict[str, Media] = {}

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


class InMemoryCounters:
    def __init__(self):
        self.counts: dict[tuple[str, int], int] = {}

    def count(self, subject: str, window_start: int, limit: int) -> bool:
        key = (subject, window_start)
        if self.counts.get(key, 0) >= limit:
            return False
        self.counts[key] = self.counts.get(key, 0) + 1
        return True
