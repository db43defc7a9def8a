"""Issue 23 end to end: signing out everywhere, disappearing messages, data exports."""
import asyncio
import json

import aiohttp
import pytest
import websockets

from tests.e2e.support import PASSWORD, Socket, http, running_stack
from tests.e2e.test_media import upload_and_send
from tests.e2e.test_messaging import direct_chat, run
from tests.unit.test_media import jpeg_with_gps


def test_logout_all_closes_every_socket_and_refuses_the_old_tokens(stack):
    alice = stack.user("alice")
    status, login = http("POST", f"{stack.api}/auth/login", {"username": alice.user_id, "password": PASSWORD})
    refresh = login["refresh_token"]

    async def scenario():
        phone, laptop = await alice.connect("phone"), await alice.connect("laptop")
        status, answer = alice.post("/auth/logout_all", {})
        assert (status, answer) == (200, {})
        for socket in (phone, laptop):  # closed by the server
            await asyncio.wait_for(socket._reader, 10)
            assert socket.connection.close_code is not None
        with pytest.raises(websockets.InvalidStatus) as refused:
            await Socket.open(f"{stack.ws}?token={alice.token}")
        assert refused.value.response.status_code == 401
        assert alice.get("/me")[0] == 401
        assert http("POST", f"{stack.api}/auth/refresh", {"refresh_token": refresh})[0] == 401
        status, fresh = http("POST", f"{stack.api}/auth/login", {"username": alice.user_id, "password": PASSWORD})
        assert status == 200
        assert http("GET", f"{stack.api}/me", token=fresh["id_token"])[1]["user_id"] == alice.user_id
        socket = await Socket.open(f"{stack.ws}?token={fresh['id_token']}")
        assert (await socket.call("heartbeat"))["type"] == "pong"
        await socket.close()

    run(scenario())


@pytest.fixture
def own_stack():
    """A stack of the test's own: it moves the clock a day on, past every other test's tokens."""
    with running_stack() as running:
        yield running


def test_disappearing_messages_are_tombstones_once_due_with_no_gap(own_stack):
    stack = own_stack
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, b = await alice.connect(), await bob.connect()
        kept = await a.call("send", chat_id=chat_id, client_msg_id="k", kind="text", text="kept")
        updated = await b.call("update_chat", chat_id=chat_id, disappear_after=86400)
        assert updated["chat"]["disappear_after"] == 86400
        notice = (await a.events_of("message", 1))[0]["message"]
        assert notice["event"]["type"] == "disappear_after"
        sent = await a.call("send", chat_id=chat_id, client_msg_id="d", kind="text", text="for a day")
        pushed = (await b.events_of("message", 3))[-1]["message"]  # kept, the notice, then this one
        assert pushed["seq"] == sent["seq"] and "expires_at" in pushed
        bad = await b.call("update_chat", chat_id=chat_id, disappear_after=60)
        assert bad["code"] == "bad_request"
        await asyncio.to_thread(stack.advance_clock, 86400)
        await asyncio.to_thread(stack.run_schedule, "expire_messages")
        await b.call("heartbeat")  # a day has passed for the stack: keep the socket's user fresh
        reply = await b.call("history", chat_id=chat_id)
        assert "messages" in reply, reply
        history = {m["seq"]: m for m in reply["messages"]}
        assert sorted(history) == list(range(1, sent["seq"] + 1))
        assert history[sent["seq"]]["deleted"] is True and "text" not in history[sent["seq"]]
        assert history[kept["seq"]]["text"] == "kept"
        await a.close(), await b.close()

    run(scenario())


def test_an_export_is_written_by_a_task_and_fetched_by_a_short_lived_url(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a = await alice.connect()
        for i in range(3):
            await a.call("send", chat_id=chat_id, client_msg_id=str(i), kind="text", text=f"line {i}")
        status, answer = alice.post("/me/export", {})
        assert status == 202
        export_id = answer["export_id"]
        assert bob.get(f"/me/export/{export_id}")[0] == 404  # only its owner
        for _ in range(100):
            status, state = alice.get(f"/me/export/{export_id}")
            if state["status"] == "ready":
                break
            await asyncio.sleep(0.1)
        assert state["status"] == "ready"
        async with aiohttp.ClientSession() as session, session.get(state["url"]) as answer:  # no Authorization
            assert answer.status == 200
            lines = [json.loads(line) for line in (await answer.text()).splitlines()]
        assert [line["type"] for line in lines[:2]] == ["profile", "settings"]
        assert [line["text"] for line in lines if line["type"] == "message"] == ["line 0", "line 1", "line 2"]
        await a.close()

    run(scenario())


def test_a_deleted_account_is_gone_within_seconds_and_its_messages_stay(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)
    status, created = bob.post("/chats", {"kind": "group", "name": "club", "members": [alice.user_id]})
    group = created["chat"]["chat_id"]

    async def scenario():
        a = await alice.connect()
        await a.call("send", chat_id=chat_id, client_msg_id="m", kind="text", text="bye")
        slot = await upload_and_send(a, chat_id, jpeg_with_gps(), "image/jpeg", "image", "me.jpg")
        assert bob.get(f"/media/{slot['media_id']}")[0] == 200
        assert http("DELETE", f"{stack.api}/me", {"password": "Wr0ng!pass"}, token=alice.token)[0] == 403
        assert http("DELETE", f"{stack.api}/me", {"password": PASSWORD}, token=alice.token) == (200, {})
        await asyncio.wait_for(a._reader, 10)  # her socket is closed
        assert alice.get("/me")[0] == 401
        assert http("POST", f"{stack.api}/auth/login", {"username": alice.user_id, "password": PASSWORD})[0] == 401
        for _ in range(150):  # the job runs through the queue
            members = [m["user_id"] for m in bob.get(f"/chats/{group}")[1]["chat"]["members"]]
            if alice.user_id not in members:
                break
            await asyncio.sleep(0.1)
        assert members == [bob.user_id]
        history = bob.get(f"/chats/{chat_id}/messages")[1]["messages"]
        assert [(m["sender_id"], m.get("text")) for m in history] == [(alice.user_id, "bye"), (alice.user_id, None)]
        for _ in range(100):  # her uploads go next
            if bob.get(f"/media/{slot['media_id']}")[0] == 404:
                break
            await asyncio.sleep(0.1)
        assert bob.get(f"/media/{slot['media_id']}")[0] == 404
        taken = http("POST", f"{stack.api}/auth/signup", {"username": alice.user_id, "password": PASSWORD})
        assert taken[0] == 409

    run(scenario())
