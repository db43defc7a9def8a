import pytest

from fake_server import PASSWORD
from parley_sdk import ParleyClient, ParleyError


@pytest.fixture
async def client(server):
    async with ParleyClient(rest_url=server.rest_url, ws_url=server.ws_url) as client:
        yield client


def test_base_url_gives_the_local_stack_endpoints():
    client = ParleyClient("http://127.0.0.1:8000/")
    assert client.rest_url == "http://127.0.0.1:8000/api"
    assert client.ws_url == "ws://127.0.0.1:8000/ws"
    assert ParleyClient("https://chat.example").ws_url == "wss://chat.example/ws"


def test_aws_stages_are_given_explicitly():
    client = ParleyClient(
        rest_url="https://abc.execute-api.eu-west-1.amazonaws.com/api",
        ws_url="wss://def.execute-api.eu-west-1.amazonaws.com/api",
    )
    assert client.rest_url == "https://abc.execute-api.eu-west-1.amazonaws.com/api"
    assert client.ws_url == "wss://def.execute-api.eu-west-1.amazonaws.com/api"
    with pytest.raises(ValueError):
        ParleyClient(rest_url="https://abc.execute-api.eu-west-1.amazonaws.com/api")


async def test_signup_then_login(client):
    assert await client.signup("carol", PASSWORD) == "carol"
    assert await client.login("carol", PASSWORD) == "carol"
    assert client.user_id == "carol"
    assert await client.me() == {
        "user_id": "carol",
        "profile": {"user_id": "carol"},
        "settings": {
            "last_seen": "everyone",
            "read_receipts": True,
            "groups_add": "everyone",
            "push_previews": True,
        },
    }


async def test_http_errors_become_parley_errors(client):
    with pytest.raises(ParleyError) as taken:
        await client.signup("alice", PASSWORD)
    assert (taken.value.code, taken.value.status) == ("conflict", 409)
    with pytest.raises(ParleyError) as refused:
        await client.login("alice", "wrong")
    assert (refused.value.code, refused.value.status) == ("unauthorized", 401)


async def test_a_call_before_login_is_unauthorized(client):
    with pytest.raises(ParleyError) as refused:
        await client.me()
    assert refused.value.code == "unauthorized"


async def test_a_bare_error_body_is_mapped_by_status(server, client):
    await client.login("alice", PASSWORD)
    server.token_owners.clear()
    with pytest.raises(ParleyError) as refused:
        await client.chats()
    assert (refused.value.code, refused.value.status) == ("unauthorized", 401)


async def test_an_expiring_token_is_refreshed_before_use(server, client):
    server.token_lifetime = 30
    await client.login("alice", PASSWORD)
    first_token = client.tokens.id_token
    assert (await client.me())["user_id"] == "alice"
    assert server.refreshes == 1
    assert client.tokens.id_token != first_token


async def test_chats_and_history(server, client):
    chat_id = server.create_direct("alice", "bob")
    for n in range(1, 6):
        await server.store(chat_id, "bob", f"hello {n}")
    await client.login("alice", PASSWORD)
    [chat] = await client.chats()
    assert (chat["chat_id"], chat["last_seq"]) == (chat_id, 5)
    page = await client.history(chat_id, before=5, limit=2)
    assert [message["seq"] for message in page["messages"]] == [3, 4]
    assert page["has_more"] is True


async def test_the_chat_list_is_read_a_page_at_a_time(server, client):
    server.add_user("carol")
    server.add_user("dave")
    chat_ids = [server.create_direct("alice", peer) for peer in ("bob", "carol", "dave")]
    await client.login("alice", PASSWORD)
    first = await client.chats_page(limit=2)
    assert ([chat["chat_id"] for chat in first["chats"]], first["next"]) == (chat_ids[:2], "2")
    last = await client.chats_page(limit=2, cursor=first["next"])
    assert ([chat["chat_id"] for chat in last["chats"]], "next" in last) == (chat_ids[2:], False)
    assert [chat["chat_id"] async for chat in client.iter_chats(page_size=1)] == chat_ids
    assert [chat["chat_id"] for chat in await client.chats()] == chat_ids
    with pytest.raises(ParleyError) as refused:
        await client.chats_page(limit=101)
    assert (refused.value.code, refused.value.status) == ("bad_request", 400)


def test_http_errors_keep_the_body_code_or_fall_back_to_the_status():
    assert ParleyError.from_http(409, {"code": "conflict", "message": "taken"}).message == "taken"
    gateway = ParleyError.from_http(403, {"message": "No token"})
    assert (gateway.code, gateway.message, gateway.status) == ("forbidden", "No token", 403)
    assert ParleyError.from_http(502, "Bad Gateway").code == "internal"
    assert ParleyError.from_http(429, "").code == "rate_limited"
