"""Presence: who is online, and when the others were last seen.

A user is `online` while one of their sockets is fresh: its last heartbeat (the connect counting as one) is
under ONLINE_WINDOW (60 s) old, or under QUIET_WINDOW (150 s) old if it was a quiet heartbeat (`quiet: true`:
no `pong`; a client in the background sends one every 60 s). Otherwise `offline`, with `last_seen`, the newest
heartbeat of any of their sockets (or the moment a fresh socket closed). Every read decides by time, so a socket
that died without `$disconnect` reads as offline a window after its last heartbeat, before anything deletes it.

Transitions are announced to the connected users who share a chat with the user, except to those who share
only groups of more than ANNOUNCED_GROUP_SIZE members: a crowd's comings and goings would cost O(members) pushes
each, O(members^2) a day, so large groups read presence with `presence` instead. Online when the first socket
connects (or a socket the sweep had dropped heartbeats again); offline when the last fresh socket closes, is
found gone by a push, or is found stale by the sweep. One write marks the user online or offline, and only the
write that changes the mark announces.

No connect, heartbeat or disconnect does O(contacts) work: the announcement goes through the fan-out queue as a
task, {"task": "presence", "user_id", "presence": <the wire object>, "after": <the last chat id done>}. Each
task reads one page of ANNOUNCE_PAGE of the user's chats (by id, from the `by_member` index), queues the next
page's task, and pushes to that page's contacts once each: a direct chat's id names both members; a group of
at most ANNOUNCED_GROUP_SIZE members costs a read of its member list (cached); larger groups are skipped. A
contact who shares chats on two pages may get the same push twice. Before it pushes, a task reads the user's
presence (one consistent GetItem) and pushes nothing if it no longer says what the task announces: SQS does
not keep order, and a later transition's own task will announce the state that holds.

The sweep (a schedule, every minute) queues one task per shard of the sparse `online` index,
{"task": "sweep", "shard": n}; each takes the stale users of its shard offline and queues their announcements.

Privacy: only users who share a chat see each other's presence; anyone else reads `offline`, `null`, whether
or not the user exists. Among those, the user's `last_seen` setting (everyone, contacts, nobody) and blocks decide:
whoever may not see it reads `unknown`, `null` and gets no pushes. Both come with the users items a query and an
announcement read anyway; `contacts` costs one batch read of the direct chats' heads (chalicelib/people.py).
Profile changes go to the same audience, by the same paged tasks, less the users the user blocked.

A `presence` query of up to 100 ids reads the caller's member items of the direct chats
with each of them (one consistent BatchGetItem); only the ids not found that way are looked for in the
caller's groups, read a page of group memberships at a time (direct chats' ids all sort before groups'), and
reading stops once every id is accounted for.
"""
from dataclasses import replace

from chalicelib import clock
from chalicelib.access import Access
from chalicelib.delivery import Delivery
from chalicelib.fanout import Fanout
from chalicelib.model import (
    ONLINE_WINDOW,
    QUIET_WINDOW,
    Connection,
    Membership,
    UserPresence,
    direct_chat_id,
    direct_members,
    presence_wire,
)
from chalicelib.people import contacts
from chalicelib.rate_limits import RateLimiter
from chalicelib.storage import ChatStore, UserStore

ANNOUNCED_GROUP_SIZE = 100  # members; the same line above which a group's messages go through the fan-out queue
MAX_SOCKETS = 10  # per user; a connect past it closes the user's oldest socket
ANNOUNCE_PAGE = 500  # chats an announcement task reads (one Query of ~50 KB) and pushes to
GROUPS_AFTER = "direct;"  # every group's id sorts after it, every direct chat's ("direct:...") before it
GROUP_PAGE = 100  # group memberships a `presence` query reads at a time


class Presence:
    def __init__(self, users: UserStore, chats: ChatStore, access: Access, delivery: Delivery, rate: RateLimiter,
                 fanout: Fanout, max_sockets: int = MAX_SOCKETS):
        self._rate = rate
        self._users = users
        self._chats = chats
        self._access = access
        self._delivery = delivery
        self._fanout = fanout
        self._max_sockets = max_sockets
        fanout.handle("presence", self.announce_page)
        fanout.handle("profile", self.profile_page)
        fanout.handle("sweep", self.sweep_shard)

    def connected(self, connection: Connection, signed_in_at: int | None = None) -> None:
        """Admit a socket (unless its token, issued at `signed_in_at`, was signed out: `Unauthorized`); past
        `max_sockets` of one user, their oldest sockets are closed (sockets opened in the same second are aged by
        id)."""
        went_online, others = self._users.add_connection(connection, signed_in_at)
        if went_online:
            self._announce(UserPresence(connection.user_id, (connection,)))
        surplus = len(others) + 1 - self._max_sockets
        for oldest in sorted(others, key=lambda c: (c.connected_at, c.connection_id))[:max(surplus, 0)]:
            self._delivery.close(oldest.endpoint, oldest.connection_id)
            self.disconnected(oldest)

    def heartbeat(self, connection: Connection, quiet: bool = False) -> None:
        """A heartbeat keeps the socket fresh for ONLINE_WINDOW, a quiet one for QUIET_WINDOW."""
        self._rate.take("heartbeat", connection.user_id)
        seen = replace(connection, seen_at=int(clock.now()), window=QUIET_WINDOW if quiet else ONLINE_WINDOW)
        if self._users.refresh_connection(seen):
            self._announce(UserPresence(connection.user_id, (seen,)))

    def disconnected(self, connection: Connection) -> None:
        """The socket closed ($disconnect) or a push found it gone."""
        offline = self._users.remove_connection(connection)
        if offline is not None:
            self._announce(offline)

    def sweep(self) -> int:
        """Queue the sweep of each online shard (the schedule's whole work); answers how many tasks."""
        self._fanout.dispatch([{"task": "sweep", "shard": shard} for shard in range(self._users.online_shards)])
        return self._users.online_shards

    def sweep_shard(self, task: dict) -> None:
        """Take offline the users of one shard whose sockets all went stale without closing, and announce it."""
        for presence in self._users.expire_stale_connections(int(task["shard"])):
            self._announce(presence)

    def query(self, caller_id: str, user_ids: list[str]) -> list[dict]:
        """The presence of each user asked for (once each, in the order asked); strangers read offline, null;
        those who share a chat with the caller but hide their presence from them read unknown, null."""
        self._rate.take("presence", caller_id)
        wanted = list(dict.fromkeys(user_id.lower() for user_id in user_ids))
        visible = self._contacts_among(caller_id, set(wanted) - {caller_id})
        if caller_id in wanted:
            visible.add(caller_id)
        known = self._users.presence_of(visible) if visible else {}
        hidden = {user_id for user_id, presence in known.items()
                  if user_id != caller_id and not self._shown(presence, caller_id)}
        choosy = [(user_id, caller_id) for user_id, presence in known.items()
                  if user_id != caller_id and user_id not in hidden and presence.shown_to == "contacts"]
        hidden |= {user_id for user_id, _ in set(choosy) - contacts(self._chats, choosy)}
        now = clock.now()
        return [{"user_id": user_id, "status": "unknown", "last_seen": None} if user_id in hidden
                else known[user_id].to_wire(now) if user_id in known else presence_wire(user_id, False, None)
                for user_id in wanted]

    @staticmethod
    def _shown(presence: UserPresence, viewer_id: str) -> bool:
        """Whether the viewer may see the presence as far as the owner's item says (`contacts` needs a read)."""
        return viewer_id not in presence.blocked and presence.shown_to != "nobody"

    def announce_page(self, task: dict) -> None:
        """One page of a transition's announcement (a fan-out task); queues the next page first. Pushes only to
        whom the user's `last_seen` setting and blocks let see it."""
        user_id, wire = task["user_id"], task["presence"]
        current = self._users.presence_now(user_id)
        if current is None or current.is_online(clock.now()) != (wire["status"] == "online"):
            return  # overtaken by a later transition, whose own task announces what holds now
        if current.shown_to == "nobody":
            return
        audience = self._page_audience(task, current.blocked)
        if current.shown_to == "contacts":
            audience = {peer for _, peer in contacts(self._chats, [(user_id, peer) for peer in audience])}
        if audience:
            self._delivery.to_users(sorted(audience), {"type": "presence", "users": [wire]})

    def announce_profile(self, user_id: str, profile: dict) -> None:
        """Tell those who share a chat with the user (but those the user blocked) of a profile change."""
        self._fanout.dispatch([{"task": "profile", "user_id": user_id, "profile": profile, "after": ""}])

    def profile_page(self, task: dict) -> None:
        current = self._users.presence_now(task["user_id"])
        audience = self._page_audience(task, current.blocked if current else frozenset())
        if audience:
            self._delivery.to_users(sorted(audience), {"type": "profile", "user": task["profile"]})

    def _page_audience(self, task: dict, blocked: frozenset[str]) -> set[str]:
        """Who shares one of the next page of the user's chats with them, less `blocked`; queues the page after."""
        page = self._chats.memberships_page(task["user_id"], task["after"], ANNOUNCE_PAGE)
        if len(page) == ANNOUNCE_PAGE:
            self._fanout.dispatch([{**task, "after": page[-1].chat_id}])
        return self._audience(task["user_id"], page) - blocked

    def _announce(self, presence: UserPresence) -> None:
        self._fanout.dispatch([{"task": "presence", "user_id": presence.user_id,
                                "presence": presence.to_wire(clock.now()), "after": ""}])

    def _audience(self, user_id: str, page: list[Membership]) -> set[str]:
        """Who shares one of these chats with the user, counting no group above ANNOUNCED_GROUP_SIZE members."""
        found: set[str] = set()
        group_ids: list[str] = []
        for membership in page:
            pair = direct_members(membership.chat_id)
            if pair:
                found.update(pair)
            else:
                group_ids.append(membership.chat_id)
        if group_ids:  # one batch read of the groups' sizes spares reading crowds' members
            sizes = self._chats.heads(group_ids)
            for chat_id in group_ids:
                if chat_id in sizes and sizes[chat_id].member_count <= ANNOUNCED_GROUP_SIZE:
                    found.update(m.user_id for m in self._access.members(chat_id))
        found.discard(user_id)
        return found

    def _contacts_among(self, user_id: str, wanted: set[str]) -> set[str]:
        """Which of `wanted` share a chat with the user: direct chats by one batch read of the user's member items,
        then the user's groups, a page at a time, only while some id is unaccounted for."""
        if not wanted:
            return set()
        direct = {direct_chat_id(user_id, other): other for other in wanted}
        found = {direct[chat_id] for chat_id in self._chats.memberships_in(user_id, direct)}
        after = GROUPS_AFTER
        while found != wanted:
            page = self._chats.memberships_page(user_id, after, GROUP_PAGE)
            for membership in page:
                found.update(m.user_id for m in self._access.members(membership.chat_id) if m.user_id in wanted)
                if found == wanted:
                    break
            if len(page) < GROUP_PAGE:
                break
            after = page[-1].chat_id
        return found
