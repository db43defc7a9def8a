"""Chats, sending and history: the heart of Parley (catching up after a connect is chalicelib/catch_up)."""
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from chalicelib import clock
from chalicelib.access import Access
from chalicelib.delivery import Delivery
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound, ParleyError
from chalicelib.fanout import Fanout
from chalicelib.media import MediaService
from chalicelib.model import (
    GROUP_SETTINGS,
    SEND_LEASE,
    Chat,
    ChatHead,
    Member,
    Membership,
    Message,
    Reservation,
    direct_chat_id,
    direct_members,
    epoch_from_iso,
    iso_from_epoch,
    now_iso,
)
from chalicelib.news import News, unread_for
from chalicelib.observability import metrics
from chalicelib.parallel import gathered, settled
from chalicelib.rate_limits import RateLimiter
from chalicelib.receipts import Receipts
from chalicelib.relations import RELATIONS, Forward, Relations, check_emoji, quote_of
from chalicelib.storage import ChatStore, MessageStore, UserStore

MAX_REPLY_BYTES = 120 * 1024  # API Gateway's 128 KiB per message, less room for the envelope
CLAIM_WAIT = 3  # seconds a repeated send waits for the first one to finish
DISAPPEAR_AFTER = {86400: "24 hours", 604800: "7 days", 7776000: "90 days"}  # the choices `update_chat` offers
INFO_NAMES = {"name": "name", "description": "description", "avatar_media_id": "picture", "settings": "settings"}
NEWEST = 2**53  # a seq above any chat's last
CLOCK_SKEW = 5  # seconds two Lambda containers' clocks may disagree by, when a resend looks for its original


def size_of(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def closing_gaps(store: MessageStore, chat_id: str, messages: list[Message], after: int) -> list[Message]:
    """Fill the holes dead senders left between `after` and the messages read, once their lease is over.

    A message's `sent_at` is taken after its seq is reserved, so a hole below a message sent more than
    a lease ago can no longer be written by its sender.
    """
    complete: list[Message] = []
    expected = after + 1
    for message in messages:
        if message.seq > expected and epoch_from_iso(message.sent_at) < clock.now() - SEND_LEASE:
            complete.extend(store.fill_gap(chat_id, seq) for seq in range(expected, message.seq))
        complete.append(message)
        expected = message.seq + 1
    return complete


def closing_the_tail(store: MessageStore, head: ChatHead, newest: list[Message], after: int) -> list[Message]:
    """Fill the seqs above the newest message read after `after` up to the chat's last, once that was taken a
    lease ago: a sender that died holding the chat's newest seq leaves no later message for `closing_gaps`."""
    top = newest[-1].seq if newest else after
    if top >= head.last_seq or head.reserved_at is None or head.reserved_at >= clock.now() - SEND_LEASE:
        return newest
    return newest + [store.fill_gap(head.chat_id, seq) for seq in range(top + 1, head.last_seq + 1)]


def with_media(media: MediaService, messages: list[Message]) -> list[dict]:
    """Messages as clients get them: each media item as of now, with fresh URLs (one batch read); a message whose
    time to disappear has come as a tombstone, whether or not the sweep has deleted it yet."""
    now = clock.now()
    messages = [m.tombstone() if m.disappeared(now) else m for m in messages]
    items = media.wire_many([m.media_id for m in messages if m.media_id])
    return [m.to_wire() | ({"media": items[m.media_id]} if m.media_id in items else {}) for m in messages]


def visible_after(joined_seq: int) -> int:
    """The highest seq a member may not read: members see their chat from the message that added them."""
    return max(joined_seq - 1, 0)


class Messaging:
    def __init__(self, chats: ChatStore, messages: MessageStore, users: UserStore, news: News, access: Access,
                 delivery: Delivery, fanout: Fanout, receipts: Receipts, media: MediaService, rate: RateLimiter):
        self._rate = rate
        self._news = news
        self._relations = Relations(messages, media)
        self._chats = chats
        self._messages = messages
        self._users = users
        self._access = access
        self._delivery = delivery
        self._fanout = fanout
        self._receipts = receipts
        self._media = media

    def chat_of_member(self, user_id: str, chat_id: str) -> Chat:
        self._access.member(user_id, chat_id)
        chat = self._chats.get(chat_id)
        if chat is None:
            raise NotFound(f"no chat {chat_id!r}")
        return chat

    def chats_of(self, user_id: str) -> list[Chat]:
        chats = (self._chats.get(membership.chat_id) for membership in self._chats.memberships(user_id))
        return [chat for chat in chats if chat is not None]

    def chats_page(self, user_id: str, limit: int, cursor: str | None) -> dict:
        """A page of the user's chats, the most recently active first (by the minute of their newest news mark;
        chats without marks kept follow, by id). `next` is where the next page starts: the order is read afresh
        each page, so a chat that becomes active meanwhile moves to the top, where the client learns of it live."""
        if cursor is not None and not (cursor.isascii() and cursor.isdigit()):
            raise BadRequest("cursor must be the next of a page")
        start = int(cursor or 0)
        member_of = {membership.chat_id for membership in self._chats.memberships(user_id)}
        recent = [chat_id for chat_id in self._news.newest_first(user_id) if chat_id in member_of]
        order = recent + sorted(member_of.difference(recent))
        chats = gathered(*(partial(self._chats.get, chat_id) for chat_id in order[start:start + limit]))
        page: dict = {"chats": self.as_seen_by(user_id, [chat for chat in chats if chat is not None])}
        if start + limit < len(order):
            page["next"] = str(start + limit)
        return page

    def as_seen_by(self, user_id: str, chats: list[Chat]) -> list[dict]:
        """Chats as a member gets them: with `muted_until` on those the member has muted now."""
        mutes, now = self._chats.mutes(user_id), clock.now()
        return [chat.to_wire() | ({"muted_until": iso_from_epoch(mutes[chat.chat_id])}
                                  if mutes.get(chat.chat_id, 0) > now else {}) for chat in chats]

    def seen_by(self, user_id: str, chat: Chat) -> dict:
        return self.as_seen_by(user_id, [chat])[0]

    def create_direct(self, user_id: str, peer_id: str | None) -> tuple[Chat, bool]:
        """The direct chat of two users, created if need be; answers it and whether this call created it."""
        if not peer_id:
            raise BadRequest("user_id is required for a direct chat")
        peer_id = peer_id.lower()
        if peer_id == user_id:
            raise BadRequest("a direct chat needs another user")
        if peer_id not in self._users.existing([peer_id]):
            raise NotFound(f"no user {peer_id!r}")
        draft = Chat(chat_id=direct_chat_id(user_id, peer_id), kind="direct", created_at=now_iso(),
                     members=[Member(user_id=user_id), Member(user_id=peer_id)])
        chat, created = self._chats.create(draft)
        if created:
            self._fanout.to_members(chat.member_ids, {"type": "chat", "chat": chat.to_wire()})
        return chat, created

    def send(self, sender_id: str, chat_id: str, client_msg_id: str, kind: str | None, text: str | None,
             reply_to: int | None, connection_id: str | None = None, media_id: str | None = None,
             relates_to: int | None = None, emoji: str | None = None, forward_of: Forward | None = None,
             mentions: list[str] | None = None) -> dict:
        """Store and push a message. A direct chat's send makes five storage requests, three rounds of them before
        the push: the sender's send limit, the idempotency claim and both members' sockets at once; the seq, whose
        update also moves the sender's own cursors; the message. The news marks of both members are a sixth, made
        while the push goes out, once a minute per chat in each container (see chalicelib/news). A group's send
        also reads the sender's member item and counts the chat's send limit in the first round, and takes its
        member list from a cache that the seq's update says is current. Edits, deletions and reactions also read
        their target in the first round and fold into it once stored; replies read what they quote, forwards
        their source (chalicelib/relations)."""
        kind = self._check_shape(kind, text, media_id, relates_to, emoji, forward_of)
        pair = direct_members(chat_id)
        if pair is not None and sender_id not in pair:
            raise Forbidden("you are not a member of this chat")
        admitted = self._admit(sender_id, chat_id, client_msg_id, kind, media_id, reply_to, pair, relates_to,
                               forward_of, mentions)
        claimed_before, media = admitted["claim"], admitted["media"]
        try:
            if claimed_before is not None:
                original = self._original(chat_id, sender_id, client_msg_id, claimed_before)
                if original is not None:
                    if original.relates_to is not None:
                        self._relations.fold(original)
                    head = self._chats.head(chat_id) if pair is None else None
                    wire = with_media(self._media, [original])[0]
                    self._push(original, wire, pair, admitted["sockets"], connection_id,
                               head.members_version if head else None)
                    return self._sent(original, client_msg_id)
            draft = Message(chat_id=chat_id, seq=0, message_id=uuid.uuid4().hex, sender_id=sender_id, kind=kind,
                            sent_at="", text=text, reply_to=reply_to, media_id=media.media_id if media else None,
                            client_msg_id=client_msg_id, relates_to=relates_to, emoji=emoji,
                            mentions=tuple(dict.fromkeys(m.lower() for m in mentions)) if mentions else None)
            if admitted["target"] is not None:
                self._relations.check(admitted["member"] or Membership(chat_id, "direct", "member"), sender_id, kind,
                                      admitted["target"])
            if admitted["quoted"] is not None:
                draft = replace(draft, quote=quote_of(admitted["quoted"]))
            if admitted["source"] is not None:
                draft = self._forwarded(draft, admitted["source"])
            message, reservation = self._append(draft, pair is not None or admitted["member"].role == "admin")
        except ParleyError:
            if claimed_before is None:
                self._messages.release(chat_id, sender_id, client_msg_id)
            raise
        metrics.add_metric(name="MessagesSent", unit="Count", value=1)
        if message.relates_to is not None:
            self._relations.fold(message)
        if message.quote is not None:
            message = self._relations.note_reply(message)
        wire = with_media(self._media, [message])[0] if message.media_id and not media else \
            message.to_wire() | ({"media": self._media.to_wire(media)} if media else {})
        self._push(message, wire, pair, admitted["sockets"], connection_id, reservation.members_version)
        if reservation.direct is not None:
            self._receipts.after_direct_send(chat_id, sender_id, reservation.direct, message.seq)
        else:
            self._receipts.saw(chat_id, message.seq)
            self._receipts.advance(chat_id, sender_id, "read", message.seq)
        return self._sent(message, client_msg_id)

    @staticmethod
    def _check_shape(kind: str | None, text: str | None, media_id: str | None, relates_to: int | None,
                     emoji: str | None, forward_of: Forward | None) -> str:
        """The checks of a send's fields among themselves (no storage); answers its kind (a forward's may be
        left out: it is the source's, checked once that is read)."""
        if forward_of is not None:
            if text is not None or media_id is not None or relates_to is not None:
                raise BadRequest("a forward carries no text, media_id or relates_to of its own")
            return kind or ""
        if kind is None:
            raise BadRequest("kind is required")
        if (kind in RELATIONS) != (relates_to is not None):
            raise BadRequest("relates_to goes with kind edit, delete or reaction, and only with them")
        if kind in ("text", "edit") and not text:
            raise BadRequest(f"a {kind} message needs a non-empty 'text'")
        if kind == "reaction":
            if emoji is None:
                raise BadRequest("a reaction needs an 'emoji' (\"\" takes the reaction back)")
            check_emoji(emoji)
        return kind

    def _admit(self, sender_id: str, chat_id: str, client_msg_id: str, kind: str, media_id: str | None,
               reply_to: int | None, pair: tuple[str, str] | None, relates_to: int | None,
               forward_of: Forward | None, mentions: list[str] | None) -> dict:
        """What a send checks before it takes a seq, all at once: the limits, the claim, membership (groups),
        the media, the messages it names (`reply_to`, `relates_to`, `forward_of`), the mentions, and a direct
        chat's sockets. A claim made here is dropped again if a check fails."""
        checks: dict[str, Callable[[], object]] = {
            "claim": lambda: self._messages.claim(chat_id, sender_id, client_msg_id),
            "sockets": lambda: self._delivery.reach_of(pair) if pair else None,
            "media": lambda: self._media.attachable(sender_id, chat_id, media_id, kind)
            if kind not in ("text", *RELATIONS) and forward_of is None else None,
            "rate": lambda: self._rate.take("send", sender_id),
            "member": lambda: self._access.member(sender_id, chat_id) if pair is None else None,
            "chat_rate": lambda: self._rate.take("chat_send", chat_id) if pair is None else None,
            "quoted": lambda: self._quoted(chat_id, reply_to) if reply_to is not None else None,
            "target": lambda: self._relations.target(chat_id, relates_to, "relates_to") if relates_to else None,
            "source": lambda: self._source(sender_id, forward_of, kind) if forward_of else None,
            "mentions": lambda: self._check_mentions(chat_id, pair, mentions) if mentions else None}
        outcomes = dict(zip(checks, settled(*checks.values()), strict=True))
        failure = next((outcome for outcome in outcomes.values() if isinstance(outcome, Exception)), None)
        if failure is None and pair is not None:  # the peer's item, read for its sockets, says whom they block
            peer = pair[0] if pair[1] == sender_id else pair[1]
            if peer in outcomes["sockets"] and sender_id in outcomes["sockets"][peer].blocked:
                failure = Forbidden(f"{peer} does not take messages from you")
        if failure is not None:  # the first in the order above: membership before what the send names
            if outcomes["claim"] is None:  # this send made the claim
                self._messages.release(chat_id, sender_id, client_msg_id)
            raise failure
        return outcomes

    def _quoted(self, chat_id: str, reply_to: int) -> Message:
        quoted = self._messages.get(chat_id, reply_to)
        if quoted is None:
            raise BadRequest(f"reply_to {reply_to} names no message of the chat")
        return quoted.tombstone() if quoted.disappeared(clock.now()) else quoted

    def _source(self, sender_id: str, forward_of: Forward, kind: str) -> Message:
        try:
            self._access.member(sender_id, forward_of.chat_id)
        except NotFound:
            raise Forbidden(f"no chat {forward_of.chat_id!r} of yours to forward from") from None
        source = self._relations.target(forward_of.chat_id, forward_of.seq, "forward_of")
        if kind and kind != source.kind:
            raise BadRequest(f"forward_of names a {source.kind} message, not a {kind}")
        return source

    def _forwarded(self, draft: Message, source: Message) -> Message:
        if source.media_id:
            self._media.share(source.media_id, draft.chat_id)
        return replace(draft, kind=source.kind, text=source.text, media_id=source.media_id, forwarded=True)

    def _check_mentions(self, chat_id: str, pair: tuple[str, str] | None, mentions: list[str]) -> None:
        members = set(pair) if pair else {m.user_id for m in self._access.members(chat_id)}
        strangers = sorted({m.lower() for m in mentions} - members)
        if strangers:
            raise BadRequest(f"mentions must be members of the chat: {', '.join(strangers)} are not")

    def _append(self, draft: Message, sender_is_admin: bool = True) -> tuple[Message, Reservation]:
        """Take the chat's next seq and store the message there; a seq that a reader closed as a gap (our lease
        ran out first) is given up for the next one."""
        while True:
            reservation = self._messages.reserve(draft.chat_id, draft.sender_id or None,
                                                 direct=direct_members(draft.chat_id) is not None,
                                                 sender_is_admin=sender_is_admin)
            if reservation is None:
                raise NotFound(f"no chat {draft.chat_id!r}")
            sent_at = now_iso()
            expires_at = iso_from_epoch(epoch_from_iso(sent_at) + reservation.disappear_after) \
                if reservation.disappear_after and draft.kind != "system" else None
            message = replace(draft, seq=reservation.seq, sent_at=sent_at, expires_at=expires_at)
            if self._messages.write(message):
                return message, reservation

    def _original(self, chat_id: str, sender_id: str, client_msg_id: str, claimed_at: float) -> Message | None:
        """The message an earlier send with this key stored, waiting while that send is under way. None when the
        earlier send died without storing it (its lease is over): this send has taken its claim over."""
        give_up = time.monotonic() + CLAIM_WAIT
        while True:
            original = self._messages.find_sent(chat_id, sender_id, client_msg_id, claimed_at - CLOCK_SKEW)
            if original is not None:
                return original
            if claimed_at < clock.now() - SEND_LEASE and \
                    self._messages.take_over(chat_id, sender_id, client_msg_id, claimed_at):
                return None
            if time.monotonic() > give_up:
                raise Conflict("this client_msg_id is being sent right now; send it again shortly")
            time.sleep(0.02)

    def _push(self, message: Message, wire: dict, pair: tuple[str, str] | None, sockets, connection_id: str | None,
              members_version: int | None = None) -> None:
        frame = {"type": "message", "message": wire}
        if pair is not None and sockets is not None:  # marked as news for both while it is pushed: see chalicelib/news
            gathered(lambda: self._news.mark(pair, message.chat_id, message.seq, unread_for(wire, sockets)),
                     lambda: self._delivery.to_sockets(sockets, frame, connection_id))
        else:
            members = self._access.members(message.chat_id, members_version)
            self._fanout.to_members([m.user_id for m in members], frame, connection_id)

    @staticmethod
    def _sent(message: Message, client_msg_id: str) -> dict:
        return {"type": "sent", "chat_id": message.chat_id, "client_msg_id": client_msg_id, "seq": message.seq,
                "message_id": message.message_id, "sent_at": message.sent_at}

    def post_system(self, chat: Chat, event: dict, text: str) -> Message:
        """Append a `system` message recording a change to the chat; answers it (not yet pushed)."""
        draft = Message(chat_id=chat.chat_id, seq=0, message_id=uuid.uuid4().hex, sender_id="", kind="system",
                        sent_at=now_iso(), text=text, event=event)
        message, _ = self._append(draft)
        return message

    def update_chat(self, user_id: str, chat_id: str, changes: dict) -> Chat:
        """Change a chat's information or settings, with a `system` message recording each change: disappearing
        messages (any member of a direct chat; in a group, as `edit_info` allows), a group's name, description
        and avatar (as `edit_info` allows) and its settings (admins)."""
        chat = self.chat_of_member(user_id, chat_id)
        changed = self._changes(chat, user_id, changes)
        if not changed:
            return chat
        self._chats.update_info(chat_id, {name: value for name, value in changed.items() if name != "settings"} |
                                ({"settings": {name: value for name, value in changed["settings"].items()
                                               if value != GROUP_SETTINGS[name]} or None}
                                 if "settings" in changed else {}))
        notices = []
        if "disappear_after" in changed:
            seconds = changed.pop("disappear_after")
            text = f"{user_id} turned off disappearing messages" if seconds is None else \
                f"{user_id} set messages to disappear after {DISAPPEAR_AFTER[seconds]}"
            notices.append(self.post_system(chat, {"type": "disappear_after", "by": user_id, "seconds": seconds},
                                            text))
        if changed:
            what = ", ".join(INFO_NAMES[name] for name in changed)
            notices.append(self.post_system(chat, {"type": "chat_updated", "by": user_id, "changes": changed},
                                            f"{user_id} changed the group's {what}"))
        chat = self.chat_of_member(user_id, chat_id)
        for notice in notices:
            self._fanout.to_members(chat.member_ids, {"type": "message", "message": notice.to_wire()})
        self._fanout.to_members(chat.member_ids, {"type": "chat", "chat": chat.to_wire()})
        return chat

    def _changes(self, chat: Chat, user_id: str, changes: dict) -> dict:
        """What `update_chat` changes (settings as they will be, whole), once the caller is found allowed to."""
        if chat.kind == "direct" and set(changes) - {"disappear_after"}:
            raise BadRequest("a direct chat has no name, description, avatar or settings")
        if "name" in changes and not changes["name"]:
            raise BadRequest("a group needs a name of 1-100 characters")
        if chat.kind == "group":
            admin = (member := chat.member(user_id)) is not None and member.role == "admin"
            if "settings" in changes and not admin:
                raise Forbidden("only admins change a group's settings")
            if set(changes) - {"settings"} and chat.group_settings["edit_info"] == "admins" and not admin:
                raise Forbidden("only admins may change this group's information")
        if changes.get("avatar_media_id"):
            self._media.attachable(user_id, chat.chat_id, changes["avatar_media_id"], "image")
        changed = {name: value for name, value in changes.items()
                   if name != "settings" and value != getattr(chat, name)}
        if "settings" in changes and chat.group_settings | changes["settings"] != chat.group_settings:
            changed["settings"] = chat.group_settings | changes["settings"]
        return changed

    def hide(self, user_id: str, chat_id: str, seqs: list[int]) -> None:
        """Delete for me: these messages no longer come back to the user's devices from `history` or `sync`."""
        _, head = gathered(lambda: self._access.member(user_id, chat_id), lambda: self._chats.head(chat_id))
        if head is not None and max(seqs, default=0) > head.last_seq:
            raise BadRequest(f"the chat's last seq is {head.last_seq}: a message not yet sent cannot be hidden")
        self._messages.hide(chat_id, user_id, seqs)

    def history(self, user_id: str, chat_id: str, before: int | None, limit: int) -> dict:
        self._rate.take("history", user_id)
        member, page, hidden = gathered(lambda: self._access.member(user_id, chat_id),
                                        lambda: self._messages.messages_before(chat_id, before or NEWEST, limit + 1),
                                        lambda: self._messages.hidden(user_id, [chat_id]).get(chat_id, set()))
        floor = visible_after(member.joined_seq)
        messages = [m for m in closing_gaps(self._messages, chat_id, page, page[0].seq - 1 if page else 0)
                    if m.seq > floor and m.seq not in hidden]
        # the page read one more than asked: a message before the answer exists, hidden or not (hidden ones are
        # left out, so counting only the visible would say "no more" with older messages still to come); and the
        # gaps closed inside the page can push visible ones out of it
        has_more = (len(page) > limit and page[0].seq > floor) or len(messages) > limit
        wire = with_media(self._media, messages[-limit:])
        while wire and size_of(wire) > MAX_REPLY_BYTES:
            wire.pop(0)
            has_more = True
        return {"chat_id": chat_id, "messages": wire, "has_more": has_more}
