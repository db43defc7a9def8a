"""Issue 5 end to end: presence, last seen and typing over real sockets; time moves by the stack's clock."""
import asyncio
import time

import boto3

from chalicelib.model import QUIET_WINDOW, direct_chat_id
from chalicelib.presence import ANNOUNCE_PAGE, MAX_SOCKETS
from chalicelib.rate_limits import RateLimits
from devstack.aws import FAKE_CREDENTIALS, REGION
from tests.e2e.support import http
from tests.e2e.test_messaging import direct_chat, run

TYPING_LIMIT = RateLimits().typing.events


async def drain(socket, quiet: float = 1.0) -> list[dict]:
    """Every event that arrives until none has for `quiet` seconds."""
    events = []
    while True:
        try:
            events.append(await socket.next_event(quiet))
        except TimeoutError:
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
                except TimeoutError:
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


def give_direct_chats(stack, user_id: str, contacts: list[str]) -> None:
    """Write the user's member items of direct chats with `contacts` straight into the stack's DynamoDB (what a
    connect's announcement reads), rather than making them through thousands of API calls."""
    _, aws = http("GET", f"{stack.base}/_devstack/aws")
    dynamodb = boto3.resource("dynamodb", region_name=REGION, endpoint_url=aws["endpoint_url"],
                              aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    with dynamodb.Table(aws["tables"]["chats"]).batch_writer() as batch:
        for contact in contacts:
            batch.put_item(Item={"chat_id": direct_chat_id(user_id, contact), "sk": f"member#{user_id}",
                                 "member_id": user_id, "kind": "direct", "role": "member", "joined_seq": 0})


def test_a_user_with_10000_direct_contacts_connects_in_under_a_second_and_all_are_told(stack):
    alice, zoe = stack.user("alice"), stack.user("zz")  # zoe's chat with alice sorts after the 10,000
    give_direct_chats(stack, alice.user_id, [f"bulk{i:05d}" for i in range(10_000)])
    direct_chat(alice, zoe)
    assert direct_chat_id(alice.user_id, zoe.user_id) > direct_chat_id(alice.user_id, "bulk09999")

    async def scenario():
        z = await zoe.connect()
        times = []
        for _ in range(3):  # online and offline again: each connect is a transition with 10,000 to tell
            started = time.monotonic()
            a = await alice.connect()
            times.append(time.monotonic() - started)
            [came] = (await z.events_of("presence", 1, timeout=60))[0]["users"]  # on the 21st page of 500
            assert came["user_id"] == alice.user_id and came["status"] == "online"
            await a.close()
            [went] = (await z.events_of("presence", 1, timeout=60))[0]["users"]
            assert went["status"] == "offline"
        print(f"connect with 10,000 direct contacts: {', '.join(f'{t * 1000:.0f} ms' for t in times)}")
        assert max(times) < 1.0, times
        assert 10_000 // ANNOUNCE_PAGE + 1 == 21
        await z.close()

    run(scenario())


def test_a_quiet_heartbeat_gets_no_pong_and_keeps_its_user_online_for_150_seconds(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    direct_chat(alice, bob)

    async def scenario():
        b = await bob.connect()
        a = await alice.connect()
        assert (await b.events_of("presence", 1))[0]["users"][0]["status"] == "online"
        a._heart.cancel()  # this socket is in the background: quiet heartbeats only, as the test sends them
        await a.tell("heartbeat", quiet=True)
        await a.no_event(wait=1.0, kind="pong")  # (bob's own "online" may reach her now: it goes through a queue)
        await a.call("history", chat_id=direct_chat_id(alice.user_id, bob.user_id))  # the socket still answers
        reply = await b.call("presence", user_ids=[alice.user_id])
        quietly_seen = reply["users"][0]["last_seen"]
        await asyncio.to_thread(stack.advance_clock, 100)  # past the 60 s window, inside the quiet 150 s
        await b.call("heartbeat")
        assert (await b.call("presence", user_ids=[alice.user_id]))["users"][0]["status"] == "online"
        await asyncio.to_thread(stack.run_schedule, "sweep_presence")
        await b.no_event(wait=2.0, kind="presence")  # the sweep leaves her online
        await asyncio.to_thread(stack.advance_clock, QUIET_WINDOW - 100)
        await b.call("heartbeat")
        gone = {"user_id": alice.user_id, "status": "offline", "last_seen": quietly_seen}
        assert (await b.call("presence", user_ids=[alice.user_id]))["users"] == [gone]
        await asyncio.to_thread(stack.run_schedule, "sweep_presence")
        assert (await b.events_of("presence", 1))[0]["users"] == [gone]
        bad = await a.call("heartbeat", quiet="yes")  # errors are still answered
        assert bad["type"] == "error" and bad["code"] == "bad_request"
        await a.close(), await b.close()

    run(scenario())


def test_the_sweep_runs_shard_by_shard_through_the_queue(stack):
    """Users in several shards of the online index, all crashed: each shard's task takes its own offline."""
    bob = stack.user("bob")
    crashed = [stack.user("crash") for _ in range(6)]
    for user in crashed:
        direct_chat(user, bob)

    async def scenario():
        b = await bob.connect()
        for user in crashed:
            await user.connect("phone")
        await b.events_of("presence", len(crashed))
        for user in crashed:
            stack.drop(user.user_id, "phone")
        await asyncio.to_thread(stack.advance_clock, 61)
        await b.call("heartbeat")
        started = time.monotonic()
        await asyncio.to_thread(stack.run_schedule, "sweep_presence")
        assert time.monotonic() - started < 1.0  # the schedule only queues a task per shard
        events = await b.events_of("presence", len(crashed))
        assert sorted(e["users"][0]["user_id"] for e in events) == sorted(u.user_id for u in crashed)
        assert {e["users"][0]["status"] for e in events} == {"offline"}
        await b.close()

    run(scenario())
