"""Issue 3 end to end: catch-up, dropped sockets, multiple devices, receipts, gone connections."""
import asyncio

from tests.e2e.test_messaging import direct_chat, run


def test_an_offline_user_catches_up_on_200_messages_over_5_chats_exactly_once(stack):
    bob = stack.user("bob")
    friends = [stack.user("friend") for _ in range(5)]
    chats = [direct_chat(friend, bob) for friend in friends]

    async def scenario():
        sockets = [await friend.connect() for friend in friends]
        await asyncio.gather(*(socket.call("send", chat_id=chat, client_msg_id=str(i), kind="text", text=f"{i}",
                                           timeout=90)
                               for socket, chat in zip(sockets, chats, strict=True) for i in range(40)))
        phone = await bob.connect()
        missed, synced = await phone.sync({chat: 0 for chat in chats})
        assert {chat: [m["seq"] for m in messages] for chat, messages in missed.items()} == \
            {chat: list(range(1, 41)) for chat in chats}
        assert sorted(c["chat_id"] for c in synced["chats"]) == sorted(chats)
        assert all(c["last_seq"] == 40 and not c["limited"] for c in synced["chats"])
        again, synced = await phone.sync({chat: 40 for chat in chats})
        assert again == {} and synced["chats"] == []
        for socket in sockets + [phone]:
            await socket.close()

    run(scenario())


def test_a_socket_dropped_mid_burst_ends_with_every_message_once(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, b = await alice.connect(), await bob.connect("phone")
        received: dict[int, dict] = {}
        burst = asyncio.ensure_future(asyncio.gather(*(
            a.call("send", chat_id=chat_id, client_msg_id=str(i), kind="text", text=str(i), timeout=60)
            for i in range(60))))
        for frame in await b.events_of("message", 10):
            assert frame["message"]["seq"] not in received  # an open socket gets each message once
            received[frame["message"]["seq"]] = frame["message"]
        stack.drop(bob.user_id, "phone")
        replies = await burst
        assert all(reply["type"] == "sent" for reply in replies)
        cursor = max((seq for seq in received if all(s in received for s in range(1, seq + 1))), default=0)
        b2 = await bob.connect("phone")
        missed, _ = await b2.sync({chat_id: cursor})
        for message in missed.get(chat_id, []):  # repeats of what arrived live are dropped by seq
            assert received.setdefault(message["seq"], message) == message
        assert sorted(received) == list(range(1, 61))
        await a.close(), await b2.close()

    run(scenario())


def test_a_new_device_gets_the_recent_window_marked_limited(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a = await alice.connect()
        for i in range(30):
            await a.call("send", chat_id=chat_id, client_msg_id=str(i), kind="text", text=str(i))
        tablet = await bob.connect("tablet")
        missed, synced = await tablet.sync({}, limit=10)
        assert [m["seq"] for m in missed[chat_id]] == list(range(21, 31))
        assert synced["chats"][0]["limited"] is True
        older = await tablet.call("history", chat_id=chat_id, before=21, limit=100)
        assert [m["seq"] for m in older["messages"]] == list(range(1, 21)) and older["has_more"] is False
        await a.close(), await tablet.close()

    run(scenario())


def test_receipts_flow_both_ways_and_never_regress(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, b, b_laptop = await alice.connect(), await bob.connect("phone"), await bob.connect("laptop")
        for i in range(3):
            await a.call("send", chat_id=chat_id, client_msg_id=str(i), kind="text", text=str(i))
        assert (await b.call("receipt", chat_id=chat_id, seq=2, status="delivered")) ["type"] == "ok"
        receipt = (await a.events_of("receipt", 1))[0]
        assert receipt == {"type": "receipt", "chat_id": chat_id, "user_id": bob.user_id, "status": "delivered",
                           "seq": 2}
        await b_laptop.call("receipt", chat_id=chat_id, seq=3, status="read")
        assert (await a.events_of("receipt", 1))[0]["status"] == "read"
        await b.call("receipt", chat_id=chat_id, seq=1, status="delivered")  # behind: changes nothing
        await a.no_event(kind="receipt")
        status, cursors = alice.get(f"/chats/{chat_id}/receipts")
        assert status == 200 and {c["user_id"]: (c["delivered_seq"], c["read_seq"]) for c in cursors["receipts"]} \
            == {alice.user_id: (3, 3), bob.user_id: (3, 3)}
        await b.call("send", chat_id=chat_id, client_msg_id="reply", kind="text", text="seen")
        await a.call("receipt", chat_id=chat_id, seq=4, status="read")
        back = [f for f in await b.events_of("receipt", 1)][0]
        assert (back["user_id"], back["status"], back["seq"]) == (alice.user_id, "read", 4)
        beyond = await a.call("receipt", chat_id=chat_id, seq=99, status="read")
        assert beyond["code"] == "bad_request"
        for socket in (a, b, b_laptop):
            await socket.close()

    run(scenario())


def test_gone_connections_are_cleaned_and_the_sender_sees_no_error(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, _, alive = await alice.connect(), await bob.connect("phone"), await bob.connect("laptop")
        stack.drop(bob.user_id, "phone")
        sent = await a.call("send", chat_id=chat_id, client_msg_id="1", kind="text", text="still there?")
        assert sent["type"] == "sent"
        assert (await alive.events_of("message", 1))[0]["message"]["seq"] == 1
        sockets = [s for s in (await asyncio.to_thread(lambda: __import__("tests.e2e.support", fromlist=["http"])
                                                       .http("GET", f"{stack.base}/_devstack/sockets")))[1]]
        assert [s["device"] for s in sockets if s["user_id"] == bob.user_id] == ["laptop"]
        second = await a.call("send", chat_id=chat_id, client_msg_id="2", kind="text", text="again")
        assert second["seq"] == 2
        await a.close(), await alive.close()

    run(scenario())
