"""A chat's messages as people see them: edits, deletes and reactions folded into what they act on."""

from dataclasses import dataclass, field

RELATIONS = ("edit", "delete", "reaction")
"""Kinds of the messages that act on another one (named by ``relates_to``) and are never shown as bubbles."""

QUOTE_CHARS = 200
"""A reply's ``quote`` carries the first this many code points of the quoted text."""


def is_relation(message: dict) -> bool:
    """Whether a message is an edit, a delete or a reaction: something to fold, not a bubble to show."""
    return message.get("kind") in RELATIONS


@dataclass
class _State:
    message: dict
    as_of: int
    """Relations with a seq up to this one are in ``message`` already (it was served after them)."""
    reactions: dict[str, tuple[int, str]]
    """user_id -> (seq of their reaction, emoji), in the order they reacted; 0: served, seq unknown."""
    edit_seq: int = 0
    applied: dict[int, dict] = field(default_factory=dict)
    """The relations folded in here after it was served, by seq, to fold again into a newer served copy."""


class MessageView:
    """Messages by ``(chat_id, seq)``, as ``events()``, ``history`` or ``sync`` give them, each relation
    folded into its target the way the server folds it. Relations are kept apart: ``messages()`` never
    lists them.

    A message served by ``history`` or ``sync`` already carries the relations stored before it was read;
    ``apply(message, as_of=N)`` says that those up to seq N are in (a page's highest seq is a safe N), so
    that they are not folded twice when they come by. A live push is as of its own seq.

    ``ParleyClient`` keeps one (``client.view``) and feeds it everything it receives; an app may also use
    one on its own. ``apply`` answers the message to (re)draw: the target a relation changed, the message
    itself otherwise, or None when there is nothing to redraw (a relation already folded in, one acting
    on a deleted message, or one whose target this view has not seen: ``history`` or ``sync`` serve that
    target with the relation folded in already).
    """

    def __init__(self) -> None:
        self._states: dict[tuple[str, int], _State] = {}

    def apply(self, message: dict, *, as_of: int | None = None) -> dict | None:
        if is_relation(message):
            return self._fold(message)
        key = (message["chat_id"], message["seq"])
        as_of = max(as_of or 0, message["seq"])
        earlier = self._states.get(key)
        if earlier is not None and earlier.as_of >= as_of:
            return earlier.message
        served = message.get("reactions", {})
        reactions = {user_id: (0, emoji) for emoji, users in served.items() for user_id in users}
        state = self._states[key] = _State({**message}, as_of, reactions)
        if message.get("deleted"):
            _tombstone(state.message)  # as the contract serves it, whatever reactions a server kept
        if earlier is not None:
            if earlier.message.get("deleted"):
                self._delete(state)
            for seq, relation in sorted(earlier.applied.items()):
                if seq > as_of:
                    self._fold(relation)
        return state.message

    def get(self, chat_id: str, seq: int) -> dict | None:
        """A message as folded so far (do not change it), or None if this view has not seen it."""
        state = self._states.get((chat_id, seq))
        return state.message if state else None

    def messages(self, chat_id: str) -> list[dict]:
        """The chat's messages in seq order, relations folded in and left out."""
        return [state.message for (chat, _), state in sorted(self._states.items()) if chat == chat_id]

    def forget(self, chat_id: str, seqs: list[int] | None = None) -> None:
        """Drop messages (all of the chat's, without ``seqs``): hidden ones, or ones the app has let go of."""
        for key in [key for key in self._states if key[0] == chat_id and (seqs is None or key[1] in seqs)]:
            del self._states[key]

    def _fold(self, relation: dict) -> dict | None:
        state = self._states.get((relation["chat_id"], relation["relates_to"]))
        if state is None or relation["seq"] <= state.as_of or relation["seq"] in state.applied:
            return None
        target = state.message
        if target.get("deleted"):
            return None
        state.applied[relation["seq"]] = relation
        if relation["kind"] == "edit":
            if relation["seq"] < state.edit_seq:
                return None  # a later edit is in already
            state.edit_seq = relation["seq"]
            target.update(text=relation.get("text", ""), edited_at=relation["sent_at"])
        elif relation["kind"] == "delete":
            self._delete(state)
        else:
            self._react(state, relation)
        return target

    def _delete(self, state: _State) -> None:
        """Deleted for everyone: no text, media or reactions, here and in the quotes of it."""
        target = state.message
        _tombstone(target)
        for (chat_id, _), other in self._states.items():
            quote = other.message.get("quote")
            if chat_id == target["chat_id"] and quote and quote.get("seq") == target["seq"]:
                other.message["quote"] = {k: v for k, v in quote.items() if k != "text"}

    def _react(self, state: _State, reaction: dict) -> None:
        user_id = reaction["sender_id"]
        earlier = state.reactions.get(user_id)
        if earlier is not None and earlier[0] > reaction["seq"]:
            return  # a later reaction of the same user is in already
        state.reactions.pop(user_id, None)  # a new reaction goes to the end of the order
        state.reactions[user_id] = (reaction["seq"], reaction.get("emoji", ""))  # "": taken back
        shown: dict[str, list[str]] = {}
        # sorted() is stable: the served reactions (seq 0) keep the order they were served in
        for user, (_, chosen) in sorted(state.reactions.items(), key=lambda entry: entry[1][0]):
            if chosen:
                shown.setdefault(chosen, []).append(user)
        if shown:
            state.message["reactions"] = shown
        else:
            state.message.pop("reactions", None)


def _tombstone(message: dict) -> None:
    """A message deleted for everyone: no text, media or reactions, and no text in its own quote."""
    for name in ("text", "media", "media_id", "reactions"):
        message.pop(name, None)
    message["deleted"] = True
    if "quote" in message:
        message["quote"] = {k: v for k, v in message["quote"].items() if k != "text"}
