"""Message actions through the SDK against the fake server: what goes out, what events() gives, the view."""

import asyncio

import pytest

from fake_server import wait_until
from parley_sdk import ParleyError, is_relation


async def take(events, count: int) -> list[dict]:
    async with asyncio.timeout(5):
        return [await anext(events) for _ in range(count)]


def stored(server, chat_id: str) -> list[dict]:
    return server.chats[chat_id]["messages"]


async def test_each_action_goes_out_as_a_send_with_its_own_client_msg_id(server, connect_as):
    alice = await connect_as("alice")
    chat_id = server.create_direct("alice", "bob")
    other = server.create_direct("alice", "carol")
    first = await alice.send_text(chat_id, "helo", mentions=["bob"])
    await alice.send_text(chat_id, "a reply", reply_to=first["seq"])
    await alice.edit(chat_id, first["seq"], "hello")
    await alice.react(chat_id, first["seq"], "👍")
    await alice.react(chat_id, first["seq"], "")
    forwarded = await alice.forward(chat_id, first["seq"], other)
    await alice.delete(chat_id, first["seq"])

    sends = [{k: v for k, v in sent.items() if k not in ("req", "action")} for sent in server.frames("send")]
    client_msg_ids = [frame.pop("client_msg_id") for frame in sends]
    assert len(set(client_msg_ids)) == len(sends)
    assert sends == [
        {"chat_id": chat_id, "kind": "text", "text": "helo", "mentions": ["bob"]},
        {"chat_id": chat_id, "kind": "text", "text": "a reply", "reply_to": 1},
        {"chat_id": chat_id, "kind": "edit", "relates_to": 1, "text": "hello"},
        {"chat_id": chat_id, "kind": "reaction", "relates_to": 1, "emoji": "👍"},
        {"chat_id": chat_id, "kind": "reaction", "relates_to": 1, "emoji": ""},
        {"chat_id": other, "forward_of": {"chat_id": chat_id, "seq": 1}},
        {"chat_id": chat_id, "kind": "delete", "relates_to": 1},
    ]
    assert stored(server, chat_id)[0] == {**stored(server, chat_id)[0], "deleted": True}
    assert "text" not in stored(server, chat_id)[0]
    assert stored(server, chat_id)[1]["quote"] == {"seq": 1, "sender_id": "alice", "kind": "text"}
    copy = stored(server, other)[forwarded["seq"] - 1]
    assert (copy["kind"], copy["text"], copy["forwarded"]) == ("text", "hello", True)


@pytest.mark.parametrize(
    "action",
    [
        lambda client, chat_id: client.edit(chat_id, 1, "fixed"),
        lambda client, chat_id: client.react(chat_id, 1, "🎉"),
        lambda client, chat_id: client.delete(chat_id, 1),
        lambda client, chat_id: client.forward(chat_id, 1, "alice-carol"),
    ],
    ids=["edit", "react", "delete", "forward"],
)
async def test_an_action_cut_off_by_a_reconnect_is_sent_again_and_stored_once(server, connect_as, action):
    alice = await connect_as("alice")
    chat_id = server.create_direct("alice", "bob")
    server.create_direct("alice", "carol")
    await alice.send_text(chat_id, "typo")
    server.lose_reply_to = lambda frame: frame.get("action") == "send" and len(server.frames("send")) == 2
    sent = await action(alice, chat_id)
    _, first, retry = server.frames("send")
    assert first["client_msg_id"] == retry["client_msg_id"] == sent["client_msg_id"]
    assert server.handshakes == 2
    assert len(stored(server, sent["chat_id"])) == (2 if sent["chat_id"] == chat_id else 1)


async def test_refusals_raise_with_the_contracts_codes(server, connect_as):
    server.add_user("carol")
    alice = await connect_as("alice")
    chat_id = server.create_direct("alice", "bob")
    await server.store(chat_id, "bob", "bob's")
    await alice.send_text(chat_id, "mine")
    for action, code in [
        (alice.edit(chat_id, 1, "not mine"), "forbidden"),
        (alice.delete(chat_id, 1), "forbidden"),
        (alice.react(chat_id, 9, "👍"), "bad_request"),
        (alice.react(chat_id, 1, "👍" * 9), "bad_request"),  # 36 bytes
        (alice.send_text(chat_id, "hi carol", mentions=["carol"]), "bad_request"),
        (alice.forward("bob-carol", 1, chat_id), "forbidden"),
    ]:
        with pytest.raises(ParleyError) as refused:
            await action
        assert refused.value.code == code
    reaction = await alice.react(chat_id, 1, "👍")
    with pytest.raises(ParleyError, match="cannot be acted on") as refused:
        await alice.react(chat_id, reaction["seq"], "👍")  # a relation of a relation
    assert refused.value.code == "bad_request"


async def test_live_relations_come_as_relation_events_with_their_folded_target(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    bob = await connect_as("bob")
    events = bob.events()
    await server.store(chat_id, "alice", "helo")
    [message] = await take(events, 1)
    assert message["type"] == "message" and message["message"]["text"] == "helo"

    await server.act(chat_id, "alice", kind="edit", relates_to=1, text="hello")
    await bob.react(chat_id, 1, "👍")  # bob's own: folded at once, not yielded
    await server.act(chat_id, "alice", kind="reaction", relates_to=1, emoji="🎉")
    edit, alices_reaction = await take(events, 2)
    assert edit["type"] == "relation" and is_relation(edit["message"])
    assert edit["message"]["relates_to"] == 1
    assert (edit["target"]["text"], edit["target"]["edited_at"]) == ("hello", edit["message"]["sent_at"])
    assert alices_reaction["target"]["reactions"] == {"👍": ["bob"], "🎉": ["alice"]}
    assert message["message"]["text"] == "helo"  # what was yielded before is the app's, left alone

    await server.act(chat_id, "alice", kind="delete", relates_to=1)
    [deletion] = await take(events, 1)
    assert deletion["target"]["deleted"] is True
    assert "text" not in deletion["target"] and "reactions" not in deletion["target"]
    [shown] = bob.view.messages(chat_id)  # relations are folded in, never listed
    assert shown == deletion["target"] == stored(server, chat_id)[0]


async def test_a_sync_pass_does_not_fold_twice_what_its_messages_already_carry(server, connect_as):
    server.add_user("carol")
    group = await (await connect_as("alice")).create_group("trio", ["bob", "carol"])
    chat_id = group["chat_id"]
    await server.store(chat_id, "alice", "vote")
    await server.act(chat_id, "bob", kind="reaction", relates_to=1, emoji="👍")
    await server.act(chat_id, "carol", kind="reaction", relates_to=1, emoji="👍")
    await server.act(chat_id, "bob", kind="reaction", relates_to=1, emoji="👍")  # bob now after carol
    await server.act(chat_id, "alice", kind="edit", relates_to=1, text="vote!")

    carol = await connect_as("carol")  # a new device: its first pass serves the target folded already
    events = await take(carol.events(), 5)
    assert [event["type"] for event in events] == ["message", "relation", "relation", "relation", "relation"]
    final = stored(server, chat_id)[0]
    assert final["reactions"] == {"👍": ["carol", "bob"]}
    # No relation event shows the target half-refolded (bob moved before carol and back).
    assert all(event["target"] == final for event in events[1:])
    assert carol.view.messages(chat_id) == [final]


async def test_a_target_served_later_keeps_the_relations_folded_since(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    await server.store(chat_id, "alice", "one")
    bob = await connect_as("bob")
    events = bob.events()
    await take(events, 1)
    # A page of history read before the reaction, answered after it was folded in live.
    page = await bob.history(chat_id)
    await server.act(chat_id, "alice", kind="reaction", relates_to=1, emoji="🎉")
    [reaction] = await take(events, 1)
    bob.view.apply(page["messages"][0], as_of=1)  # an older served copy changes nothing
    assert bob.view.get(chat_id, 1)["reactions"] == reaction["target"]["reactions"] == {"🎉": ["alice"]}
    newer = (await bob.history(chat_id))["messages"]  # the target, and the reaction (folded in already)
    assert [is_relation(message) for message in newer] == [False, True]
    assert bob.view.messages(chat_id) == [stored(server, chat_id)[0]]


async def test_your_own_messages_are_in_the_view_for_what_others_do_to_them(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    alice = await connect_as("alice")
    next_event = asyncio.ensure_future(anext(alice.events()))
    await wait_until(lambda: alice.cursors.since == "v0")  # the pass on connect is over
    await alice.send_text(chat_id, "hi bob", mentions=["bob"])
    await alice.send_text(chat_id, "see above", reply_to=1)
    await server.act(chat_id, "bob", kind="reaction", relates_to=2, emoji="😂")
    async with asyncio.timeout(5):
        reaction = await next_event  # alice's own sends are not yielded, but the view has them
    assert reaction["type"] == "relation"
    assert reaction["target"]["reactions"] == {"😂": ["bob"]}
    assert reaction["target"]["quote"] == {"seq": 1, "sender_id": "alice", "kind": "text", "text": "hi bob"}
    await alice.delete(chat_id, 1)  # the reply's quote loses the deleted text, as the server's does
    assert alice.view.messages(chat_id) == stored(server, chat_id)[:2]
    await alice.forward(chat_id, 2, server.create_direct("alice", "carol"))
    [copy] = alice.view.messages("alice-carol")
    assert (copy["text"], copy["forwarded"]) == ("see above", True)


async def test_hidden_messages_leave_the_view_and_stop_coming_back(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    for text in ("one", "two", "three"):
        await server.store(chat_id, "alice", text)
    bob = await connect_as("bob")
    await take(bob.events(), 3)
    await bob.hide(chat_id, [1, 3])
    assert [message["text"] for message in bob.view.messages(chat_id)] == ["two"]
    assert [message["seq"] for message in (await bob.history(chat_id))["messages"]] == [2]
    assert [message["seq"] for message in (await bob.history_ws(chat_id))["messages"]] == [2]
    assert (await bob.sync_changes("")).messages == {chat_id: [stored(server, chat_id)[1]]}
    alice = await connect_as("alice")
    assert [message["seq"] for message in (await alice.history(chat_id))["messages"]] == [1, 2, 3]


async def test_a_relation_to_a_message_never_seen_has_no_target(server, connect_as):
    chat_id = server.create_direct("alice", "bob")
    for n in range(1, 6):
        await server.store(chat_id, "alice", f"old {n}")
    bob = await connect_as("bob", cursors={chat_id: 4}, since="v4")  # resumes: 1-4 are not in this view
    events = bob.events()
    await take(events, 1)
    await server.act(chat_id, "alice", kind="edit", relates_to=2, text="old 2, fixed")
    [edit] = await take(events, 1)
    assert (edit["type"], edit["target"]) == ("relation", None)
    await wait_until(lambda: bob.cursors.snapshot()[chat_id] == 6)
