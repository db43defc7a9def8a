"""Signing out everywhere (`POST /api/auth/logout_all`), and refusing the ID tokens that revoked.

Cognito's global sign-out revokes the user's refresh tokens, but an ID token stays good until it expires. So the
users item records `signed_out_at`, the second of the call: the handshake refuses a token issued in that second or
before with the same conditional write that admits the socket (no read), and REST checks tokens against a copy each
container keeps at most REVOCATION_DELAY old. The call answers once its second is over, so that a login after it
gets a later `iat`.
"""
import time

from chalicelib import clock
from chalicelib.delivery import Delivery
from chalicelib.errors import Unauthorized
from chalicelib.identity import Accounts, Identity
from chalicelib.storage import UserStore

REVOCATION_DELAY = 10  # seconds a container may go on accepting a signed-out ID token on REST (the contract: 15)
REMEMBERED_USERS = 10_000  # per container, before the copies start over


class Sessions:
    def __init__(self, users: UserStore, accounts: Accounts, delivery: Delivery):
        self._users = users
        self._accounts = accounts
        self._delivery = delivery
        self._signed_out: dict[str, tuple[float, int | None]] = {}  # user -> (read at, signed_out_at)

    def logout_all(self, user_id: str) -> None:
        at = int(clock.issuer_now())
        sockets = self._users.sign_out(user_id, at)
        self._accounts.sign_out_everywhere(user_id)
        for socket in sockets:  # each one's $disconnect then tidies up as for any close
            self._delivery.close(socket.endpoint, socket.connection_id)
        self._signed_out[user_id] = (time.monotonic(), at)
        time.sleep(max(0.0, at + 1 - clock.issuer_now()))

    def check(self, identity: Identity) -> str:
        """The token's user, unless the token was signed out (as of at most REVOCATION_DELAY ago)."""
        known = self._signed_out.get(identity.user_id)
        if known is None or time.monotonic() - known[0] > REVOCATION_DELAY:
            if len(self._signed_out) >= REMEMBERED_USERS:
                self._signed_out.clear()
            known = (time.monotonic(), self._users.signed_out_at(identity.user_id))
            self._signed_out[identity.user_id] = known
        if known[1] is not None and identity.issued_at <= known[1]:
            raise Unauthorized("this token was signed out (logout_all); log in again")
        return identity.user_id
