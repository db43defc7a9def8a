"""A user's settings: stored only where changed from the default, and read by what they govern from the items it
reads anyway (`push_previews` comes with the users item every delivery reads)."""
from chalicelib.errors import BadRequest
from chalicelib.storage import UserStore

DEFAULTS = {"push_previews": True}


class UserSettings:
    def __init__(self, users: UserStore):
        self._users = users

    def of(self, user_id: str) -> dict:
        return DEFAULTS | self._users.settings(user_id)

    def update(self, user_id: str, changes: dict) -> dict:
        unknown = sorted(set(changes) - set(DEFAULTS))
        if unknown:
            raise BadRequest(f"unknown settings: {', '.join(unknown)} (known: {', '.join(DEFAULTS)})")
        for name, value in changes.items():
            if type(value) is not type(DEFAULTS[name]):
                raise BadRequest(f"{name} must be a {type(DEFAULTS[name]).__name__}")
        return DEFAULTS | (self._users.update_settings(user_id, changes) if changes else self._users.settings(user_id))
