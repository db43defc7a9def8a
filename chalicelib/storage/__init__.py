"""What the logic needs of storage. `dynamodb.py` implements it on AWS; the tests keep an in-memory twin."""
from typing import Iterable, Protocol

from chalicelib.model import Chat, ChatHead, Connection, Media, Member, Membership, Message, UserPresence


class UserStore(Protocol):
    """Who exists, each user's live sockets, and whether each user is marked online.

    A user is marked online from the first socket's connect until the write that takes them offline (the last
    socket's removal, or the sweep of stale ones): each transition happens once, in one conditional write.
    """

    def register(self, user_id: str) -> None: ...

    def existing(self, user_ids: Iterable[str]) -> set[str]: ...

    def add_connection(self, connection: Connection) -> bool:
        """Store a new socket, seen at `connection.seen_at`; answers whether it took its user online."""

    def refresh_connection(self, connection: Connection) -> bool:
        """Record a heartbeat (`connection.seen_at`) of an open socket, putting it back if the sweep dropped it.

        Answers whether that took its user back online. A socket already removed (closed) stays removed.
        """

    def connection(self, connection_id: str) -> Connection | None: ...

    def remove_connection(self, connection: Connection) -> UserPresence | None:
        """Forget a closed socket; if its user has no fresh socket left, take them offline, recording `last_seen`.

        Answers the user's presence when this took them offline, else None.
        """

    def connections_of(self, user_ids: Iterable[str]) -> dict[str, list[Connection]]:
        """The live sockets of each user, in BatchGetItem-sized reads."""

    def presence_of(self, user_ids: Iterable[str]) -> dict[str, UserPresence]:
        """Each existing user's sockets and stored `last_seen`, in BatchGetItem-sized reads."""

    def expire_stale_connections(self) -> list[UserPresence]:
        """Drop the stale sockets of users marked online, and take offline those left with no fresh one.

        Reads only the users marked online. Answers the presence of each user it took offline.
        """


class ChatStore(Protocol):
    def create(self, chat: Chat) -> tuple[Chat, bool]:
        """Store a new chat with its members; if the id is taken, answer the stored chat and False."""

    def get(self, chat_id: str) -> Chat | None:
        """The chat with its members and its `last_seq`, read consistently."""

    def reserve_seats(self, chat_id: str, count: int, limit: int) -> bool:
        """Count `count` more members in, unless that would pass `limit` (then False)."""

    def add_members(self, chat_id: str, members: list[Member]) -> None:
        """Store members whose seats are reserved."""

    def remove_members(self, chat_id: str, user_ids: list[str]) -> None: ...

    def set_role(self, chat_id: str, user_id: str, role: str) -> None: ...

    def memberships(self, user_id: str) -> list[Membership]: ...

    def heads(self, chat_ids: Iterable[str]) -> dict[str, ChatHead]: ...

    def member_ids(self, chat_id: str) -> list[str]:
        """Who belongs to the chat, read without the rest of the chat (may lag a membership change slightly)."""

    def append(self, chat: Chat, message: Message, client_msg_id: str) -> tuple[Message, bool]:
        """Store `message` at the chat's next seq, once per (sender, client_msg_id).

        Answers the stored message and whether this call stored it (False: a repeat, the original comes back).
        """

    def fill_gap(self, chat_id: str, seq: int) -> Message:
        """Close the hole a dead sender left at `seq` with an empty system message (or answer what is there)."""

    def messages_after(self, chat_id: str, after: int, limit: int) -> list[Message]:
        """Up to `limit` messages with seq > `after`, ascending."""

    def messages_before(self, chat_id: str, before: int, limit: int) -> list[Message]:
        """Up to `limit` of the newest messages with seq < `before`, ascending."""

    def senders_between(self, chat_id: str, low: int, high: int) -> set[str]:
        """Who sent the messages with low < seq <= high."""

    def raise_cursors(self, chat_id: str, user_id: str, status: str, seq: int) -> dict[str, tuple[int, int]]:
        """Move a member's cursors up to `seq` (read implies delivered; never down), atomically.

        Answers what moved, as status -> (old, new); empty if nothing did.
        """

    def shift_cursor_counts(self, chat_id: str, deltas: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
        """Add `deltas` (status -> cursor value -> change in members standing there) atomically.

        Answers, per status in `deltas`, the positive counts per cursor value after the change.
        """


class MediaStore(Protocol):
    def put(self, media: Media) -> None: ...

    def get(self, media_id: str) -> Media | None: ...

    def get_many(self, media_ids: Iterable[str]) -> dict[str, Media]: ...

    def settle(self, media: Media) -> bool:
        """Store a pending item's outcome (ready or rejected), once; False if it was settled already."""


class BlobStore(Protocol):
    """Where media bytes live (S3), and the signed URLs that move them."""

    def upload_form(self, key: str, content_type: str, size: int, expires_in: int) -> dict:
        """A presigned POST ({"url", "fields"}) that accepts exactly this key, type and size."""

    def download(self, key: str, path: str) -> None: ...

    def upload(self, path: str, key: str, content_type: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str, expires_in: int, disposition: str | None = None) -> str: ...


class Counters(Protocol):
    """Fixed-window event counters shared by every Lambda container (the rate limits)."""

    def count(self, subject: str, window_start: int, limit: int) -> bool:
        """Count one event of `subject` in the window that starts at `window_start`, atomically.

        False (and nothing counted) once `limit` events are counted in that window.
        """
