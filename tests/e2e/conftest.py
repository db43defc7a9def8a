import pytest

from tests.e2e.support import running_stack


@pytest.fixture(scope="session")
def stack():
    with running_stack() as running:
        yield running
