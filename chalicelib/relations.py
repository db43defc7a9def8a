"""Message actions on earlier messages: edits, deletions for everyone and reactions; and the replies' quotes,
forwards and mentions that copy from or check against other messages.

Edits, deletions and reactions are messages in the chat's log, sent through `send` like any other, so that
idempotency, ordering, receipts, news and `sync` carry them unchanged. Once one is stored, its effect is folded
into the message it acts on (one conditional update of that message's item), so wherever the target is served
it carries its current state without a read per message. A fold never undoes a later one (each carries its own
seq) and repeating it changes nothing, so a resend folds again safely. A reply notes itself on the message it
quotes, and an edit on the message it edits, so that deleting that message takes its text out of them too.
"""
from dataclasses import dataclass, replace

from chalicelib import clock
from chalicelib.errors import BadRequest, Forbidden
from chalicelib.media import MediaService
from chalicelib.model import Membership, Message, epoch_from_iso
from chalicelib.storage import MessageStore

RELATIONS = ("edit", "delete", "reaction")
EDIT_WINDOW = 15 * 60  # seconds after `sent_at` the sender may edit
DELETE_WINDOW = 48 * 3600  # seconds after `sent_at` the sender may delete for everyone (group admins: always)
MAX_EMOJI_BYTES = 32
QUOTE_CHARS = 200


@dataclass(frozen=True)
class Forward:
    chat_id: str
    seq: int


def check_emoji(emoji: str) -> None:
    import emoji as emoji_data  # its data loads on first use: not on the cold start of every handler
    if emoji and (len(emoji.encode()) > MAX_EMOJI_BYTES or not emoji_data.is_emoji(emoji)):
        raise BadRequest(f"emoji must be one emoji of at most {MAX_EMOJI_BYTES} bytes, or \"\" to take it back")


def quote_of(message: Message) -> dict:
    quote = {"seq": message.seq, "sender_id": message.sender_id, "kind": message.kind}
    if message.text is not None and not message.deleted:
        quote["text"] = message.text[:QUOTE_CHARS]
    return quote


class Relations:
    def __init__(self, messages: MessageStore, media: MediaService):
        self._messages = messages
        self._media = media

    def target(self, chat_id: str, seq: int, what: str) -> Message:
        """The message a relation or forward names: an ordinary message that is there and not deleted."""
        message = self._messages.get(chat_id, seq)
        if message is None:
            raise BadRequest(f"{what} {seq} names no message of the chat")
        if message.kind in RELATIONS or message.kind == "system":
            raise BadRequest(f"{what} {seq} is a {message.kind} message, which nothing can act on")
        if message.deleted or message.disappeared(clock.now()):  # served as deleted before the sweep deletes it
            raise BadRequest(f"{what} {seq} was deleted")
        return message

    def check(self, sender: Membership, sender_id: str, kind: str, target: Message) -> None:
        """Whether the sender may act on `target` with a relation of this kind (`forbidden` if not)."""
        age = clock.now() - epoch_from_iso(target.sent_at)
        if kind == "edit":
            if target.sender_id != sender_id:
                raise Forbidden("only its sender can edit a message")
            if target.kind != "text":
                raise Forbidden("only text messages can be edited")
            if age > EDIT_WINDOW:
                raise Forbidden(f"a message can be edited for {EDIT_WINDOW // 60} minutes after it was sent")
        elif kind == "delete" and sender.role != "admin":
            if target.sender_id != sender_id:
                raise Forbidden("only its sender or a group admin can delete a message for everyone")
            if age > DELETE_WINDOW:
                raise Forbidden(f"its sender can delete a message for everyone for {DELETE_WINDOW // 3600} hours")

    def fold(self, relation: Message) -> None:
        """Fold a stored relation into its target."""
        chat_id, target = relation.chat_id, relation.relates_to
        assert target is not None
        if relation.kind == "edit":
            self._messages.edit(chat_id, target, relation.text or "", relation.sent_at, relation.seq)
        elif relation.kind == "reaction":
            self._messages.react(chat_id, target, relation.sender_id, relation.emoji or "", relation.seq)
        else:
            self.erase(chat_id, target)

    def erase(self, chat_id: str, seq: int) -> None:
        """Delete a message for everyone: its text and media, and its text in the edits and quotes of it."""
        deletion = self._messages.delete(chat_id, seq)
        if deletion is None:
            return
        self._messages.forget_texts(chat_id, deletion.edit_seqs, deletion.reply_seqs)
        if deletion.message.media_id:
            self._media.release(deletion.message.media_id)

    def note_reply(self, reply: Message) -> Message:
        """Note a stored reply on the message it quotes; if that was deleted meanwhile, the reply loses the text."""
        assert reply.reply_to is not None and reply.quote is not None
        if self._messages.note_reply(reply.chat_id, reply.reply_to, reply.seq) and "text" in reply.quote:
            self._messages.forget_texts(reply.chat_id, (), (reply.seq,))
            return replace(reply, quote={k: v for k, v in reply.quote.items() if k != "text"})
        return reply
