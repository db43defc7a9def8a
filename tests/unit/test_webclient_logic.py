"""The web client's pure-logic modules, through Node's built-in test runner."""
import shutil
import subprocess
from pathlib import Path

import pytest

WEBCLIENT = Path(__file__).resolve().parents[2] / "webclient"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_webclient_store_and_socket_logic():
    result = subprocess.run(["node", "--test", "tests/"], cwd=WEBCLIENT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
