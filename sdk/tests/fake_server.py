"""An in-memory stand-in for a Parley server: just the parts of the contract the SDK's tests need.

REST and a fake S3 presigned-POST endpoint run on an aiohttp test server, the WebSocket on
``websockets``, each on a free port of 127.0.0.1. Tests steer it: store messages without pushing
them, push repeats, drop sockets, lose replies. It speaks the message actions (v1.1) as the contract has
them: edits, deletes and reactions stored as messages with their own seq and folded into their target
(time windows left out), forwards, quotes, mentions checked against the members, and ``hide``.

And push notifications: devices registered over REST, ``mute``, the ``push_previews`` setting, read
cursors from ``receipt`` (for the unread count), and ``GET /_devstack/pushes`` as the local stack has it.
A push is recorded at once when a text or media message is stored, for each other member's device with
no open socket of its own (``?device=<its id>``), unless the member muted the chat and is not mentioned.

And people: profiles (``PUT /api/me/profile``, ``GET /api/users``, avatars uploaded with ``chat_id``
``"profile"``, ``profile`` events to those who share a chat, but those the user blocked), the four settings
with their choices, blocks (a blocked user's send into the direct chat and adding the blocker to a group are
``forbidden``; ``groups_add: "contacts"`` refuses non-contacts), and reports (``server.reports``). And groups:
``update_chat`` (name, description, avatar, settings, disappearing messages; ``edit_info`` and admins-only
settings enforced, ``send: "admins"`` refusing other members' sends), ``set_role`` with the last-admin rule,
``add_members``, and invites (``create_invite``, ``join``, ``revoke_invite``; ``server.invites``), each change
with its ``system`` message and the ``chat`` pushed to every member. ``server.max_group_members`` (500) can be
lowered to test a full group.
"""

import asyncio
import contextlib
import itertools
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from aiohttp.test_utils import TestServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

PASSWORD = "Secret-123"
RELATIONS = ("edit", "delete", "reaction")
PUSHED_KINDS = ("text", "image", "video", "file")
SETTINGS = {"last_seen": "everyone", "read_receipts": True, "groups_add": "everyone", "push_previews": True}
SETTING_CHOICES = {"last_seen": ("everyone", "contacts", "nobody"), "groups_add": ("everyone", "contacts")}
GROUP_SETTINGS = {"send": "all", "edit_info": "all"}
DISAPPEAR_AFTER = (86400, 604800, 7776000)
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
PROFILE_LENGTHS = {"display_name": (1, 64), "about": (0, 140)}
MAX_DEVICES = 10


async def wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


class Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class FakeParley:
    def __init__(self):
        self.passwords: dict[str, str] = {}
        self.token_owners: dict[str, str] = {}
        self.token_lifetime = 3600
        self.refreshes = 0
        self.chats: dict[str, dict] = {}
        self.sockets: dict[str, list[ServerConnection]] = defaultdict(list)
        self.received: list[dict] = []
        self.handshakes = 0
        self.sync_limit = 100
        self.sync_page_chats = 2
        self.stored = 0
        """Messages stored so far, in every chat: a sync token ``vN`` says the first N are known."""
        self._stored_as: dict[str, int] = {}
        self.answer_heartbeats = True
        self.lose_reply_to: Callable[[dict], bool] = lambda frame: False
        self.s3_status = 204
        self.uploads: list[dict] = []
        self.hidden: dict[tuple[str, str], set[int]] = defaultdict(set)
        """(user_id, chat_id) -> the seqs that user hid."""
        self._reactions: dict[tuple[str, int], dict[str, tuple[int, str]]] = defaultdict(dict)
        self._counter = itertools.count(1)
        self.devices: dict[str, dict[str, dict]] = defaultdict(dict)
        """user_id -> device -> ``{"platform", "token"}``: registered for pushes."""
        self.mutes: dict[tuple[str, str], datetime] = {}
        """(user_id, chat_id) -> until when that user muted the chat."""
        self.settings: dict[str, dict] = defaultdict(dict)
        """user_id -> the settings changed from ``SETTINGS``."""
        self.read_seqs: dict[tuple[str, str], int] = defaultdict(int)
        self.pushes: list[dict] = []
        """What SNS would have delivered, in order: ``{"user_id", "device", "platform", "payload"}``."""
        self.devstack_refusal: int | None = None
        """A status (404; 403 as API Gateway answers a path it has no route for) to answer
        ``/_devstack/pushes`` with, as a server that is not the local stack does."""
        self._socket_devices: dict[ServerConnection, str | None] = {}
        self.media: dict[str, dict] = {}
        """media_id -> ``{"chat_id", "uploader", "content_type", "filename", "size"}``: every upload slot
        given (a profile picture's ``chat_id`` is ``"profile:<user>"``)."""
        self.profiles: dict[str, dict] = defaultdict(dict)
        """user_id -> ``{"display_name"?, "about"?, "avatar_media_id"?}``."""
        self.deleted_users: set[str] = set()
        """Accounts read as ``{"user_id", "deleted": true}``."""
        self.blocks: dict[str, set[str]] = defaultdict(set)
        """user_id -> the users they block."""
        self.reports: list[dict] = []
        """``{"report_id", "reporter_id", "chat_id", "seq", "reason", "messages"}``, in order."""
        self.invites: dict[str, dict] = {}
        """token -> ``{"chat_id", "expires_at": datetime}``: the live invite links."""
        self.max_group_members = 500
        self.users_asked: list[str] = []
        """The ``ids`` of each ``GET /api/users``, as sent."""

    async def __aenter__(self) -> "FakeParley":
        app = web.Application()
        app.router.add_post("/api/auth/signup", self._signup)
        app.router.add_post("/api/auth/login", self._login)
        app.router.add_post("/api/auth/refresh", self._refresh)
        app.router.add_get("/api/me", self._me)
        app.router.add_put("/api/me/settings", self._update_settings)
        app.router.add_put("/api/me/profile", self._update_profile)
        app.router.add_get("/api/users", self._users)
        app.router.add_post("/api/blocks", self._block)
        app.router.add_delete("/api/blocks/{user_id}", self._unblock)
        app.router.add_get("/api/blocks", self._blocked)
        app.router.add_post("/api/reports", self._report)
        app.router.add_put("/api/devices/{device}", self._register_device)
        app.router.add_delete("/api/devices/{device}", self._unregister_device)
        app.router.add_get("/api/chats", self._chats)
        app.router.add_get("/api/chats/{chat_id}", self._chat)
        app.router.add_get("/api/chats/{chat_id}/messages", self._messages)
        app.router.add_get("/_devstack/pushes", self._devstack_pushes)
        app.router.add_post("/s3", self._s3_post)
        self._http = TestServer(app, host="127.0.0.1")
        await self._http.start_server()
        self._ws_server = await serve(self._serve_socket, "127.0.0.1", 0, process_request=self._check_token)
        ws_port = self._ws_server.sockets[0].getsockname()[1]
        self.rest_url = str(self._http.make_url("/api"))
        self.ws_url = f"ws://127.0.0.1:{ws_port}/ws"
        self.upload_url = str(self._http.make_url("/s3"))
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._ws_server.close()
        await self._ws_server.wait_closed()
        await self._http.close()

    # Steering, for tests

    def add_user(self, user_id: str) -> None:
        self.passwords[user_id] = PASSWORD

    def create_direct(self, a: str, b: str) -> str:
        chat_id = "-".join(sorted((a, b)))
        self.chats.setdefault(
            chat_id, {"chat_id": chat_id, "kind": "direct", "members": [a, b], "messages": [], "sent": {}}
        )
        return chat_id

    def create_group(self, name: str, admin: str, *members: str) -> str:
        """A group of ``admin`` and ``members``, as ``create_chat`` makes it, without checks or pushes."""
        chat_id = f"group-{next(self._counter)}"
        self.chats[chat_id] = {
            "chat_id": chat_id,
            "kind": "group",
            "name": name,
            "members": [admin, *members],
            "admins": [admin],
            "settings": dict(GROUP_SETTINGS),
            "messages": [],
            "sent": {},
        }
        return chat_id

    async def store(self, chat_id: str, sender: str, text: str, *, push: bool = True) -> dict:
        """A message from someone else's device; pushed to the members' sockets unless ``push=False``."""
        message = self._append(chat_id, sender, {"kind": "text", "text": text})
        if push:
            await self.push(message)
        return message

    async def act(self, chat_id: str, sender: str, **fields) -> dict:
        """A message with any fields of ``send`` (an edit, a reaction, a reply...) from someone else's
        device, checked, stored, folded and pushed as ``send`` does it."""
        chat = self._chat_of_member(sender, chat_id)
        message = self._store_send(chat, sender, fields)
        await self.push(message)
        return message

    async def push(self, message: dict, *, skip: ServerConnection | None = None) -> None:
        chat = self.chats[message["chat_id"]]
        await self._send_to_members(chat, {"type": "message", "message": message}, skip=skip)

    def drop(self, user_id: str) -> None:
        """Cut the user's sockets without a closing handshake, like a lost network."""
        for ws in self.sockets[user_id]:
            ws.transport.abort()

    def frames(self, action: str) -> list[dict]:
        return [frame for frame in self.received if frame.get("action") == action]

    # REST

    async def _signup(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["username"] in self.passwords:
            return _error(409, "conflict", "username taken")
        self.passwords[body["username"]] = body["password"]
        return web.json_response({"user_id": body["username"]}, status=201)

    async def _login(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.passwords.get(body["username"]) != body["password"]:
            return _error(401, "unauthorized", "bad credentials")
        return web.json_response(
            {
                "user_id": body["username"],
                "id_token": self._new_token(body["username"]),
                "refresh_token": f"refresh-{body['username']}",
                "expires_in": self.token_lifetime,
            }
        )

    async def _refresh(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.refreshes += 1
        user_id = body["refresh_token"].removeprefix("refresh-")
        return web.json_response({"id_token": self._new_token(user_id), "expires_in": self.token_lifetime})

    async def _me(self, request: web.Request) -> web.Response:
        user_id = self._user_of(request)
        return web.json_response(
            {
                "user_id": user_id,
                "profile": self._person(user_id, user_id),
                "settings": SETTINGS | self.settings[user_id],
            }
        )

    async def _update_settings(self, request: web.Request) -> web.Response:
        user_id, changes = self._user_of(request), await request.json()
        if not isinstance(changes, dict):
            return _error(400, "bad_request", "the body is a JSON object of settings")
        if unknown := sorted(set(changes) - set(SETTINGS)):
            return _error(400, "bad_request", f"unknown settings: {', '.join(unknown)}")
        if wrong := [name for name, value in changes.items() if type(value) is not type(SETTINGS[name])]:
            return _error(400, "bad_request", f"{', '.join(wrong)}: wrong type")
        if wrong := [
            name for name, value in changes.items() if value not in SETTING_CHOICES.get(name, (value,))
        ]:
            return _error(400, "bad_request", f"{', '.join(wrong)}: not one of the choices")
        self.settings[user_id].update(changes)
        return web.json_response({"settings": SETTINGS | self.settings[user_id]})

    async def _update_profile(self, request: web.Request) -> web.Response:
        user_id, changes = self._user_of(request), await request.json()
        if not isinstance(changes, dict):
            return _error(400, "bad_request", "the body is a JSON object of profile fields")
        if unknown := sorted(set(changes) - {*PROFILE_LENGTHS, "avatar_media_id"}):
            return _error(400, "bad_request", f"unknown profile fields: {', '.join(unknown)}")
        for name, (shortest, longest) in PROFILE_LENGTHS.items():
            value = changes.get(name)
            if value is not None and (not isinstance(value, str) or not shortest <= len(value) <= longest):
                return _error(400, "bad_request", f"{name}: {shortest} to {longest} characters, or null")
        avatar = changes.get("avatar_media_id")
        if avatar is not None:
            media = self.media.get(avatar) if isinstance(avatar, str) else None
            if media is None or media["chat_id"] != f"profile:{user_id}" or media["uploader"] != user_id:
                return _error(404, "not_found", f"no profile picture {avatar!r} of yours")
        if changes:
            profile = self.profiles[user_id]
            for name, value in changes.items():
                if value is None:
                    profile.pop(name, None)
                else:
                    profile[name] = value
            await self._announce_profile(user_id)
        return web.json_response({"profile": self._person(user_id, user_id)})

    async def _users(self, request: web.Request) -> web.Response:
        viewer = self._user_of(request)
        self.users_asked.append(request.query.get("ids", ""))
        wanted = list(dict.fromkeys(i.lower() for i in request.query.get("ids", "").split(",") if i))
        if not 1 <= len(wanted) <= 100:
            return _error(400, "bad_request", "ids names 1 to 100 users, separated by commas")
        known = [user_id for user_id in wanted if user_id in self.passwords or user_id in self.deleted_users]
        return web.json_response({"users": [self._person(user_id, viewer) for user_id in known]})

    def _person(self, user_id: str, viewer: str) -> dict:
        """The user's profile as ``viewer`` sees it: without ``about`` and ``avatar`` for one they blocked."""
        if user_id in self.deleted_users:
            return {"user_id": user_id, "deleted": True}
        profile = self.profiles[user_id]
        wire = {"user_id": user_id}
        if "display_name" in profile:
            wire["display_name"] = profile["display_name"]
        if viewer not in self.blocks[user_id]:
            if "about" in profile:
                wire["about"] = profile["about"]
            if "avatar_media_id" in profile:
                wire["avatar"] = self._media_wire(profile["avatar_media_id"])
        return wire

    def _media_wire(self, media_id: str) -> dict:
        media = self.media[media_id]
        url = f"{self.upload_url}/{media_id}"
        wire = {
            "media_id": media_id,
            "content_type": media["content_type"],
            "size": media["size"],
            "filename": media["filename"],
            "status": "ready",
            "url": url,
        }
        if media["content_type"] in IMAGE_TYPES:
            thumb = {"url": f"{url}/thumb", "width": 96, "height": 96, "content_type": "image/jpeg"}
            wire["variants"] = {"thumb": thumb}
        return wire

    async def _announce_profile(self, user_id: str) -> None:
        """``profile`` to those who share a chat with the user, but those the user blocked."""
        audience = (
            {
                member
                for chat in self.chats.values()
                if user_id in chat["members"]
                for member in chat["members"]
            }
            - {user_id}
            - self.blocks[user_id]
        )
        frame = json.dumps({"type": "profile", "user": self._person(user_id, user_id)})
        for member in sorted(audience):
            for ws in list(self.sockets[member]):
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(frame)

    async def _block(self, request: web.Request) -> web.Response:
        user_id, body = self._user_of(request), await request.json()
        other = body.get("user_id") if isinstance(body, dict) else None
        if not isinstance(other, str) or not other:
            return _error(400, "bad_request", "user_id names the user to block")
        other = other.lower()
        if other == user_id:
            return _error(400, "bad_request", "you cannot block yourself")
        if other not in self.passwords:
            return _error(404, "not_found", f"no user {other!r}")
        self.blocks[user_id].add(other)
        return web.json_response({}, status=201)

    async def _unblock(self, request: web.Request) -> web.Response:
        self.blocks[self._user_of(request)].discard(request.match_info["user_id"].lower())
        return web.json_response({})

    async def _blocked(self, request: web.Request) -> web.Response:
        return web.json_response({"user_ids": sorted(self.blocks[self._user_of(request)])})

    async def _report(self, request: web.Request) -> web.Response:
        user_id, body = self._user_of(request), await request.json()
        chat_id, seq, reason = (body.get(name) for name in ("chat_id", "seq", "reason"))
        if not isinstance(chat_id, str) or not chat_id:
            return _error(400, "bad_request", "chat_id names the chat of the message")
        if type(seq) is not int or seq < 1:
            return _error(400, "bad_request", "seq is the reported message's seq")
        if not isinstance(reason, str) or not 1 <= len(reason) <= 500:
            return _error(400, "bad_request", "reason is a string of 1 to 500 characters")
        chat = self.chats.get(chat_id)
        if chat is None or user_id not in chat["members"]:
            return _error(403, "forbidden", "not a member of this chat")
        if seq > len(chat["messages"]):
            return _error(400, "bad_request", f"the chat's last seq is {len(chat['messages'])}")
        report_id = f"report-{next(self._counter)}"
        messages = [dict(message) for message in chat["messages"][max(0, seq - 6) : seq]]
        self.reports.append(
            {"report_id": report_id, "reporter_id": user_id, "chat_id": chat_id, "seq": seq, "reason": reason}
            | {"messages": messages}
        )
        return web.json_response({"report_id": report_id}, status=201)

    async def _register_device(self, request: web.Request) -> web.Response:
        user_id, body = self._user_of(request), await request.json()
        device = request.match_info["device"]
        platform, token = body.get("platform"), body.get("token")
        if not 1 <= len(device) <= 64:
            return _error(400, "bad_request", "a device id has 1 to 64 characters")
        if platform not in ("apns", "fcm"):
            return _error(400, "bad_request", "platform must be 'apns' or 'fcm'")
        if not isinstance(token, str) or not 1 <= len(token) <= 4096:
            return _error(400, "bad_request", "token must be a string of 1 to 4096 characters")
        if device not in self.devices[user_id] and len(self.devices[user_id]) >= MAX_DEVICES:
            return _error(400, "bad_request", f"at most {MAX_DEVICES} devices; delete one first")
        for owner, devices in self.devices.items():  # a phone that changed hands: the old account loses it
            for name, registered in list(devices.items()):
                if registered["token"] == token and (owner, name) != (user_id, device):
                    del devices[name]
        self.devices[user_id][device] = {"platform": platform, "token": token}
        return web.json_response({"device": device, "platform": platform})

    async def _unregister_device(self, request: web.Request) -> web.Response:
        self.devices[self._user_of(request)].pop(request.match_info["device"], None)
        return web.json_response({})

    async def _devstack_pushes(self, request: web.Request) -> web.Response:
        if self.devstack_refusal is not None:
            refusal = {"message": "Missing Authentication Token"}
            return web.json_response(refusal, status=self.devstack_refusal)
        user_id = request.query.get("user_id")
        pushes = [push for push in self.pushes if user_id is None or push["user_id"] == user_id]
        return web.json_response({"pushes": pushes})

    async def _chats(self, request: web.Request) -> web.Response:
        user_id = self._user_of(request)
        chats = [self._chat_for(user_id, chat) for chat in self.chats.values() if user_id in chat["members"]]
        if "limit" not in request.query and "cursor" not in request.query:
            return web.json_response({"chats": chats})
        limit, start = request.query.get("limit", "100"), request.query.get("cursor", "0")
        if not (limit.isdigit() and 1 <= int(limit) <= 100 and start.isdigit()):
            return _error(400, "bad_request", "bad limit or cursor")
        end = int(start) + int(limit)
        page = {"chats": chats[int(start) : end]}
        return web.json_response(page | ({"next": str(end)} if end < len(chats) else {}))

    async def _chat(self, request: web.Request) -> web.Response:
        user_id = self._user_of(request)
        chat = self.chats.get(request.match_info["chat_id"])
        if chat is None:
            return _error(404, "not_found", "no such chat")
        if user_id not in chat["members"]:
            return _error(403, "forbidden", "not a member of this chat")
        return web.json_response({"chat": self._chat_for(user_id, chat)})

    def _chat_for(self, user_id: str, chat: dict) -> dict:
        """The chat as ``user_id`` gets it over REST: with ``muted_until`` while they have it muted."""
        until = self.mutes.get((user_id, chat["chat_id"]))
        if until is None or until <= datetime.now(UTC):
            return _chat_view(chat)
        return _chat_view(chat) | {"muted_until": until.isoformat(timespec="seconds").replace("+00:00", "Z")}

    async def _messages(self, request: web.Request) -> web.Response:
        user_id = self._user_of(request)
        chat = self.chats.get(request.match_info["chat_id"])
        if chat is None:
            return _error(404, "not_found", "no such chat")
        before = int(request.query.get("before", 10**9))
        limit = int(request.query.get("limit", 50))
        page = _page(self._visible(user_id, chat), before, limit)
        return web.json_response({"chat_id": chat["chat_id"], **page})

    async def _s3_post(self, request: web.Request) -> web.Response:
        fields, file = {}, None
        async for part in await request.multipart():
            if file is not None:
                return web.Response(status=400, text="<Error>fields after the file</Error>")
            if part.name == "file":
                file = {
                    "filename": part.filename,
                    "content_type": part.headers["Content-Type"],
                    "data": await part.read(),
                }
            else:
                fields[part.name] = await part.text()
        self.uploads.append({"fields": fields, **file})
        return web.Response(
            status=self.s3_status, text="" if self.s3_status < 300 else "<Error>AccessDenied</Error>"
        )

    def _new_token(self, user_id: str) -> str:
        token = f"token-{user_id}-{next(self._counter)}"
        self.token_owners[token] = user_id
        return token

    def _user_of(self, request: web.Request) -> str:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.token_owners:
            raise web.HTTPUnauthorized(text=json.dumps({"code": "unauthorized", "message": "bad token"}))
        return self.token_owners[token]

    # WebSocket

    def _check_token(self, connection: ServerConnection, request):
        token = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
        if token not in self.token_owners:
            return connection.respond(401, "bad token\n")
        self.handshakes += 1
        return None

    async def _serve_socket(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        user_id = self.token_owners[query["token"][0]]
        self._socket_devices[ws] = query.get("device", [None])[0]
        self.sockets[user_id].append(ws)
        try:
            async for raw in ws:
                frame = json.loads(raw)
                self.received.append(frame)
                replies = await self._act(user_id, ws, frame)
                if self.lose_reply_to(frame):
                    ws.transport.abort()
                    break
                for reply in replies:
                    await ws.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            self.sockets[user_id].remove(ws)
            del self._socket_devices[ws]

    async def _act(self, user_id: str, ws: ServerConnection, frame: dict) -> list[dict]:
        handler = getattr(self, f"_on_{frame.get('action')}", None)
        try:
            if handler is None:
                raise Refused("bad_request", "unknown action")
            replies = await handler(user_id, ws, frame)
        except Refused as refused:
            replies = [{"type": "error", "code": refused.code, "message": refused.message}]
        return [{**reply, "req": frame["req"]} for reply in replies] if "req" in frame else replies

    async def _on_heartbeat(self, user_id, ws, frame) -> list[dict]:
        if frame.get("quiet") or not self.answer_heartbeats:
            return []
        return [{"type": "pong", "server_time": _now()}]

    async def _on_create_chat(self, user_id, ws, frame) -> list[dict]:
        if frame["kind"] == "direct":
            chat = self.chats[self.create_direct(user_id, frame["user_id"])]
        else:
            self._check_newcomers(user_id, frame["members"])
            chat = self.chats[self.create_group(frame["name"], user_id, *frame["members"])]
        await self._send_to_members(chat, {"type": "chat", "chat": _chat_view(chat)}, skip=ws)
        return [{"type": "chat", "chat": _chat_view(chat)}]

    def _check_newcomers(self, actor: str, user_ids: list[str]) -> None:
        """As the server: every user exists, none blocks the actor, and those who let only their contacts add
        them count the actor as one. Any refusal refuses the whole request."""
        if missing := [user_id for user_id in user_ids if user_id not in self.passwords]:
            raise Refused("not_found", f"no such users: {', '.join(missing)}")
        if any(actor in self.blocks[user_id] for user_id in user_ids):
            raise Refused("forbidden", "someone you named does not take group invitations from you")
        choosy = [u for u in user_ids if (SETTINGS | self.settings[u])["groups_add"] == "contacts"]
        if refusing := [user_id for user_id in choosy if not self._is_contact(user_id, actor)]:
            raise Refused("forbidden", f"only their contacts may add {', '.join(refusing)} to groups")

    def _is_contact(self, user_id: str, other: str) -> bool:
        """Whether ``other`` is ``user_id``'s contact: ``user_id`` has written in their direct chat."""
        chat = self.chats.get("-".join(sorted((user_id, other))))
        return chat is not None and any(m["sender_id"] == user_id for m in chat["messages"])

    async def _on_add_members(self, user_id, ws, frame) -> list[dict]:
        chat = self._as_admin(user_id, frame["chat_id"])
        newcomers = [u for u in dict.fromkeys(frame["user_ids"]) if u not in chat["members"]]
        if not newcomers:
            return [{"type": "chat", "chat": _chat_view(chat)}]
        self._check_newcomers(user_id, newcomers)
        event = {"type": "added", "by": user_id, "user_ids": newcomers}
        await self._admit(chat, newcomers, event, f"{user_id} added {', '.join(newcomers)}")
        return [{"type": "chat", "chat": _chat_view(chat)}]

    async def _admit(self, chat: dict, newcomers: list[str], event: dict, text: str) -> None:
        if len(chat["members"]) + len(newcomers) > self.max_group_members:
            raise Refused("conflict", f"the group is full: at most {self.max_group_members} members")
        chat["members"] += newcomers
        # They read the group from the system message that admits them on, as the server has it.
        chat.setdefault("joined", {}).update(dict.fromkeys(newcomers, len(chat["messages"]) + 1))
        await self._announce(chat, event, text)

    async def _announce(self, chat: dict, event: dict, text: str) -> None:
        """A ``system`` message recording a change, then the chat, to every member."""
        notice = self._append(chat["chat_id"], "", {"kind": "system", "text": text, "event": event})
        await self.push(notice)
        await self._send_to_members(chat, {"type": "chat", "chat": _chat_view(chat)}, skip=None)

    def _as_admin(self, user_id: str, chat_id: str) -> dict:
        chat = self._chat_of_member(user_id, chat_id)
        if chat["kind"] != "group":
            raise Refused("bad_request", "only groups have admins")
        if user_id not in chat["admins"]:
            raise Refused("forbidden", "only group admins can do that")
        return chat

    async def _on_update_chat(self, user_id, ws, frame) -> list[dict]:
        chat = self._chat_of_member(user_id, frame.get("chat_id"))
        names = ("disappear_after", "name", "description", "avatar_media_id", "settings")
        changes = {name: frame[name] for name in names if name in frame}
        if "disappear_after" in changes and changes["disappear_after"] not in (*DISAPPEAR_AFTER, None):
            raise Refused("bad_request", f"disappear_after: one of {DISAPPEAR_AFTER}, or null")
        if "name" in changes and not (isinstance(changes["name"], str) and 1 <= len(changes["name"]) <= 100):
            raise Refused("bad_request", "a group needs a name of 1-100 characters")
        description = changes.get("description")
        if description is not None and not (isinstance(description, str) and len(description) <= 512):
            raise Refused("bad_request", "description: at most 512 characters, or null")
        settings = changes.get("settings")
        if settings is not None and not (
            isinstance(settings, dict)
            and set(settings) <= set(GROUP_SETTINGS)
            and all(value in ("all", "admins") for value in settings.values())
        ):
            raise Refused("bad_request", 'settings: {"send"?, "edit_info"?}, each "all" or "admins"')
        if chat["kind"] == "direct":
            if set(changes) - {"disappear_after"}:
                raise Refused("bad_request", "a direct chat has no name, description, avatar or settings")
        else:
            admin = user_id in chat["admins"]
            if "settings" in changes and not admin:
                raise Refused("forbidden", "only admins change a group's settings")
            if set(changes) - {"settings"} and chat["settings"]["edit_info"] == "admins" and not admin:
                raise Refused("forbidden", "only admins may change this group's information")
        avatar = changes.get("avatar_media_id")
        if avatar is not None:
            media = self.media.get(avatar)
            if media is None or media["chat_id"] != chat["chat_id"] or media["uploader"] != user_id:
                raise Refused("not_found", f"no media {avatar!r} of yours in this chat")
            if media["content_type"] not in IMAGE_TYPES:
                raise Refused("bad_request", f"media {avatar!r} is not an image")
        changed = {
            name: value for name, value in changes.items() if name != "settings" and chat.get(name) != value
        }
        if settings and chat["settings"] | settings != chat["settings"]:
            changed["settings"] = chat["settings"] | settings
        for name, value in changed.items():
            if value is None:
                chat.pop(name, None)
            else:
                chat[name] = value
        if "disappear_after" in changed:
            seconds = changed.pop("disappear_after")
            event = {"type": "disappear_after", "by": user_id, "seconds": seconds}
            await self._announce(chat, event, f"{user_id} changed disappearing messages")
        if changed:
            event = {"type": "chat_updated", "by": user_id, "changes": changed}
            await self._announce(chat, event, f"{user_id} changed the group's {', '.join(changed)}")
        return [{"type": "chat", "chat": _chat_view(chat)}]

    async def _on_set_role(self, user_id, ws, frame) -> list[dict]:
        chat = self._as_admin(user_id, frame.get("chat_id"))
        member, role = frame.get("user_id"), frame.get("role")
        if role not in ("admin", "member"):
            raise Refused("bad_request", "role: admin or member")
        if member not in chat["members"]:
            raise Refused("not_found", f"{member} is not a member of this group")
        if (member in chat["admins"]) == (role == "admin"):
            return [{"type": "chat", "chat": _chat_view(chat)}]
        if role == "member" and chat["admins"] == [member]:
            raise Refused("bad_request", "a group needs an admin: make someone else admin first")
        if role == "admin":
            chat["admins"].append(member)
        else:
            chat["admins"].remove(member)
        event = {"type": "role", "by": user_id, "user_id": member, "role": role}
        await self._announce(
            chat, event, f"{user_id} made {member} {'an admin' if role == 'admin' else 'a member'}"
        )
        return [{"type": "chat", "chat": _chat_view(chat)}]

    async def _on_create_invite(self, user_id, ws, frame) -> list[dict]:
        chat = self._as_admin(user_id, frame.get("chat_id"))
        expires_in = frame.get("expires_in", 604800)
        if type(expires_in) is not int or not 60 <= expires_in <= 604800:
            raise Refused("bad_request", "expires_in: 60 to 604800 seconds")
        token = f"invite-{next(self._counter)}"
        expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=expires_in)
        self.invites[token] = {"chat_id": chat["chat_id"], "expires_at": expires_at}
        wire_time = expires_at.isoformat().replace("+00:00", "Z")
        return [{"type": "invite", "chat_id": chat["chat_id"], "token": token, "expires_at": wire_time}]

    async def _on_join(self, user_id, ws, frame) -> list[dict]:
        invite = self.invites.get(frame.get("token"))
        if invite is None or invite["expires_at"] <= datetime.now(UTC):
            raise Refused("not_found", "no such invite link: it expired or was revoked")
        chat = self.chats[invite["chat_id"]]
        if user_id not in chat["members"]:
            event = {"type": "joined", "by": user_id, "user_ids": [user_id], "via": "invite"}
            await self._admit(chat, [user_id], event, f"{user_id} joined with an invite link")
        return [{"type": "chat", "chat": _chat_view(chat)}]

    async def _on_revoke_invite(self, user_id, ws, frame) -> list[dict]:
        chat = self._as_admin(user_id, frame.get("chat_id"))
        invite = self.invites.get(frame.get("token"))
        if invite is None or invite["chat_id"] != chat["chat_id"]:
            raise Refused("not_found", "no such invite link of this group")
        del self.invites[frame["token"]]
        return [{"type": "ok"}]

    async def _on_send(self, user_id, ws, frame) -> list[dict]:
        chat = self._chat_of_member(user_id, frame["chat_id"])
        key = (user_id, frame["client_msg_id"])
        message = chat["sent"].get(key)
        if message is None:
            message = chat["sent"][key] = self._store_send(chat, user_id, frame)
            await self.push(message, skip=ws)
        sent = {name: message[name] for name in ("chat_id", "seq", "message_id", "sent_at")}
        return [{"type": "sent", "client_msg_id": frame["client_msg_id"], **sent}]

    async def _on_mute(self, user_id, ws, frame) -> list[dict]:
        chat = self.chats.get(frame.get("chat_id"))
        if chat is None:
            raise Refused("not_found", "no such chat")
        if user_id not in chat["members"]:
            raise Refused("forbidden", "not a member of this chat")
        if "until" not in frame:
            raise Refused("bad_request", "until is required (null to unmute)")
        if frame["until"] is None:
            self.mutes.pop((user_id, chat["chat_id"]), None)
            return [{"type": "ok"}]
        try:
            until = datetime.fromisoformat(frame["until"])
        except (TypeError, ValueError):
            raise Refused("bad_request", "until must be an ISO 8601 time, or null to unmute") from None
        until = until.astimezone(UTC) if until.tzinfo else until.replace(tzinfo=UTC)
        if until <= datetime.now(UTC):
            raise Refused("bad_request", "until must be in the future")
        self.mutes[(user_id, chat["chat_id"])] = until
        return [{"type": "ok"}]

    async def _on_receipt(self, user_id, ws, frame) -> list[dict]:
        chat = self._chat_of_member(user_id, frame["chat_id"])
        if frame.get("status") not in ("delivered", "read"):
            raise Refused("bad_request", "status: delivered or read")
        if not 1 <= frame.get("seq", 0) <= len(chat["messages"]):
            raise Refused("bad_request", "seq: one of the chat's")
        if frame["status"] == "read":
            key = (user_id, chat["chat_id"])
            self.read_seqs[key] = max(self.read_seqs[key], frame["seq"])
        return [{"type": "ok"}]

    async def _on_hide(self, user_id, ws, frame) -> list[dict]:
        chat = self._chat_of_member(user_id, frame["chat_id"])
        if not 1 <= len(frame["seqs"]) <= 100:
            raise Refused("bad_request", "seqs: 1 to 100 of them")
        self.hidden[(user_id, chat["chat_id"])].update(frame["seqs"])
        return [{"type": "ok"}]

    def _store_send(self, chat: dict, user_id: str, frame: dict) -> dict:
        """Check a send's message actions, store it, and fold it into its target if it is a relation."""
        if chat["kind"] == "direct":
            peer = next(member for member in chat["members"] if member != user_id)
            if user_id in self.blocks[peer]:
                raise Refused("forbidden", f"{peer} does not take messages from you")
        elif chat["settings"]["send"] == "admins" and user_id not in chat["admins"]:
            raise Refused("forbidden", "only admins may send in this group")
        names = ("kind", "text", "media_id", "reply_to", "relates_to", "emoji", "mentions")
        fields = {name: frame[name] for name in names if name in frame}
        if "forward_of" in frame:
            source_chat = self.chats.get(frame["forward_of"]["chat_id"])
            if source_chat is None or user_id not in source_chat["members"]:
                raise Refused("forbidden", "not a member of the source chat")
            source = self._target(source_chat, frame["forward_of"]["seq"])
            if fields.get("kind", source["kind"]) != source["kind"]:
                raise Refused("bad_request", "kind differs from the source's")
            copied = {name: source[name] for name in ("kind", "text", "media") if name in source}
            fields |= {**copied, "forwarded": True}
        if any(member not in chat["members"] for member in fields.get("mentions", [])):
            raise Refused("bad_request", "mentions: members of the chat only")
        if "reply_to" in fields:
            quoted = self._target(chat, fields["reply_to"])
            fields["quote"] = {name: quoted[name] for name in ("seq", "sender_id", "kind")}
            if "text" in quoted:
                fields["quote"]["text"] = quoted["text"][:200]
        kind = fields.get("kind")
        if kind in RELATIONS:
            target = self._target(chat, fields.get("relates_to", 0))
            if kind == "edit" and (target["sender_id"] != user_id or target["kind"] != "text"):
                raise Refused("forbidden", "only its sender edits a text message")
            if kind == "delete" and user_id not in (target["sender_id"], *chat.get("admins", [])):
                raise Refused("forbidden", "only its sender or an admin deletes a message")
            if kind == "reaction" and len(fields.get("emoji", "").encode()) > 32:
                raise Refused("bad_request", "emoji: at most 32 bytes")
        message = self._append(chat["chat_id"], user_id, fields)
        if kind in RELATIONS:
            self._fold(chat, message, target)
        return message

    def _target(self, chat: dict, seq: int) -> dict:
        if not 1 <= seq <= len(chat["messages"]):
            raise Refused("bad_request", f"no message {seq}")
        target = chat["messages"][seq - 1]
        if target["kind"] in (*RELATIONS, "system") or target.get("deleted"):
            raise Refused("bad_request", f"message {seq} cannot be acted on")
        return target

    def _fold(self, chat: dict, relation: dict, target: dict) -> None:
        if relation["kind"] == "edit":
            target.update(text=relation["text"], edited_at=relation["sent_at"])
        elif relation["kind"] == "delete":
            for name in ("text", "media", "media_id", "reactions"):
                target.pop(name, None)
            target["deleted"] = True
            for other in chat["messages"]:
                if other.get("kind") == "edit" and other.get("relates_to") == target["seq"]:
                    other.pop("text", None)
                quote = other.get("quote")
                if quote and quote["seq"] == target["seq"]:
                    quote.pop("text", None)
        else:
            chosen = self._reactions[(chat["chat_id"], target["seq"])]
            chosen.pop(relation["sender_id"], None)
            if relation.get("emoji"):
                chosen[relation["sender_id"]] = (relation["seq"], relation["emoji"])
            reactions: dict[str, list[str]] = {}
            for user_id, (_, emoji) in sorted(chosen.items(), key=lambda entry: entry[1][0]):
                reactions.setdefault(emoji, []).append(user_id)
            target.pop("reactions", None)
            target.update({"reactions": reactions} if reactions else {})

    async def _on_sync(self, user_id, ws, frame) -> list[dict]:
        if "since" in frame:
            return self._sync_changes(user_id, frame)
        replies, synced = [], []
        for chat in self.chats.values():
            if user_id not in chat["members"]:
                continue
            cursor = frame["cursors"].get(chat["chat_id"])
            news = [m for m in self._visible(user_id, chat) if m["seq"] > (cursor or 0)]
            if cursor is not None and not news:
                continue
            newest = news[-self.sync_limit :]
            # Two messages a frame, so the SDK has to put batches back together.
            for start in range(0, len(newest), 2):
                replies.append(
                    {"type": "messages", "chat_id": chat["chat_id"], "messages": newest[start : start + 2]}
                )
            synced.append(
                {
                    "chat_id": chat["chat_id"],
                    "kind": chat["kind"],
                    "last_seq": len(chat["messages"]),
                    "delivered_seq": 0,
                    "read_seq": 0,
                    "limited": len(newest) < len(news),
                }
            )
        return [*replies, {"type": "synced", "chats": synced}]

    def _sync_changes(self, user_id: str, frame: dict) -> list[dict]:
        """One page of a pass: ``sync_page_chats`` chats with news, three messages a frame, of any chats."""
        since, page = frame["since"], frame.get("page")
        if since and not (since.startswith("v") and since[1:].isdigit()):
            raise Refused("bad_request", "since is not a token this server gave")
        known = int(since[1:]) if since else 0
        # The page carries where the pass is and what it covers, so new messages wait for the next pass.
        start, upto = map(int, page.split(":")) if page else (0, self.stored)
        news = {
            chat["chat_id"]: [
                m for m in self._visible(user_id, chat) if known < self._stored_as[m["message_id"]] <= upto
            ]
            for chat in self.chats.values()
            if user_id in chat["members"]
        }
        listed = [chat_id for chat_id, messages in news.items() if messages or not since]
        end = start + self.sync_page_chats
        messages, synced = [], []
        for chat_id in listed[start:end]:
            newest = news[chat_id][-min(frame.get("limit", 100), self.sync_limit) :]
            messages += newest
            chat = self.chats[chat_id]
            synced.append(
                {
                    "chat_id": chat_id,
                    "kind": chat["kind"],
                    "last_seq": len(chat["messages"]),
                    "delivered_seq": 0,
                    "read_seq": 0,
                    "limited": len(newest) < len(news[chat_id]),
                }
            )
        replies = [
            {"type": "messages", "messages": messages[at : at + 3]} for at in range(0, len(messages), 3)
        ]
        last = {"next": f"{end}:{upto}"} if end < len(listed) else {"since": f"v{upto}"}
        return [*replies, {"type": "synced", "chats": synced, **last}]

    async def _on_history(self, user_id, ws, frame) -> list[dict]:
        chat = self._chat_of_member(user_id, frame["chat_id"])
        page = _page(self._visible(user_id, chat), frame.get("before", 10**9), frame.get("limit", 50))
        return [{"type": "history", "chat_id": chat["chat_id"], **page}]

    async def _on_typing(self, user_id, ws, frame) -> list[dict]:
        chat = self._chat_of_member(user_id, frame["chat_id"])
        typing = {"type": "typing", "chat_id": chat["chat_id"], "user_id": user_id, "state": frame["state"]}
        await self._send_to_members(chat, typing, skip=ws)
        return []

    async def _on_upload(self, user_id, ws, frame) -> list[dict]:
        if frame["chat_id"] == "profile":
            if frame["content_type"] not in IMAGE_TYPES:
                raise Refused("bad_request", "a profile picture is an image")
            chat_id = f"profile:{user_id}"
        else:
            chat_id = self._chat_of_member(user_id, frame["chat_id"])["chat_id"]
        media_id = f"media-{next(self._counter)}"
        self.media[media_id] = {
            "chat_id": chat_id,
            "uploader": user_id,
            "content_type": frame["content_type"],
            "filename": frame["filename"],
            "size": frame["size"],
        }
        return [
            {
                "type": "upload",
                "media_id": media_id,
                "url": self.upload_url,
                "fields": {"key": f"uploads/{media_id}", "policy": "eyJmYWtlIjogdHJ1ZX0="},
                "expires_at": _now(),
                "max_size": 10_000_000,
            }
        ]

    def _visible(self, user_id: str, chat: dict) -> list[dict]:
        """The chat's messages that ``user_id`` has not hidden, from the one that admitted them on."""
        hidden = self.hidden.get((user_id, chat["chat_id"]), set())
        since = chat.get("joined", {}).get(user_id, 1)
        return [
            message
            for message in chat["messages"]
            if message["seq"] >= since and message["seq"] not in hidden
        ]

    def _chat_of_member(self, user_id: str, chat_id: str) -> dict:
        chat = self.chats.get(chat_id)
        if chat is None or user_id not in chat["members"]:
            raise Refused("forbidden", "not a member of this chat")
        return chat

    def _append(self, chat_id: str, sender: str, fields: dict) -> dict:
        chat = self.chats[chat_id]
        message = {
            "chat_id": chat_id,
            "seq": len(chat["messages"]) + 1,
            "message_id": f"msg-{next(self._counter)}",
            "sender_id": sender,
            "sent_at": _now(),
            **fields,
        }
        chat["messages"].append(message)
        self.stored += 1
        self._stored_as[message["message_id"]] = self.stored
        self._push_to_devices(chat, message)
        return message

    def _push_to_devices(self, chat: dict, message: dict) -> None:
        """Record a push to each other member's registered device that has no open socket of its own."""
        if message["kind"] not in PUSHED_KINDS:
            return
        for member in chat["members"]:
            if member == message["sender_id"] or self._muted_for(member, message):
                continue
            payload = {name: message[name] for name in ("chat_id", "seq", "sender_id", "kind")}
            if message.get("text") and (SETTINGS | self.settings[member])["push_previews"]:
                payload["preview"] = message["text"][:100]
            payload["unread_chats"] = self._unread_chats(member)
            live = {self._socket_devices.get(ws) for ws in self.sockets[member]}
            for device, registered in self.devices[member].items():
                if device not in live:
                    push = {"user_id": member, "device": device, "platform": registered["platform"]}
                    self.pushes.append({**push, "payload": payload})

    def _muted_for(self, user_id: str, message: dict) -> bool:
        until = self.mutes.get((user_id, message["chat_id"]))
        mentioned = user_id in message.get("mentions", [])
        return until is not None and until > datetime.now(UTC) and not mentioned

    def _unread_chats(self, user_id: str) -> int:
        """The member's chats with a text or media message from someone else after their read cursor."""
        return sum(
            any(
                m["seq"] > self.read_seqs[(user_id, chat["chat_id"])]
                and m["kind"] in PUSHED_KINDS
                and m["sender_id"] != user_id
                for m in chat["messages"]
            )
            for chat in self.chats.values()
            if user_id in chat["members"]
        )

    async def _send_to_members(self, chat: dict, frame: dict, *, skip: ServerConnection | None) -> None:
        for member in chat["members"]:
            for ws in list(self.sockets[member]):
                if ws is not skip:
                    with contextlib.suppress(ConnectionClosed):
                        await ws.send(json.dumps(frame))


def _page(messages: list[dict], before: int, limit: int) -> dict:
    older = [message for message in messages if message["seq"] < before]
    return {"messages": older[-limit:], "has_more": len(older) > limit}


def _chat_view(chat: dict) -> dict:
    admins = chat.get("admins", [])
    view = {
        "chat_id": chat["chat_id"],
        "kind": chat["kind"],
        "members": [
            {"user_id": user_id, "role": "admin" if user_id in admins else "member"}
            for user_id in chat["members"]
        ],
        "created_at": "2024-01-01T00:00:00Z",
        "last_seq": len(chat["messages"]),
    }
    for name in ("name", "disappear_after", "description"):
        if name in chat:
            view[name] = chat[name]
    if "avatar_media_id" in chat:
        view["avatar"] = {"media_id": chat["avatar_media_id"]}
    if chat["kind"] == "group":
        view["settings"] = dict(chat["settings"])
    return view


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
