"""Issue 22 through the SDK and the `parley` command against the local stack: a profile (with an avatar uploaded
through `set_avatar`) set by one user, read by another and pushed to them as a `profile` event; a block that makes
the blocked user's send `forbidden` until it is lifted, and reports; a group renamed, a member promoted, and invites
created and joined by a third user through the SDK and through `parley join`."""
import asyncio
import io
import time
from contextlib import AsyncExitStack

import pytest
from parley_sdk import ParleyClient, ParleyError
from parley_sdk.cli import main
from PIL import Image

from tests.e2e.support import PASSWORD
from tests.e2e.test_messaging import direct_chat, run

WAIT = 30  # seconds: pushes and media processing go through queues, and a load test may be running beside us


async def client_of(stack, user, opened: AsyncExitStack) -> ParleyClient:
    """A logged-in, connected client, closed with `opened` (whatever the scenario's outcome)."""
    client = await opened.enter_async_context(ParleyClient(stack.base))
    await client.login(user.user_id, PASSWORD)
    await client.connect()
    return client


async def next_event(events, kind: str) -> dict:
    """The next event of that type, skipping the others."""
    async with asyncio.timeout(WAIT):
        async for event in events:
            if event["type"] == kind:
                return event
    raise AssertionError(f"the events ended before a {kind} event")


def run_closing(steps) -> None:
    """Run `await steps(opened)`, closing every client opened on the way whatever the outcome."""
    async def scenario():
        async with AsyncExitStack() as opened:
            await steps(opened)

    run(scenario())


async def refused(call) -> ParleyError:
    with pytest.raises(ParleyError) as raised:
        await call
    return raised.value


async def parley(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def png() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (200, 160), (200, 60, 20)).save(picture, "PNG")
    return picture.getvalue()


@pytest.fixture
def cli_config(tmp_path, monkeypatch):
    monkeypatch.setenv("PARLEY_CONFIG", str(tmp_path / "parley.json"))


def test_a_profile_set_through_the_sdk_is_read_by_another_user_and_pushed_to_them(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    direct_chat(alice, bob)

    async def steps(opened: AsyncExitStack):
        a, b = await client_of(stack, alice, opened), await client_of(stack, bob, opened)
        bob_events = b.events()
        assert await a.profile() == {"user_id": alice.user_id}
        profile = await a.update_profile(display_name="Alice A.", about="climbs on Saturdays")
        assert profile == {"user_id": alice.user_id, "display_name": "Alice A.", "about": "climbs on Saturdays"}
        pushed = await next_event(bob_events, "profile")
        assert pushed["user"] == profile

        with_avatar = await a.set_avatar(png(), filename="me.png")
        media_id = with_avatar["avatar"]["media_id"]
        assert (with_avatar["display_name"], with_avatar["about"]) == ("Alice A.", "climbs on Saturdays")
        assert (await next_event(bob_events, "profile"))["user"]["avatar"]["media_id"] == media_id
        deadline = time.monotonic() + WAIT
        while (seen := (await b.users([alice.user_id, "no-such-user"]))[0])["avatar"]["status"] != "ready":
            assert time.monotonic() < deadline, f"the avatar is still {seen['avatar']['status']}"
            await asyncio.sleep(0.2)
        assert (seen["display_name"], seen["about"]) == ("Alice A.", "climbs on Saturdays")
        thumb = seen["avatar"]["variants"]["thumb"]
        assert (thumb["width"], thumb["height"]) == (96, 96) and thumb["url"].startswith("http")

        assert await a.update_profile(about=None, avatar_media_id=None) == {"user_id": alice.user_id,
                                                                           "display_name": "Alice A."}
        assert (await next_event(bob_events, "profile"))["user"] == {"user_id": alice.user_id,
                                                                     "display_name": "Alice A."}
        assert await b.users([alice.user_id]) == [{"user_id": alice.user_id, "display_name": "Alice A."}]
        for changes, code in (({"display_name": ""}, "bad_request"), ({"about": "x" * 141}, "bad_request"),
                              ({"avatar_media_id": "no-such-media"}, "not_found")):
            assert (await refused(a.update_profile(**changes))).code == code
        assert (await refused(a.set_avatar(b"plain text", "text/plain", "notes.txt"))).code == "bad_request"
        assert (await a.me())["profile"] == {"user_id": alice.user_id, "display_name": "Alice A."}

    run_closing(steps)


def test_a_blocked_users_send_is_forbidden_until_unblocked(stack, cli_config, capsys):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)

    async def steps(opened: AsyncExitStack):
        a, b = await client_of(stack, alice, opened), await client_of(stack, bob, opened)
        await a.update_profile(display_name="Alice", about="private")
        await b.send_text(chat_id, "hi alice")
        await a.block(bob.user_id)
        assert await a.blocked() == [bob.user_id]

        error = await refused(b.send_text(chat_id, "are you there?"))
        assert error.code == "forbidden"
        assert (await refused(b.create_group("party", [alice.user_id]))).code == "forbidden"
        assert await b.users([alice.user_id]) == [{"user_id": alice.user_id, "display_name": "Alice"}]
        await a.send_text(chat_id, "the blocker still may write")
        assert "server_time" in await b.heartbeat()  # the refusals left bob's socket open

        assert await parley("login", alice.user_id, "--password", PASSWORD, "--url", stack.base) == 0
        assert await parley("blocked") == 0
        assert await parley("unblock", bob.user_id) == 0
        assert capsys.readouterr().out.splitlines()[-2:] == [bob.user_id, f"unblocked {bob.user_id}"]
        assert await a.blocked() == []
        sent = await b.send_text(chat_id, "thanks")
        texts = [m.get("text") for m in (await a.history(chat_id))["messages"]]
        assert texts == ["hi alice", "the blocker still may write", "thanks"]
        assert sent["seq"] == 3
        assert await parley("block", bob.user_id) == 0  # and again from the command line
        assert (await refused(b.send_text(chat_id, "once more"))).code == "forbidden"
        assert await a.report(chat_id, 1, "unwanted messages")
        assert await parley("report", chat_id, "3", "--reason", "and this") == 0
        assert capsys.readouterr().out.splitlines()[-1].startswith(f"reported {chat_id} #3 (report ")
        assert (await refused(a.report(chat_id, 9, "beyond the last seq"))).code == "bad_request"
        assert (await refused(a.report(chat_id, 1, ""))).code == "bad_request"

    run_closing(steps)


def test_a_group_renamed_a_member_promoted_and_invites_joined_through_the_sdk_and_parley_join(
        stack, cli_config, capsys):
    alice, bob, carol, dave, erin = (stack.user(name) for name in ("alice", "bob", "carol", "dave", "erin"))

    async def steps(opened: AsyncExitStack):
        a, b, c = [await client_of(stack, user, opened) for user in (alice, bob, carol)]
        group = (await a.create_group("climbing", [bob.user_id]))["chat_id"]
        chat = await a.update_chat(group, name="Climbing Saturday", description="Meet at 9")
        assert (chat["name"], chat["description"]) == ("Climbing Saturday", "Meet at 9")
        assert chat["settings"] == {"send": "all", "edit_info": "all"}
        assert (await refused(b.update_chat(group, settings={"send": "admins"}))).code == "forbidden"
        assert (await refused(b.create_invite(group))).code == "forbidden"
        chat = await a.set_role(group, bob.user_id, "admin")
        assert {m["user_id"]: m["role"] for m in chat["members"]} == {alice.user_id: "admin", bob.user_id: "admin"}

        invite = await b.create_invite(group, 3600)  # bob may, now that he is an admin
        assert invite["chat_id"] == group and invite["token"]
        joined = await c.join(invite["token"])
        assert joined["chat_id"] == group and joined["name"] == "Climbing Saturday"
        assert carol.user_id in [m["user_id"] for m in joined["members"]]
        assert await c.join(invite["token"]) == await c.chat(group)  # a member already: nothing happens
        await a.update_chat(group, settings={"send": "admins"})
        assert (await refused(c.send_text(group, "may I?"))).code == "forbidden"
        await b.send_text(group, "admins only now")
        events = [m.get("event", {}).get("type") for m in (await c.history(group))["messages"]]
        assert events[:3] == ["joined", "chat_updated", None]  # carol reads from the message that admitted her

        assert await parley("login", alice.user_id, "--password", PASSWORD, "--url", stack.base) == 0
        assert await parley("invite", "create", group, "--expires", "1h") == 0
        token = capsys.readouterr().out.splitlines()[-1].split("\t")[0]
        assert await parley("login", dave.user_id, "--password", PASSWORD, "--url", stack.base) == 0
        assert await parley("join", token) == 0
        assert capsys.readouterr().out.splitlines()[-1] == f"joined {group} (Climbing Saturday)"
        assert await parley("group", "info", group) == 0
        info = capsys.readouterr().out.splitlines()
        assert {"name: Climbing Saturday", "description: Meet at 9", "send: admins"} <= set(info)
        listed = info[-1].removeprefix("members: ").split(", ")
        assert sorted(listed) == sorted([f"{alice.user_id} (admin)", f"{bob.user_id} (admin)", carol.user_id,
                                         dave.user_id])

        await a.revoke_invite(group, token)
        e = await client_of(stack, erin, opened)
        assert (await refused(e.join(token))).code == "not_found"
        assert (await refused(a.revoke_invite(group, token))).code == "not_found"
        assert (await refused(e.join("no-such-token"))).code == "not_found"
        assert (await refused(a.set_role(group, erin.user_id, "admin"))).code == "not_found"
        await b.set_role(group, alice.user_id, "member")
        assert (await refused(b.set_role(group, bob.user_id, "member"))).code == "bad_request"  # the last admin
        members = {m["user_id"]: m["role"] for m in (await a.chat(group))["members"]}
        assert members == {alice.user_id: "member", bob.user_id: "admin", carol.user_id: "member",
                           dave.user_id: "member"}

    run_closing(steps)
