"""Typing indicators: relayed to the other members' connected devices, never stored.

A `start` lasts 10 s on the receiving side unless renewed: a client keeps showing someone as
typing for 10 s after their last `start`, or until their `stop`. So a client that keeps typing sends `start`
again every few seconds (every 5 s is enough), and `stop` when the user stops or sends; the server pushes
nothing when a `start` lapses.

Each member may send TYPING_LIMIT typing frames (`start` or `stop`) per chat in each TYPING_WINDOW (10 s);
more get `rate_limited`. The count lives in DynamoDB (one conditional write per frame, on an item TTL deletes),
so it holds across Lambda containers. A container that has seen the limit reached answers the rest of that
window from memory: a flood costs no further reads or writes there.
"""
from chalicelib import clock
from chalicelib.access import chat_of_member
from chalicelib.delivery import Delivery
from chalicelib.errors import RateLimited
from chalicelib.storage import ChatStore

TYPING_WINDOW = 10  # seconds
TYPING_LIMIT = 10  # typing frames per member, chat and window


class TypingIndicators:
    def __init__(self, chats: ChatStore, delivery: Delivery):
        self._chats = chats
        self._delivery = delivery
        self._limited_window = 0
        self._limited: set[tuple[str, str]] = set()  # (user, chat) over the limit in `_limited_window`

    def relay(self, user_id: str, chat_id: str, state: str) -> None:
        window = int(clock.now()) // TYPING_WINDOW * TYPING_WINDOW
        if window != self._limited_window:
            self._limited_window, self._limited = window, set()
        if (user_id, chat_id) in self._limited:
            raise self._too_many()
        chat, _ = chat_of_member(self._chats, user_id, chat_id)
        if not self._chats.count_typing(chat.chat_id, user_id, window, TYPING_LIMIT):
            self._limited.add((user_id, chat_id))
            raise self._too_many()
        others = [member_id for member_id in chat.member_ids if member_id != user_id]
        self._delivery.to_users(others, {"type": "typing", "chat_id": chat.chat_id, "user_id": user_id,
                                         "state": state})

    @staticmethod
    def _too_many() -> RateLimited:
        return RateLimited(f"at most {TYPING_LIMIT} typing frames per chat every {TYPING_WINDOW} s")
