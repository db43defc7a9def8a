"""Deleting an account (`DELETE /api/me`, GDPR article 17).

The request does what must hold within 15 s, inline: the password checked, the account marked deleted (its
name is never given out again; its settings are dropped), every session signed out and every socket closed
(chalicelib/sessions), and sign-in disabled. A queued task then does the rest, each step safe to run again, so a
task cut short and redelivered finishes the job: the devices' push endpoints are deleted, the user leaves every
group (the last-admin rule applies, as for any leave), their uploads are deleted (files and items, wherever they
were sent or forwarded), and the Cognito user is deleted.
Messages the user sent stay in their chats, as the contract says.
"""
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.fanout import Fanout
from chalicelib.groups import Groups
from chalicelib.identity import Accounts
from chalicelib.media import MediaService
from chalicelib.notifications import Notifications
from chalicelib.sessions import Sessions
from chalicelib.storage import ChatStore, UserStore

PAGE_CHATS = 500  # memberships read at a time


class AccountDeletion:
    def __init__(self, users: UserStore, chats: ChatStore, groups: Groups, media: MediaService, accounts: Accounts,
                 sessions: Sessions, notifications: Notifications, fanout: Fanout):
        self._users = users
        self._media = media
        self._chats = chats
        self._groups = groups
        self._accounts = accounts
        self._sessions = sessions
        self._notifications = notifications
        self._fanout = fanout
        fanout.handle("delete_account", lambda task: self.finish(task["user_id"]))

    def request(self, user_id: str, password: object) -> None:
        self._accounts.check_password(user_id, password)
        self._users.mark_deleted(user_id)
        self._accounts.disable(user_id)
        self._sessions.logout_all(user_id)
        self._fanout.dispatch([{"task": "delete_account", "user_id": user_id}])

    def finish(self, user_id: str) -> None:
        self._notifications.unregister_all(user_id)
        after = ""
        while page := self._chats.memberships_page(user_id, after, PAGE_CHATS):
            for membership in page:
                if membership.kind == "group":
                    try:
                        self._groups.leave(user_id, membership.chat_id)
                    except (NotFound, Forbidden, BadRequest):
                        pass  # left already: this step ran before the task was redelivered
            after = page[-1].chat_id
        self._media.erase_uploads_of(user_id)
        self._accounts.delete(user_id)

    def refuse_taken(self, user_id: str) -> None:
        """Sign-up's check: a deleted account's name stays taken."""
        if self._users.deleted(user_id):
            raise Conflict("username is taken")
