"""Message actions (edit, delete, reactions, hide, quotes, forwards, mentions) on the in-memory stores."""
import itertools

import pytest

from chalicelib.errors import BadRequest, Forbidden
from chalicelib.relations import Forward
from tests.unit.test_media import jpeg_with_gps, upload

keys = itertools.count()


@pytest.fixture
def chat(world, now) -> str:
    world.users("ann", "ben", "cat")
    return world.services.messaging.create_direct("ann", "ben")[0].chat_id


@pytest.fixture
def group(world, chat) -> str:
    return world.services.groups.create("cat", "club", ["ann", "ben"])[0].chat_id


def send(world, sender: str, chat_id: str, kind: str | None = "text", text: str | None = None, **fields) -> dict:
    return world.services.messaging.send(sender, chat_id, fields.pop("key", f"k{next(keys)}"), kind, text,
                                         fields.pop("reply_to", None), **fields)


def served(world, user: str, chat_id: str) -> dict[int, dict]:
    return {m["seq"]: m for m in world.services.messaging.history(user, chat_id, None, 100)["messages"]}


def test_an_edit_is_a_message_of_its_own_folded_into_its_target(world, chat, now):
    ben = world.connect("ben")
    first = send(world, "ann", chat, text="helo")
    now[0] += 60
    edit = send(world, "ann", chat, "edit", "hello", relates_to=first["seq"])
    assert edit["seq"] == first["seq"] + 1
    pushed = world.pusher.of_type(ben, "message")[-1]["message"]
    assert (pushed["kind"], pushed["relates_to"], pushed["text"]) == ("edit", first["seq"], "hello")
    target = served(world, "ben", chat)[first["seq"]]
    assert target["text"] == "hello" and target["edited_at"] == edit["sent_at"]


@pytest.mark.parametrize("editor, late, error", [("ben", 0, Forbidden), ("ann", 15 * 60 + 1, Forbidden)])
def test_only_the_sender_edits_and_only_for_15_minutes(world, chat, now, editor, late, error):
    first = send(world, "ann", chat, text="mine")
    now[0] += late
    with pytest.raises(error):
        send(world, editor, chat, "edit", "changed", relates_to=first["seq"])
    assert served(world, "ann", chat)[first["seq"]]["text"] == "mine"


def test_the_target_is_checked_before_permission(world, chat):
    first = send(world, "ann", chat, text="one")
    reaction = send(world, "ben", chat, "reaction", emoji="👍", relates_to=first["seq"])
    for relates_to in (99, reaction["seq"]):  # beyond the last; a relation
        with pytest.raises(BadRequest):
            send(world, "ben", chat, "edit", "x", relates_to=relates_to)  # ben could not edit anyway
    send(world, "ann", chat, "delete", relates_to=first["seq"])
    with pytest.raises(BadRequest):
        send(world, "ann", chat, "reaction", emoji="👍", relates_to=first["seq"])


def test_an_image_message_cannot_be_edited(world, chat):
    media_id = upload(world, chat, jpeg_with_gps())
    picture = send(world, "ann", chat, "image", "caption", media_id=media_id)
    with pytest.raises(Forbidden):
        send(world, "ann", chat, "edit", "new caption", relates_to=picture["seq"])


def test_a_delete_for_everyone_drops_text_media_and_the_text_of_edits_and_quotes(world, chat, now):
    media_id = upload(world, chat, jpeg_with_gps())
    world.services.media.process_key(f"uploads/{media_id}")
    picture = send(world, "ann", chat, "image", "caption", media_id=media_id)
    note = send(world, "ann", chat, text="typo")
    edit = send(world, "ann", chat, "edit", "fixed", relates_to=note["seq"])
    reply = send(world, "ben", chat, text="what?", reply_to=note["seq"])
    assert served(world, "ben", chat)[reply["seq"]]["quote"]["text"] == "fixed"
    files = [path for path in world.blobs.folder.rglob("*") if path.is_file() and media_id in str(path)]
    assert len(files) == 4  # the original and its three variants
    now[0] += 47 * 3600
    send(world, "ann", chat, "delete", relates_to=note["seq"])
    send(world, "ann", chat, "delete", relates_to=picture["seq"])
    messages = served(world, "ben", chat)
    assert messages[note["seq"]]["deleted"] is True and "text" not in messages[note["seq"]]
    assert "text" not in messages[edit["seq"]]
    assert messages[reply["seq"]]["quote"] == {"seq": note["seq"], "sender_id": "ann", "kind": "text"}
    assert messages[reply["seq"]]["text"] == "what?"
    assert "media" not in messages[picture["seq"]] and world.stores.media.get(media_id) is None
    assert not any(path.exists() for path in files)


def test_delete_for_everyone_rules(world, group, now):
    mine = send(world, "ann", group, text="ann's")
    send(world, "ben", group, "reaction", emoji="👍", relates_to=mine["seq"])
    with pytest.raises(Forbidden):
        send(world, "ben", group, "delete", relates_to=mine["seq"])  # someone else's
    now[0] += 48 * 3600 + 1
    with pytest.raises(Forbidden):
        send(world, "ann", group, "delete", relates_to=mine["seq"])  # too late for the sender
    send(world, "cat", group, "delete", relates_to=mine["seq"])  # an admin, any time
    assert served(world, "ben", group)[mine["seq"]]["deleted"] is True
    assert "reactions" not in served(world, "ben", group)[mine["seq"]]


def test_reactions_one_per_user_replaced_and_taken_back(world, chat):
    first = send(world, "ann", chat, text="party?")
    send(world, "ben", chat, "reaction", emoji="👍", relates_to=first["seq"])
    send(world, "ann", chat, "reaction", emoji="🎉", relates_to=first["seq"])
    send(world, "ben", chat, "reaction", emoji="🎉", relates_to=first["seq"])
    assert served(world, "ann", chat)[first["seq"]]["reactions"] == {"🎉": ["ann", "ben"]}
    send(world, "ann", chat, "reaction", emoji="", relates_to=first["seq"])
    assert served(world, "ann", chat)[first["seq"]]["reactions"] == {"🎉": ["ben"]}


@pytest.mark.parametrize("emoji", ["ab", "👍👍", "👨‍👩‍👧‍👦" * 2, None])
def test_a_reaction_is_one_emoji_of_at_most_32_bytes(world, chat, emoji):
    first = send(world, "ann", chat, text="hi")
    with pytest.raises(BadRequest):
        send(world, "ben", chat, "reaction", emoji=emoji, relates_to=first["seq"])


def test_a_resent_edit_stores_nothing_new_and_its_fold_holds(world, chat):
    first = send(world, "ann", chat, text="v1")
    edit = send(world, "ann", chat, "edit", "v2", relates_to=first["seq"], key="edit-1")
    again = send(world, "ann", chat, "edit", "v2", relates_to=first["seq"], key="edit-1")
    assert again == edit and world.services.messaging.history("ann", chat, None, 10)["messages"][-1]["seq"] == 2
    assert served(world, "ann", chat)[first["seq"]]["text"] == "v2"


def test_hide_is_for_the_caller_only(world, chat, now):
    first, second = send(world, "ann", chat, text="one"), send(world, "ann", chat, text="two")
    world.services.messaging.hide("ben", chat, [first["seq"]])
    assert list(served(world, "ben", chat)) == [second["seq"]]
    assert list(served(world, "ann", chat)) == [first["seq"], second["seq"]]
    frames = world.services.catch_up.sync_changes("ben", "", None, 100)
    assert [m["seq"] for f in frames[:-1] for m in f["messages"]] == [second["seq"]]
    with pytest.raises(Forbidden):
        world.services.messaging.hide("cat", chat, [1])


def test_a_message_not_yet_sent_cannot_be_hidden(world, chat):
    last = send(world, "ann", chat, text="one")["seq"]
    with pytest.raises(BadRequest):
        world.services.messaging.hide("ben", chat, [last, last + 1])
    assert [m["text"] for m in served(world, "ben", chat).values()] == ["one"]
    assert send(world, "ann", chat, text="two")["seq"] in served(world, "ben", chat)


def test_a_reply_quotes_the_first_200_characters(world, chat):
    long = send(world, "ann", chat, text="x" * 300)
    reply = send(world, "ben", chat, text="tl;dr", reply_to=long["seq"])
    quote = served(world, "ann", chat)[reply["seq"]]["quote"]
    assert quote == {"seq": long["seq"], "sender_id": "ann", "kind": "text", "text": "x" * 200}
    with pytest.raises(BadRequest):
        send(world, "ben", chat, text="to nothing", reply_to=99)


def test_a_forward_shares_the_stored_media_until_no_message_uses_it(world, chat, group):
    media_id = upload(world, chat, jpeg_with_gps())
    world.services.media.process_key(f"uploads/{media_id}")
    picture = send(world, "ann", chat, "image", "look", media_id=media_id)
    forward = send(world, "ann", group, None, forward_of=Forward(chat, picture["seq"]))
    copied = served(world, "cat", group)[forward["seq"]]
    assert (copied["kind"], copied["text"], copied["forwarded"]) == ("image", "look", True)
    assert copied["media"]["media_id"] == media_id
    assert world.services.media.describe("cat", media_id)["status"] == "ready"  # cat is only in the group
    send(world, "ann", chat, "delete", relates_to=picture["seq"])
    assert world.services.media.describe("cat", media_id)["status"] == "ready"  # the forward still uses it
    send(world, "cat", group, "delete", relates_to=forward["seq"])
    assert world.stores.media.get(media_id) is None


def test_bad_forwards(world, chat, group):
    first = send(world, "ann", chat, text="secret")
    with pytest.raises(Forbidden):
        send(world, "cat", group, None, forward_of=Forward(chat, first["seq"]))  # cat is not in the source
    with pytest.raises(Forbidden):
        send(world, "ann", group, None, forward_of=Forward("group:nope", 1))
    with pytest.raises(BadRequest):
        send(world, "ann", group, "image", forward_of=Forward(chat, first["seq"]))  # not the source's kind
    with pytest.raises(BadRequest):
        send(world, "ann", group, "text", "and a comment", forward_of=Forward(chat, first["seq"]))
    send(world, "ann", chat, "delete", relates_to=first["seq"])
    with pytest.raises(BadRequest):
        send(world, "ann", group, None, forward_of=Forward(chat, first["seq"]))


def test_mentions_are_members_only_and_served(world, group):
    sent = send(world, "ann", group, text="@ben @cat", mentions=["ben", "CAT"])
    assert served(world, "ben", group)[sent["seq"]]["mentions"] == ["ben", "cat"]
    with pytest.raises(BadRequest):
        send(world, "ann", group, text="@zed", mentions=["zed"])


@pytest.mark.parametrize("fields", [{"kind": None}, {"kind": "edit"}, {"kind": "text", "relates_to": 1},
                                    {"kind": "edit", "relates_to": 1}, {"kind": "reaction", "relates_to": 1}])
def test_shapes_that_make_no_sense_are_bad_requests(world, chat, fields):
    send(world, "ann", chat, text="one")
    kind = fields.pop("kind")
    with pytest.raises(BadRequest):
        send(world, "ann", chat, kind, None if kind != "text" else "x", **fields)


def test_history_says_there_is_more_though_hidden_messages_fill_the_page(world, chat, now):
    seqs = [send(world, "ann", chat, text=f"m{i}")["seq"] for i in range(5)]
    world.services.messaging.hide("ben", chat, seqs[2:4])
    page = world.services.messaging.history("ben", chat, None, 2)
    assert [m["seq"] for m in page["messages"]] == [seqs[4]] and page["has_more"]
    older = world.services.messaging.history("ben", chat, seqs[2], 2)
    assert [m["seq"] for m in older["messages"]] == seqs[:2] and not older["has_more"]
