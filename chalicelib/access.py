"""Who may act on a chat, and who is in it, without reading every member.

Membership is one item read: a member's own item of the chat. A direct chat's id names its two members, and a
direct chat is never deleted, so a container that has seen one exists answers from memory after that.

Member lists (for fan-out, typing and presence) are one item per chat, cached per container by the chat's
members version: a send learns the version from the update that takes its seq, so a cached list costs nothing.
Paths where a slightly old list is harmless (typing, presence) take a cached list up to LIST_MAX_AGE old.
"""
import time

from chalicelib.errors import Forbidden, NotFound
from chalicelib.model import Member, Membership, direct_members
from chalicelib.storage import ChatStore

LIST_MAX_AGE = 10  # seconds a member list serves typing and presence without asking for its version
CACHED_CHATS = 10_000  # per container, before the caches start over


class Access:
    def __init__(self, chats: ChatStore):
        self._chats = chats
        self._direct_chats: dict[str, bool] = {}  # direct chats seen to exist
        self._lists: dict[str, tuple[int, float, list[Member]]] = {}  # chat -> version, read at, members

    def member(self, user_id: str, chat_id: str) -> Membership:
        """The caller's membership of the chat; `NotFound` if there is no such chat, `Forbidden` if they are not
        a member (telling the two apart costs a read on that path only)."""
        pair = direct_members(chat_id)
        if pair is not None and user_id in pair and chat_id in self._direct_chats:
            return Membership(chat_id, "direct", "member")
        membership = self._chats.membership(user_id, chat_id) if pair is None or user_id in pair else None
        if membership is None:
            if self._chats.head(chat_id) is None:
                raise NotFound(f"no chat {chat_id!r}")
            raise Forbidden("you are not a member of this chat")
        if pair is not None:
            _remember(self._direct_chats, chat_id, True)
        return membership

    def members(self, chat_id: str, version: int | None = None) -> list[Member]:
        """The chat's members at `version` (or newer), or when no version is given, as of LIST_MAX_AGE ago."""
        pair = direct_members(chat_id)
        if pair is not None:
            return [Member(user_id) for user_id in pair]
        cached = self._lists.get(chat_id)
        if cached is not None and (cached[0] >= version if version is not None
                                   else time.monotonic() - cached[1] < LIST_MAX_AGE):
            return cached[2]
        read_version, members = self._chats.members(chat_id)
        _remember(self._lists, chat_id, (read_version, time.monotonic(), members))
        return members

    def forget(self, chat_id: str) -> None:
        """Drop a list this container changed itself (the next read fetches the new version)."""
        self._lists.pop(chat_id, None)


def _remember(cache: dict, key: str, value) -> None:
    if len(cache) >= CACHED_CHATS:
        cache.clear()
    cache[key] = value
