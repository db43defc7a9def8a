"""The handlers and the DynamoDB storage against moto in-process (`mock_aws`), on the infra template's tables."""
import gzip
import threading
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import moto
import pytest

from devstack import moto_server
from devstack.aws import FAKE_CREDENTIALS, deploy

MOTO_JWKS = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-public.json.gz"


@pytest.fixture(scope="session")
def jwks_url(tmp_path_factory):
    """moto's pool key set, served over HTTP on loopback as Cognito serves it."""
    folder = tmp_path_factory.mktemp("jwks")
    (folder / "jwks.json").write_bytes(gzip.decompress(MOTO_JWKS.read_bytes()))
    server = HTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


@pytest.fixture
def aws(jwks_url, monkeypatch):
    """Fresh moto with Parley's resources; the app's environment points at them."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with moto_server.in_process(threading.RLock()):
        env = deploy()
        env["JWKS_URL"] = jwks_url
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        from chalicelib.config import settings
        settings.cache_clear()
        yield env
        settings.cache_clear()
