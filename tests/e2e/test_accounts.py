"""Issue 23 end to end: signing out everywhere."""
import asyncio

import pytest
import websockets

from tests.e2e.support import PASSWORD, Socket, http
from tests.e2e.test_messaging import run


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
        assert http("GET", f"{stack.api}/me", token=fresh["id_token"]) == (200, {"user_id": alice.user_id})
        socket = await Socket.open(f"{stack.ws}?token={fresh['id_token']}")
        assert (await socket.call("heartbeat"))["type"] == "pong"
        await socket.close()

    run(scenario())
