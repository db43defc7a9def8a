"""Issue 21 end to end: edits, deletes, reactions, hide, replies, forwards and mentions over real sockets."""
import aiohttp

from tests.e2e.test_media import upload_and_send
from tests.e2e.test_messaging import direct_chat, run
from tests.unit.test_media import jpeg_with_gps


def test_an_edit_pushed_while_the_peer_is_away_reaches_it_folded_through_sync(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, b = await alice.connect(), await bob.connect()
        _, _, token = await b.sync_pages("")
        first = await a.call("send", chat_id=chat_id, client_msg_id="m1", kind="text", text="see you at 8")
        assert (await b.events_of("message", 1))[0]["message"]["text"] == "see you at 8"
        stack.drop(bob.user_id, "phone")  # gone before the edit's push reaches it
        edit = await a.call("send", chat_id=chat_id, client_msg_id="e1", kind="edit", relates_to=first["seq"],
                            text="see you at 9")
        again = await a.call("send", chat_id=chat_id, client_msg_id="e1", kind="edit", relates_to=first["seq"],
                             text="see you at 9")
        assert again["seq"] == edit["seq"]  # a resent edit stores nothing new
        b = await bob.connect()
        messages, _, _ = await b.sync_pages(token)
        by_seq = {m["seq"]: m for m in messages}
        assert by_seq[edit["seq"]]["kind"] == "edit" and by_seq[edit["seq"]]["relates_to"] == first["seq"]
        assert by_seq[first["seq"]]["text"] == "see you at 9" and by_seq[first["seq"]]["edited_at"] == edit["sent_at"]
        late = await b.call("send", chat_id=chat_id, client_msg_id="e2", kind="edit", relates_to=first["seq"],
                            text="not yours")
        assert late["code"] == "forbidden"
        await a.close(), await b.close()

    run(scenario())


def test_reactions_hide_and_bad_actions_keep_the_socket_open(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, b = await alice.connect(), await bob.connect()
        first = await a.call("send", chat_id=chat_id, client_msg_id="m1", kind="text", text="party?")
        await b.call("send", chat_id=chat_id, client_msg_id="r1", kind="reaction", relates_to=first["seq"],
                     emoji="🎉")
        pushed = (await a.events_of("message", 1))[0]["message"]
        assert (pushed["kind"], pushed["emoji"]) == ("reaction", "🎉")
        for bad, code in (({"kind": "reaction", "relates_to": first["seq"], "emoji": "no"}, "bad_request"),
                          ({"kind": "reaction", "relates_to": pushed["seq"], "emoji": "👍"}, "bad_request"),
                          ({"kind": "edit", "relates_to": 99, "text": "x"}, "bad_request"),
                          ({"kind": "text", "text": "@zed", "mentions": ["zed"]}, "bad_request"),
                          ({"kind": "delete", "relates_to": first["seq"]}, "forbidden")):
            error = await b.call("send", chat_id=chat_id, client_msg_id="bad", **bad)
            assert (error["type"], error["code"]) == ("error", code), (bad, error)
        history = await b.call("history", chat_id=chat_id)
        assert history["messages"][0]["reactions"] == {"🎉": [bob.user_id]}
        assert (await b.call("hide", chat_id=chat_id, seqs=[first["seq"]]))["type"] == "ok"
        assert [m["seq"] for m in (await b.call("history", chat_id=chat_id))["messages"]] == [pushed["seq"]]
        assert len((await a.call("history", chat_id=chat_id))["messages"]) == 2
        secret = await a.call("send", chat_id=chat_id, client_msg_id="s", kind="text", text="the code is 1234")
        reply = await b.call("send", chat_id=chat_id, client_msg_id="q", kind="text", text="got it",
                             reply_to=secret["seq"])

        async def quoted() -> dict:
            history = await b.call("history", chat_id=chat_id)
            return {m["seq"]: m for m in history["messages"]}[reply["seq"]]["quote"]
        assert (await quoted())["text"] == "the code is 1234"
        await a.call("send", chat_id=chat_id, client_msg_id="d", kind="delete", relates_to=secret["seq"])
        assert "text" not in await quoted()
        await a.close(), await b.close()

    run(scenario())


def test_a_forward_shares_media_and_a_delete_removes_it_once_unused(stack):
    alice, bob, carol = stack.user("alice"), stack.user("bob"), stack.user("carol")
    chat_id = direct_chat(alice, bob)
    status, created = alice.post("/chats", {"kind": "group", "name": "trip", "members": [carol.user_id]})
    group = created["chat"]["chat_id"]

    async def scenario():
        a = await alice.connect()
        slot = await upload_and_send(a, chat_id, jpeg_with_gps(), "image/jpeg", "image", "beach.jpg")
        for _ in range(100):  # processing runs through S3 -> SQS -> the media Lambda
            if (await a.call("media_url", media_id=slot["media_id"]))["media"]["status"] == "ready":
                break
        picture = (await a.call("history", chat_id=chat_id))["messages"][-1]
        forward = await a.call("send", chat_id=group, client_msg_id="f1",
                               forward_of={"chat_id": chat_id, "seq": picture["seq"]})
        status, media = carol.get(f"/media/{slot['media_id']}")
        assert status == 200 and media["media"]["status"] == "ready"  # carol is only in the group
        url = media["media"]["url"]
        assert (await a.call("send", chat_id=chat_id, client_msg_id="d1", kind="delete",
                             relates_to=picture["seq"]))["type"] == "sent"
        assert carol.get(f"/media/{slot['media_id']}")[0] == 200  # the forward still uses it
        assert (await a.call("send", chat_id=group, client_msg_id="d2", kind="delete",
                             relates_to=forward["seq"]))["type"] == "sent"
        assert carol.get(f"/media/{slot['media_id']}")[0] == 404
        async with aiohttp.ClientSession() as session, session.get(url) as answer:
            assert answer.status in (403, 404)  # the bytes are gone from S3
        served = {m["seq"]: m for m in (await a.call("history", chat_id=chat_id))["messages"]}
        assert served[picture["seq"]]["deleted"] is True and "media" not in served[picture["seq"]]
        await a.close()

    run(scenario())
