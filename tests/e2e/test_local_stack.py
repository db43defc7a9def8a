"""The local stack keeps AWS's atomicity under concurrency, over real sockets. (That its moto lock is what keeps
it: tests/aws/test_store_contract.py races seq counters through the same `devstack.moto_server.in_process`
and fails without the lock.)"""
import asyncio
import time

from tests.e2e.support import http
from tests.e2e.test_messaging import direct_chat, run

DEVICES = 8
SENDS = 40
IDLE_SECONDS = 4


def test_one_key_sent_from_every_device_at_once_stores_one_message_and_seqs_stay_gap_free(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        devices = [await alice.connect(f"d{i}") for i in range(DEVICES)]
        same = await asyncio.gather(*(device.call("send", chat_id=chat_id, client_msg_id="once", kind="text",
                                                  text="hello", timeout=30) for device in devices))
        assert {(reply["type"], reply["seq"], reply["message_id"]) for reply in same} == {
            ("sent", 1, same[0]["message_id"])}
        many = await asyncio.gather(*(devices[i % DEVICES].call("send", chat_id=chat_id, client_msg_id=f"m{i}",
                                                                kind="text", text=f"{i}", timeout=30)
                                      for i in range(SENDS)))
        assert sorted(reply["seq"] for reply in many) == list(range(2, SENDS + 2))
        b = await bob.connect()
        messages, _ = await b.sync({chat_id: 0}, limit=500)
        assert [m["seq"] for m in messages[chat_id]] == list(range(1, SENDS + 2))
        assert all(m["kind"] == "text" for m in messages[chat_id])  # no hole was filled
        for socket in devices + [b]:
            await socket.close()

    run(scenario())


def test_idle_queues_are_polled_less_and_less_often(stack):
    stack_base = stack.base
    assert http("POST", f"{stack_base}/_devstack/accounting/reset", {})[0] == 204
    time.sleep(IDLE_SECONDS)
    _, counts = http("GET", f"{stack_base}/_devstack/accounting")
    # two queues polled every 50 ms would be 2 * 20 * IDLE_SECONDS polls; backing off to 1 s, about a tenth
    assert counts["idle_polls"] <= 2 * (IDLE_SECONDS + 6)
