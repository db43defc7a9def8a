"""Delivered and read cursors, and the receipts they send.

Each member has two cursors per chat (delivered, read) that only move forward; read implies delivered.
Sending a message moves the sender's own cursors to it.

Direct chats keep both members' cursors, and the last seq each one sent, on the chat's head: one conditional
update moves a cursor, and what it answers tells whether the peer has messages that just got covered. Reads are
shown only between members who both have `read_receipts` on (a per-container copy of the settings, read only
when a read would be told): otherwise the peer hears `delivered`, and `GET .../receipts` shows each the other's
`read_seq` as 0.

Groups tell a sender when every member has reached their message, so they need the lowest cursor (the
floor) without one item that every member's receipt writes. A group's cursors are spread over CURSOR_SHARDS
shard items by user, each receipt writing its own shard only; a floors item per status keeps each shard's
lowest cursor, written only when that moves (once per shard per message in a busy group). Whoever raises the
lowest of the shard floors has covered the messages between the old and the new floor, and tells their
senders, once (each floors update is atomic and answers what it replaced).
"""
from chalicelib.access import CACHED_CHATS, Access
from chalicelib.delivery import Delivery
from chalicelib.errors import BadRequest, Forbidden
from chalicelib.model import Cursors, DirectState, cursor_shard, direct_members
from chalicelib.rate_limits import RateLimiter
from chalicelib.storage import ChatStore, MessageStore, ReceiptStore
from chalicelib.user_settings import UserSettings

STATUSES = ("delivered", "read")  # lowest to highest
NO_FLOOR = 2**63


def lowest(cursors: dict[str, Cursors], status: str, without: str | None = None) -> int:
    return min((c.of(status) for user, c in cursors.items() if user != without), default=NO_FLOOR)


class Receipts:
    def __init__(self, receipts: ReceiptStore, chats: ChatStore, messages: MessageStore, access: Access,
                 delivery: Delivery, rate: RateLimiter, settings: UserSettings):
        self._settings = settings
        self._rate = rate
        self._receipts = receipts
        self._chats = chats
        self._messages = messages
        self._access = access
        self._delivery = delivery
        self._last_seqs: dict[str, int] = {}  # a lower bound of each group's last seq, seen by this container

    def record(self, user_id: str, chat_id: str, status: str, seq: int) -> None:
        self._rate.take("receipt", user_id)
        pair = direct_members(chat_id)
        if pair is not None:
            if user_id not in pair:
                raise Forbidden("you are not a member of this chat")
            before = self._receipts.raise_direct(chat_id, user_id, status, seq)
            if before is not None:
                self._covered_in_direct(chat_id, user_id, before, before.cursors[user_id].raised(status, seq), seq)
            return
        if seq > self._last_seqs.get(chat_id, 0):
            head = self._chats.head(chat_id)
            last_seq = head.last_seq if head else 0
            self.saw(chat_id, last_seq)
            if seq > last_seq:
                self._access.member(user_id, chat_id)  # outsiders learn nothing of the chat, not even its length
                raise BadRequest(f"seq {seq} is beyond the chat's last seq {last_seq}")
        self.advance(chat_id, user_id, status, seq)

    def saw(self, chat_id: str, last_seq: int) -> None:
        """Note a group's last seq (from a send this container made or read), sparing the check a read."""
        if last_seq > self._last_seqs.get(chat_id, 0):
            if len(self._last_seqs) >= CACHED_CHATS:
                self._last_seqs.clear()
            self._last_seqs[chat_id] = last_seq

    def after_direct_send(self, chat_id: str, sender_id: str, before: DirectState, seq: int) -> None:
        """The send moved the sender's cursors to `seq`: the peer's messages since the old read cursor are read."""
        self._covered_in_direct(chat_id, sender_id, before, Cursors(seq, seq), seq)

    def _covered_in_direct(self, chat_id: str, user_id: str, before: DirectState, after: Cursors, seq: int) -> None:
        peer = next(u for u in direct_members(chat_id) or () if u != user_id)
        last_sent, old = before.last_sent.get(peer, 0), before.cursors.get(user_id, Cursors())
        for status in reversed(STATUSES):  # the peer hears once, of the highest status reached
            low, high = old.of(status), after.of(status)
            covered = low < last_sent <= high or (last_sent > high > low and
                                                  peer in self._messages.senders_between(chat_id, low, high))
            if covered and (status != "read" or self._reads_shown(user_id, peer)):
                self._delivery.to_users([peer], {"type": "receipt", "chat_id": chat_id, "user_id": user_id,
                                                 "status": status, "seq": seq})
                return

    def cursors(self, user_id: str, chat_id: str) -> dict:
        self._access.member(user_id, chat_id)
        if (pair := direct_members(chat_id)) is not None:
            head = self._chats.head(chat_id)
            cursors = head.direct.cursors if head and head.direct else {}
            peer = pair[0] if pair[1] == user_id else pair[1]
            if peer in cursors and not self._reads_shown(user_id, peer):
                cursors = {**cursors, peer: Cursors(cursors[peer].delivered, 0)}
        else:
            cursors = {user: c for shard in self._receipts.shards(chat_id).values() for user, c in shard.items()}
            order = [m.user_id for m in self._access.members(chat_id)]
            cursors = {user: cursors[user] for user in order if user in cursors}
        return {"chat_id": chat_id, "receipts": [{"user_id": user, "delivered_seq": c.delivered, "read_seq": c.read}
                                                 for user, c in cursors.items()]}

    def _reads_shown(self, user_id: str, peer_id: str) -> bool:
        """Whether two members of a direct chat see each other's reads: both have `read_receipts` on."""
        return all(settings["read_receipts"] for settings in self._settings.cached([user_id, peer_id]).values())

    def own_cursors(self, user_id: str, group_ids: list[str]) -> dict[str, Cursors]:
        return self._receipts.cursors_in(user_id, group_ids) if group_ids else {}

    def advance(self, chat_id: str, user_id: str, status: str, seq: int) -> None:
        """Move a group member's cursors up to `seq`; tell the senders whose messages it covered for everyone."""
        shard = cursor_shard(user_id)
        before = self._receipts.raise_in_shard(chat_id, shard, user_id, status, seq)
        if before is not None:
            after = {**before, user_id: before[user_id].raised(status, seq)}
            self._settle(chat_id, shard, before, after, actor_id=user_id)

    def seat(self, chat_id: str, members: dict[str, Cursors]) -> None:
        """Give joining members their cursors. A shard they open starts its floors no lower than the group's."""
        floors = None
        for shard, cursors in _by_shard(members).items():
            if self._receipts.seat(chat_id, shard, cursors):
                continue
            if floors is None:
                floors = self._receipts.floors(chat_id)
            for status in STATUSES:
                start = max(lowest(cursors, status), min(floors[status].values(), default=0))
                self._receipts.set_shard_floor(chat_id, status, shard, start)

    def unseat(self, chat_id: str, user_ids: list[str]) -> None:
        """Take leaving members' cursors away; the floor may rise, covering messages for those who stay."""
        for shard, users in _by_shard(dict.fromkeys(user_ids)).items():
            before = self._receipts.unseat(chat_id, shard, list(users))
            after = {user: c for user, c in before.items() if user not in users}
            self._settle(chat_id, shard, before, after, actor_id=None)

    def _settle(self, chat_id: str, shard: int, before: dict[str, Cursors], after: dict[str, Cursors],
                actor_id: str | None) -> None:
        covered, floors = {}, {}
        for status in STATUSES:
            low_before, low_after = lowest(before, status), lowest(after, status)
            if low_after <= low_before:
                continue
            old = self._receipts.set_shard_floor(chat_id, status, shard, None if low_after == NO_FLOOR else low_after)
            if old is None:
                continue
            new = {**old, shard: low_after}
            if low_after == NO_FLOOR:
                del new[shard]
            was, now = min(old.values(), default=0), min(new.values(), default=0)
            if now > was:
                covered[status], floors[status] = (was, now), new
        if covered:
            self._tell_senders(chat_id, covered, floors, {shard: after}, actor_id)

    def _tell_senders(self, chat_id: str, covered: dict[str, tuple[int, int]], floors: dict[str, dict[int, int]],
                      known: dict[int, dict[str, Cursors]], actor_id: str | None) -> None:
        highest: dict[str, str] = {}
        for status in STATUSES:  # read overwrites delivered: each sender hears once, of the highest status
            if status in covered:
                for sender in self._messages.senders_between(chat_id, *covered[status]) - {actor_id, ""}:
                    highest[sender] = status
        receipts: dict[tuple[str, int], list[str]] = {}
        for sender, status in highest.items():  # the lowest cursor among the members other than this sender
            shard = cursor_shard(sender)
            if shard not in known:
                known[shard] = self._receipts.shard(chat_id, shard)
            if sender not in known[shard]:  # a sender who left has no cursor, and hears no more of the group
                continue
            others = [floor for other, floor in floors[status].items() if other != shard]
            seq = min(others + [lowest(known[shard], status, without=sender)])
            if seq != NO_FLOOR:  # a group of one has no one else to hear from
                receipts.setdefault((status, seq), []).append(sender)
        for (status, seq), senders in receipts.items():
            self._delivery.to_users(senders, {"type": "receipt", "chat_id": chat_id, "status": status, "seq": seq})


def _by_shard(members: dict) -> dict[int, dict]:
    shards: dict[int, dict] = {}
    for user, value in members.items():
        shards.setdefault(cursor_shard(user), {})[user] = value
    return shards
