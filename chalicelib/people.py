"""People: profiles, who counts as a contact, and blocking.

A profile (`display_name`, `about`, `avatar_media_id`) lives on the user's users item; its avatar is an image
uploaded through the media pipeline with `chat_id: "profile"` (chalicelib/media.py), served with fresh URLs, its
thumbnail being the avatar. A change is announced as a `profile` event to those who share a chat with the user,
as presence transitions are (chalicelib/presence.py), but not to the users they blocked.

A contact of a user is someone with whom they share a direct chat in which the user has sent at least one
message: one batch read of those chats' heads, which keep the last seq each member sent.

Blocking is a set on the blocker's users item, which the reads that need it already make: a direct send reads
both members' items for their sockets, a group add reads the newcomers' items, presence reads the watched users'
items. A blocked user's send into the direct chat with the blocker, and adding the blocker to a group, are
`forbidden`; they read the blocker's presence as `unknown` and the profile without `about` and `avatar`.
"""
from collections.abc import Iterable
from dataclasses import replace

from chalicelib.errors import BadRequest, NotFound
from chalicelib.media import MediaService
from chalicelib.model import Person, direct_chat_id
from chalicelib.storage import ChatStore, UserStore

MAX_IDS = 100  # users a `GET /api/users` names
MAX_BLOCKS = 1000  # per user: the set rides on the users item every delivery reads
PROFILE_FIELDS = {"display_name": (1, 64), "about": (0, 140)}  # lengths in characters


def profile_media_chat(user_id: str) -> str:
    """Where a user's avatar uploads belong (their media item's `chat_id`)."""
    return f"profile:{user_id}"


def contacts(chats: ChatStore, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (user, other) pairs are contacts, `other` being the user's contact: one batch read of their direct
    chats' heads."""
    wanted = {direct_chat_id(user, other): (user, other) for user, other in pairs if user != other}
    if not wanted:
        return set()
    heads = chats.heads(wanted)
    return {(user, other) for chat_id, (user, other) in wanted.items()
            if (direct := heads[chat_id].direct if chat_id in heads else None) is not None
            and direct.last_sent.get(user, 0) > 0}


class People:
    def __init__(self, users: UserStore, chats: ChatStore, media: MediaService, announce_profile):
        self._users = users
        self._chats = chats
        self._media = media
        self._announce = announce_profile

    def profile(self, user_id: str) -> dict:
        person = self._users.people([user_id]).get(user_id, Person(user_id))
        return self._wire([person], user_id)[0]

    def update_profile(self, user_id: str, changes: dict) -> dict:
        unknown = sorted(set(changes) - {*PROFILE_FIELDS, "avatar_media_id"})
        if unknown:
            raise BadRequest(f"unknown profile fields: {', '.join(unknown)}")
        for name, (shortest, longest) in PROFILE_FIELDS.items():
            value = changes.get(name)
            if value is not None and (not isinstance(value, str) or not shortest <= len(value) <= longest):
                raise BadRequest(f"{name} is a string of {shortest} to {longest} characters, or null to remove it")
        avatar = changes.get("avatar_media_id")
        if avatar is not None:
            if not isinstance(avatar, str):
                raise BadRequest("avatar_media_id is a media id, or null to remove the avatar")
            self._media.attachable(user_id, profile_media_chat(user_id), avatar, "image")
        before = self._users.people([user_id]).get(user_id, Person(user_id))
        changed = {name: value for name, value in changes.items() if before.profile.get(name) != value}
        if not changed:  # a profile saved as it was tells no one
            return self._wire([before], user_id)[0]
        after = replace(before, profile=self._users.update_profile(user_id, changed))
        wire = self._wire([after], user_id)[0]
        self._announce(user_id, wire)
        return wire

    def users(self, viewer_id: str, user_ids: list[str]) -> list[dict]:
        wanted = list(dict.fromkeys(user_id.lower() for user_id in user_ids if user_id))
        if not 0 < len(wanted) <= MAX_IDS:
            raise BadRequest(f"ids names 1 to {MAX_IDS} users, separated by commas")
        people = self._users.people(wanted)
        return self._wire([people[user_id] for user_id in wanted if user_id in people], viewer_id)

    def _wire(self, people: list[Person], viewer_id: str) -> list[dict]:
        """People as `viewer_id` sees them: a deleted account as such; without `about` and `avatar` for a viewer
        they blocked; avatars with fresh URLs (one batch read of their media)."""
        shown = [p for p in people if not p.deleted and viewer_id not in p.blocked]
        avatars = self._media.wire_many([p.profile["avatar_media_id"] for p in shown if "avatar_media_id" in p.profile])
        wires: list[dict] = []
        for person in people:
            if person.deleted:
                wires.append({"user_id": person.user_id, "deleted": True})
                continue
            wire: dict[str, object] = {"user_id": person.user_id}
            if "display_name" in person.profile:
                wire["display_name"] = person.profile["display_name"]
            if person in shown:
                if "about" in person.profile:
                    wire["about"] = person.profile["about"]
                if person.profile.get("avatar_media_id") in avatars:
                    wire["avatar"] = avatars[person.profile["avatar_media_id"]]
            wires.append(wire)
        return wires

    def block(self, user_id: str, other_id: object) -> None:
        if not isinstance(other_id, str) or not other_id:
            raise BadRequest("user_id names the user to block")
        other_id = other_id.lower()
        if other_id == user_id:
            raise BadRequest("you cannot block yourself")
        people = self._users.people([user_id, other_id])
        if other_id not in people:
            raise NotFound(f"no user {other_id!r}")
        if user_id in people and len(people[user_id].blocked) >= MAX_BLOCKS:
            raise BadRequest(f"at most {MAX_BLOCKS} users may be blocked")
        self._users.block(user_id, other_id)

    def unblock(self, user_id: str, other_id: str) -> None:
        self._users.unblock(user_id, other_id.lower())

    def blocked(self, user_id: str) -> list[str]:
        person = self._users.people([user_id]).get(user_id)
        return sorted(person.blocked) if person else []
