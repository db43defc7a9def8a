"""Accounts through the Cognito user pool, and verification of its ID tokens."""
import re
from dataclasses import dataclass
from functools import cached_property

from chalicelib import clock
from chalicelib.errors import BadRequest, Conflict, Forbidden, Unauthorized

USERNAME = re.compile(r"[a-z0-9_.-]{3,32}")
JWKS_CACHE_SECONDS = 3600


def normalize_username(username: object) -> str:
    if not isinstance(username, str) or not USERNAME.fullmatch(username.lower()):
        raise BadRequest("username must be 3-32 characters of a-z, 0-9, '_', '.', '-'")
    return username.lower()


def check_password(password: object) -> str:
    if not (isinstance(password, str) and 8 <= len(password) <= 256
            and re.search(r"[a-z]", password) and re.search(r"[A-Z]", password)
            and re.search(r"[0-9]", password) and re.search(r"[^A-Za-z0-9]", password)):
        raise BadRequest("password needs 8+ characters with an upper-case letter, a lower-case letter, "
                         "a digit and a symbol")
    return password


@dataclass(frozen=True)
class Identity:
    """Who a verified ID token names, and when it was issued (its `iat`, in seconds)."""
    user_id: str
    issued_at: int


class TokenVerifier:
    """Checks a Cognito ID token: RS256 signature against the pool's JWKS (cached), exp, iss, aud, token_use."""

    def __init__(self, issuer: str, audience: str, jwks_url: str | None = None):
        self._issuer = issuer
        self._audience = audience
        self._jwks_url = jwks_url or f"{issuer}/.well-known/jwks.json"

    @cached_property
    def _keys(self):
        import jwt  # cryptography is slow to import; only token checks need it
        return jwt.PyJWKClient(self._jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=5)

    def verify(self, token: str | None) -> Identity:
        import jwt
        if not token:
            raise Unauthorized("a token is required")
        try:
            key = self._keys.get_signing_key_from_jwt(token).key
            # exp against Parley's clock rather than PyJWT's, so that the local stack can move time past it
            claims = jwt.decode(token, key, algorithms=["RS256"], audience=self._audience, issuer=self._issuer,
                                options={"require": ["exp", "iat", "iss", "aud", "token_use"], "verify_exp": False})
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from None
        if not isinstance(claims["exp"], int | float) or claims["exp"] <= clock.now():
            raise Unauthorized("invalid token: Signature has expired")
        if claims["token_use"] != "id" or not claims.get("cognito:username"):
            raise Unauthorized("an ID token is required")
        return Identity(claims["cognito:username"], int(claims["iat"]))


class Accounts:
    """Sign-up, login and refresh against the user pool; users are confirmed at sign-up."""

    def __init__(self, cognito, user_pool_id: str, client_id: str):
        self._cognito = cognito
        self._pool = user_pool_id
        self._client_id = client_id

    def signup(self, username: object, password: object) -> str:
        user_id = normalize_username(username)
        check_password(password)
        errors = self._cognito.exceptions
        try:
            self._cognito.sign_up(ClientId=self._client_id, Username=user_id, Password=password)
        except errors.UsernameExistsException:
            raise Conflict("username is taken") from None
        except errors.InvalidPasswordException as error:
            raise BadRequest(error.response["Error"]["Message"]) from None
        self._cognito.admin_confirm_sign_up(UserPoolId=self._pool, Username=user_id)
        return user_id

    def login(self, username: object, password: object) -> dict:
        if not isinstance(username, str) or not isinstance(password, str):
            raise BadRequest("username and password are required")
        errors = self._cognito.exceptions
        try:
            result = self._cognito.initiate_auth(
                ClientId=self._client_id, AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username.lower(), "PASSWORD": password})["AuthenticationResult"]
        except (errors.NotAuthorizedException, errors.UserNotFoundException, errors.UserNotConfirmedException):
            raise Unauthorized("wrong username or password") from None
        return {"user_id": username.lower(), "id_token": result["IdToken"],
                "refresh_token": result["RefreshToken"], "expires_in": result["ExpiresIn"]}

    def check_password(self, user_id: str, password: object) -> None:
        """`Forbidden` unless `password` is the user's (an action as grave as deleting the account asks again)."""
        if not isinstance(password, str) or not password:
            raise BadRequest("password is required")
        try:
            self._cognito.initiate_auth(ClientId=self._client_id, AuthFlow="USER_PASSWORD_AUTH",
                                        AuthParameters={"USERNAME": user_id, "PASSWORD": password})
        except self._cognito.exceptions.NotAuthorizedException:
            raise Forbidden("wrong password") from None

    def disable(self, user_id: str) -> None:
        self._cognito.admin_disable_user(UserPoolId=self._pool, Username=user_id)

    def delete(self, user_id: str) -> None:
        try:
            self._cognito.admin_delete_user(UserPoolId=self._pool, Username=user_id)
        except self._cognito.exceptions.UserNotFoundException:
            pass  # deleted by an earlier run of the same job

    def sign_out_everywhere(self, user_id: str) -> None:
        """Revoke every refresh token of the user (Cognito's global sign-out)."""
        self._cognito.admin_user_global_sign_out(UserPoolId=self._pool, Username=user_id)

    def refresh(self, refresh_token: object) -> dict:
        if not isinstance(refresh_token, str) or not refresh_token:
            raise BadRequest("refresh_token is required")
        try:
            result = self._cognito.initiate_auth(
                ClientId=self._client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token})["AuthenticationResult"]
        except self._cognito.exceptions.NotAuthorizedException:
            raise Unauthorized("invalid refresh token") from None
        return {"id_token": result["IdToken"], "expires_in": result["ExpiresIn"]}
