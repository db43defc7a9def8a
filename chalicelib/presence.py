"""Presence: who is online, and when the others were last seen.

A user is `online` while one of their sockets has a heartbeat under ONLINE_WINDOW (60 s) old, the connect
counting as one; otherwise `offline`, with `last_seen`. Every read decides by time, so a socket that died
without `$disconnect` reads as offline a minute after its last heartbeat, before anything deletes it.

Transitions are pushed to the connected users who share a chat with the user, once each (one write marks the
user online or offline, and only the write that changes the mark announces), except to those who share only
groups of more than ANNOUNCED_GROUP_SIZE members: a crowd's comings and goings would cost O(members) pushes
each, O(members^2) a day, so large groups read presence with `presence` instead. Online when the first socket
connects (or a socket the sweep had dropped heartbeats again); offline when the last fresh socket closes, is
found gone by a push, or is found stale by `sweep`, which a schedule runs every minute.

Privacy: only users who share a chat see each other's presence; anyone else reads `offline`, `null`, whether
or not the user exists, and costs no read. Who shares a chat with whom comes from the user's memberships (one
Query of the `by_member` index): a direct chat's id names both members, so only group chats cost a read of
their member ids, and a `presence` query stops reading groups once every id asked for is accounted for.
"""
from dataclasses import replace

from chalicelib import clock
from chalicelib.access import Access
from chalicelib.delivery import Delivery
from chalicelib.model import Connection, UserPresence, direct_members, presence_wire
from chalicelib.rate_limits import RateLimiter
from chalicelib.storage import ChatStore, UserStore

ANNOUNCED_GROUP_SIZE = 100  # members; the same line above which a group's messages go through the fan-out queue
MAX_SOCKETS = 10  # per user; a connect past it closes the user's oldest socket


class Presence:
    def __init__(self, users: UserStore, chats: ChatStore, access: Access, delivery: Delivery, rate: RateLimiter,
                 max_sockets: int = MAX_SOCKETS):
        self._rate = rate
        self._users = users
        self._chats = chats
        self._access = access
        self._delivery = delivery
        self._max_sockets = max_sockets

    def connected(self, connection: Connection) -> None:
        """Admit a socket; past `max_sockets` of one user, their oldest sockets are closed (sockets opened in the
        same second are aged by id)."""
        went_online, others = self._users.add_connection(connection)
        if went_online:
            self._announce(UserPresence(connection.user_id, (connection,)))
        surplus = len(others) + 1 - self._max_sockets
        for oldest in sorted(others, key=lambda c: (c.connected_at, c.connection_id))[:max(surplus, 0)]:
            self._delivery.close(oldest.endpoint, oldest.connection_id)
            self.disconnected(oldest)

    def heartbeat(self, connection: Connection) -> None:
        self._rate.take("heartbeat", connection.user_id)
        seen = replace(connection, seen_at=int(clock.now()))
        if self._users.refresh_connection(seen):
            self._announce(UserPresence(connection.user_id, (seen,)))

    def disconnected(self, connection: Connection) -> None:
        """The socket closed ($disconnect) or a push found it gone."""
        offline = self._users.remove_connection(connection)
        if offline is not None:
            self._announce(offline)

    def sweep(self) -> int:
        """Take offline the users whose sockets all went stale without closing; answers how many."""
        offline = self._users.expire_stale_connections()
        for presence in offline:
            self._announce(presence)
        return len(offline)

    def query(self, caller_id: str, user_ids: list[str]) -> list[dict]:
        """The presence of each user asked for (once each, in the order asked); strangers read offline, null."""
        self._rate.take("presence", caller_id)
        wanted = list(dict.fromkeys(user_id.lower() for user_id in user_ids))
        visible = self._contacts(caller_id, set(wanted) - {caller_id})
        if caller_id in wanted:
            visible.add(caller_id)
        known = self._users.presence_of(visible) if visible else {}
        now = clock.now()
        return [known[user_id].to_wire(now) if user_id in known else presence_wire(user_id, False, None)
                for user_id in wanted]

    def _announce(self, presence: UserPresence) -> None:
        audience = self._contacts(presence.user_id, largest_group=ANNOUNCED_GROUP_SIZE)
        if audience:
            self._delivery.to_users(audience, {"type": "presence", "users": [presence.to_wire(clock.now())]})

    def _contacts(self, user_id: str, wanted: set[str] | None = None, largest_group: int | None = None) -> set[str]:
        """Who shares a chat with the user; with `wanted`, only those of them, reading no group it need not;
        with `largest_group`, counting no group larger than that."""
        if wanted is not None and not wanted:
            return set()
        found: set[str] = set()
        group_ids: list[str] = []
        for membership in self._chats.memberships(user_id):
            pair = direct_members(membership.chat_id)
            if pair:
                found.update(pair)
            else:
                group_ids.append(membership.chat_id)
        if largest_group is not None:  # one batch read of the groups' sizes spares reading crowds' members
            sizes = self._chats.heads(group_ids)
            group_ids = [chat_id for chat_id in group_ids
                         if chat_id in sizes and sizes[chat_id].member_count <= largest_group]
        for chat_id in group_ids:
            if wanted is not None and wanted <= found:
                break
            found.update(m.user_id for m in self._access.members(chat_id))
        found.discard(user_id)
        return found if wanted is None else found & wanted
