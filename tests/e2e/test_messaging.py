"""Issue 2 end to end: 1:1 chat over real sockets and HTTP against the local stack."""
import asyncio
import json

import pytest
import websockets

from tests import tokens
from tests.e2e.support import Socket, http


def run(scenario, timeout: float = 120):
    return asyncio.run(asyncio.wait_for(scenario, timeout))


def direct_chat(alice, bob) -> str:
    status, body = alice.post("/chats", {"kind": "direct", "user_id": bob.user_id})
    assert status == 201
    return body["chat"]["chat_id"]


def test_two_users_chat(stack):
    alice, bob = stack.user("alice"), stack.user("bob")

    async def scenario():
        a, b = await alice.connect(), await bob.connect()
        chat = await a.call("create_chat", kind="direct", user_id=bob.user_id)
        chat_id = chat["chat"]["chat_id"]
        assert {m["user_id"] for m in chat["chat"]["members"]} == {alice.user_id, bob.user_id}
        assert (await b.events_of("chat", 1))[0]["chat"]["chat_id"] == chat_id
        sent = await a.call("send", chat_id=chat_id, client_msg_id="m1", kind="text", text="hello bob")
        assert sent["type"] == "sent" and sent["seq"] == 1 and sent["client_msg_id"] == "m1"
        pushed = (await b.events_of("message", 1))[0]["message"]
        assert pushed == {"chat_id": chat_id, "seq": 1, "message_id": sent["message_id"],
                          "sender_id": alice.user_id, "kind": "text", "text": "hello bob",
                          "sent_at": sent["sent_at"]}
        reply = await b.call("send", chat_id=chat_id, client_msg_id="m1", kind="text", text="hi alice", reply_to=1)
        assert reply["seq"] == 2
        assert (await a.events_of("message", 1))[0]["message"]["reply_to"] == 1
        again = await a.call("create_chat", kind="direct", user_id=bob.user_id.upper())
        assert again["chat"]["chat_id"] == chat_id and again["chat"]["last_seq"] == 2
        await a.close(), await b.close()

    run(scenario())


def test_every_device_gets_the_message_but_the_sending_one(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        phones = [await alice.connect(device) for device in ("phone", "laptop", "tablet")]
        bobs = await bob.connect()
        sent = await phones[0].call("send", chat_id=chat_id, client_msg_id="x", kind="text", text="from my phone")
        for other in phones[1:] + [bobs]:
            assert (await other.events_of("message", 1))[0]["message"]["seq"] == sent["seq"]
        await phones[0].no_event(kind="message")  # bob coming online may push `presence`
        for socket in phones + [bobs]:
            await socket.close()

    run(scenario())


def test_a_resent_client_msg_id_stores_one_message(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a = await alice.connect()
        first, second = await asyncio.gather(*(a.call("send", chat_id=chat_id, client_msg_id="same", kind="text",
                                                      text="once") for _ in range(2)))
        third = await a.call("send", chat_id=chat_id, client_msg_id="same", kind="text", text="once")
        assert first["seq"] == second["seq"] == third["seq"] == 1
        assert first["message_id"] == second["message_id"] == third["message_id"]
        await a.close()

    run(scenario())
    status, page = alice.get(f"/chats/{chat_id}/messages")
    assert status == 200 and [m["seq"] for m in page["messages"]] == [1]


def test_concurrent_senders_get_gap_free_seqs_and_the_same_history(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def burst(user, socket):
        return await asyncio.gather(*(socket.call("send", chat_id=chat_id, client_msg_id=f"{user.user_id}-{i}",
                                                  kind="text", text=f"{i}", timeout=100) for i in range(50)))

    async def scenario():
        a, b = await alice.connect(), await bob.connect()
        replies = await asyncio.gather(burst(alice, a), burst(bob, b))
        failures = [reply for side in replies for reply in side if reply["type"] != "sent"]
        assert not failures, failures[:3]
        seqs = sorted(reply["seq"] for side in replies for reply in side)
        assert seqs == list(range(1, 101))
        await a.close(), await b.close()

    run(scenario())
    histories = []
    for user in (alice, bob):
        messages, before = [], None
        while True:
            status, page = user.get(f"/chats/{chat_id}/messages?limit=30" + (f"&before={before}" if before else ""))
            assert status == 200
            messages = page["messages"] + messages
            if not page["has_more"]:
                break
            before = page["messages"][0]["seq"]
        histories.append(messages)
    assert [m["seq"] for m in histories[0]] == list(range(1, 101))
    assert histories[0] == histories[1]


def test_history_pages(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a = await alice.connect()
        for i in range(7):
            await a.call("send", chat_id=chat_id, client_msg_id=str(i), kind="text", text=f"m{i + 1}")
        newest = await a.call("history", chat_id=chat_id, limit=3)
        assert [m["seq"] for m in newest["messages"]] == [5, 6, 7] and newest["has_more"] is True
        middle = await a.call("history", chat_id=chat_id, before=5, limit=3)
        assert [m["seq"] for m in middle["messages"]] == [2, 3, 4] and middle["has_more"] is True
        oldest = await a.call("history", chat_id=chat_id, before=2, limit=3)
        assert [m["seq"] for m in oldest["messages"]] == [1] and oldest["has_more"] is False
        assert [m["text"] for m in (await a.call("history", chat_id=chat_id))["messages"]] == \
            [f"m{i}" for i in range(1, 8)]
        await a.close()

    run(scenario())


def test_a_non_member_is_forbidden(stack):
    alice, bob, eve = stack.user("alice"), stack.user("bob"), stack.user("eve")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        e = await eve.connect()
        for action, params in (("send", {"client_msg_id": "x", "kind": "text", "text": "hi"}), ("history", {})):
            reply = await e.call(action, chat_id=chat_id, **params)
            assert reply["type"] == "error" and reply["code"] == "forbidden"
        missing = await e.call("history", chat_id="direct:nobody:noone")
        assert missing["code"] == "not_found"
        await e.close()

    run(scenario())
    assert eve.get(f"/chats/{chat_id}")[0] == 403
    assert eve.get(f"/chats/{chat_id}/messages")[0] == 403


BAD_FRAMES = [
    ("not json", "bad_request"),
    ("[1, 2]", "bad_request"),
    ('"text"', "bad_request"),
    ('{"action": "teleport", "req": "q"}', "bad_request"),
    ('{"req": "q"}', "bad_request"),
    ('{"action": "send", "req": "q", "chat_id": 5}', "bad_request"),
    ('{"action": "history", "req": "q", "chat_id": "c", "limit": 1000}', "bad_request"),
    (json.dumps({"action": "send", "req": "q", "chat_id": "c", "client_msg_id": "x", "kind": "text",
                 "text": "x" * 4097}), "bad_request"),
    (json.dumps({"action": "heartbeat", "req": "q", "pad": "x" * 40_000}), "too_large"),
]


@pytest.mark.parametrize("frame, code", BAD_FRAMES, ids=[f"{code}-{i}" for i, (_, code) in enumerate(BAD_FRAMES)])
def test_bad_frames_get_errors_and_the_socket_stays_usable(stack, frame, code):
    alice = stack.user("alice")

    async def scenario():
        a = await alice.connect()
        error = await a.send_raw(frame)
        assert error["type"] == "error" and error["code"] == code and error["message"]
        if '"req": "q"' in frame:
            assert error["req"] == "q"
        assert (await a.call("heartbeat"))["type"] == "pong"
        await a.close()

    run(scenario())


def test_a_frame_over_api_gateways_message_limit_closes_with_1009(stack):
    alice = stack.user("alice")

    async def scenario():
        a = await alice.connect()
        await a.connection.send("x" * (129 * 1024))
        await a._reader
        assert a.connection.close_code == 1009

    run(scenario())


def bad_tokens(token: str) -> dict[str, str]:
    claims = tokens.claims_of(token)
    return {"absent": "", "garbage": "not-a-token", "expired": tokens.expired(claims),
            "self-signed": tokens.self_signed(claims), "alg none": tokens.alg_none(claims),
            "wrong audience": tokens.signed_by_pool(claims, aud="someone-else"),
            "wrong issuer": tokens.signed_by_pool(claims, iss="https://evil.example.com/pool"),
            "access token": tokens.signed_by_pool(claims, token_use="access")}


def test_bad_tokens_are_refused_at_the_handshake(stack):
    alice = stack.user("alice")

    async def scenario():
        for name, token in bad_tokens(alice.token).items():
            with pytest.raises(websockets.InvalidStatus) as refused:
                await Socket.open(f"{stack.ws}?token={token}")
            assert refused.value.response.status_code in (401, 403), name
        with pytest.raises(websockets.InvalidStatus) as refused:
            await Socket.open(f"{stack.ws}?token={alice.token}&device={'d' * 65}")
        assert refused.value.response.status_code == 400

    run(scenario())


def test_bad_tokens_get_401_on_rest(stack):
    alice = stack.user("alice")
    for name, token in bad_tokens(alice.token).items():
        status, body = http("GET", f"{stack.api}/me", token=token or None)
        assert status == 401 and body["code"] == "unauthorized", name
    status, me = alice.get("/me")
    assert status == 200 and me["user_id"] == alice.user_id and me["profile"] == {"user_id": alice.user_id}
    assert http("GET", f"{stack.api}/me", token=None)[0] == 401


def test_rest_mirror(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)
    status, listing = bob.get("/chats")
    assert status == 200 and [c["chat_id"] for c in listing["chats"]] == [chat_id]
    status, one = bob.get(f"/chats/{chat_id}")
    assert status == 200 and one["chat"]["kind"] == "direct"
    status, again = bob.post("/chats", {"kind": "direct", "user_id": alice.user_id})
    assert status == 200 and again["chat"]["chat_id"] == chat_id  # it existed: nothing was created
    assert alice.post("/chats", {"kind": "direct", "user_id": alice.user_id})[0] == 400
    assert alice.post("/chats", {"kind": "direct", "user_id": "nobody_at_all"})[0] == 404
    assert alice.get(f"/chats/{chat_id}/messages?limit=0")[0] == 400
    status, body = http("POST", f"{stack.api}/chats", raw=b"{not json", token=alice.token)
    assert status == 400 and body["code"] == "bad_request"


def test_signup_and_login_errors(stack):
    assert http("POST", f"{stack.api}/auth/signup", {"username": "ab", "password": "Passw0rd!"})[0] == 400
    assert http("POST", f"{stack.api}/auth/signup", {"username": "weakling", "password": "password"})[0] == 400
    user = stack.user("dup")
    assert http("POST", f"{stack.api}/auth/signup", {"username": user.user_id.upper(),
                                                      "password": "Passw0rd!"})[0] == 409
    assert http("POST", f"{stack.api}/auth/login", {"username": user.user_id, "password": "Wr0ng!pass"})[0] == 401
    status, login = http("POST", f"{stack.api}/auth/login", {"username": user.user_id, "password": "Passw0rd!"})
    status, refreshed = http("POST", f"{stack.api}/auth/refresh", {"refresh_token": login["refresh_token"]})
    assert status == 200 and refreshed["id_token"] and refreshed["expires_in"] > 0
    assert http("POST", f"{stack.api}/auth/refresh", {"refresh_token": "nope"})[0] == 401
