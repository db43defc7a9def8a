"""Typing indicators: relayed to the other members' connected devices, never stored.

A `start` lasts 10 s on the receiving side unless renewed: a client keeps showing someone as
typing for 10 s after their last `start`, or until their `stop`. So a client that keeps typing sends `start`
again every few seconds (every 5 s is enough), and `stop` when the user stops or sends; the server pushes
nothing when a `start` lapses.

Each member may send `RateLimits.typing` frames (`start` or `stop`) per chat in each 10 s window; more
get `rate_limited`.
"""
from chalicelib.access import chat_of_member
from chalicelib.delivery import Delivery
from chalicelib.rate_limits import RateLimiter
from chalicelib.storage import ChatStore


class TypingIndicators:
    def __init__(self, chats: ChatStore, delivery: Delivery, rate: RateLimiter):
        self._chats = chats
        self._delivery = delivery
        self._rate = rate

    def relay(self, user_id: str, chat_id: str, state: str) -> None:
        self._rate.take("typing", user_id, chat_id)  # first: a flood past the limit costs no reads
        chat, _ = chat_of_member(self._chats, user_id, chat_id)
        others = [member_id for member_id in chat.member_ids if member_id != user_id]
        self._delivery.to_users(others, {"type": "typing", "chat_id": chat.chat_id, "user_id": user_id,
                                         "state": state})
