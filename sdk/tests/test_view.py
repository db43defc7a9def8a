"""MessageView folds relations into their targets as the server does, and never shows them."""

from parley_sdk import MessageView


def message(seq: int, kind: str = "text", sender: str = "ann", **fields) -> dict:
    return {
        "chat_id": "c",
        "seq": seq,
        "message_id": f"m{seq}",
        "sender_id": sender,
        "kind": kind,
        "sent_at": f"2026-12-04T10:00:{seq:02d}Z",
        **fields,
    }


def test_edits_reactions_and_deletes_fold_into_their_target():
    view = MessageView()
    view.apply(message(1, text="helo", reactions={"👍": ["cat"]}))
    assert view.apply(message(2, "edit", relates_to=1, text="hello"))["text"] == "hello"
    view.apply(message(3, "reaction", sender="ben", relates_to=1, emoji="👍"))
    view.apply(message(4, "reaction", sender="cat", relates_to=1, emoji="🎉"))
    (shown,) = view.messages("c")
    assert shown["edited_at"] == "2026-12-04T10:00:02Z"
    assert shown["reactions"] == {"👍": ["ben"], "🎉": ["cat"]}
    view.apply(message(5, "reaction", sender="ben", relates_to=1, emoji=""))
    assert view.messages("c")[0]["reactions"] == {"🎉": ["cat"]}
    deleted = view.apply(message(6, "delete", relates_to=1))
    assert deleted["deleted"] is True and "text" not in deleted and "reactions" not in deleted
    assert view.apply(message(7, "edit", relates_to=1, text="too late")) is None


def test_a_relation_whose_target_is_unseen_shows_nothing():
    view = MessageView()
    assert view.apply(message(9, "reaction", relates_to=4, emoji="👍")) is None
    assert view.messages("c") == []


def test_an_older_reaction_arriving_late_changes_nothing():
    view = MessageView()
    view.apply(message(1))
    view.apply(message(3, "reaction", sender="ben", relates_to=1, emoji="🎉"))
    view.apply(message(2, "reaction", sender="ben", relates_to=1, emoji="👍"))
    assert view.messages("c")[0]["reactions"] == {"🎉": ["ben"]}
