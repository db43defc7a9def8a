"""Catching up after a connect: the v1 `sync` by cursors, and the changes form that reads only the chats with news
since the client's last pass (chalicelib/news), in pages of PAGE_CHATS chats, messages batched across chats."""
import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from chalicelib.errors import BadRequest, TooLarge
from chalicelib.media import MediaService
from chalicelib.messaging import MAX_REPLY_BYTES, closing_gaps, closing_the_tail, size_of, visible_after, with_media
from chalicelib.model import ChatHead, Cursors, Membership, Message
from chalicelib.news import News
from chalicelib.parallel import gathered
from chalicelib.rate_limits import RateLimiter
from chalicelib.receipts import Receipts
from chalicelib.storage import ChatStore, MessageStore

PAGE_CHATS = 100  # chats a page of the changes form reads


@dataclass(frozen=True)
class SyncStep:
    """Where a pass of the changes form of `sync` is: the marks it reads (None: every chat), the last chat id a
    page covered, and the token the pass hands out when it ends. A page's `next` carries it, opaque to clients."""
    since: int | None
    after: str
    token: int

    @staticmethod
    def begin(since: str, news: News) -> "SyncStep":
        if since and not since.isdigit():
            raise BadRequest("since must be a token a synced reply gave, or empty")
        token = int(since) if since else None
        return SyncStep(token if token is not None and news.kept(token) else None, "", news.token())

    @staticmethod
    def resume(page: str) -> "SyncStep":
        try:
            fields = json.loads(base64.urlsafe_b64decode(page.encode()))
            return SyncStep(None if fields["s"] is None else int(fields["s"]), str(fields["a"]), int(fields["t"]))
        except (ValueError, TypeError, KeyError, binascii.Error):
            raise BadRequest("page must be the next of a synced reply") from None

    def after_chat(self, chat_id: str) -> "SyncStep":
        return replace(self, after=chat_id)

    def encode(self) -> str:
        fields = {"s": self.since, "a": self.after, "t": self.token}
        return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()


class CatchUp:
    def __init__(self, chats: ChatStore, messages: MessageStore, news: News, receipts: Receipts, media: MediaService,
                 rate: RateLimiter):
        self._chats = chats
        self._messages = messages
        self._news = news
        self._receipts = receipts
        self._media = media
        self._rate = rate

    def sync(self, user_id: str, cursors: dict[str, int], limit: int) -> list[dict]:
        """The v1 form: every chat with messages after the client's cursor, then one `synced` summary (last).
        It reads every membership and chat head, so it serves clients whose cursor map fits a frame."""
        self._rate.take("sync", user_id)
        memberships = self._chats.memberships(user_id)
        heads = self._chats.heads(m.chat_id for m in memberships)
        behind = [m for m in memberships if m.chat_id in heads and
                  (m.chat_id not in cursors or heads[m.chat_id].last_seq > cursors[m.chat_id])]
        summary, reads = self._plan(user_id, behind, heads, cursors, limit)
        if size_of(summary) > MAX_REPLY_BYTES:  # a socket could not carry it: the client would wait for nothing
            raise TooLarge(f"the {len(summary)} chats behind your cursors do not fit one synced frame; "
                           "sync with `since` (the changes form), which pages them")
        messages = self._read(user_id, behind, reads)
        frames = [frame for chat_id in messages for frame in self._message_frames(messages[chat_id], chat_id)]
        return frames + [{"type": "synced", "chats": summary}]

    def sync_changes(self, user_id: str, since: str, page: str | None, limit: int) -> list[dict]:
        """The changes form: one page of the chats with news since the token (every chat, for "" or a token
        whose marks are no longer kept), their messages batched across chats, and a `synced` that carries
        either the next page or the token for the next pass."""
        self._rate.take("sync_page" if page else "sync", user_id)
        step = SyncStep.resume(page) if page else SyncStep.begin(since, self._news)
        if step.since is None:
            memberships = self._chats.memberships_page(user_id, step.after, PAGE_CHATS + 1)
            chat_ids, starts = [m.chat_id for m in memberships], {}
        else:
            changed = self._news.changed_since(user_id, step.since)
            chat_ids = sorted(chat_id for chat_id in changed if chat_id > step.after)[:PAGE_CHATS + 1]
            starts = {chat_id: changed[chat_id] - 1 for chat_id in chat_ids}
        more, chat_ids = len(chat_ids) > PAGE_CHATS, chat_ids[:PAGE_CHATS]
        if step.since is None:
            memberships = memberships[:PAGE_CHATS]
        else:
            memberships = list(self._chats.memberships_in(user_id, chat_ids).values())
        heads = self._chats.heads(chat_ids)
        memberships = [m for m in memberships if m.chat_id in heads]
        summary, reads = self._plan(user_id, memberships, heads, starts, limit)
        messages = self._read(user_id, memberships, reads)
        frames = self._message_frames([message for chat in messages.values() for message in chat])
        end = {"next": step.after_chat(chat_ids[-1]).encode()} if more else {"since": str(step.token)}
        return frames + [{"type": "synced", "chats": summary, **end}]

    def _plan(self, user_id: str, memberships: list[Membership], heads: dict[str, ChatHead], seen: dict[str, int],
              limit: int) -> tuple[list[dict], list[Callable[[], list[Message]]]]:
        """Each chat's `synced` entry, and the read of its messages after the seq the device has seen (its newest
        `limit` where that is unknown or more are missed)."""
        reads: list[Callable[[], list[Message]]] = []
        entries = []
        own = self._receipts.own_cursors(user_id, [m.chat_id for m in memberships if heads[m.chat_id].direct is None])
        for membership in memberships:
            head = heads[membership.chat_id]
            start = max(seen.get(head.chat_id, 0), visible_after(membership.joined_seq))
            limited = head.last_seq - start > limit
            reads.append(partial(self._missed, head, start, limited, limit))
            cursors = head.direct.cursors.get(user_id, Cursors()) if head.direct else own.get(head.chat_id, Cursors())
            entry = {"chat_id": head.chat_id, "kind": head.kind, "last_seq": head.last_seq,
                     "delivered_seq": cursors.delivered, "read_seq": cursors.read, "limited": limited}
            if head.name is not None:
                entry["name"] = head.name
            entries.append(entry)
        return entries, reads

    def _read(self, user_id: str, memberships: list[Membership],
              reads: list[Callable[[], list[Message]]]) -> dict[str, list[Message]]:
        """The planned reads in parallel, less the messages the user hid; only the chats with some left."""
        hidden, *outcomes = gathered(partial(self._messages.hidden, user_id, [m.chat_id for m in memberships]),
                                     *reads)
        missed = {m.chat_id: [message for message in found if message.seq not in hidden.get(m.chat_id, ())]
                  for m, found in zip(memberships, outcomes, strict=True)}
        return {chat_id: found for chat_id, found in missed.items() if found}

    def _missed(self, head: ChatHead, start: int, limited: bool, limit: int) -> list[Message]:
        if head.last_seq <= start:
            return []
        if limited:  # the newest `limit` stored reach below `start` when holes are among the newest seqs
            messages = [m for m in self._messages.messages_before(head.chat_id, head.last_seq + 1, limit)
                        if m.seq > start]
            start = messages[0].seq - 1 if messages else start
        else:  # not limited: at most `limit` seqs follow `start`, so this reads up to the last
            messages = self._messages.messages_after(head.chat_id, start, limit)
        return closing_the_tail(self._messages, head, closing_gaps(self._messages, head.chat_id, messages, start),
                                start)

    def _message_frames(self, messages: list[Message], chat_id: str | None = None) -> list[dict]:
        """`messages` frames of at most MAX_REPLY_BYTES; with `chat_id` (the v1 form) all of that chat."""
        frames: list[dict] = []
        batch: list[dict] = []
        batch_bytes = 0
        envelope = {"type": "messages"} | ({"chat_id": chat_id} if chat_id else {})
        for wire in with_media(self._media, messages):
            wire_bytes = size_of(wire) + 1
            if batch and batch_bytes + wire_bytes > MAX_REPLY_BYTES:
                frames.append({**envelope, "messages": batch})
                batch, batch_bytes = [], 0
            batch.append(wire)
            batch_bytes += wire_bytes
        if batch:
            frames.append({**envelope, "messages": batch})
        return frames
