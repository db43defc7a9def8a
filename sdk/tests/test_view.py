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


def test_relations_a_served_copy_already_carries_are_not_folded_again():
    view = MessageView()
    # Served after ben (seq 2), cat (3) and ben again (4) reacted: ben is last.
    view.apply(message(1, reactions={"👍": ["cat", "ben"]}), as_of=4)
    for seq, sender in ((2, "ben"), (3, "cat"), (4, "ben")):
        assert view.apply(message(seq, "reaction", sender=sender, relates_to=1, emoji="👍")) is None
    assert view.messages("c")[0]["reactions"] == {"👍": ["cat", "ben"]}
    view.apply(message(5, "reaction", sender="cat", relates_to=1, emoji="👍"))
    assert view.messages("c")[0]["reactions"] == {"👍": ["ben", "cat"]}


def test_a_newer_served_copy_keeps_what_was_folded_after_it():
    view = MessageView()
    view.apply(message(1, text="a"))
    view.apply(message(3, "reaction", sender="ben", relates_to=1, emoji="🎉"))
    # served after the edit (2) but before ben's reaction (3)
    edited = message(1, text="b", edited_at="2026-12-04T10:00:02Z")
    view.apply(edited, as_of=2)
    assert view.messages("c")[0] == {**edited, "reactions": {"🎉": ["ben"]}}
    view.apply(message(1, text="a"))  # an older copy changes nothing
    assert view.messages("c")[0]["text"] == "b"


def test_a_taken_back_reaction_is_not_brought_back_by_an_older_one():
    view = MessageView()
    view.apply(message(1))
    view.apply(message(3, "reaction", sender="ben", relates_to=1, emoji=""))
    view.apply(message(2, "reaction", sender="ben", relates_to=1, emoji="👍"))
    assert "reactions" not in view.messages("c")[0]


def test_a_delete_takes_the_text_out_of_replies_quoting_it():
    view = MessageView()
    view.apply(message(1, text="secret", media={"media_id": "m"}))
    view.apply(message(2, reply_to=1, quote={"seq": 1, "sender_id": "ann", "kind": "text", "text": "secret"}))
    view.apply(message(3, "delete", relates_to=1))
    first, reply = view.messages("c")
    assert first == message(1, deleted=True)
    assert reply["quote"] == {"seq": 1, "sender_id": "ann", "kind": "text"}
    view.forget("c", [2])
    assert view.messages("c") == [first]


def test_a_message_served_deleted_shows_nothing_it_had():
    view = MessageView()
    shown = view.apply(message(1, deleted=True, reactions={"👍": ["ben"]}, quote={"seq": 0, "text": "x"}))
    assert shown == message(1, deleted=True, quote={"seq": 0})
