from parley_sdk import ChatCursors, Gap


def message(seq: int, chat_id: str = "c") -> dict:
    return {"chat_id": chat_id, "seq": seq, "text": f"#{seq}"}


def seqs(messages: list[dict]) -> list[int]:
    return [message["seq"] for message in messages]


def test_messages_in_order_are_delivered_at_once():
    cursors = ChatCursors()
    assert seqs(cursors.add(message(1))) == [1]
    assert seqs(cursors.add(message(2))) == [2]
    assert cursors.snapshot() == {"c": 2}
    assert cursors.gaps() == []


def test_repeats_are_dropped():
    cursors = ChatCursors({"c": 3})
    assert cursors.add(message(2)) == []
    assert cursors.add(message(3)) == []
    assert seqs(cursors.add(message(4))) == [4]
    assert cursors.add(message(4)) == []


def test_a_message_after_a_hole_waits_for_it():
    cursors = ChatCursors({"c": 1})
    assert cursors.add(message(4)) == []
    assert cursors.add(message(3)) == []
    assert cursors.gaps() == [Gap("c", after_seq=1, before_seq=3)]
    assert cursors.snapshot() == {"c": 1}
    assert seqs(cursors.add(message(2))) == [2, 3, 4]
    assert cursors.gaps() == []
    assert cursors.snapshot() == {"c": 4}


def test_a_held_message_is_not_delivered_twice():
    cursors = ChatCursors({"c": 0})
    cursors.add(message(2))
    assert cursors.add(message(2)) == []
    assert seqs(cursors.add(message(1))) == [1, 2]


def test_chats_are_independent():
    cursors = ChatCursors({"a": 5})
    assert cursors.add(message(7, "a")) == []
    assert seqs(cursors.add(message(1, "b"))) == [1]
    assert cursors.gaps() == [Gap("a", after_seq=5, before_seq=7)]


def test_own_messages_advance_the_cursor_without_being_delivered():
    cursors = ChatCursors({"c": 1})
    assert cursors.add_own("c", 3) == []
    assert seqs(cursors.add(message(2))) == [2]
    assert cursors.snapshot() == {"c": 3}
    assert cursors.add(message(3)) == []
    assert seqs(cursors.add(message(4))) == [4]


def test_an_unknown_chat_starts_at_seq_1():
    cursors = ChatCursors()
    assert not cursors.knows("c")
    assert seqs(cursors.add(message(1))) == [1]
    assert cursors.knows("c")


def test_an_unknown_chat_first_seen_later_waits_for_its_start():
    cursors = ChatCursors()
    assert cursors.add(message(9)) == []
    assert cursors.gaps() == [Gap("c", after_seq=None, before_seq=9)]
    assert cursors.start("c", after_seq=6) == []
    assert seqs(cursors.add(message(7))) == [7]
    assert seqs(cursors.add(message(8))) == [8, 9]


def test_start_releases_held_messages_right_after_it_and_drops_older_ones():
    cursors = ChatCursors()
    cursors.add(message(4))
    cursors.add(message(6))
    assert seqs(cursors.start("c", after_seq=4)) == []
    assert cursors.gaps() == [Gap("c", after_seq=4, before_seq=6)]
    assert seqs(cursors.add(message(5))) == [5, 6]


def test_start_does_not_move_a_known_cursor():
    cursors = ChatCursors({"c": 5})
    assert cursors.start("c", after_seq=9) == []
    assert cursors.snapshot() == {"c": 5}


def test_the_sync_token_is_kept_with_the_cursors():
    assert ChatCursors().since == ""
    cursors = ChatCursors({"c": 4}, since="v9")
    assert (cursors.since, cursors.snapshot()) == ("v9", {"c": 4})
