"""Turning REST requests into calls, and results and errors into responses."""
from collections.abc import Mapping
from typing import TypeVar

from chalice import Response

from chalicelib.errors import BadRequest, ParleyError
from chalicelib.observability import logger

T = TypeVar("T", int, None)


def bearer_token(headers) -> str | None:
    value = (headers.get("authorization") or "").strip()
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else value or None


def query_int(params: Mapping[str, str] | None, name: str, default: T, low: int, high: int) -> int | T:
    raw = (params or {}).get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def error_response(error: Exception) -> Response:
    if not isinstance(error, ParleyError):
        logger.exception("request failed")
        error = ParleyError("internal error; try again")
    return Response(body=error.to_wire(), status_code=error.status, headers={"Content-Type": "application/json"})
