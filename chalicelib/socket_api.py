"""The WebSocket API: the handshake, the frames of a live socket, and its end."""
from collections.abc import Callable
from typing import Any

from chalicelib import clock, frames
from chalicelib.errors import ParleyError
from chalicelib.model import Chat, Connection, iso_from_epoch
from chalicelib.observability import logger, metrics
from chalicelib.relations import Forward
from chalicelib.services import Services

MAX_DEVICE_ID = 64
OWNER_CACHE_SIZE = 10_000


def callback_endpoint(override: str | None, api_id: str, region: str, stage: str) -> str:
    """Where @connections posts for this socket go (API Gateway's own domain, even behind a custom one)."""
    return override or f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"


class SocketApi:
    def __init__(self, services: Services, region: str, endpoint_override: str | None = None):
        self._services = services
        self._region = region
        self._endpoint_override = endpoint_override
        self._owners: dict[str, Connection] = {}  # sockets never change owner: a warm container asks once
        self._handlers: dict[type, Callable[[Connection, Any], list[dict]]] = {
            frames.CreateChat: self._create_chat,
            frames.Send: self._send,
            frames.Hide: self._hide,
            frames.Mute: self._mute,
            frames.UpdateChat: self._update_chat,
            frames.History: self._history,
            frames.Heartbeat: self._heartbeat,
            frames.Presence: self._presence,
            frames.Typing: self._typing,
            frames.Receipt: self._receipt,
            frames.Sync: self._sync,
            frames.AddMembers: self._add_members,
            frames.RemoveMembers: self._remove_members,
            frames.Leave: self._leave,
            frames.SetRole: self._set_role,
            frames.CreateInvite: self._create_invite,
            frames.Join: self._join,
            frames.RevokeInvite: self._revoke_invite,
            frames.Upload: self._upload,
            frames.MediaUrl: self._media_url,
        }

    def connect(self, connection_id: str, query: dict[str, str], api_id: str, stage: str) -> int:
        """Admit the socket (HTTP 200) or refuse it at the handshake (400/401)."""
        device = query.get("device") or "default"
        if len(device) > MAX_DEVICE_ID:
            return 400
        try:
            identity = self._services.tokens.verify(query.get("token"))
            now = int(clock.now())
            self._services.presence.connected(Connection(
                connection_id=connection_id, user_id=identity.user_id, device=device,
                endpoint=callback_endpoint(self._endpoint_override, api_id, self._region, stage),
                connected_at=now, seen_at=now), signed_in_at=identity.issued_at)
        except ParleyError:
            metrics.add_metric(name="RefusedHandshakes", unit="Count", value=1)
            return 401
        return 200

    def disconnect(self, connection_id: str) -> None:
        connection = self._owner(connection_id)
        self._owners.pop(connection_id, None)
        if connection is not None:
            self._services.presence.disconnected(connection)

    def receive(self, connection_id: str, raw: str | bytes | None, api_id: str, stage: str) -> None:
        connection = self._owner(connection_id)
        if connection is None:
            # Its record is gone (swept after a silence, or taken for gone): closing it makes the client
            # reconnect and sync, rather than talk to a socket that never answers.
            logger.warning("frame from an unknown connection: closing it")
            endpoint = callback_endpoint(self._endpoint_override, api_id, self._region, stage)
            self._services.delivery.close(endpoint, connection_id)
            return
        request_id = None
        try:
            body = frames.decode(raw)
            request_id = frames.request_id(body)
            frames.check_size(raw)
            frame = frames.parse(body)
            replies = self._handlers[type(frame)](connection, frame)
        except ParleyError as error:
            replies = [{"type": "error", **error.to_wire()}]
        except Exception:
            logger.exception("frame failed")
            replies = [{"type": "error", "code": "internal", "message": "internal error; try again"}]
        if request_id is not None:
            replies = [{**reply, "req": request_id} for reply in replies]
        if replies:
            self._services.delivery.reply_many(connection, replies)

    def _owner(self, connection_id: str) -> Connection | None:
        if connection_id not in self._owners:
            connection = self._services.stores.users.connection(connection_id)
            if connection is None:
                return None
            if len(self._owners) >= OWNER_CACHE_SIZE:
                self._owners.clear()
            self._owners[connection_id] = connection
        return self._owners[connection_id]

    def _chat(self, connection: Connection, chat: Chat) -> list[dict]:
        return [{"type": "chat", "chat": self._services.messaging.seen_by(connection.user_id, chat)}]

    def _create_chat(self, connection: Connection, frame: frames.CreateChat) -> list[dict]:
        chat, _ = self._services.create_chat(connection.user_id, frame.kind, frame.user_id, frame.name,
                                          list(frame.members or []))
        return self._chat(connection, chat)

    def _add_members(self, connection: Connection, frame: frames.AddMembers) -> list[dict]:
        chat = self._services.groups.add_members(connection.user_id, frame.chat_id, list(frame.user_ids))
        return self._chat(connection, chat)

    def _remove_members(self, connection: Connection, frame: frames.RemoveMembers) -> list[dict]:
        chat = self._services.groups.remove_members(connection.user_id, frame.chat_id, list(frame.user_ids))
        return self._chat(connection, chat)

    def _leave(self, connection: Connection, frame: frames.Leave) -> list[dict]:
        self._services.groups.leave(connection.user_id, frame.chat_id)
        return [{"type": "ok"}]

    def _set_role(self, connection: Connection, frame: frames.SetRole) -> list[dict]:
        chat = self._services.groups.set_role(connection.user_id, frame.chat_id, frame.user_id, frame.role)
        return self._chat(connection, chat)

    def _create_invite(self, connection: Connection, frame: frames.CreateInvite) -> list[dict]:
        return [self._services.groups.create_invite(connection.user_id, frame.chat_id, frame.expires_in)]

    def _join(self, connection: Connection, frame: frames.Join) -> list[dict]:
        return self._chat(connection, self._services.groups.join(connection.user_id, frame.token))

    def _revoke_invite(self, connection: Connection, frame: frames.RevokeInvite) -> list[dict]:
        self._services.groups.revoke_invite(connection.user_id, frame.chat_id, frame.token)
        return [{"type": "ok"}]

    def _send(self, connection: Connection, frame: frames.Send) -> list[dict]:
        forward_of = Forward(frame.forward_of.chat_id, frame.forward_of.seq) if frame.forward_of else None
        sent = self._services.messaging.send(connection.user_id, frame.chat_id, frame.client_msg_id, frame.kind,
                                             frame.text, frame.reply_to, connection.connection_id, frame.media_id,
                                             frame.relates_to, frame.emoji, forward_of, frame.mentions)
        return [sent]

    def _update_chat(self, connection: Connection, frame: frames.UpdateChat) -> list[dict]:
        chat = self._services.messaging.update_chat(connection.user_id, frame.chat_id, frame.changes())
        return self._chat(connection, chat)

    def _mute(self, connection: Connection, frame: frames.Mute) -> list[dict]:
        self._services.notifications.mute(connection.user_id, frame.chat_id, frame.until)
        return [{"type": "ok"}]

    def _hide(self, connection: Connection, frame: frames.Hide) -> list[dict]:
        self._services.messaging.hide(connection.user_id, frame.chat_id, list(frame.seqs))
        return [{"type": "ok"}]

    def _history(self, connection: Connection, frame: frames.History) -> list[dict]:
        page = self._services.messaging.history(connection.user_id, frame.chat_id, frame.before, frame.limit)
        return [{"type": "history", **page}]

    def _heartbeat(self, connection: Connection, frame: frames.Heartbeat) -> list[dict]:
        self._services.presence.heartbeat(connection, frame.quiet)
        if frame.quiet:
            return []  # no reply on success; errors are still answered
        return [{"type": "pong", "server_time": iso_from_epoch(clock.now())}]

    def _presence(self, connection: Connection, frame: frames.Presence) -> list[dict]:
        users = self._services.presence.query(connection.user_id, list(frame.user_ids))
        return [{"type": "presence", "users": users}]

    def _typing(self, connection: Connection, frame: frames.Typing) -> list[dict]:
        self._services.typing.relay(connection.user_id, frame.chat_id, frame.state)
        return []  # no reply on success

    def _receipt(self, connection: Connection, frame: frames.Receipt) -> list[dict]:
        self._services.receipts.record(connection.user_id, frame.chat_id, frame.status, frame.seq)
        return [{"type": "ok"}]

    def _sync(self, connection: Connection, frame: frames.Sync) -> list[dict]:
        if frame.since is not None:
            return self._services.catch_up.sync_changes(connection.user_id, frame.since, frame.page, frame.limit)
        return self._services.catch_up.sync(connection.user_id, dict(frame.cursors), frame.limit)

    def _upload(self, connection: Connection, frame: frames.Upload) -> list[dict]:
        slot = self._services.media.request_upload(connection.user_id, frame.chat_id, frame.filename,
                                                   frame.content_type, frame.size)
        return [{"type": "upload", **slot}]

    def _media_url(self, connection: Connection, frame: frames.MediaUrl) -> list[dict]:
        return [{"type": "media", "media": self._services.media.describe(connection.user_id, frame.media_id)}]
