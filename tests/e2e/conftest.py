import pytest

from tests.e2e.support import running_stack


@pytest.fixture(scope="session")
def stack():
    # Tests here send bursts of up to 100 messages from one user to set a scene; the default send limit
    # (tests/reliability/test_abuse.py) would refuse them.
    with running_stack({"SEND_LIMIT": "1000"}) as running:
        yield running
