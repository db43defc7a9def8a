"""Python SDK for the Parley chat backend. Start with ``ParleyClient``."""

from .client import ParleyClient, SyncResult, Tokens
from .cursors import ChatCursors, Gap
from .errors import ConnectionLost, ParleyError
from .view import MessageView

__all__ = [
    "ChatCursors",
    "ConnectionLost",
    "Gap",
    "MessageView",
    "ParleyClient",
    "ParleyError",
    "SyncResult",
    "Tokens",
]
