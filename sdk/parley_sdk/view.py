"""A chat's messages as people see them: edits, deletes and reactions folded into what they act on."""

RELATIONS = ("edit", "delete", "reaction")


class MessageView:
    """Messages by ``(chat_id, seq)``, as ``events()``, ``history`` or ``sync`` give them, each relation
    folded into its target the way the server folds it (a message served later already carries its state;
    a relation pushed live is folded here). Relations are kept apart: ``messages()`` never lists them.

    Feed it every message with ``apply``; it answers the message to (re)draw: the target a relation
    changed, the message itself otherwise, or None when there is nothing to show (a relation whose target
    this view has not seen: ``history`` or ``sync`` serve that target folded already).
    """

    def __init__(self) -> None:
        self._messages: dict[tuple[str, int], dict] = {}
        self._reactions: dict[tuple[str, int], dict[str, tuple[int, str]]] = {}  # user -> (seq, emoji)

    def apply(self, message: dict) -> dict | None:
        if message["kind"] not in RELATIONS:
            key = (message["chat_id"], message["seq"])
            self._messages[key] = {**message}
            # the reactions it was served with come before any pushed later (seq 0), in their order
            self._reactions[key] = {
                user_id: (0, emoji)
                for emoji, users in message.get("reactions", {}).items()
                for user_id in users
            }
            return self._messages[key]
        key = (message["chat_id"], message["relates_to"])
        target = self._messages.get(key)
        if target is None or target.get("deleted"):
            return None
        if message["kind"] == "edit":
            target.update(text=message.get("text"), edited_at=message["sent_at"])
        elif message["kind"] == "delete":
            for field in ("text", "media", "reactions"):
                target.pop(field, None)
            target["deleted"] = True
        else:
            self._react(key, target, message)
        return target

    def _react(self, key: tuple[str, int], target: dict, reaction: dict) -> None:
        chosen = self._reactions[key]
        earlier = chosen.get(reaction["sender_id"])
        if earlier is not None and earlier[0] > reaction["seq"]:
            return  # a later reaction of the same user is in already
        chosen.pop(reaction["sender_id"], None)  # a new reaction goes to the end of the order
        chosen[reaction["sender_id"]] = (reaction["seq"], reaction.get("emoji", ""))
        shown: dict[str, list[str]] = {}
        for user_id, (_, emoji) in sorted(chosen.items(), key=lambda entry: entry[1][0]):
            if emoji:
                shown.setdefault(emoji, []).append(user_id)
        if shown:
            target["reactions"] = shown
        else:
            target.pop("reactions", None)

    def messages(self, chat_id: str) -> list[dict]:
        """The chat's messages in seq order, relations folded in and left out."""
        return [message for (chat, _), message in sorted(self._messages.items()) if chat == chat_id]
