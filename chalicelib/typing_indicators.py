"""Typing indicators: relayed to the other members' connected devices, never stored.

A `start` lasts 10 s on the receiving side unless renewed: a client keeps showing someone as
typing for 10 s after their last `start`, or until their `stop`. So a client that keeps typing sends `start`
again every few seconds (every 5 s is enough), and `stop` when the user stops or sends; the server pushes
nothing when a `start` lapses.

Each member may send `RateLimits.typing` frames (`start` or `stop`) per chat in each 10 s window; more
get `rate_limited`. In groups of more than RELAYED_GROUP_SIZE members typing is not relayed at all (the frame
is accepted and answered like any other): in a crowd, who is typing is noise, and relaying it would cost a push
per member per keystroke burst. The same line above which presence is not announced and messages fan out
through the queue. Members who blocked the typist are not told (their users items, read for the sockets,
say so).
"""
from chalicelib.access import Access
from chalicelib.delivery import Delivery
from chalicelib.rate_limits import RateLimiter

RELAYED_GROUP_SIZE = 100  # members


class TypingIndicators:
    def __init__(self, access: Access, delivery: Delivery, rate: RateLimiter):
        self._access = access
        self._delivery = delivery
        self._rate = rate

    def relay(self, user_id: str, chat_id: str, state: str) -> None:
        self._rate.take("typing", user_id, chat_id)  # first: a flood past the limit costs no reads
        self._access.member(user_id, chat_id)
        members = self._access.members(chat_id)
        if len(members) > RELAYED_GROUP_SIZE:
            return
        reach = self._delivery.reach_of(m.user_id for m in members if m.user_id != user_id)
        unblocked = {other: r for other, r in reach.items() if user_id not in r.blocked}
        self._delivery.to_sockets(unblocked, {"type": "typing", "chat_id": chat_id, "user_id": user_id, "state": state})
