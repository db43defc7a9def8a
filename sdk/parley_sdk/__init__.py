"""Python SDK for the Parley chat backend. Start with ``ParleyClient``."""

from .client import ParleyClient, SyncResult, Tokens
from .cursors import ChatCursors, Gap
from .errors import ConnectionLost, ParleyError

__all__ = ["ChatCursors", "ConnectionLost", "Gap", "ParleyClient", "ParleyError", "SyncResult", "Tokens"]
