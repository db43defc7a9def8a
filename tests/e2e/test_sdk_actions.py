"""The SDK's message actions and account calls against the local stack, with MessageView folding what comes."""
import asyncio
import time

import pytest
from parley_sdk import MessageView, ParleyClient, ParleyError

from tests.e2e.support import PASSWORD, http
from tests.e2e.test_messaging import direct_chat, run
from tests.e2e.test_sdk_people import WAIT, png


async def client_of(stack, user) -> ParleyClient:
    client = ParleyClient(stack.base)
    await client.login(user.user_id, PASSWORD)
    await client.connect()
    return client


def test_the_sdk_edits_reacts_forwards_deletes_and_hides(stack):
    alice, bob = stack.user("alice"), stack.user("bob")
    chat_id = direct_chat(alice, bob)
    status, created = alice.post("/chats", {"kind": "group", "name": "sdk", "members": [bob.user_id]})
    group = created["chat"]["chat_id"]

    async def scenario():
        a, b = await client_of(stack, alice), await client_of(stack, bob)
        view = MessageView()
        first = await a.send_text(chat_id, "helo", mentions=[bob.user_id])
        await a.edit(chat_id, first["seq"], "hello")
        await b.react(chat_id, first["seq"], "👍")
        forwarded = await a.forward(chat_id, first["seq"], group)
        for message in (await b.history(chat_id))["messages"]:
            view.apply(message)
        (shown,) = view.messages(chat_id)  # the edit and the reaction are folded in, not listed
        assert (shown["text"], shown["reactions"], shown["mentions"]) == ("hello", {"👍": [bob.user_id]},
                                                                         [bob.user_id])
        deletion = await a.delete(chat_id, first["seq"])
        view.apply({**shown, "seq": deletion["seq"], "kind": "delete", "relates_to": first["seq"],
                    "sent_at": deletion["sent_at"]})
        assert view.messages(chat_id)[0]["deleted"] is True
        copy = {m["seq"]: m for m in (await b.history(group))["messages"]}[forwarded["seq"]]
        assert copy["forwarded"] is True and copy["text"] == "hello"
        await b.hide(group, [forwarded["seq"]])
        assert forwarded["seq"] not in [m["seq"] for m in (await b.history(group))["messages"]]
        chat = await a.set_disappearing(chat_id, 604800)
        assert chat["disappear_after"] == 604800
        url = await a.export(poll_interval=0.1)
        assert url.startswith("http")
        await b.close()
        signed_out = a.tokens
        await a.logout_all()
        assert http("GET", f"{stack.api}/me", token=signed_out.id_token)[0] == 401
        refused = http("POST", f"{stack.api}/auth/refresh", {"refresh_token": signed_out.refresh_token})
        assert refused[0] == 401
        await a.close()

    run(scenario())


def test_the_sdk_checks_health_fetches_media_urls_and_deletes_the_account(stack):
    alice, bob, carol = stack.user("alice"), stack.user("bob"), stack.user("carol")
    chat_id = direct_chat(alice, bob)

    async def scenario():
        a, b, c = await client_of(stack, alice), await client_of(stack, bob), await client_of(stack, carol)
        assert await a.health() == {"status": "ok"}
        media_id = await a.upload(chat_id, png(), "image/png", filename="p.png")
        deadline = time.monotonic() + WAIT
        while (media := await b.media_url(media_id))["status"] != "ready":
            assert time.monotonic() < deadline, f"the image is still {media['status']}"
            await asyncio.sleep(0.2)
        assert media["media_id"] == media_id and media["url"].startswith("http")
        with pytest.raises(ParleyError) as outsider:
            await c.media_url(media_id)
        assert outsider.value.code == "forbidden"
        with pytest.raises(ParleyError) as wrong:
            await a.delete_account("Wr0ng!pass")
        assert wrong.value.code == "forbidden"
        await a.delete_account(PASSWORD)
        with pytest.raises(ParleyError) as gone:
            await ParleyClient(stack.base).login(alice.user_id, PASSWORD)
        assert gone.value.code == "unauthorized"
        for client in (a, b, c):
            await client.close()

    run(scenario())
