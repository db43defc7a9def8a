"""Exporting a user's data (`POST /api/me/export`; GDPR article 20): a queued task writes one JSON Lines file to
S3, a line per object (`type`: `profile`, `settings`, `chat`, `message`): the user, their chats, and every message
they can read, as `history` would serve it; the status then answers a short-lived URL to the file. Messages are
written as they are read, a page at a time, so the task's memory does not grow with the history.
"""
import json
import tempfile
import uuid

from chalicelib import clock
from chalicelib.errors import NotFound
from chalicelib.fanout import Fanout
from chalicelib.messaging import visible_after
from chalicelib.storage import BlobStore, ChatStore, ExportStore, MessageStore, UserStore
from chalicelib.user_settings import DEFAULTS

EXPORT_PREFIX = "exports/"  # deleted a day after they are written (infra/parley.yaml's lifecycle rules)
URL_SECONDS = 900
PAGE = 100  # messages read at a time


class Exports:
    def __init__(self, store: ExportStore, users: UserStore, chats: ChatStore, messages: MessageStore,
                 blobs: BlobStore, fanout: Fanout):
        self._store = store
        self._users = users
        self._chats = chats
        self._messages = messages
        self._blobs = blobs
        self._fanout = fanout
        fanout.handle("export", lambda task: self.write(task["user_id"], task["export_id"]))

    def request(self, user_id: str) -> str:
        export_id = uuid.uuid4().hex
        self._store.create(user_id, export_id)
        self._fanout.dispatch([{"task": "export", "user_id": user_id, "export_id": export_id}])
        return export_id

    def status(self, user_id: str, export_id: str) -> dict:
        """The caller's own export only: anyone else's reads as no export at all."""
        record = self._store.get(user_id, export_id)
        if record is None:
            raise NotFound(f"no export {export_id!r} of yours")
        if record["status"] != "ready":
            return {"status": "pending"}
        return {"status": "ready", "url": self._blobs.url(record["key"], URL_SECONDS,
                                                          'attachment; filename="parley-export.jsonl"')}

    def write(self, user_id: str, export_id: str) -> None:
        """Write the export's file and mark it ready; run again (a redelivered task), it writes the file afresh."""
        key = f"{EXPORT_PREFIX}{user_id}/{export_id}.jsonl"
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as out:
            for line in self._lines(user_id):
                out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            out.flush()
            self._blobs.upload(out.name, key, "application/x-ndjson")
        self._store.finish(user_id, export_id, key)

    def _lines(self, user_id: str):
        person = self._users.people([user_id]).get(user_id)
        yield {"type": "profile", "user_id": user_id, **(person.profile if person else {})}
        yield {"type": "settings", **DEFAULTS, **(person.settings if person else {})}
        now = clock.now()
        memberships = self._chats.memberships(user_id)
        hidden_in = self._messages.hidden(user_id, [m.chat_id for m in memberships])  # 100 chats a batch read
        for membership in memberships:
            chat = self._chats.get(membership.chat_id)
            if chat is None:
                continue
            yield {"type": "chat", **chat.to_wire()}
            hidden = hidden_in.get(chat.chat_id, set())
            after = visible_after(membership.joined_seq)
            while True:
                page = self._messages.messages_after(chat.chat_id, after, PAGE)
                for message in page:
                    if message.seq not in hidden:
                        shown = message.tombstone() if message.disappeared(now) else message
                        yield {"type": "message", **shown.to_wire()}
                if len(page) < PAGE:
                    break
                after = page[-1].seq
