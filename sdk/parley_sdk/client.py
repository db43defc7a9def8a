"""``ParleyClient``: the REST API, the WebSocket actions and an ordered, deduplicated event stream."""

import asyncio
import enum
import io
import json
import mimetypes
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import aiohttp

from .cursors import ChatCursors, Gap
from .errors import ConnectionLost, ParleyError
from .socket import CONNECTED, ReconnectingSocket
from .upload import ProgressCallback, post_presigned
from .view import QUOTE_CHARS, MessageView, is_relation

HISTORY_PAGE = 100
"""The largest ``limit`` the server accepts for ``history``."""

CHATS_PAGE = 100
"""The largest ``limit`` the server accepts for ``GET /api/chats``."""

SYNC_LIMIT = 100
"""Messages per chat that the ``sync`` pass after every (re)connect asks for at most."""

TOKEN_REFRESH_MARGIN = 60.0
"""Seconds before expiry at which the id token is refreshed, so no request goes out with a stale one."""

PLATFORMS = ("apns", "fcm")
"""Push platforms a device can be registered for: Apple's (APNs) and Google's (FCM)."""

USERS_PAGE = 100
"""The most user ids one ``GET /api/users`` names."""

PROFILE = "profile"
"""The ``chat_id`` an ``upload`` gives for your own profile picture."""


class _Unset(enum.Enum):
    UNSET = "UNSET"


UNSET = _Unset.UNSET
"""The default of fields that are left as they are, where ``None`` means "remove it"."""


@dataclass(frozen=True)
class Tokens:
    """The login a client keeps (``client.tokens``); save it to build a logged-in client later."""

    user_id: str
    id_token: str
    refresh_token: str
    expires_at: float
    """Unix time at which ``id_token`` expires."""


@dataclass(frozen=True)
class SyncResult:
    messages: dict[str, list[dict]]
    """Per chat id, the messages after its cursor (or new since the token), ascending."""
    chats: list[dict]
    """The ``synced`` frames' chats, each with ``chat_id``, ``last_seq``, ``limited``, ..."""
    since: str | None = None
    """``sync_changes``: the token that starts the next pass (None if the server gave none)."""


class ParleyClient:
    """A Parley user: REST calls, and after ``connect()`` the WebSocket actions and ``events()``.

    ``base_url`` is the local stack's root (``http://127.0.0.1:8000``): REST is ``base_url/api`` and the
    WebSocket ``ws://.../ws``. On AWS, give ``rest_url`` and ``ws_url`` (the two stage URLs) instead.
    Replies are the contract's objects as plain dicts, without ``type`` and ``req``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        rest_url: str | None = None,
        ws_url: str | None = None,
        tokens: Tokens | None = None,
        cursors: Mapping[str, int] | None = None,
        since: str = "",
        view: MessageView | None = None,
        request_timeout: float = 30.0,
        heartbeat_interval: float = 30.0,
        background_heartbeat_interval: float = 60.0,
        max_backoff: float = 30.0,
    ):
        if base_url is not None:
            base_url = base_url.rstrip("/")
            rest_url = rest_url or f"{base_url}/api"
            ws_url = ws_url or re.sub(r"^http", "ws", base_url) + "/ws"
        if rest_url is None or ws_url is None:
            raise ValueError("give base_url, or both rest_url and ws_url")
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url
        self.tokens = tokens
        self.cursors = ChatCursors(cursors, since)
        """Where ``events()`` is in each chat, and its sync token; seed them through ``cursors=`` and
        ``since=`` to resume from saved ones."""
        self.view = view if view is not None else MessageView()
        """Every message this client has received or sent, relations folded into their targets."""
        self._request_timeout = request_timeout
        self._heartbeat_interval = heartbeat_interval
        self._background_heartbeat_interval = background_heartbeat_interval
        self._background = False
        self._max_backoff = max_backoff
        self._http: aiohttp.ClientSession | None = None
        self._refreshing = asyncio.Lock()
        self._socket: ReconnectingSocket | None = None

    async def __aenter__(self) -> "ParleyClient":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the WebSocket (``events()`` then ends) and the HTTP session."""
        if self._socket is not None:
            await self._socket.close()
            self._socket = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def user_id(self) -> str | None:
        return self.tokens.user_id if self.tokens else None

    # Identity

    async def signup(self, username: str, password: str) -> str:
        """Create an account; returns its user_id. Does not log in."""
        reply = await self._rest(
            "POST", "/auth/signup", {"username": username, "password": password}, authorized=False
        )
        return reply["user_id"]

    async def login(self, username: str, password: str) -> str:
        """Log in and keep the tokens (see ``tokens``); returns the user_id."""
        reply = await self._rest(
            "POST", "/auth/login", {"username": username, "password": password}, authorized=False
        )
        self.tokens = Tokens(
            user_id=reply["user_id"],
            id_token=reply["id_token"],
            refresh_token=reply["refresh_token"],
            expires_at=time.time() + reply["expires_in"],
        )
        return self.tokens.user_id

    async def id_token(self) -> str:
        """The current id token, refreshed first if it is about to expire."""
        if self.tokens is None:
            raise ParleyError("unauthorized", "not logged in: call login() first")
        async with self._refreshing:
            if time.time() > self.tokens.expires_at - TOKEN_REFRESH_MARGIN:
                reply = await self._rest(
                    "POST", "/auth/refresh", {"refresh_token": self.tokens.refresh_token}, authorized=False
                )
                self.tokens = replace(
                    self.tokens, id_token=reply["id_token"], expires_at=time.time() + reply["expires_in"]
                )
        return self.tokens.id_token

    # REST

    async def health(self) -> dict:
        return await self._rest("GET", "/health", authorized=False)

    async def me(self) -> dict:
        return await self._rest("GET", "/me")

    async def chats(self) -> list[dict]:
        """Every chat, most recently active first (read a page at a time)."""
        return [chat async for chat in self.iter_chats()]

    async def iter_chats(self, page_size: int = CHATS_PAGE) -> AsyncIterator[dict]:
        """Every chat, most recently active first, fetched ``page_size`` (1-100) at a time."""
        cursor = None
        while True:
            page = await self.chats_page(page_size, cursor)
            for chat in page["chats"]:
                yield chat
            cursor = page.get("next")
            if cursor is None:
                return

    async def chats_page(self, limit: int = CHATS_PAGE, cursor: str | None = None) -> dict:
        """``{"chats", "next"?}``: ``limit`` chats after ``cursor`` (the ``next`` of the page before)."""
        return await self._rest("GET", "/chats", params=_without_none(limit=limit, cursor=cursor))

    async def chat(self, chat_id: str) -> dict:
        return (await self._rest("GET", f"/chats/{quote(chat_id, safe='')}"))["chat"]

    async def create_chat(
        self,
        kind: str,
        *,
        user_id: str | None = None,
        name: str | None = None,
        members: list[str] | None = None,
    ) -> dict:
        """``create_chat("direct", user_id=...)`` or ``create_chat("group", name=..., members=[...])``."""
        body = _without_none(kind=kind, user_id=user_id, name=name, members=members)
        return (await self._rest("POST", "/chats", body))["chat"]

    async def history(self, chat_id: str, before: int | None = None, limit: int | None = None) -> dict:
        """``{"chat_id", "messages": [ascending], "has_more"}``: the newest messages before ``before``."""
        params = _without_none(before=before, limit=limit)
        page = await self._rest("GET", f"/chats/{quote(chat_id, safe='')}/messages", params=params)
        self._feed(page["messages"])
        return page

    async def receipts(self, chat_id: str) -> list[dict]:
        """Per member: ``{"user_id", "delivered_seq", "read_seq"}``."""
        return (await self._rest("GET", f"/chats/{quote(chat_id, safe='')}/receipts"))["receipts"]

    async def logout_all(self) -> None:
        """Sign out every device: their refresh tokens stop working and their sockets close."""
        await self._rest("POST", "/auth/logout_all", {})

    async def delete_account(self, password: str) -> None:
        """Delete the account for good (the password again, as a safeguard)."""
        await self._rest("DELETE", "/me", {"password": password})

    async def export(self, poll_interval: float = 0.5, timeout: float = 120) -> str:
        """Ask for a file of your data, wait until it is written, and answer its short-lived URL."""
        export_id = (await self._rest("POST", "/me/export", {}))["export_id"]
        deadline = asyncio.get_running_loop().time() + timeout
        while (state := await self._rest("GET", f"/me/export/{export_id}"))["status"] != "ready":
            if asyncio.get_running_loop().time() > deadline:
                raise ParleyError("timeout", f"export {export_id} not ready after {timeout} s")
            await asyncio.sleep(poll_interval)
        return state["url"]

    async def presence(self, user_ids: list[str]) -> list[dict]:
        """Per user: ``{"user_id", "status": "online"|"offline"|"unknown", "last_seen"}``; ``unknown`` (with
        ``last_seen`` None): someone who shares a chat with you but does not let you see it (their
        ``last_seen`` setting, or they blocked you)."""
        return (await self._rest("POST", "/presence", {"user_ids": user_ids}))["users"]

    async def media(self, media_id: str) -> dict:
        """The media object, with fresh URLs."""
        return (await self._rest("GET", f"/media/{quote(media_id, safe='')}"))["media"]

    # Push notifications

    async def register_device(self, device: str, platform: str, token: str) -> dict:
        """Have pushes sent to a device while it has no live socket: ``device`` is the id it passes to
        ``connect(device=...)``, ``platform`` ``apns`` or ``fcm``, ``token`` the platform's device token.
        Register again whenever the platform gives a new token. Answers ``{"device", "platform"}``."""
        body = {"platform": platform, "token": token}
        return await self._rest("PUT", f"/devices/{quote(device, safe='')}", body)

    async def unregister_device(self, device: str) -> None:
        """Stop pushes to the device (at sign-out). A device that was not registered is no error."""
        await self._rest("DELETE", f"/devices/{quote(device, safe='')}")

    async def mute(self, chat_id: str, until: datetime | str | None) -> None:
        """Mute the chat's pushes to your devices until ``until`` (a timezone-aware datetime or an ISO 8601
        string, in the future), or unmute it (``None``). Mentions of you still push. Over the WebSocket."""
        await self._ask("mute", chat_id=chat_id, until=iso_time(until))

    async def settings(self) -> dict:
        """Every setting, defaults included:
        ``{"last_seen", "read_receipts", "groups_add", "push_previews"}``."""
        return (await self.me())["settings"]

    async def update_settings(self, **changes) -> dict:
        """Change some settings; answers every setting. The server knows ``last_seen`` (``"everyone"``,
        ``"contacts"`` or ``"nobody"``: who sees your presence), ``read_receipts`` (``False``: no read
        receipts either way in direct chats), ``groups_add`` (``"everyone"`` or ``"contacts"``: who may add
        you to a group) and ``push_previews`` (``False``: pushes without the text), e.g.
        ``update_settings(last_seen="contacts", read_receipts=False)``. Anything else is sent as given, and
        the server refuses it (``bad_request``)."""
        return (await self._rest("PUT", "/me/settings", changes))["settings"]

    # People

    async def profile(self) -> dict:
        """Your profile as others see it: ``{"user_id", "display_name"?, "about"?, "avatar"?}`` (``avatar``: a
        media object with fresh URLs; its ``variants.thumb`` is the picture to show)."""
        return (await self.me())["profile"]

    async def update_profile(
        self,
        *,
        display_name: str | _Unset | None = UNSET,
        about: str | _Unset | None = UNSET,
        avatar_media_id: str | _Unset | None = UNSET,
    ) -> dict:
        """Change the fields given (``None`` removes one; those not given stay as they are); answers the
        profile. ``display_name``: 1-64 characters; ``about``: 0-140; ``avatar_media_id``: your own upload
        into ``PROFILE`` (see ``set_avatar``). Those who share a chat with you get a ``profile`` event."""
        changes = _given(display_name=display_name, about=about, avatar_media_id=avatar_media_id)
        return (await self._rest("PUT", "/me/profile", changes))["profile"]

    async def set_avatar(
        self,
        source: str | os.PathLike | bytes,
        content_type: str | None = None,
        filename: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> dict:
        """Upload an image (JPEG, PNG, GIF or WebP) as your profile picture and set it; answers the profile.

        ``content_type`` defaults to the one the file name suggests. The upload goes over the WebSocket
        (``connect()`` first), as ``upload`` does; its ``media`` event, with ``chat_id`` ``"profile"``, comes
        to your own devices only. ``update_profile(avatar_media_id=None)`` removes the picture."""
        if filename is None and isinstance(source, bytes):
            raise ValueError("filename is required when uploading bytes")
        if content_type is None:
            name = filename or Path(source).name  # type: ignore[arg-type]
            content_type = mimetypes.guess_type(name)[0]
            if content_type is None:
                raise ValueError(f"cannot tell the content type of {name!r}: give content_type")
        media_id = await self.upload(PROFILE, source, content_type, filename, progress)
        return await self.update_profile(avatar_media_id=media_id)

    async def users(self, user_ids: Iterable[str]) -> list[dict]:
        """Profiles as you see them, in the order asked:
        ``[{"user_id", "display_name"?, "about"?, "avatar"?}]`` (``{"user_id", "deleted": true}`` for a
        deleted account). Unknown users are left out. Asked ``USERS_PAGE`` (100) at a time."""
        if isinstance(user_ids, str):
            raise TypeError("users() takes a list of user ids, not one string")
        wanted = list(dict.fromkeys(user_ids))
        for user_id in wanted:
            if not isinstance(user_id, str) or not user_id or "," in user_id:
                raise ValueError(f"{user_id!r} is not a user id")
        found: list[dict] = []
        for start in range(0, len(wanted), USERS_PAGE):
            ids = ",".join(wanted[start : start + USERS_PAGE])
            found += (await self._rest("GET", "/users", params={"ids": ids}))["users"]
        return found

    async def block(self, user_id: str) -> None:
        """Block a user: their sends into your direct chat and their adding you to groups are refused, and
        they see your presence as ``unknown`` and your profile without ``about`` and ``avatar``. Silent: they
        are not told."""
        await self._rest("POST", "/blocks", {"user_id": user_id})

    async def unblock(self, user_id: str) -> None:
        """Unblock a user (one you had not blocked is no error)."""
        await self._rest("DELETE", f"/blocks/{quote(user_id, safe='')}")

    async def blocked(self) -> list[str]:
        """The user ids you block."""
        return (await self._rest("GET", "/blocks"))["user_ids"]

    async def report(self, chat_id: str, seq: int, reason: str) -> str:
        """Report a message you can read to the moderators (``reason``: 1-500 characters); answers the
        report's id. The report keeps a copy of the message and of up to 5 before it."""
        body = {"chat_id": chat_id, "seq": seq, "reason": reason}
        return (await self._rest("POST", "/reports", body))["report_id"]

    async def local_pushes(self, user_id: str | None = None) -> list[dict]:
        """The local stack only: the pushes SNS would have delivered to ``user_id``'s devices (default: the
        logged-in user), oldest first, as ``[{"user_id", "device", "platform", "payload"}]``.

        Reads ``GET /_devstack/pushes`` beside the REST base. A server without it (AWS, where the pushes go
        to the phones) raises ``ParleyError("not_found")``."""
        user_id = user_id or self.user_id
        if user_id is None:
            raise ParleyError("unauthorized", "not logged in: call login() first, or give user_id")
        root = self.rest_url.removesuffix("/api")
        if root == self.rest_url:
            raise ParleyError("not_found", f"{LOCAL_ONLY}; {self.rest_url} is not its REST URL (no /api)")
        try:
            reply = await self._request("GET", f"{root}/_devstack/pushes", params={"user_id": user_id})
        except ParleyError as error:
            # Not the local stack: API Gateway answers 403 for a path it has no route for, others 404.
            if error.status in (403, 404):
                message = f"{LOCAL_ONLY}; {root} has no /_devstack/pushes (answered {error.status})"
                raise ParleyError("not_found", message, error.status) from None
            raise
        return reply["pushes"]

    async def _rest(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        params: dict | None = None,
        authorized: bool = True,
    ) -> dict:
        headers = {"Authorization": f"Bearer {await self.id_token()}"} if authorized else {}
        return await self._request(method, self.rest_url + path, body, params=params, headers=headers)

    async def _request(
        self,
        method: str,
        url: str,
        body: dict | None = None,
        *,
        params: dict | None = None,
        headers: dict | None = None,
    ) -> dict:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._request_timeout))
        async with self._http.request(method, url, json=body, params=params, headers=headers) as response:
            text = await response.text()
        try:
            reply = json.loads(text)
        except ValueError:
            reply = text
        if response.status >= 400:
            raise ParleyError.from_http(response.status, reply)
        return reply

    # WebSocket

    async def connect(self, device: str | None = None) -> None:
        """Open the WebSocket, which then reconnects by itself until ``close()``; raises if refused."""
        if self._socket is not None:
            raise RuntimeError("already connected")

        async def connect_url() -> str:
            query = _without_none(token=await self.id_token(), device=device)
            return f"{self.ws_url}?{urlencode(query)}"

        socket = ReconnectingSocket(
            connect_url,
            request_timeout=self._request_timeout,
            heartbeat_interval=self._heartbeat_interval,
            background_heartbeat_interval=self._background_heartbeat_interval,
            max_backoff=self._max_backoff,
            background=self._background,
        )
        await socket.open()
        self._socket = socket

    def set_background(self, background: bool) -> None:
        """In the background (an app not on screen), heartbeat quietly every ``background_heartbeat_interval``
        seconds (the server keeps the user online 150 s after one) instead of every ``heartbeat_interval``.

        Takes effect at once, before or after ``connect()``. A quiet heartbeat gets no reply, so in the
        background a dead link is noticed only when the socket itself closes.
        """
        self._background = background
        if self._socket is not None:
            self._socket.set_background(background)

    async def send_text(
        self,
        chat_id: str,
        text: str,
        reply_to: int | None = None,
        *,
        mentions: list[str] | None = None,
        client_msg_id: str | None = None,
    ) -> dict:
        """Send a text message; returns ``{"chat_id", "client_msg_id", "seq", "message_id", "sent_at"}``.

        If the socket drops before the answer, the send is repeated after the reconnect with the same
        ``client_msg_id`` (a new uuid4 unless given), so the server stores it once. ``mentions``: members
        of the chat.
        """
        return await self._send(
            chat_id, client_msg_id, kind="text", text=text, reply_to=reply_to, mentions=mentions
        )

    async def edit(self, chat_id: str, seq: int, text: str, *, client_msg_id: str | None = None) -> dict:
        """Edit your own text message (within 15 minutes of sending it); answers the edit's ``sent``."""
        return await self._send(chat_id, client_msg_id, kind="edit", relates_to=seq, text=text)

    async def delete(self, chat_id: str, seq: int, *, client_msg_id: str | None = None) -> dict:
        """Delete a message for everyone (yours within 48 hours; any, for a group admin)."""
        return await self._send(chat_id, client_msg_id, kind="delete", relates_to=seq)

    async def react(self, chat_id: str, seq: int, emoji: str, *, client_msg_id: str | None = None) -> dict:
        """React with one emoji; ``""`` takes your reaction back."""
        return await self._send(chat_id, client_msg_id, kind="reaction", relates_to=seq, emoji=emoji)

    async def forward(
        self, from_chat_id: str, seq: int, to_chat_id: str, *, client_msg_id: str | None = None
    ) -> dict:
        """Copy a message into another chat (its text and the same stored media)."""
        return await self._send(to_chat_id, client_msg_id, forward_of={"chat_id": from_chat_id, "seq": seq})

    async def hide(self, chat_id: str, seqs: list[int]) -> None:
        """Delete for me: these messages stop coming back to your devices (and leave ``client.view``)."""
        await self._ask("hide", chat_id=chat_id, seqs=seqs)
        self.view.forget(chat_id, seqs)

    async def update_chat(
        self,
        chat_id: str,
        *,
        name: str | _Unset = UNSET,
        description: str | _Unset | None = UNSET,
        avatar_media_id: str | _Unset | None = UNSET,
        settings: Mapping[str, str] | _Unset = UNSET,
        disappear_after: int | _Unset | None = UNSET,
    ) -> dict:
        """Change a chat's information or settings: only the fields given (``None`` removes a description or
        avatar, or stops disappearing messages). Answers the chat.

        Groups: ``name`` (1-100 characters), ``description`` (0-512), ``avatar_media_id`` (your own ``image``
        upload into this group), as the group's ``edit_info`` setting allows; ``settings``
        (``{"send"?: "all"|"admins", "edit_info"?: "all"|"admins"}``, those left out keep their value), admins
        only. Any chat: ``disappear_after`` 86400, 604800 or 7776000 seconds. Every member gets a ``system``
        message and the ``chat``."""
        changes = _given(
            name=name,
            description=description,
            avatar_media_id=avatar_media_id,
            settings=dict(settings) if isinstance(settings, Mapping) else settings,
            disappear_after=disappear_after,
        )
        return (await self._ask("update_chat", chat_id=chat_id, **changes))["chat"]

    async def set_disappearing(self, chat_id: str, seconds: int | None) -> dict:
        """``update_chat(chat_id, disappear_after=seconds)``: new messages disappear after 86400, 604800 or
        7776000 seconds (None: never)."""
        return await self.update_chat(chat_id, disappear_after=seconds)

    async def set_role(self, chat_id: str, user_id: str, role: str) -> dict:
        """Make a group member an ``admin``, or an admin a ``member`` (admins only; the last admin cannot step
        down). Answers the chat."""
        return (await self._ask("set_role", chat_id=chat_id, user_id=user_id, role=role))["chat"]

    async def create_invite(self, chat_id: str, expires_in: int | timedelta | None = None) -> dict:
        """An invite link to a group (admins only): ``{"chat_id", "token", "expires_at"}``. Anyone holding
        the token may ``join`` until it expires (``expires_in``: 60 seconds to 7 days, the default) or is
        revoked. Not sent again after a reconnect: that would make a second link."""
        if isinstance(expires_in, timedelta):
            expires_in = int(expires_in.total_seconds())
        params = _without_none(chat_id=chat_id, expires_in=expires_in)
        return await self._ask("create_invite", retry=False, **params)

    async def join(self, token: str) -> dict:
        """Join a group with an invite link's token; answers the chat (a member already: the chat, nothing
        else). An expired or revoked token is ``not_found``, a full group ``conflict``."""
        return (await self._ask("join", token=token))["chat"]

    async def revoke_invite(self, chat_id: str, token: str) -> None:
        """End an invite link of the group (admins only) before it expires."""
        await self._ask("revoke_invite", retry=False, chat_id=chat_id, token=token)

    async def send_media(
        self,
        chat_id: str,
        media_id: str,
        kind: str,
        reply_to: int | None = None,
        *,
        client_msg_id: str | None = None,
    ) -> dict:
        """Send an uploaded item as a message of ``kind`` ``image``, ``video`` or ``file``."""
        return await self._send(chat_id, client_msg_id, kind=kind, media_id=media_id, reply_to=reply_to)

    async def _send(self, chat_id: str, client_msg_id: str | None, **fields) -> dict:
        frame = _without_none(
            action="send", chat_id=chat_id, client_msg_id=client_msg_id or str(uuid.uuid4()), **fields
        )
        # The reply also goes to events(), which counts our own message as seen without yielding it.
        frames = await self._connected_socket().request(frame, also_incoming=True)
        sent = _payload(frames[-1])
        self._feed_own(frame, sent)
        return sent

    def _feed_own(self, frame: dict, sent: dict) -> None:
        """Put a message this connection sent into the view, as the server would serve it (as far as known):
        the server does not push it back here, so a reaction to it would otherwise find no target."""
        fields = ("kind", "text", "reply_to", "mentions", "relates_to", "emoji")
        message = {
            **{name: sent[name] for name in ("chat_id", "seq", "message_id", "sent_at")},
            "sender_id": self.user_id,
            **{name: frame[name] for name in fields if name in frame},
        }
        if "forward_of" in frame:
            source = self.view.get(frame["forward_of"]["chat_id"], frame["forward_of"]["seq"])
            if source is None:
                return  # its kind and text are the source's: it enters the view when served
            message.update({name: source[name] for name in ("kind", "text", "media") if name in source})
            message["forwarded"] = True
        if "reply_to" in frame and (quoted := self.view.get(frame["chat_id"], frame["reply_to"])):
            message["quote"] = {name: quoted[name] for name in ("seq", "sender_id", "kind")}
            if "text" in quoted:
                message["quote"]["text"] = quoted["text"][:QUOTE_CHARS]
        self.view.apply(message)

    async def create_direct(self, user_id: str) -> dict:
        """The direct chat with ``user_id``, created if there is none yet."""
        return (await self._ask("create_chat", kind="direct", user_id=user_id))["chat"]

    async def create_group(self, name: str, members: list[str]) -> dict:
        return (await self._ask("create_chat", retry=False, kind="group", name=name, members=members))["chat"]

    async def add_members(self, chat_id: str, user_ids: list[str]) -> dict:
        return (await self._ask("add_members", retry=False, chat_id=chat_id, user_ids=user_ids))["chat"]

    async def remove_members(self, chat_id: str, user_ids: list[str]) -> dict:
        return (await self._ask("remove_members", retry=False, chat_id=chat_id, user_ids=user_ids))["chat"]

    async def leave(self, chat_id: str) -> None:
        await self._ask("leave", retry=False, chat_id=chat_id)

    async def receipt(self, chat_id: str, seq: int, status: str) -> None:
        """Mark everything up to ``seq`` as ``delivered`` or ``read``."""
        await self._ask("receipt", chat_id=chat_id, seq=seq, status=status)

    async def typing(self, chat_id: str, state: str) -> None:
        """``state`` is ``start`` or ``stop``. Sent without ``req``: an error arrives through ``events()``."""
        await self._connected_socket().send({"action": "typing", "chat_id": chat_id, "state": state})

    async def heartbeat(self) -> dict:
        """``{"server_time"}``. The client already sends one every ``heartbeat_interval`` seconds."""
        return await self._ask("heartbeat")

    async def sync(self, cursors: Mapping[str, int] | None = None, limit: int | None = None) -> SyncResult:
        """What happened after ``cursors`` (``{chat_id: last seq seen}``; none: like a new device)."""
        frames = await self._connected_socket().request(
            _without_none(action="sync", cursors=dict(cursors or {}), limit=limit), final_type="synced"
        )
        result = _sync_result(frames)
        for batch in result.messages.values():
            self._feed(batch)
        return result

    async def sync_changes(self, since: str = "", limit: int | None = None) -> SyncResult:
        """One pass of the changes form of ``sync``: what may be new since ``since``, the token the last
        completed pass ended with ("": everything, like a new device), every page of it.

        Keep the result's ``since`` for the next pass. If the socket drops mid-pass, this raises
        ``ConnectionLost``: run the pass again with the same ``since`` (repeats then come again).
        """
        socket = self._connected_socket()
        connection = await socket.connection()
        frames: list[dict] = []
        page = None
        while True:
            request = _without_none(action="sync", since=since, page=page, limit=limit)
            frames += await socket.request(request, final_type="synced", connection=connection)
            page = frames[-1].get("next")
            if page is None:
                result = _sync_result(frames, since=frames[-1].get("since"))
                for batch in result.messages.values():
                    self._feed(batch)
                return result

    async def history_ws(self, chat_id: str, before: int | None = None, limit: int | None = None) -> dict:
        """``history`` over the WebSocket: ``{"chat_id", "messages": [ascending], "has_more"}``."""
        page = await self._ask("history", **_without_none(chat_id=chat_id, before=before, limit=limit))
        self._feed(page["messages"])
        return page

    def _feed(self, messages: list[dict]) -> None:
        """Put served messages (a page or a sync batch, ascending) into the view. Each carries the relations
        stored before it was read: at least those up to the highest seq of its chat in the same batch."""
        as_of: dict[str, int] = {}
        for message in messages:
            as_of[message["chat_id"]] = max(as_of.get(message["chat_id"], 0), message["seq"])
        for message in messages:
            self.view.apply(message, as_of=as_of[message["chat_id"]])

    async def media_url(self, media_id: str) -> dict:
        """The media object, with fresh URLs."""
        return (await self._ask("media_url", media_id=media_id))["media"]

    async def upload(
        self,
        chat_id: str,
        source: str | os.PathLike | bytes,
        content_type: str,
        filename: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> str:
        """Upload a file (a path, or bytes with a ``filename``) into a chat; returns its media_id.

        ``progress(sent, total)`` is called as the body of the presigned POST goes out, in bytes.
        Send it with ``send_media`` (it may still be ``pending``; a ``media`` event follows).
        """
        if filename is None:
            if isinstance(source, bytes):
                raise ValueError("filename is required when uploading bytes")
            filename = Path(source).name
        with io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(0)
            slot = await self._ask(
                "upload", chat_id=chat_id, filename=filename, content_type=content_type, size=size
            )
            if size > slot["max_size"]:
                raise ParleyError("too_large", f"{filename} is {size} bytes, more than {slot['max_size']}")
            await post_presigned(slot["url"], slot["fields"], file, filename, content_type, progress)
        return slot["media_id"]

    async def _ask(self, action: str, *, retry: bool = True, **params) -> dict:
        """One request, one reply frame. ``retry=False`` for actions that must not run twice."""
        frames = await self._connected_socket().request({"action": action, **params}, retry=retry)
        return _payload(frames[-1])

    def _connected_socket(self) -> ReconnectingSocket:
        if self._socket is None:
            raise RuntimeError("not connected: call connect() first")
        return self._socket

    # Events

    async def events(self) -> AsyncIterator[dict]:
        """Server events as they come, across reconnects, until ``close()``.

        Messages come as ``{"type": "message", "message"}``, each once and in seq order per chat,
        whether they arrived live, through the ``sync`` run after every (re)connect, or through the
        ``history`` calls that fill holes; messages this connection sent are not repeated here. Other
        events (``receipt``, ``typing``, ``presence``, ``profile``, ``chat``, ``media``, ``error`` without
        ``req``) are passed through as they arrive. Read it from one task at a time.
        """
        async for item in self._connected_socket().incoming():
            if item is CONNECTED:
                try:
                    ready = await self._catch_up()
                except ConnectionLost:
                    continue  # the next connection starts the pass again, from the old token
            elif item.get("type") == "message":
                ready = self.cursors.add(item["message"])
            elif item.get("type") == "sent":
                ready = self.cursors.add_own(item["chat_id"], item["seq"])
            else:
                yield item
                continue
            ready += await self._fill_gaps()
            for message in ready:
                yield self._event_of(message)

    def _event_of(self, message: dict) -> dict:
        """A message to yield, folded into the view: a relation as
        ``{"type": "relation", "message", "target"}`` (``target``: what it acted on, as folded now; None if
        this client never saw it), anything else as ``{"type": "message", "message"}`` as the view has it."""
        shown = self.view.apply(message)
        if is_relation(message):
            target = self.view.get(message["chat_id"], message["relates_to"])
            return {"type": "relation", "message": message, "target": _copy(target)}
        return {"type": "message", "message": _copy(shown)}

    async def _catch_up(self) -> list[dict]:
        result = await self.sync_changes(self.cursors.since, limit=SYNC_LIMIT)
        ready = []
        for chat in result.chats:
            if not self.cursors.knows(chat["chat_id"]):
                # A chat new to us starts where sync starts it (its newest messages), as on a new device.
                batch = result.messages.get(chat["chat_id"])
                ready += self.cursors.start(
                    chat["chat_id"], batch[0]["seq"] - 1 if batch else chat["last_seq"]
                )
        # A known chat whose batch was `limited` now has a gap, which _fill_gaps backfills.
        for batch in result.messages.values():
            for message in batch:
                ready += self.cursors.add(message)
        if result.since is not None:
            self.cursors.since = result.since
        return ready

    async def _fill_gaps(self) -> list[dict]:
        ready = []
        while gaps := self.cursors.gaps():
            for gap in gaps:
                ready += await self._fill(gap)
            if self.cursors.gaps() == gaps:
                raise ParleyError("internal", f"history does not have the missing messages: {gaps}")
        return ready

    async def _fill(self, gap: Gap) -> list[dict]:
        if gap.after_seq is None:
            # First seen mid-stream: start with its newest messages, as sync does for an unknown chat.
            page = await self.history_ws(gap.chat_id, before=gap.before_seq, limit=HISTORY_PAGE)
            messages = page["messages"]
            ready = self.cursors.start(
                gap.chat_id, messages[0]["seq"] - 1 if messages else gap.before_seq - 1
            )
        else:
            messages = await self._history_between(gap.chat_id, gap.after_seq, gap.before_seq)
            ready = []
        for message in messages:
            ready += self.cursors.add(message)
        return ready

    async def _history_between(self, chat_id: str, after_seq: int, before_seq: int) -> list[dict]:
        """The messages strictly between two seqs, fetched newest page first."""
        messages: list[dict] = []
        while before_seq > after_seq + 1:
            page = await self.history_ws(
                chat_id, before=before_seq, limit=min(HISTORY_PAGE, before_seq - after_seq - 1)
            )
            older = [message for message in page["messages"] if message["seq"] > after_seq]
            messages[:0] = older
            if not older or not page["has_more"]:
                break
            before_seq = older[0]["seq"]
        return messages


LOCAL_ONLY = "pushes are listed only by the local stack (on AWS, SNS delivers them to the phones)"


def iso_time(moment: datetime | str | None) -> str | None:
    """``until`` as the server takes it: a timezone-aware datetime as ISO 8601 in UTC (``...Z``); a string
    as given (the server checks it); None as None. A naive datetime is refused: its zone would be a guess."""
    if not isinstance(moment, datetime):
        return moment
    if moment.utcoffset() is None:
        raise ValueError(f"{moment} has no timezone: give an aware datetime, e.g. datetime.now(UTC)")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sync_result(frames: list[dict], since: str | None = None) -> SyncResult:
    """The ``messages`` frames put back together by each message's chat, and the ``synced`` frames' chats."""
    messages: dict[str, list[dict]] = {}
    chats: list[dict] = []
    for frame in frames:
        if frame["type"] == "synced":
            chats += frame["chats"]
        else:
            for message in frame["messages"]:
                messages.setdefault(message["chat_id"], []).append(message)
    return SyncResult(messages=messages, chats=chats, since=since)


def _payload(frame: dict) -> dict:
    """A reply without its envelope: the same shape as the REST answer."""
    return {key: value for key, value in frame.items() if key not in ("type", "req")}


def _copy(message: dict | None) -> dict | None:
    """A copy for the app: the view replaces (never changes in place) what it folds, so one level will do."""
    return None if message is None else dict(message)


def _without_none(**fields) -> dict:
    return {key: value for key, value in fields.items() if value is not None}


def _given(**fields) -> dict:
    """The fields given a value, ``None`` included (it removes): those left ``UNSET`` are not sent."""
    return {key: value for key, value in fields.items() if value is not UNSET}
