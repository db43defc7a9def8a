"""Browser tier: Playwright (sync API) driving Debian's chromium against one local stack per module.

Playwright cannot download its own browser here, so the session installs Debian's `chromium` package when
/usr/bin/chromium is missing, and launches it through `executable_path`.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.support import ROOT, running_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TIMEOUT_MS = 20_000  # per wait; generous for a loaded 2-core machine, never a sleep
TEST_TIMEOUT_S = 600  # pytest-timeout counts fixture set-up, and the first test may wait for apt-get install


def _install_chromium() -> None:
    """apt-get install chromium (we are root in `make test`); fail loudly, never skip, when it cannot."""
    if os.path.exists(CHROMIUM):
        return
    if shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} is missing and there is no apt-get to install it: install Debian's chromium package",
                    pytrace=False)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=480)
        except subprocess.TimeoutExpired:
            pytest.fail(f"installing chromium failed: `{' '.join(command)}` took more than 8 minutes", pytrace=False)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
            pytest.fail(f"installing chromium failed: `{' '.join(command)}` exited {done.returncode} "
                        f"(the browser tests need root and access to the Debian archive):\n{tail}", pytrace=False)
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} is still missing", pytrace=False)


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API keeps an event loop running in the main thread while it is
    open, and the end-to-end tests that follow in the same session call asyncio.run()."""
    _install_chromium()
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def stack():
    with running_stack() as running:
        yield running


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
