"""Python SDK for the Parley chat backend. Start with ``ParleyClient``."""

from .client import ParleyClient, SyncResult, Tokens
from .cursors import ChatCursors, Gap
from .errors import ConnectionLost, ParleyError
from .view import RELATIONS, MessageView, is_relation

__all__ = [
    "RELATIONS",
    "ChatCursors",
    "ConnectionLost",
    "Gap",
    "MessageView",
    "ParleyClient",
    "ParleyError",
    "SyncResult",
    "Tokens",
    "is_relation",
]
