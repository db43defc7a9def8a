"""The client frames of the wire contract, validated into typed requests.

Every shape error becomes a `bad_request` whose message names the field; unknown fields are ignored.
"""
from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from chalicelib.errors import BadRequest, TooLarge
from chalicelib.model import MAX_GROUP_MEMBERS
from chalicelib.wire import json_object

MAX_FRAME_BYTES = 32 * 1024
MAX_TEXT = 4096
MAX_PRESENCE_USERS = 100
MAX_REQ = 64  # `req` is echoed in every reply, so it must not eat into a reply's 128 KiB

ChatId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Seq = Annotated[int, Field(ge=0)]


class Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    req: Annotated[str, StringConstraints(max_length=MAX_REQ)] | None = None


class CreateChat(Frame):
    action: Literal["create_chat"]
    kind: Literal["direct", "group"]
    user_id: UserId | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    members: Annotated[list[UserId], Field(max_length=MAX_GROUP_MEMBERS)] | None = None


class MessageRef(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    chat_id: ChatId
    seq: Annotated[int, Field(ge=1)]


class Send(Frame):
    action: Literal["send"]
    chat_id: ChatId
    client_msg_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    kind: Literal["text", "image", "video", "file", "edit", "delete", "reaction"] | None = None
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT)] | None = None
    media_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    reply_to: Annotated[int, Field(ge=1)] | None = None
    relates_to: Annotated[int, Field(ge=1)] | None = None
    emoji: Annotated[str, StringConstraints(max_length=32)] | None = None
    forward_of: MessageRef | None = None
    mentions: Annotated[list[UserId], Field(max_length=MAX_GROUP_MEMBERS)] | None = None


class GroupSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    send: Literal["all", "admins"] | None = None
    edit_info: Literal["all", "admins"] | None = None


class UpdateChat(Frame):
    """Only the fields given change; `disappear_after: null` turns disappearing messages off, `description: null`
    and `avatar_media_id: null` remove them."""
    action: Literal["update_chat"]
    chat_id: ChatId
    disappear_after: Literal[86400, 604800, 7776000] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    description: Annotated[str, StringConstraints(max_length=512)] | None = None
    avatar_media_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    settings: GroupSettings | None = None

    def changes(self) -> dict:
        changes = {name: getattr(self, name) for name in self.model_fields_set - {"action", "req", "chat_id"}}
        if "settings" in changes:
            changes["settings"] = self.settings.model_dump(exclude_none=True) if self.settings else {}
        return changes


class SetRole(Frame):
    action: Literal["set_role"]
    chat_id: ChatId
    user_id: UserId
    role: Literal["admin", "member"]


class CreateInvite(Frame):
    action: Literal["create_invite"]
    chat_id: ChatId
    expires_in: Annotated[int, Field(ge=60, le=604800)] = 604800


class Join(Frame):
    action: Literal["join"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class RevokeInvite(Frame):
    action: Literal["revoke_invite"]
    chat_id: ChatId
    token: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Hide(Frame):
    action: Literal["hide"]
    chat_id: ChatId
    seqs: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=100)]


class Mute(Frame):
    """`until`: an ISO 8601 time in the future, or null to unmute (required either way)."""
    action: Literal["mute"]
    chat_id: ChatId
    until: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None


class History(Frame):
    action: Literal["history"]
    chat_id: ChatId
    before: Annotated[int, Field(ge=1)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class Heartbeat(Frame):
    action: Literal["heartbeat"]
    quiet: bool = False  # no `pong`, and the socket stays fresh for QUIET_WINDOW rather than ONLINE_WINDOW


class Presence(Frame):
    action: Literal["presence"]
    user_ids: Annotated[list[UserId], Field(max_length=MAX_PRESENCE_USERS)]


class Typing(Frame):
    action: Literal["typing"]
    chat_id: ChatId
    state: Literal["start", "stop"]


class Receipt(Frame):
    action: Literal["receipt"]
    chat_id: ChatId
    seq: Seq
    status: Literal["delivered", "read"]


class Sync(Frame):
    """`since` selects the changes form (`cursors` is then ignored); `page` continues one of its passes."""
    action: Literal["sync"]
    cursors: Annotated[dict[ChatId, Seq], Field(max_length=10_000)] = {}
    since: Annotated[str, StringConstraints(max_length=64)] | None = None
    page: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class AddMembers(Frame):
    action: Literal["add_members"]
    chat_id: ChatId
    user_ids: Annotated[list[UserId], Field(min_length=1, max_length=MAX_GROUP_MEMBERS)]


class RemoveMembers(Frame):
    action: Literal["remove_members"]
    chat_id: ChatId
    user_ids: Annotated[list[UserId], Field(min_length=1, max_length=MAX_GROUP_MEMBERS)]


class Leave(Frame):
    action: Literal["leave"]
    chat_id: ChatId


class Upload(Frame):
    action: Literal["upload"]
    chat_id: ChatId
    filename: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    content_type: Annotated[str, StringConstraints(min_length=3, max_length=129)]
    size: Annotated[int, Field(ge=1)]


class MediaUrl(Frame):
    action: Literal["media_url"]
    media_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]


ClientFrame = Annotated[CreateChat | UpdateChat | Send | Hide | Mute | History | Heartbeat | Presence | Typing | Receipt
                        | Sync | AddMembers | RemoveMembers | Leave | SetRole | CreateInvite | Join | RevokeInvite
                        | Upload | MediaUrl, Field(discriminator="action")]


@cache
def _adapter() -> TypeAdapter:
    return TypeAdapter(ClientFrame)


def request_id(body: object) -> str | None:
    """The frame's `req`, if it has a usable one, so that even an error can echo it."""
    req = body.get("req") if isinstance(body, dict) else None
    return req if isinstance(req, str) and len(req) <= MAX_REQ else None


def decode(raw: str | bytes | None) -> dict:
    try:
        return json_object(raw, "a frame")
    except BadRequest:
        check_size(raw)  # an oversized frame is too_large, whatever it holds
        raise


def check_size(raw: str | bytes | None) -> None:
    size = len(raw.encode() if isinstance(raw, str) else raw or b"")
    if size > MAX_FRAME_BYTES:
        raise TooLarge(f"frames are at most {MAX_FRAME_BYTES} bytes; this one has {size}")


def parse(body: dict) -> Frame:
    try:
        return _adapter().validate_python(body)
    except ValidationError as error:
        raise BadRequest(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    if first["type"] == "union_tag_not_found":
        return "the frame needs an 'action'"
    if first["type"] == "union_tag_invalid":
        return f"unknown action {first['input'].get('action')!r}" if isinstance(first["input"], dict) \
            else "unknown action"
    location = ".".join(str(part) for part in first["loc"][1:]) or "frame"
    return f"{location}: {first['msg']}"
