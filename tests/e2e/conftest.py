"""Fixtures for the browser tests: a real ``streamlit run app.py`` and Debian's Chromium via Playwright.

- ``app_server``: the app served on a free local port (``.url``), with its own
  ``PLAYGROUND_HOME`` (``.home``, a temp dir) and ``HF_HUB_OFFLINE=1``;
  stopped (its whole process group) after the module. The server log is written to
  ``tests/artifacts/streamlit-server.log``.
- ``page``: a fresh Chromium page (downloads accepted).
- Both skip when what they need is missing (the fetched offline model,
  ``/usr/bin/chromium``, Playwright), unless ``PLAYGROUND_REQUIRE_OFFLINE_MODEL=1``
  / ``PLAYGROUND_REQUIRE_BROWSER=1`` (set by ``make test``), which turn a
  missing piece into a failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import OFFLINE_ALIAS, offline_bundle_available

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_S = 60


def _missing(what: str, env: str) -> None:
    if os.environ.get(env) == "1":
        pytest.fail(f"{what} ({env}=1 requires it)")
    pytest.skip(what)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"streamlit did not answer on {url} within {SERVER_START_S} s:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class AppServer:
    url: str
    home: Path


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    if not offline_bundle_available():
        _missing(
            f"{OFFLINE_ALIAS} is not fetched (python -m core fetch {OFFLINE_ALIAS})", "PLAYGROUND_REQUIRE_OFFLINE_MODEL"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    home = tmp_path_factory.mktemp("e2e-home")
    env = {
        **os.environ,
        "PLAYGROUND_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.pop("PLAYGROUND_DEFAULT_MODEL", None)  # the app's own default: the offline model
    log = ARTIFACTS / "streamlit-server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield AppServer(url, home)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (apt-get install chromium)", "PLAYGROUND_REQUIRE_BROWSER")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed", "PLAYGROUND_REQUIRE_BROWSER")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
