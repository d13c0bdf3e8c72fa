"""A real `streamlit run` server on 127.0.0.1 and Debian's Chromium driven by Playwright.

One server per test module (``app_server``; a module sets its ``server_environment``), and
per test its own review store (``server``): the server reads ``config.toml`` in its home on
every run, so each test's rows go to a file of its own (``server.reviews_path``). Teaching
sessions, studies and the case index stay in the module's home. One Chromium per module,
a fresh browser context (a fresh Streamlit session) per test (``page``).

Screenshots go to ``artifacts/screenshots/`` (look at them). Without Chromium these
tests skip, except under CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.browser.app_runs import RUN_TRACKER_JS
from tests.conftest import REPO

SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Seconds a server may take to answer its health check.
START_TIMEOUT_S = 120


@dataclass(frozen=True)
class AppServer:
    """A running app: base URL, ``ECGREVIEW_HOME``, the server's log, and the review store in use.

    Unpacks as ``url, home = server``.
    """

    url: str
    home: Path
    log_path: Path
    reviews_path: Path
    pid: int = 0

    def __iter__(self) -> Iterator:
        return iter((self.url, self.home))

    def log(self) -> str:
        """What the server has logged so far."""
        return self.log_path.read_text(errors="replace")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


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


def wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path, *,
                       timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll ``/_stcore/health`` until it answers 200; fail with the log if the server exits or times out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start: {log_path.read_text()}")
        time.sleep(0.2)  # the poll interval of a wait on the health check


@contextmanager
def serving(folder: Path, environment: dict[str, str], *, script: str = "app.py") -> Iterator[AppServer]:
    """``streamlit run <script>`` on a free port with ``ECGREVIEW_HOME=<folder>/home``; stopped on exit.

    The caller's ``ECGREVIEW_*`` variables are not passed on; ``environment`` is added.
    """
    port, home, log_path = _free_port(), folder / "home", folder / "server.log"
    folder.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("ECGREVIEW_")}
    env |= {"ECGREVIEW_HOME": str(home), "PYTHONUNBUFFERED": "1", **environment}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / script), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process, log_path)
            yield AppServer(url, home, log_path, home / "reviews.csv", process.pid)
        finally:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture(scope="module")
def server_environment() -> dict[str, str]:
    """Extra variables for the module's server; a test module overrides this (module-scoped) fixture."""
    return {}


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, server_environment) -> Iterator[AppServer]:
    """The module's `streamlit run app.py` (see :func:`serving`)."""
    with serving(tmp_path_factory.mktemp("server"), server_environment) as running:
        yield running


@pytest.fixture
def server(app_server: AppServer, request) -> Iterator[AppServer]:
    """The module's server with a review store of this test's own (``reviews`` in the home's ``config.toml``)."""
    app_server.home.mkdir(parents=True, exist_ok=True)
    reviews_path = app_server.home / "stores" / request.node.name[:80].replace("/", "_") / "reviews.csv"
    config = app_server.home / "config.toml"
    config.write_text(f"reviews = {json.dumps(str(reviews_path))}\n", encoding="utf-8")
    try:
        yield replace(app_server, reviews_path=reviews_path)
    finally:
        config.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium under Playwright, for the module."""
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A page in a fresh browser context (no cookies: a new Streamlit session) that tracks the app's runs."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    context.add_init_script(RUN_TRACKER_JS)
    try:
        yield context.new_page()
    finally:
        context.close()
