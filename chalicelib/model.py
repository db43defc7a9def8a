"""The domain objects every layer shares, and how they look on the wire."""
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from chalicelib import clock

MAX_GROUP_MEMBERS = 500
CONNECTION_LIFETIME = 2 * 60 * 60 + 5 * 60  # API Gateway closes a socket after 2 h; keep a margin
SEND_LEASE = 60  # seconds; longer than any Lambda invocation behind API Gateway (29 s) can live
CLAIM_TTL = 7 * 86400  # seconds a send's idempotency key is kept: a resend within it never stores a second message
ONLINE_WINDOW = 60  # seconds a heartbeat (the connect counts as one) keeps its socket's user online
QUIET_WINDOW = 150  # seconds a quiet heartbeat (no `pong`; a background client's, every 60 s) keeps it online
NEWS_TTL = 30 * 86400  # seconds a news mark keeps: a `sync` token older than this is answered as a fresh device
# Who may send in a group, and who may change its name, description, avatar and disappearing messages: "all"
# members or only "admins"
GROUP_SETTINGS = {"send": "all", "edit_info": "all"}
CURSOR_SHARDS = 40  # items a group's receipt cursors are spread over; why 40: docs/scaling.md, §3


def now_iso() -> str:
    return datetime.fromtimestamp(clock.now(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_from_iso(text: str) -> float:
    """A time in ISO 8601; one without a zone is UTC, as every time of the contract is."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def iso_from_epoch(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def direct_chat_id(user_a: str, user_b: str) -> str:
    low, high = sorted((user_a, user_b))
    return f"direct:{low}:{high}"


def cursor_shard(user_id: str) -> int:
    return zlib.crc32(user_id.encode()) % CURSOR_SHARDS


def direct_members(chat_id: str) -> tuple[str, str] | None:
    kind, _, rest = chat_id.partition(":")
    low, sep, high = rest.partition(":")
    return (low, high) if kind == "direct" and sep else None


@dataclass(frozen=True)
class Connection:
    connection_id: str
    user_id: str
    device: str
    endpoint: str
    connected_at: int
    seen_at: int
    window: int = ONLINE_WINDOW  # how long its last heartbeat keeps it fresh: QUIET_WINDOW after a quiet one

    def is_fresh(self, now: float) -> bool:
        """Whether the socket keeps its user online: its last heartbeat is under `window` old."""
        return self.seen_at > now - self.window


def presence_wire(user_id: str, online: bool, last_seen: int | None) -> dict:
    return {"user_id": user_id, "status": "online" if online else "offline",
            "last_seen": iso_from_epoch(last_seen) if last_seen is not None else None}


@dataclass(frozen=True)
class UserPresence:
    """A user's sockets as their users item holds them, and the `last_seen` stored when they last went offline;
    with who may see it: the `last_seen` setting (`shown_to`; `nobody` once the account is deleted, whose settings
    go with it) and the users the user blocked.

    Whether the user is online is decided by time at each read: stale sockets may linger until the sweep.
    """
    user_id: str
    connections: tuple[Connection, ...] = ()
    last_seen: int | None = None
    shown_to: str = "everyone"
    blocked: frozenset[str] = frozenset()

    def is_online(self, now: float) -> bool:
        return any(connection.is_fresh(now) for connection in self.connections)

    def seen_last(self) -> int | None:
        """The newest heartbeat of any socket, or the stored `last_seen` if newer; None if never seen."""
        times = [connection.seen_at for connection in self.connections]
        return max(times + ([self.last_seen] if self.last_seen is not None else []), default=None)

    def to_wire(self, now: float) -> dict:
        return presence_wire(self.user_id, self.is_online(now), self.seen_last())


@dataclass(frozen=True)
class Device:
    """A device registered for pushes: its platform and the SNS endpoint that reaches it."""
    device: str
    platform: str
    endpoint: str


@dataclass(frozen=True)
class Reach:
    """How a user can be reached now, as their users item holds it: live sockets, devices registered for pushes,
    and whether pushes may show a preview of the text (the `push_previews` setting)."""
    connections: list[Connection] = field(default_factory=list)
    devices: tuple[Device, ...] = ()
    previews: bool = True
    blocked: frozenset[str] = frozenset()  # whom the user blocked: their sends into a direct chat are refused

    def unreached_devices(self, now: float) -> list[Device]:
        """The registered devices without a fresh socket: the ones a message must be pushed to."""
        live = {c.device for c in self.connections if c.is_fresh(now)}
        return [device for device in self.devices if device.device not in live]


@dataclass(frozen=True)
class Person:
    """A user as others see them: the profile (`display_name`, `about`, `avatar_media_id`), the settings changed
    from their defaults, whom they blocked, and whether the account was deleted."""
    user_id: str
    profile: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    blocked: frozenset[str] = frozenset()
    deleted: bool = False


@dataclass
class Member:
    user_id: str
    role: str = "member"
    joined_seq: int = 0  # the seq of the message that added the member (0: a founder)

    def to_wire(self) -> dict:
        return {"user_id": self.user_id, "role": self.role}


@dataclass
class Chat:
    chat_id: str
    kind: str
    created_at: str
    last_seq: int = 0
    name: str | None = None
    members: list[Member] = field(default_factory=list)
    members_version: int = 0  # bumped by every membership change, so that member lists can be cached
    disappear_after: int | None = None  # seconds after which new messages disappear; None: they stay
    description: str | None = None  # groups only, as are the avatar and the settings
    avatar_media_id: str | None = None
    settings: dict[str, str] = field(default_factory=dict)  # changed from GROUP_SETTINGS' defaults

    def member(self, user_id: str) -> Member | None:
        return next((m for m in self.members if m.user_id == user_id), None)

    @property
    def member_ids(self) -> list[str]:
        return [m.user_id for m in self.members]

    def to_wire(self) -> dict:
        wire = {"chat_id": self.chat_id, "kind": self.kind, "members": [m.to_wire() for m in self.members],
                "created_at": self.created_at, "last_seq": self.last_seq}
        if self.name is not None:
            wire["name"] = self.name
        if self.disappear_after is not None:
            wire["disappear_after"] = self.disappear_after
        if self.kind == "group":
            if self.description is not None:
                wire["description"] = self.description
            if self.avatar_media_id is not None:
                wire["avatar"] = {"media_id": self.avatar_media_id}
            wire["settings"] = self.group_settings
        return wire

    @property
    def group_settings(self) -> dict[str, str]:
        return GROUP_SETTINGS | self.settings


@dataclass(frozen=True)
class Membership:
    """One of a user's chats, as the user's own member item holds it (a chat list, read through the `by_member`
    index, has no role: None)."""
    chat_id: str
    kind: str
    role: str | None = None
    joined_seq: int = 0


@dataclass(frozen=True)
class Cursors:
    """How far one member has got in one chat: delivered_seq >= read_seq, neither ever moves back."""
    delivered: int = 0
    read: int = 0

    def raised(self, status: str, seq: int) -> "Cursors":
        """The cursors after a receipt of `status` up to `seq` (read implies delivered)."""
        if status == "read":
            return Cursors(max(self.delivered, seq), max(self.read, seq))
        return Cursors(max(self.delivered, seq), self.read)

    def of(self, status: str) -> int:
        return self.delivered if status == "delivered" else self.read


@dataclass(frozen=True)
class DirectState:
    """What a direct chat's head holds for receipts: each member's cursors and the last seq each one sent."""
    cursors: dict[str, Cursors] = field(default_factory=dict)
    last_sent: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatHead:
    """What a chat list needs of a chat without reading its members; direct chats carry their receipts state."""
    chat_id: str
    kind: str
    last_seq: int
    name: str | None = None
    member_count: int = 0
    members_version: int = 0
    direct: DirectState | None = None
    disappear_after: int | None = None
    reserved_at: int | None = None  # when `last_seq` was taken (epoch seconds)


@dataclass(frozen=True)
class Reservation:
    """A seq taken for a message, and the chat's head as it was just before (one atomic update)."""
    seq: int
    members_version: int
    direct: DirectState | None = None
    disappear_after: int | None = None  # seconds after which the chat's new messages disappear


@dataclass(frozen=True)
class Message:
    chat_id: str
    seq: int
    message_id: str
    sender_id: str
    kind: str
    sent_at: str
    text: str | None = None
    media_id: str | None = None
    reply_to: int | None = None
    event: dict | None = None  # what a `system` message records: {"type", "by", "user_ids"}
    client_msg_id: str | None = None  # the sender's idempotency key, stored so a resend can find its message
    relates_to: int | None = None  # the seq an edit, delete or reaction acts on
    emoji: str | None = None  # a reaction's ("" takes the sender's reaction back)
    mentions: tuple[str, ...] | None = None
    quote: dict | None = None  # a reply's {"seq", "sender_id", "kind", "text"?}
    forwarded: bool = False
    edited_at: str | None = None  # the state relations folded into the message: see chalicelib/relations.py
    deleted: bool = False
    reactions: dict[str, list[str]] | None = None  # {emoji: [user_id, ...]}, users in the order they reacted
    expires_at: str | None = None  # in a chat with disappearing messages: when this one disappears

    def disappeared(self, now: float) -> bool:
        return self.expires_at is not None and epoch_from_iso(self.expires_at) <= now

    def tombstone(self) -> "Message":
        """The message as served once deleted for everyone: no text, media or reactions."""
        quote = {k: v for k, v in self.quote.items() if k != "text"} if self.quote else None
        return replace(self, deleted=True, text=None, media_id=None, reactions=None, quote=quote)

    def to_wire(self) -> dict:
        wire = {"chat_id": self.chat_id, "seq": self.seq, "message_id": self.message_id,
                "sender_id": self.sender_id, "kind": self.kind, "sent_at": self.sent_at}
        for name in ("text", "reply_to", "event", "relates_to", "emoji", "quote", "edited_at", "expires_at"):
            if getattr(self, name) is not None:
                wire[name] = getattr(self, name)
        if self.mentions:
            wire["mentions"] = list(self.mentions)
        for flag in ("forwarded", "deleted"):
            if getattr(self, flag):
                wire[flag] = True
        if self.reactions and not self.deleted:  # a delete for everyone takes the reactions with it
            wire["reactions"] = self.reactions
        return wire


@dataclass(frozen=True)
class Deletion:
    """A message deleted for everyone, as it was, with the messages that still carry its text: the edits that
    relate to it and the replies that quote it."""
    message: Message
    edit_seqs: frozenset[int] = frozenset()
    reply_seqs: frozenset[int] = frozenset()


@dataclass
class Rendition:
    """A stored file of a media item: its S3 key and what a client needs to show it."""
    key: str
    content_type: str
    width: int | None = None
    height: int | None = None


@dataclass
class Media:
    media_id: str
    chat_id: str
    uploader_id: str
    filename: str
    content_type: str
    size: int
    kind: str  # image, video or file
    created_at: str
    status: str = "pending"  # pending, ready or rejected
    upload_key: str = ""
    original: Rendition | None = None
    variants: dict[str, Rendition] = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    reason: str | None = None
    shared_with: tuple[str, ...] = ()  # chats a forward carried it into, besides its own


@dataclass(frozen=True)
class MediaLimits:
    """The largest upload accepted per kind, in bytes."""
    image: int = 16 * 2**20
    video: int = 100 * 2**20
    file: int = 100 * 2**20

    def for_kind(self, kind: str) -> int:
        return getattr(self, kind)
