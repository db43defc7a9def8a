"""Issue 5 end to end: presence, last seen and typing over real sockets; time moves by the stack's clock."""
import asyncio

from chalicelib.presence import MAX_SOCKETS
from chalicelib.rate_limits import RateLimits
from tests.e2e.test_messaging import direct_chat, run

TYPING_LIMIT = RateLimits().typing.events


async def drain(socket, quiet: float = 1.0) -> list[dict]:
    """Every event that arrives until none has for `quiet` seconds."""
    events = []
    while True:
        try:
            events.append(await socket.next_event(quiet))
        except asyncio.TimeoutError:
            return events


def test_a_user_is_online_until_the_last_device_goes(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    direct_chat(alice, bob)

    async def scenario():
        b = await bob.connect()
        phone = await alice.connect("phone")
        [came] = (await b.events_of("presence", 1))[0]["users"]
        assert came["user_id"] == alice.user_id and came["status"] == "online" and came["last_seen"]
        laptop = await alice.connect("laptop")
        await phone.close()
        reply = await b.call("presence", user_ids=[alice.user_id])
        assert [(u["user_id"], u["status"]) for u in reply["users"]] == [(alice.user_id, "online")]
        await b.no_event(kind="presence")  # a second device, and one of two leaving, change nothing
        await laptop.close()
        [went] = (await b.events_of("presence", 1))[0]["users"]
        assert went["user_id"] == alice.user_id and went["status"] == "offline" and went["last_seen"]
        status, rest = bob.post("/presence", {"user_ids": [alice.user_id]})
        assert status == 200 and rest == {"users": [went]}
        await b.close()

    run(scenario())


def test_a_device_that_dies_without_disconnect_goes_offline_after_the_heartbeat_window(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    direct_chat(alice, bob)

    async def scenario():
        b = await bob.connect()
        await alice.connect("phone")
        [came] = (await b.events_of("presence", 1))[0]["users"]
        stack.drop(alice.user_id, "phone")
        reply = await b.call("presence", user_ids=[alice.user_id])
        assert reply["users"][0]["status"] == "online"  # nothing has told the server yet
        await asyncio.to_thread(stack.advance_clock, 61)
        await b.call("heartbeat")  # bob's client beats on, as clients do
        reply = await b.call("presence", user_ids=[alice.user_id])
        gone = {"user_id": alice.user_id, "status": "offline", "last_seen": came["last_seen"]}
        assert reply["users"] == [gone]  # reads decide by time, before any sweep
        await asyncio.to_thread(stack.run_schedule, "sweep_presence")
        assert (await b.events_of("presence", 1))[0]["users"] == [gone]
        await asyncio.to_thread(stack.run_schedule, "sweep_presence")
        await b.no_event(kind="presence")  # announced once
        await b.close()

    run(scenario())


def test_strangers_see_nothing(stack):
    alice, eve = stack.user("alice"), stack.user("eve")

    async def scenario():
        e = await eve.connect()
        a = await alice.connect()
        reply = await e.call("presence", user_ids=[alice.user_id, "no_such_user", eve.user_id])
        assert reply["users"][:2] == [{"user_id": alice.user_id, "status": "offline", "last_seen": None},
                                      {"user_id": "no_such_user", "status": "offline", "last_seen": None}]
        assert reply["users"][2]["status"] == "online"  # one's own presence is no secret
        assert eve.post("/presence", {"user_ids": [alice.user_id]}) == \
            (200, {"users": [{"user_id": alice.user_id, "status": "offline", "last_seen": None}]})
        await a.close()
        assert [event for event in await drain(e) if event["type"] == "presence"] == []
        await e.close()

    run(scenario())


def test_typing_reaches_the_others_and_not_the_typist(stack):
    alice, bob, eve = stack.user("alice"), stack.user("bob"), stack.user("eve")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        phone, laptop = await alice.connect("phone"), await alice.connect("laptop")
        b, e = await bob.connect(), await eve.connect()
        for state in ("start", "stop"):
            await phone.tell("typing", chat_id=chat_id, state=state)
            assert (await b.events_of("typing", 1))[0] == \
                {"type": "typing", "chat_id": chat_id, "user_id": alice.user_id, "state": state}
        await asyncio.gather(*(socket.no_event(kind=kind) for socket in (phone, laptop, e)
                               for kind in ("typing", "error")))
        forbidden = await e.call("typing", chat_id=chat_id, state="start")
        assert forbidden["type"] == "error" and forbidden["code"] == "forbidden"
        for socket in (phone, laptop, b, e):
            await socket.close()

    run(scenario())


def test_flooding_typing_gets_rate_limited(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)
    flood = 3 * TYPING_LIMIT

    async def scenario():
        a, b = await alice.connect(), await bob.connect()
        reqs = [await a.tell("typing", chat_id=chat_id, state="start") for _ in range(flood)]
        errors, typing = [], []
        deadline = asyncio.get_running_loop().time() + 30
        while len(errors) + len(typing) < flood:  # each frame is either relayed or refused
            assert asyncio.get_running_loop().time() < deadline, (errors, typing)
            for socket, kind, found in ((a, "error", errors), (b, "typing", typing)):
                try:
                    event = await socket.next_event(0.05)
                except asyncio.TimeoutError:
                    continue
                if event["type"] == kind:
                    found.append(event)
        assert {error["code"] for error in errors} == {"rate_limited"} and {e["req"] for e in errors} <= set(reqs)
        assert len(typing) <= 2 * TYPING_LIMIT  # a flood this quick spans two windows at most
        await a.close(), await b.close()

    run(scenario())


def test_an_eleventh_socket_closes_the_users_oldest(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        devices = [await alice.connect("d0")]
        await asyncio.sleep(1.1)  # sockets are aged by the second: the first is the oldest
        devices += [await alice.connect(f"d{i}") for i in range(1, MAX_SOCKETS)]
        newest = await alice.connect("one-more")
        await asyncio.wait_for(devices[0]._reader, 10)  # the server closed the oldest socket
        assert devices[0].connection.close_code is not None
        b = await bob.connect()
        await b.call("send", chat_id=chat_id, client_msg_id="hello", kind="text", text="to every device")
        for socket in devices[1:] + [newest]:
            assert (await socket.events_of("message", 1))[0]["message"]["text"] == "to every device"
        for socket in devices[1:] + [newest, b]:
            await socket.close()

    run(scenario())
