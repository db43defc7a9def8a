"""The one exception type the SDK raises for anything the server (or the wire) refused."""

HTTP_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
}


class ParleyError(Exception):
    """An error reported by the server, over REST or the WebSocket.

    ``code`` is one of the contract's codes (``bad_request``, ``unauthorized``,
    ``forbidden``, ``not_found``, ``too_large``, ``rate_limited``, ``conflict``,
    ``internal``) or one the SDK raises itself: ``connection_lost``, ``timeout``.
    ``status`` is the HTTP status when the error came from an HTTP answer.
    """

    def __init__(self, code: str, message: str = "", status: int | None = None):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status

    @classmethod
    def from_http(cls, status: int, body: object) -> "ParleyError":
        """The error for an HTTP answer: its body's ``code`` and ``message``, else one for the status."""
        code = HTTP_STATUS_CODES.get(status, "internal" if status >= 500 else "bad_request")
        if isinstance(body, dict):
            return cls(str(body.get("code", code)), str(body.get("message", "")), status)
        return cls(code, str(body or "")[:500], status)


class ConnectionLost(ParleyError):
    """The WebSocket dropped before a request was answered."""

    def __init__(self, message: str = "the connection dropped before the reply arrived"):
        super().__init__("connection_lost", message)
