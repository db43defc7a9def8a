"""What the logic needs of storage, one store per domain word, and the bundle the composition root takes.

`dynamodb/` implements the stores on AWS (its docstring lays out the items); tests/fakes.py keeps an in-memory
twin of each, and tests/aws/test_store_contract.py holds both to one contract.
"""
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from chalicelib.model import (
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
)


class UserStore(Protocol):
    """Who exists, each user's live sockets, and whether each user is marked online.

    Each socket records `seen_at`, its last heartbeat (the connect counts as one), and `window`, how long that
    heartbeat keeps it fresh: ONLINE_WINDOW (60 s), or QUIET_WINDOW (150 s) after a quiet heartbeat. A user is
    online while a socket is fresh; `last_seen` is the newest `seen_at`. Heartbeats write only the user's item,
    never an index.

    A user is marked online from the first socket's connect until the write that takes them offline (the last
    socket's removal, or the sweep of stale ones): each transition happens once, in one conditional write. The
    marks are spread over `online_shards` shards (`crc32(user_id) % online_shards`), which the sweep takes one at
    a time.
    """

    online_shards: int

    def register(self, user_id: str) -> None: ...

    def existing(self, user_ids: Iterable[str]) -> set[str]:
        """The ids among these of accounts that exist and were not deleted."""

    def add_connection(self, connection: Connection, signed_in_at: int | None = None) -> tuple[bool, list[Connection]]:
        """Store a new socket, seen at `connection.seen_at`.

        Answers whether it took its user online, and the user's other sockets as they were before it. With
        `signed_in_at` (the `iat` of the socket's token), raises `Unauthorized` instead, storing nothing, if the
        user signed out everywhere in that second or later.
        """

    def sign_out(self, user_id: str, at: int) -> list[Connection]:
        """Record that the user signed out everywhere at second `at`; answers the user's sockets."""

    def signed_out_at(self, user_id: str) -> int | None:
        """When the user last signed out everywhere (consistent read), or None."""

    def mark_deleted(self, user_id: str) -> None:
        """Record that the account is deleted (its name is never given out again), dropping its profile, settings
        and blocks."""

    def deleted(self, user_id: str) -> bool: ...

    def refresh_connection(self, connection: Connection) -> bool:
        """Record a heartbeat (`connection.seen_at` and `.window`) of an open socket, putting it back if the sweep
        dropped it.

        Answers whether that took its user back online. A socket already removed (closed) stays removed.
        """

    def connection(self, connection_id: str) -> Connection | None: ...

    def remove_connection(self, connection: Connection) -> UserPresence | None:
        """Forget a closed socket; if its user has no fresh socket left, take them offline, recording `last_seen`.

        Answers the user's presence when this took them offline, else None.
        """

    def reach_of(self, user_ids: Iterable[str]) -> dict[str, Reach]:
        """How each user can be reached (live sockets, devices registered for pushes, `push_previews`), in
        BatchGetItem-sized reads of the users items every delivery reads anyway."""

    def devices(self, user_id: str) -> list[Device]: ...

    def put_device(self, user_id: str, device: Device) -> Device | None:
        """Register (or re-register) a device for pushes; answers the registration it replaced, if any."""

    def remove_device(self, user_id: str, device_id: str, endpoint: str | None = None) -> Device | None:
        """Forget a device (only while it still has `endpoint`, if given); answers what was removed, if anything."""

    def settings(self, user_id: str) -> dict:
        """The settings the user has changed from their defaults."""

    def update_settings(self, user_id: str, changes: dict) -> dict:
        """Change some settings; answers them all (those changed from their defaults)."""

    def update_profile(self, user_id: str, changes: dict) -> dict:
        """Change fields of the profile (a None removes one); answers the whole profile."""

    def people(self, user_ids: Iterable[str]) -> dict[str, Person]:
        """Each existing user's profile, settings, blocks and deletion mark, in BatchGetItem-sized reads."""

    def block(self, user_id: str, other_id: str) -> None: ...

    def unblock(self, user_id: str, other_id: str) -> None: ...

    def presence_of(self, user_ids: Iterable[str]) -> dict[str, UserPresence]:
        """Each existing user's sockets and stored `last_seen`, in BatchGetItem-sized reads."""

    def presence_now(self, user_id: str) -> UserPresence | None:
        """One user's sockets and `last_seen`, read consistently (one GetItem): what a queued announcement checks
        before it pushes."""

    def expire_stale_connections(self, shard: int) -> list[UserPresence]:
        """Drop the stale sockets of the users marked online in `shard`, and take offline those left with no fresh
        one.

        Reads only the shard's users marked online. Answers the presence of each user it took offline.
        """


class ChatStore(Protocol):
    """Chats and their members: a chat's head, its member list as one item, and one item per member."""

    def create(self, chat: Chat) -> tuple[Chat, bool]:
        """Store a new chat with its members; if the id is taken, answer the stored chat and False."""

    def get(self, chat_id: str) -> Chat | None:
        """The chat with its members and its `last_seq`, read consistently (two items, whatever the size)."""

    def head(self, chat_id: str) -> ChatHead | None:
        """The chat's head, read consistently (one small item)."""

    def membership(self, user_id: str, chat_id: str) -> Membership | None:
        """The user's member item of the chat (one consistent read), or None if they are not a member."""

    def memberships(self, user_id: str) -> list[Membership]:
        """The user's chats with the seq each one was joined at (an index read: eventually consistent, no role)."""

    def memberships_page(self, user_id: str, after: str, limit: int) -> list[Membership]:
        """Up to `limit` of the user's chats with ids after `after`, by id (an index read, as `memberships`)."""

    def memberships_in(self, user_id: str, chat_ids: Iterable[str]) -> dict[str, Membership]:
        """The user's member items of these chats, where they are a member (consistent batch reads)."""

    def heads(self, chat_ids: Iterable[str]) -> dict[str, ChatHead]: ...

    def members(self, chat_id: str) -> tuple[int, list[Member]]:
        """The member list and the members version it is at (two items read consistently: the head and the list;
        callers cache it by that version)."""

    def reserve_seats(self, chat_id: str, count: int, limit: int) -> bool:
        """Count `count` more members in, unless that would pass `limit` (then False)."""

    def add_members(self, chat_id: str, members: list[Member]) -> None:
        """Store members whose seats are reserved; the members version moves on."""

    def remove_members(self, chat_id: str, user_ids: list[str]) -> None: ...

    def set_role(self, chat_id: str, user_id: str, role: str) -> None: ...

    def update_info(self, chat_id: str, changes: dict) -> None:
        """Change fields of the chat's head: `name`, `description`, `avatar_media_id`, `settings` (those changed
        from the defaults), `disappear_after` (messages stored from now on disappear after that many seconds); a
        None removes the field."""

    def put_invite(self, token: str, chat_id: str, expires_at: int) -> None:
        """Keep a group's invite link until `expires_at` (epoch seconds)."""

    def invite(self, token: str) -> tuple[str, int] | None:
        """The group and expiry of an invite link (None if revoked, or deleted after expiring)."""

    def delete_invite(self, token: str, chat_id: str) -> bool:
        """Revoke an invite link of this group; False if there is none."""

    def mute(self, user_id: str, chat_id: str, until: int | None) -> None:
        """Mute the chat for the user until `until` (epoch seconds; None: unmute). Mutes live in one item per user,
        apart from the member items, so that muting never touches what a send reads."""

    def mutes(self, user_id: str) -> dict[str, int]:
        """The user's mutes, {chat_id: until}, expired ones included."""

    def muted_in(self, user_ids: Iterable[str], chat_id: str) -> dict[str, int]:
        """Which of these users muted this chat, and until when (expired ones included): one batch read."""


class MessageStore(Protocol):
    """Each chat's log: its seq counter, the senders' idempotency claims, and the messages."""

    def claim(self, chat_id: str, sender_id: str, client_msg_id: str) -> float | None:
        """Claim the key for a new send; None if this call claimed it, else when the earlier claim was made. A claim
        is kept for CLAIM_TTL; an older one counts as none."""

    def release(self, chat_id: str, sender_id: str, client_msg_id: str) -> None:
        """Drop a claim whose send was refused before it took a seq."""

    def take_over(self, chat_id: str, sender_id: str, client_msg_id: str, claimed_at: float) -> bool:
        """Renew a claim made at `claimed_at` whose sender died; False if someone else renewed it first."""

    def reserve(self, chat_id: str, sender_id: str | None, direct: bool, sender_is_admin: bool = True) \
            -> Reservation | None:
        """Take the chat's next seq (None if there is no such chat); raises `Forbidden` instead for a sender who is
        not an admin of a group whose settings let only admins send (checked in the same update).

        In a direct chat the same update moves the sender's own cursors to the new seq and records it as the
        last seq they sent (one write); the reservation carries that state as it was before.
        """

    def write(self, message: Message) -> bool:
        """Store the message at its seq; False when another message holds that seq (a gap closed it)."""

    def find_sent(self, chat_id: str, sender_id: str, client_msg_id: str, since: float) -> Message | None:
        """The message stored under this key, looking back no further than messages sent before `since`."""

    def fill_gap(self, chat_id: str, seq: int) -> Message:
        """Close the hole a dead sender left at `seq` with an empty system message (or answer what is there)."""

    def messages_after(self, chat_id: str, after: int, limit: int) -> list[Message]:
        """Up to `limit` messages with seq > `after`, ascending."""

    def messages_before(self, chat_id: str, before: int, limit: int) -> list[Message]:
        """Up to `limit` of the newest messages with seq < `before`, ascending."""

    def senders_between(self, chat_id: str, low: int, high: int) -> set[str]:
        """Who sent the messages with low < seq <= high."""

    def get(self, chat_id: str, seq: int) -> Message | None:
        """The message at `seq` with the state relations folded into it (read consistently)."""

    def edit(self, chat_id: str, seq: int, text: str, edited_at: str, edit_seq: int) -> None:
        """Fold the edit at `edit_seq` into the message: its text, unless it is deleted or a later edit is in."""

    def react(self, chat_id: str, seq: int, user_id: str, emoji: str, reaction_seq: int) -> None:
        """Fold the user's reaction at `reaction_seq` into the message ("" takes it back), unless the message is
        deleted or a later reaction of the user is in."""

    def delete(self, chat_id: str, seq: int) -> Deletion | None:
        """Mark the message deleted and drop its text and media; None if it was deleted already."""

    def note_reply(self, chat_id: str, seq: int, reply_seq: int) -> bool:
        """Record that the message at `reply_seq` quotes the one at `seq`; answers whether that one is deleted."""

    def forget_texts(self, chat_id: str, edit_seqs: Iterable[int], reply_seqs: Iterable[int]) -> None:
        """Drop the text of these edits and the quoted text of these replies (their target was deleted)."""

    def expiring(self, hour: int, until: int) -> list[tuple[str, int]]:
        """(chat_id, seq) of the messages due to disappear in that hour (epoch // 3600), by `until` (epoch
        seconds), and not yet deleted: an index read of exactly those."""

    def hide(self, chat_id: str, user_id: str, seqs: Iterable[int]) -> None:
        """Hide these messages from the user's own devices (delete for me)."""

    def hidden(self, user_id: str, chat_ids: Iterable[str]) -> dict[str, set[int]]:
        """The seqs the user hid, in each of these chats that has any (one batch read, eventually consistent: a
        hide made a moment ago on another device may not count yet)."""


class NewsStore(Protocol):
    """Which of a user's chats have news, by the minute it was recorded: what lets `sync` read only the chats that
    changed. A mark is recorded after its message is stored, and keeps for NEWS_TTL."""

    def mark(self, user_ids: Iterable[str], chat_id: str, seq: int, minute: int, unread_for: Iterable[str] = ()) \
            -> None:
        """Record, in `minute`, that the chat has messages from `seq` on that these users' devices may lack; and
        for `unread_for`, that the chat may be unread from `seq` on (an unread candidate, one per user and chat,
        replaced by each newer one)."""

    def unread_candidates(self, user_id: str) -> dict[str, tuple[int, int]]:
        """The user's unread candidates: {chat_id: (seq, minute)}."""

    def drop_unread(self, user_id: str, chat_id: str, seq: int, minute: int) -> None:
        """Forget an unread candidate, unless a newer one replaced it."""

    def marked_since(self, user_id: str, minute: int) -> dict[str, int]:
        """The chats marked in `minute` or later (read consistently), each with the lowest seq marked."""

    def newest_first(self, user_id: str, minute: int) -> list[str]:
        """The chats marked in `minute` or later, once each, the most recently marked first."""


class ReceiptStore(Protocol):
    """Delivered and read cursors. A direct chat's live on its head (with the last seq each member sent); a
    group's are spread over CURSOR_SHARDS shard items, each holding its members' cursors, and a floors item per
    status that keeps each shard's lowest cursor."""

    def raise_direct(self, chat_id: str, user_id: str, status: str, seq: int) -> DirectState | None:
        """Move a direct chat member's cursors up to `seq` (never down; not past the chat's last seq).

        Answers the chat's receipts state before the move, or None if nothing moved. Raises `BadRequest` for a
        seq beyond the chat's last.
        """

    def raise_in_shard(self, chat_id: str, shard: int, user_id: str, status: str, seq: int) \
            -> dict[str, Cursors] | None:
        """Move a group member's cursors up to `seq`; answers the shard's cursors before the move.

        None if nothing moved; raises `Forbidden` if the user has no cursors there (not a member).
        """

    def seat(self, chat_id: str, shard: int, cursors: dict[str, Cursors]) -> dict[str, Cursors]:
        """Add members with their starting cursors to a shard; answers the shard's cursors before."""

    def unseat(self, chat_id: str, shard: int, user_ids: list[str]) -> dict[str, Cursors]:
        """Remove members from a shard; answers the shard's cursors before."""

    def shard(self, chat_id: str, shard: int) -> dict[str, Cursors]: ...

    def cursors_in(self, user_id: str, chat_ids: Iterable[str]) -> dict[str, Cursors]:
        """The user's own cursors in each of these groups (one batch read of the user's shard of each)."""

    def shards(self, chat_id: str) -> dict[int, dict[str, Cursors]]:
        """Every shard of the chat (one batch read of CURSOR_SHARDS keys)."""

    def set_shard_floor(self, chat_id: str, status: str, shard: int, floor: int | None) -> dict[int, int] | None:
        """Record a shard's lowest cursor of `status`, which only ever moves up (None: the shard has no members
        any more). Answers every shard's floor of that status as it was before, or None if nothing changed."""

    def floors(self, chat_id: str) -> dict[str, dict[int, int]]: ...


class ExportStore(Protocol):
    """Each user's data exports: their status, and where a finished one's file is."""

    def create(self, user_id: str, export_id: str) -> None: ...

    def finish(self, user_id: str, export_id: str, key: str) -> None: ...

    def get(self, user_id: str, export_id: str) -> dict | None:
        """{"status": "pending"|"ready", "key"?} of the user's own export, or None."""


class ReportStore(Protocol):
    """Reports of messages, kept for moderators."""

    def add(self, report: dict) -> None:
        """Keep a report (`report_id`, `reporter_id`, `chat_id`, `seq`, `reason`, `reported_at`, `messages`)."""

    def newest(self, limit: int, before: str | None = None) -> list[dict]:
        """Up to `limit` reports, newest first; `before` (a `reported_at`) pages back."""


class Counters(Protocol):
    """Fixed-window event counters shared by every Lambda container (the rate limits)."""

    def count(self, subject: str, window_start: int, limit: int) -> bool:
        """Count one event of `subject` in the window that starts at `window_start`, atomically.

        False (and nothing counted) once `limit` events are counted in that window.
        """


class MediaStore(Protocol):
    def put(self, media: Media) -> None: ...

    def get(self, media_id: str) -> Media | None: ...

    def get_many(self, media_ids: Iterable[str]) -> dict[str, Media]: ...

    def settle(self, media: Media) -> bool:
        """Store a pending item's outcome (ready or rejected), once; False if it was settled already."""

    def uploaded_by(self, user_id: str) -> list[str]:
        """The ids of the items the user uploaded (an index read)."""

    def share(self, media_id: str, chat_id: str) -> None:
        """A forward carried the item into `chat_id`: its members may read it, and one more message uses it."""

    def release(self, media_id: str) -> bool:
        """A message that used the item was deleted; answers whether none uses it any more (then delete it)."""

    def delete(self, media_id: str) -> None: ...


class BlobStore(Protocol):
    """Where media bytes live (S3), and the signed URLs that move them."""

    def upload_form(self, key: str, content_type: str, size: int, expires_in: int) -> dict:
        """A presigned POST ({"url", "fields"}) that accepts exactly this key, type and size."""

    def download(self, key: str, path: str) -> None: ...

    def upload(self, path: str, key: str, content_type: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str, expires_in: int, disposition: str | None = None) -> str: ...


@dataclass(frozen=True)
class Stores:
    """Every store the services need: what the composition root takes."""
    users: UserStore
    chats: ChatStore
    messages: MessageStore
    news: NewsStore
    receipts: ReceiptStore
    exports: ExportStore
    reports: ReportStore
    counters: Counters
    media: MediaStore
    blobs: BlobStore
