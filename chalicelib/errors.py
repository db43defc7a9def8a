"""Contract errors: each carries the wire `code` and the HTTP status the REST mirror answers with."""


class ParleyError(Exception):
    code = "internal"
    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def to_wire(self) -> dict:
        return {"code": self.code, "message": self.message}


class BadRequest(ParleyError):
    code, status = "bad_request", 400


class Unauthorized(ParleyError):
    code, status = "unauthorized", 401


class Forbidden(ParleyError):
    code, status = "forbidden", 403


class NotFound(ParleyError):
    code, status = "not_found", 404


class Conflict(ParleyError):
    code, status = "conflict", 409


class TooLarge(ParleyError):
    code, status = "too_large", 413


class RateLimited(ParleyError):
    code, status = "rate_limited", 429
