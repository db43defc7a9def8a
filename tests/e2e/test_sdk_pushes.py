"""Issue 20 through the SDK and the `parley` command against the local stack: a device registered with
`register_device` gets a push once its socket is gone, `mute` silences all but mentions, `update_settings` drops
the preview, and `local_pushes()` / `parley pushes` show what SNS would have delivered."""
import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from parley_sdk import ParleyClient, ParleyError
from parley_sdk.cli import main

from tests.e2e.support import PASSWORD
from tests.e2e.test_messaging import direct_chat, run

PUSH_WAIT = 30  # seconds: pushes go through a queue, and a load test may be running beside us


async def client_of(stack, user, device: str | None = None, connect: bool = True) -> ParleyClient:
    client = ParleyClient(stack.base)
    await client.login(user.user_id, PASSWORD)
    if connect:
        await client.connect(device=device)
    return client


async def until_offline(watcher: ParleyClient, user_id: str) -> None:
    """Until the server has taken the user's last socket away (so their devices are pushed to)."""
    deadline = time.monotonic() + PUSH_WAIT
    while (await watcher.presence([user_id]))[0]["status"] != "offline":
        assert time.monotonic() < deadline, f"{user_id} still online"
        await asyncio.sleep(0.1)


async def wait_for_pushes(reader: ParleyClient, count: int) -> list[dict]:
    """The reader's pushes, once there are at least `count`."""
    deadline = time.monotonic() + PUSH_WAIT
    while len(pushes := await reader.local_pushes()) < count:
        assert time.monotonic() < deadline, f"{len(pushes)} pushes, expected {count}: {pushes}"
        await asyncio.sleep(0.1)
    return pushes


async def parley(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture
def cli_config(tmp_path, monkeypatch):
    monkeypatch.setenv("PARLEY_CONFIG", str(tmp_path / "parley.json"))


def test_a_device_registered_through_the_sdk_is_pushed_to_offline_and_a_mute_lets_only_mentions_through(
        stack, cli_config, capsys):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        phone = await client_of(stack, bob, "phone")
        assert await phone.register_device("phone", "fcm", f"fcm-{bob.user_id}") == {
            "device": "phone", "platform": "fcm"}
        assert (await phone.settings())["push_previews"] is True
        a = await client_of(stack, alice)
        online = await a.send_text(chat_id, "are you there?")  # the phone's socket is live: no push
        await phone.close()  # the phone goes offline
        await until_offline(a, bob.user_id)
        sent = await a.send_text(chat_id, "dinner at 8?")
        bob_rest = await client_of(stack, bob, connect=False)
        (push,) = await wait_for_pushes(bob_rest, 1)
        assert push == {"user_id": bob.user_id, "device": "phone", "platform": "fcm", "payload": {
            "chat_id": chat_id, "seq": sent["seq"], "sender_id": alice.user_id, "kind": "text",
            "preview": "dinner at 8?", "unread_chats": 1}}
        assert online["seq"] < sent["seq"]

        assert await parley("login", bob.user_id, "--password", PASSWORD, "--url", stack.base) == 0
        assert await parley("pushes") == 0
        assert capsys.readouterr().out.splitlines()[-1] == (
            f'phone\tfcm\t{chat_id} #{sent["seq"]}\t{alice.user_id}\t"dinner at 8?"\t1 unread chat')

        tablet = await client_of(stack, bob, "tablet")  # not registered: it only sets the mute
        await tablet.mute(chat_id, datetime.now(UTC) + timedelta(hours=8))
        muted_until = (await bob_rest.chat(chat_id))["muted_until"]
        assert datetime.fromisoformat(muted_until) > datetime.now(UTC) + timedelta(hours=7)
        assert "muted_until" not in await a.chat(chat_id)
        quiet = await a.send_text(chat_id, "you won't hear of this")
        mention = await a.send_text(chat_id, f"@{bob.user_id} but this", mentions=[bob.user_id])
        pushes = await wait_for_pushes(bob_rest, 2)
        assert pushes[1]["payload"]["seq"] == mention["seq"]

        await tablet.mute(chat_id, None)
        assert "muted_until" not in await bob_rest.chat(chat_id)
        loud = await a.send_text(chat_id, "unmuted")
        await wait_for_pushes(bob_rest, 3)
        await asyncio.sleep(1)  # time enough for a stray push of the muted message to show
        assert [p["payload"]["seq"] for p in await bob_rest.local_pushes()] == [sent["seq"], mention["seq"],
                                                                                 loud["seq"]]
        assert quiet["seq"] not in [p["payload"]["seq"] for p in await bob_rest.local_pushes()]
        assert await a.local_pushes() == []  # the sender's own devices: none (and alice has none)
        for client in (a, tablet, bob_rest):
            await client.close()

    run(scenario())


def test_the_cli_registers_sets_previews_mutes_and_deletes_and_the_server_refuses_bad_input(
        stack, cli_config, capsys):
    alice, bob, carol = stack.user("alice"), stack.user("bob"), stack.user("carol")
    chat_id = direct_chat(alice, bob)
    others = direct_chat(alice, carol)

    async def scenario():
        assert await parley("login", bob.user_id, "--password", PASSWORD, "--url", stack.base) == 0
        assert await parley("device", "register", "ipad", "--platform", "apns", "--token", "apns-1") == 0
        assert await parley("settings", "--push-previews", "off") == 0
        assert await parley("mute", chat_id, "--for", "8h") == 0
        assert await parley("chats") == 0
        lines = capsys.readouterr().out.splitlines()
        registered, muted, listed = lines[-7], lines[-2], lines[-1]  # `settings` prints all four between
        assert registered == "registered ipad (apns) for pushes" and "push_previews: off" in lines[-6:-2]
        assert muted.startswith(f"muted {chat_id} until ")
        until = datetime.fromisoformat(muted.rsplit(" ", 1)[1])
        assert timedelta(hours=7) < until - datetime.now(UTC) <= timedelta(hours=8)
        assert listed.startswith(f"{chat_id}\tdirect\t")
        assert listed.endswith(f"\tmuted until {until:%Y-%m-%dT%H:%M:%SZ}")  # as the server keeps it
        assert await parley("mute", chat_id, "--off") == 0

        b, a = await client_of(stack, bob, connect=False), await client_of(stack, alice)
        assert (await b.settings())["push_previews"] is False
        assert "muted_until" not in await b.chat(chat_id)
        await until_offline(a, bob.user_id)  # the CLI's sockets are closed
        sent = await a.send_text(chat_id, "no preview of this")
        (push,) = await wait_for_pushes(b, 1)
        assert push["device"] == "ipad" and "preview" not in push["payload"]
        assert await parley("pushes") == 0
        assert capsys.readouterr().out.splitlines()[-1] == (
            f"ipad\tapns\t{chat_id} #{sent['seq']}\t{alice.user_id}\t(no preview)\t1 unread chat")

        assert await parley("device", "delete", "ipad") == 0
        await a.send_text(chat_id, "nobody's listening")
        await asyncio.sleep(1)
        assert len(await b.local_pushes()) == 1

        for refused in (b.update_settings(theme="dark"), b.update_settings(push_previews="no"),
                        b.register_device("ipad", "webpush", "t"), b.register_device("ipad", "fcm", "")):
            with pytest.raises(ParleyError) as error:
                await refused
            assert (error.value.code, error.value.status) == ("bad_request", 400)
        await b.connect()
        for until in ("2001-01-01T00:00:00Z", "tomorrow", datetime.now(UTC) - timedelta(minutes=5)):
            with pytest.raises(ParleyError) as error:
                await b.mute(chat_id, until)
            assert error.value.code == "bad_request"
        with pytest.raises(ParleyError) as error:
            await b.mute(others, datetime.now(UTC) + timedelta(hours=1))
        assert error.value.code in ("forbidden", "not_found")
        assert await parley("mute", chat_id, "--until", "2001-01-01T00:00:00Z") == 1
        assert "bad_request" in capsys.readouterr().err
        assert "server_time" in await b.heartbeat()  # errors leave the socket open
        await a.close()
        await b.close()

    run(scenario())
