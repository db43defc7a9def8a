"""Issue 18 end to end: a user with 1,000 chats catches up through the changes form of `sync`, in pages, across
sockets dropped mid-pass, with nothing skipped."""
import asyncio
import json

from tests.e2e.test_messaging import run

CHATS = 1000


def test_a_user_with_a_thousand_chats_misses_nothing_across_dropped_sockets(stack):
    alice, bob = stack.user("alice"), stack.user("bob")

    async def scenario():
        sender = await alice.connect()
        chats = []
        for start in range(0, CHATS, 50):
            replies = await asyncio.gather(*(sender.call("create_chat", kind="group", name=f"g{i}",
                                                         members=[bob.user_id], timeout=60)
                                             for i in range(start, start + 50)))
            chats += [reply["chat"]["chat_id"] for reply in replies]

        phone = await bob.connect()
        _, entries, token = await phone.sync_pages("", limit=1, pages=3)
        assert token is None and len(entries) == 300
        stack.drop(bob.user_id, "phone")  # mid-pass: the next socket starts the pass again
        phone = await bob.connect()
        _, entries, token = await phone.sync_pages("", limit=1)
        assert sorted(entry["chat_id"] for entry in entries) == sorted(chats) and token

        cursors = {chat_id: 0 for chat_id in chats}  # the v1 form cannot say this much in one frame
        too_large = await phone.send_raw(json.dumps({"action": "sync", "cursors": cursors}))
        assert too_large["code"] == "too_large"
        await phone.close()

        stack.advance_clock(120)  # the chat list orders by the minute of the last news
        sent = {}
        busy = chats[:150]
        for round_ in range(2):
            replies = await asyncio.gather(*(sender.call("send", chat_id=chat_id, client_msg_id=f"{round_}",
                                                         kind="text", text=f"{chat_id} {round_}", timeout=60)
                                             for chat_id in busy))
            sent.update({(chat_id, reply["seq"]): reply["message_id"] for chat_id, reply in zip(busy, replies,
                                                                                                 strict=True)})
        phone = await bob.connect()
        _, first_page, _ = await phone.sync_pages(token, pages=1)
        assert len(first_page) == 100
        stack.drop(bob.user_id, "phone")
        phone = await bob.connect()
        messages, entries, next_token = await phone.sync_pages(token)
        got = {(m["chat_id"], m["seq"]): m["message_id"] for m in messages}
        assert {key: got.get(key) for key in sent} == sent
        assert {entry["chat_id"] for entry in entries} >= set(busy) and next_token
        await phone.close()
        await sender.close()

        listed, cursor = [], None
        while True:  # the REST chat list, paged, the chats just written to first
            status, page = bob.get("/chats?limit=100" + (f"&cursor={cursor}" if cursor else ""))
            assert status == 200 and len(page["chats"]) <= 100
            listed += [chat["chat_id"] for chat in page["chats"]]
            if "next" not in page:
                break
            cursor = page["next"]
        assert sorted(listed) == sorted(chats)
        assert set(listed[:len(busy)]) == set(busy)

    run(scenario())
