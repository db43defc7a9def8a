"""Reports of messages, for moderators (`POST /api/reports`).

A member reports a message they can read; the report keeps a copy of it and of up to CONTEXT messages before it,
as they were when reported (a later edit or delete does not change what moderators see). Moderators list them
with `python -m deploy reports` (newest first); nothing in the app reads them back.
"""
import uuid

from chalicelib.access import Access
from chalicelib.errors import BadRequest, NotFound
from chalicelib.messaging import visible_after
from chalicelib.model import now_iso
from chalicelib.parallel import gathered
from chalicelib.rate_limits import RateLimiter
from chalicelib.storage import ChatStore, MessageStore, ReportStore

CONTEXT = 5  # messages before the reported one that a report keeps
MAX_REASON = 500


class Reports:
    def __init__(self, store: ReportStore, chats: ChatStore, messages: MessageStore, access: Access,
                 rate: RateLimiter):
        self._store = store
        self._chats = chats
        self._messages = messages
        self._access = access
        self._rate = rate

    def report(self, user_id: str, chat_id: object, seq: object, reason: object) -> str:
        if not isinstance(chat_id, str) or not chat_id:
            raise BadRequest("chat_id names the chat of the message")
        if type(seq) is not int or seq < 1:
            raise BadRequest("seq is the reported message's seq")
        if not isinstance(reason, str) or not 0 < len(reason) <= MAX_REASON:
            raise BadRequest(f"reason is a string of 1 to {MAX_REASON} characters")
        self._rate.take("report", user_id)
        member, head = gathered(lambda: self._access.member(user_id, chat_id), lambda: self._chats.head(chat_id))
        if head is not None and seq > head.last_seq:
            raise BadRequest(f"the chat's last seq is {head.last_seq}")
        floor = visible_after(member.joined_seq)
        page = [m for m in self._messages.messages_before(chat_id, seq + 1, CONTEXT + 1) if m.seq > floor]
        if not page or page[-1].seq != seq:
            raise NotFound(f"no message {seq} that you can read in this chat")
        report_id = uuid.uuid4().hex
        self._store.add({"report_id": report_id, "reporter_id": user_id, "chat_id": chat_id, "seq": seq,
                         "reason": reason, "reported_at": now_iso(), "messages": [m.to_wire() for m in page]})
        return report_id
