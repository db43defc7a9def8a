"""Who may act on a chat: only its members."""
from chalicelib.errors import Forbidden, NotFound
from chalicelib.model import Chat, Member
from chalicelib.storage import ChatStore


def chat_of_member(chats: ChatStore, user_id: str, chat_id: str) -> tuple[Chat, Member]:
    chat = chats.get(chat_id)
    if chat is None:
        raise NotFound(f"no chat {chat_id!r}")
    member = chat.member(user_id)
    if member is None:
        raise Forbidden("you are not a member of this chat")
    return chat, member
