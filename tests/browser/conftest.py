"""A real `streamlit run` server on 127.0.0.1 and Debian's Chromium driven by Playwright.

Screenshots go to ``artifacts/screenshots/`` (look at them). Without Chromium these
tests skip, except under CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium); test.sh installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server_environment() -> dict[str, str]:
    """Extra ``ECGREVIEW_*`` variables for the server; a test module overrides this fixture."""
    return {}


@pytest.fixture
def server(tmp_path, server_environment) -> Iterator[tuple[str, Path]]:
    """(base URL, ECGREVIEW_HOME) of a fresh app server; stopped after the test."""
    port, home = _free_port(), tmp_path / "home"
    env = {key: value for key, value in os.environ.items() if not key.startswith("ECGREVIEW_")}
    env |= {"ECGREVIEW_HOME": str(home), "PYTHONUNBUFFERED": "1", **server_environment}
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {(tmp_path / 'server.log').read_text()}")
                time.sleep(0.3)
        yield url, home
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        yield context.new_page()
        context.close()
        browser.close()
