"""JSON from clients, a WebSocket frame or a REST body, read into a dict or refused as `bad_request`."""
import json

from chalicelib.errors import BadRequest


def json_object(raw: str | bytes | None, what: str) -> dict:
    """`raw` as a JSON object; otherwise a `bad_request` that names `what` ("a frame", "the body")."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw or ""
        body = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack allows
        raise BadRequest(f"{what} must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest(f"{what} must be a JSON object")
    if "\\u" in text and not _encodable(body):
        raise BadRequest(f"{what} must hold valid Unicode (no lone surrogates)")
    return body


def _encodable(body: dict) -> bool:
    """False when an escape such as `\\ud800` decoded to a lone surrogate, which no reply or item can carry."""
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except (UnicodeEncodeError, RecursionError):
        return False
    return True
