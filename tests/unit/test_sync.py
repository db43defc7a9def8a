"""The changes form of `sync`, news marks and the paged chat list, on the in-memory stores."""
import pytest

from chalicelib.catch_up import PAGE_CHATS
from chalicelib.errors import BadRequest
from chalicelib.messaging import MAX_REPLY_BYTES, size_of
from chalicelib.news import MARGIN
from chalicelib.socket_api import SocketApi
from tests.unit.conftest import START


@pytest.fixture
def people(world, now):
    world.users("alice", "bob", "carol")
    return world


def direct(world, a: str, b: str) -> str:
    return world.services.messaging.create_direct(a, b)[0].chat_id


def sync_pass(world, user: str, since: str, limit: int = 100) -> tuple[list[dict], list[dict], str, int]:
    """Every page of one pass: the messages, the synced entries, the next token, and how many pages."""
    messages, entries, page, pages = [], [], None, 0
    while True:
        frames = world.services.catch_up.sync_changes(user, since, page, limit)
        pages += 1
        *batches, synced = frames
        assert synced["type"] == "synced" and all(f["type"] == "messages" and "chat_id" not in f for f in batches)
        messages += [m for batch in batches for m in batch["messages"]]
        entries += synced["chats"]
        if "since" in synced:
            return messages, entries, synced["since"], pages
        page = synced["next"]


def test_a_fresh_device_gets_every_chat_and_a_token(people, now):
    chat = direct(people, "alice", "bob")
    people.send("alice", chat, "one")
    group = people.services.groups.create("carol", "club", ["bob"])[0].chat_id
    messages, entries, token, _ = sync_pass(people, "bob", "")
    assert {e["chat_id"] for e in entries} == {chat, group}
    assert [m["text"] for m in messages if m["chat_id"] == chat] == ["one"]
    assert int(token) == int(START) - MARGIN


def test_nothing_missed_lists_nothing(people, now):
    chat = direct(people, "alice", "bob")
    people.send("alice", chat)
    now[0] += 120
    _, _, token, _ = sync_pass(people, "bob", "")
    messages, entries, _, pages = sync_pass(people, "bob", token)
    assert (messages, entries, pages) == ([], [], 1)


def test_marks_of_the_token_minute_are_listed_again(people, now):
    chat = direct(people, "alice", "bob")
    people.send("alice", chat, "just now")
    _, _, token, _ = sync_pass(people, "bob", "")  # the token is a little before the mark: repeats, never gaps
    messages, _, _, _ = sync_pass(people, "bob", token)
    assert [m["text"] for m in messages] == ["just now"]


def test_a_pass_lists_only_the_chats_marked_since_the_token(people, now):
    quiet, busy = direct(people, "alice", "bob"), direct(people, "carol", "bob")
    people.send("alice", quiet, "old")
    now[0] += 120
    _, _, token, _ = sync_pass(people, "bob", "")
    now[0] += 120
    for i in range(3):
        people.send("carol", busy, f"new {i}")
    messages, entries, _, _ = sync_pass(people, "bob", token)
    assert [e["chat_id"] for e in entries] == [busy]
    assert [m["text"] for m in messages] == ["new 0", "new 1", "new 2"]


def test_messages_stored_while_a_pass_runs_come_in_the_next_pass(people, now):
    chat = direct(people, "alice", "bob")
    _, _, token, _ = sync_pass(people, "bob", "")
    now[0] += 5  # within the margin: the mark's minute is not after the token's
    people.send("alice", chat, "late")
    messages, _, _, _ = sync_pass(people, "bob", token)
    assert [m["text"] for m in messages] == ["late"]


def test_pages_cover_every_changed_chat_once(people, now):
    people.users(*(f"u{i}" for i in range(PAGE_CHATS + 30)))
    chats = [direct(people, f"u{i}", "bob") for i in range(PAGE_CHATS + 30)]
    for i, chat in enumerate(chats):
        people.send(f"u{i}", chat, f"hello {i}")
    messages, entries, _, pages = sync_pass(people, "bob", "")
    assert pages == 2
    assert sorted(e["chat_id"] for e in entries) == sorted(chats)
    assert len(messages) == len(chats)


def test_many_small_chats_share_frames(people, now):
    people.users(*(f"u{i}" for i in range(20)))
    chats = [direct(people, f"u{i}", "bob") for i in range(20)]
    _, _, token, _ = sync_pass(people, "bob", "")
    now[0] += 120
    for i, chat in enumerate(chats):
        for _ in range(50):
            people.send(f"u{i}", chat, "x" * 100)
    frames = people.services.catch_up.sync_changes("bob", token, None, 100)
    assert len(frames) <= 15
    assert sum(len(f["messages"]) for f in frames[:-1]) == 1000
    assert all(size_of(f) <= MAX_REPLY_BYTES + 1024 for f in frames)


def test_more_than_limit_missed_gives_the_newest_and_says_limited(people, now):
    chat = direct(people, "alice", "bob")
    _, _, token, _ = sync_pass(people, "bob", "")
    now[0] += 120
    for i in range(12):
        people.send("alice", chat, f"m{i}")
    messages, entries, _, _ = sync_pass(people, "bob", token, limit=5)
    assert [m["text"] for m in messages] == [f"m{i}" for i in range(7, 12)]
    assert entries[0]["limited"] is True and entries[0]["last_seq"] == 12


def test_a_removed_member_is_not_served_the_group(people, now):
    group = people.services.groups.create("carol", "club", ["bob", "alice"])[0].chat_id
    _, _, token, _ = sync_pass(people, "bob", "")
    now[0] += 120
    people.services.groups.remove_members("carol", group, ["bob"])
    people.send("carol", group, "secret")
    messages, entries, _, _ = sync_pass(people, "bob", token)
    assert messages == [] and entries == []


def test_a_token_older_than_the_marks_kept_lists_every_chat(people, now):
    chat = direct(people, "alice", "bob")
    people.send("alice", chat, "ancient")
    _, _, token, _ = sync_pass(people, "bob", "")
    now[0] += 40 * 86400
    messages, entries, _, _ = sync_pass(people, "bob", token)
    assert [e["chat_id"] for e in entries] == [chat] and [m["text"] for m in messages] == ["ancient"]


@pytest.mark.parametrize("since, page", [("yesterday", None), ("-5", None), ("1", "not a page"), ("1", "e30=")])
def test_bad_tokens_and_pages_are_bad_requests(people, since, page):
    with pytest.raises(BadRequest):
        people.services.catch_up.sync_changes("bob", since, page, 10)


def test_a_mark_in_the_same_minute_covers_later_messages(people, now):
    chat = direct(people, "alice", "bob")
    news = people.stores.news
    people.send("alice", chat)
    marks_after_first = {user: set(marks) for user, marks in news.marks.items()}
    people.send("alice", chat)
    assert {user: set(marks) for user, marks in news.marks.items()} == marks_after_first
    now[0] += 60
    people.send("alice", chat)
    assert len(news.marks["bob"]) == len(marks_after_first["bob"]) + 1


def test_queued_group_messages_are_marked_by_the_task(people, now):
    people.users(*(f"m{i}" for i in range(150)))
    group = people.services.groups.create("alice", "crowd", [f"m{i}" for i in range(150)])[0].chat_id
    people.queue.tasks.clear()
    people.send("alice", group, "to the crowd")
    assert "m149" not in {user for user, marks in people.stores.news.marks.items()
                          if any(mark[1] == group and mark[2] == 1 for mark in marks)}
    for task in people.queue.tasks:
        people.services.fanout.run(task)
    assert all(any(mark[1] == group for mark in people.stores.news.marks[f"m{i}"]) for i in range(150))


def test_the_chat_list_pages_most_recently_active_first(people, now):
    people.users(*(f"u{i}" for i in range(5)))
    chats = [direct(people, f"u{i}", "bob") for i in range(5)]
    for minute, i in enumerate([3, 0, 4, 1, 2]):
        now[0] = START + 60 * (minute + 1)
        people.send(f"u{i}", chats[i])
    first = people.services.messaging.chats_page("bob", 3, None)
    second = people.services.messaging.chats_page("bob", 3, first["next"])
    assert [c["chat_id"] for c in first["chats"] + second["chats"]] == [chats[i] for i in (2, 1, 4, 0, 3)]
    assert "next" not in second
    with pytest.raises(BadRequest):
        people.services.messaging.chats_page("bob", 3, "x")


def test_the_socket_takes_the_changes_form_when_since_is_given(people, now):
    chat = direct(people, "alice", "bob")
    people.send("alice", chat, "hi")
    socket = people.connect("bob")
    api = SocketApi(people.services, "us-east-1", "https://x/api")
    api.receive(socket, '{"action": "sync", "since": "", "req": "s1"}', "api", "stage")
    frames = people.pusher.frames[socket]
    assert [f["type"] for f in frames] == ["messages", "synced"] and frames[-1]["req"] == "s1"
    assert frames[-1]["since"] == str(int(START) - MARGIN)
