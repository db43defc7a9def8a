import pytest

from fake_server import PASSWORD, FakeParley
from parley_sdk import ParleyClient


@pytest.fixture
async def server():
    async with FakeParley() as fake:
        fake.add_user("alice")
        fake.add_user("bob")
        yield fake


@pytest.fixture
async def connect_as(server):
    """``await connect_as("alice", **client_options)``: a logged-in, connected client, closed afterwards."""
    clients = []

    async def connect(user_id: str, **options) -> ParleyClient:
        client = ParleyClient(
            rest_url=server.rest_url, ws_url=server.ws_url, **{"request_timeout": 5, **options}
        )
        clients.append(client)
        await client.login(user_id, PASSWORD)
        await client.connect(device="test")
        return client

    yield connect
    for client in clients:
        await client.close()
