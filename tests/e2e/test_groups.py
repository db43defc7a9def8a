"""Issue 4 end to end: a 500-member group over 500 live sockets, with the queue fan-out path."""
import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.support import http, running_stack
from tests.e2e.test_messaging import run

GROUP_SIZE = 500


async def connect_all(users, device: str = "phone", at_once: int = 50):
    """Open many sockets, a bounded number of handshakes at a time, as phones coming online would."""
    gate = asyncio.Semaphore(at_once)

    async def connect(user):
        async with gate:
            return await user.connect(device)
    return await asyncio.gather(*(connect(user) for user in users))


async def queued_group(users, device: str):
    """A group above the fan-out threshold, every member online on `device`, each told of the group."""
    sockets = await connect_all(users, device)
    created = await sockets[0].call("create_chat", kind="group", name=f"{device} group",
                                    members=[u.user_id for u in users[1:]], timeout=60)
    await asyncio.gather(*(s.events_of("chat", 1, timeout=60) for s in sockets[1:]))
    return sockets, created["chat"]["chat_id"]


@pytest.fixture(scope="module")
def stack():
    """A stack of its own: the aftermath of 500 sockets closing would slow the next module's tests."""
    with running_stack() as running:
        yield running


@pytest.fixture(scope="module")
def crowd(stack):
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: stack.user("m"), range(GROUP_SIZE)))


def test_a_500_member_group_reaches_every_socket_exactly_once_in_one_order(stack, crowd):
    rest = crowd[1:]

    async def scenario():
        sockets = await connect_all(crowd)
        created = await sockets[0].call("create_chat", kind="group", name="everyone",
                                        members=[u.user_id for u in rest], timeout=60)
        chat_id = created["chat"]["chat_id"]
        assert len(created["chat"]["members"]) == GROUP_SIZE
        overfull = await sockets[0].call("add_members", chat_id=chat_id, user_ids=[stack.user("late").user_id])
        assert overfull["code"] == "conflict"
        senders = [sockets[0], sockets[1]]
        replies = await asyncio.gather(*(socket.call("send", chat_id=chat_id, client_msg_id=f"{n}-{i}", kind="text",
                                                     text=f"{n}-{i}", timeout=60)
                                         for n, socket in enumerate(senders) for i in range(3)))
        assert sorted(r["seq"] for r in replies) == list(range(1, 7))

        async def inbox(index, socket):
            expected = 6 - sum(1 for s in senders if s is socket) * 3
            frames = await socket.events_of("message", expected, timeout=90)
            return index, [f["message"]["seq"] for f in frames if f["message"]["chat_id"] == chat_id]

        for index, seqs in await asyncio.gather(*(inbox(i, s) for i, s in enumerate(sockets))):
            own = {r["seq"] for n, r in enumerate(replies) if senders[n // 3] is sockets[index]}
            assert sorted(seqs) == sorted(set(range(1, 7)) - own), index  # each once, none missing
        await asyncio.gather(*(socket.no_event(0.3) for socket in sockets[:20]))
        history = await sockets[-1].call("history", chat_id=chat_id)
        assert [m["seq"] for m in history["messages"]] == list(range(1, 7))
        await asyncio.gather(*(socket.close() for socket in sockets))

    run(scenario(), timeout=420)


def test_the_queue_path_survives_a_crashed_consumer(stack, crowd):
    async def scenario():
        sockets, chat_id = await queued_group(crowd[:150], "tablet")
        assert http("POST", f"{stack.base}/_devstack/faults/fan_out", {"count": 1})[0] == 204
        await sockets[0].call("send", chat_id=chat_id, client_msg_id="x", kind="text", text="survives")
        frames = await asyncio.gather(*(s.events_of("message", 1, timeout=60) for s in sockets[1:]))
        assert all(f[0]["message"]["text"] == "survives" for f in frames)
        await asyncio.gather(*(s.no_event(0.5) for s in sockets[1:40]))  # redelivered, not duplicated
        await asyncio.gather(*(socket.close() for socket in sockets))

    run(scenario())


def test_a_fan_out_that_went_to_the_dead_letter_queue_reaches_every_member_after_redrive(stack, crowd):
    tasks, tries = 2, 5  # 149 recipients in tasks of 100; the fan-out queue's maxReceiveCount

    async def scenario():
        sockets, chat_id = await queued_group(crowd[:150], "dlq")
        assert http("POST", f"{stack.base}/_devstack/faults/fan_out", {"count": tasks * tries})[0] == 204
        await sockets[0].call("send", chat_id=chat_id, client_msg_id="x", kind="text", text="redriven")
        moved, deadline = 0, asyncio.get_running_loop().time() + 60
        while moved < tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(1)
            status, answer = await asyncio.to_thread(http, "POST", f"{stack.base}/_devstack/redrive/fan_out", {})
            assert status == 200
            moved += answer["moved"]
        assert moved == tasks
        frames = await asyncio.gather(*(s.events_of("message", 1, timeout=60) for s in sockets[1:]))
        assert all(f[0]["message"]["text"] == "redriven" for f in frames)
        await asyncio.gather(*(socket.close() for socket in sockets))

    run(scenario(), timeout=180)


def test_roles_and_removal_are_enforced(stack):
    admin, member, outsider = stack.user("admin"), stack.user("member"), stack.user("outsider")

    async def scenario():
        a, m = await admin.connect(), await member.connect()
        chat_id = (await a.call("create_chat", kind="group", name="club", members=[member.user_id]))["chat"]["chat_id"]
        assert (await m.call("add_members", chat_id=chat_id, user_ids=[outsider.user_id]))["code"] == "forbidden"
        removed = await a.call("remove_members", chat_id=chat_id, user_ids=[member.user_id])
        assert [x["user_id"] for x in removed["chat"]["members"]] == [admin.user_id]
        assert (await m.call("history", chat_id=chat_id))["code"] == "forbidden"
        assert (await m.call("send", chat_id=chat_id, client_msg_id="1", kind="text", text="x"))["code"] == "forbidden"
        await a.close(), await m.close()

    run(scenario())
    status, _ = admin.post("/chats", {"kind": "group", "name": "x" * 101, "members": []})
    assert status == 400


def test_a_500_member_group_with_450_offline_devices_pushes_450_times_through_the_queue(stack, crowd):
    sender, offline, online = crowd[0], crowd[1:451], crowd[451:]
    with ThreadPoolExecutor(8) as pool:
        registered = list(pool.map(lambda user: http("PUT", f"{stack.api}/devices/pager", {
            "platform": "fcm", "token": f"fcm-{user.user_id}"}, token=user.token)[0], offline + online))
    assert set(registered) == {200}

    async def scenario():
        sockets = await connect_all([sender] + online, "pager")  # their pagers are live: no push for them
        created = await sockets[0].call("create_chat", kind="group", name="pagers",
                                        members=[u.user_id for u in crowd[1:]], timeout=60)
        chat_id = created["chat"]["chat_id"]
        sent = await sockets[0].call("send", chat_id=chat_id, client_msg_id="page", kind="text", text="all hands")

        def pushed() -> list[dict]:
            return [p for p in http("GET", f"{stack.base}/_devstack/pushes")[1]["pushes"]
                    if p["payload"]["chat_id"] == chat_id]
        deadline = asyncio.get_running_loop().time() + 120
        while len(found := pushed()) < len(offline):
            assert asyncio.get_running_loop().time() < deadline, f"{len(found)} of {len(offline)} pushed"
            await asyncio.sleep(0.5)
        await asyncio.sleep(1)
        found = pushed()
        assert sorted(p["user_id"] for p in found) == sorted(u.user_id for u in offline)  # each once, no one else
        assert {p["payload"]["seq"] for p in found} == {sent["seq"]}
        await asyncio.gather(*(socket.close() for socket in sockets))

    run(scenario(), timeout=300)
