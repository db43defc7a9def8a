"""News: which chats each user's devices may be behind in, so that `sync` reads only the chats that changed.

Every message is marked as news for its chat's members after it is stored and before it is pushed; a send whose
mark fails fails, and its resend marks again. The changes form of `sync` reads the marks made since the token of
the client's last complete pass. A message that pass did not see was stored after the pass read its chat, so it
was marked after the pass began, by a clock at most 2 * CLOCK_SKEW behind the pass's own: a token of the pass's
start less MARGIN is early enough. A chat is read from the lowest seq marked since the token, so a mark already
made in the same minute at a lower seq covers later messages, and this container skips writing it again.

The same batches write unread candidates (which chats a user may have unread, for the count a push carries),
coalesced the same way: chalicelib/notifications.py says why a candidate that old is still enough.
"""
from collections.abc import Iterable

from chalicelib import clock
from chalicelib.model import NEWS_TTL, Reach
from chalicelib.storage import NewsStore

MARGIN = 15  # seconds: twice the clock skew two Lambda containers may have (5 s), with room to spare
REMEMBERED_MARKS = 100_000  # per container; forgetting only costs a repeated write
COUNTED_KINDS = ("text", "image", "video", "file")  # what makes a chat unread, and what is pushed


def minute_of(epoch: float) -> int:
    return int(epoch // 60)


def unread_for(message: dict, reach: dict[str, Reach]) -> list[str]:
    """Whose unread count a message changes: everyone but its sender with a device registered for pushes (only
    pushes carry the count), if it is a text or media message (not a relation, not a `system` one)."""
    if message["kind"] not in COUNTED_KINDS:
        return []
    return [user_id for user_id, user in reach.items() if user_id != message["sender_id"] and user.devices]


class News:
    def __init__(self, store: NewsStore):
        self._store = store
        # (user, chat) -> (minute, lowest seq marked), for news marks and for unread candidates
        self._marked: dict[tuple[str, str], tuple[int, int]] = {}
        self._unread: dict[tuple[str, str], tuple[int, int]] = {}

    def mark(self, user_ids: Iterable[str], chat_id: str, seq: int, unread_for: Iterable[str] = ()) -> None:
        minute = minute_of(clock.now())
        fresh = [user_id for user_id in dict.fromkeys(user_ids) if not _covered(self._marked, user_id, chat_id, seq,
                                                                                 minute)]
        unread = [user_id for user_id in dict.fromkeys(unread_for) if not _covered(self._unread, user_id, chat_id,
                                                                                   seq, minute)]
        if not fresh and not unread:
            return
        self._store.mark(fresh, chat_id, seq, minute, unread)
        for memo, users in ((self._marked, fresh), (self._unread, unread)):
            if len(memo) > REMEMBERED_MARKS:
                memo.clear()
            for user_id in users:
                memo[(user_id, chat_id)] = (minute, seq)

    @staticmethod
    def token() -> int:
        """The token a pass starting now hands out for the next one."""
        return int(clock.now()) - MARGIN

    @staticmethod
    def kept(token: int) -> bool:
        """Whether marks since `token` are all still kept (else the pass must list every chat)."""
        return token > clock.now() - NEWS_TTL + 86400

    def unread_candidates(self, user_id: str) -> dict[str, tuple[int, int]]:
        return self._store.unread_candidates(user_id)

    def drop_unread(self, user_id: str, chat_id: str, seq: int, minute: int) -> None:
        self._store.drop_unread(user_id, chat_id, seq, minute)

    def changed_since(self, user_id: str, token: int) -> dict[str, int]:
        """The user's chats marked since `token`, each with the lowest seq marked."""
        return self._store.marked_since(user_id, minute_of(token))

    def newest_first(self, user_id: str) -> list[str]:
        """The user's chats with marks still kept, the most recently marked first."""
        return self._store.newest_first(user_id, minute_of(clock.now() - NEWS_TTL))


def _covered(memo: dict[tuple[str, str], tuple[int, int]], user_id: str, chat_id: str, seq: int, minute: int) -> bool:
    marked = memo.get((user_id, chat_id))
    return marked is not None and marked[0] == minute and marked[1] <= seq
