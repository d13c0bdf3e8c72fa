"""The reading room's speed in a real browser, beside a bare Streamlit page measured in the same run.

    .venv/bin/python bench/bench_reading_room.py            # about 2 minutes on 2 cores

One run starts two servers on 127.0.0.1 — a bare Streamlit page (the baseline: what
Streamlit itself costs to load and settle on this machine) and the app on the bundled
demo cases with fixture weights in the released layout (random values; speed does not
depend on them) — and drives Debian's Chromium at 1600 x 1000 through what a reader does:

* **bare page**: load and settle (the baseline every figure is divided by);
* **first case after start**: the app's server started (on an index kept from an earlier run, as after a
  restart), then at once the worklist's first case by its link in a new browser context (nothing cached
  in the browser), against the bare page loaded in a new context (``bare page (new browser)``); once per
  start, ``--starts`` times;
* **first open**: a demo case never opened before, by its ``?case=`` link in a new tab
  (page load + read + DNN + figures);
* **cached open (link)**: a case opened before, by its link, in a new tab (page load included);
* **cached open (worklist)**: a case opened before, from the worklist (key ``O``), in the same tab;
* **next case (N)**: the next case of the worklist, which the page prefetched while the reader read;
* **key press**: ``P`` / ``A`` on a class until its radio shows it (median of 12);
* **save and next (S)**: until the next case is shown and settled;
* **bytes**: what the server sent over the websocket for one cached open.

"Settled" means Streamlit's running indicator is gone and the ECG, the device panel and
the DNN panel are on screen. Prints a table (seconds, ratio to the bare page) and the
issue's targets met or missed. Needs Debian's Chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ecgreview.examples import DEMO_CASES_DIR  # noqa: E402
from ecgreview.io import list_case_files, read_ecg  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1000}
BARE_APP = 'import streamlit as st\nst.title("Bare page")\nst.write("baseline")\n'
TIMEOUT_MS = 120_000
#: (figure, target in seconds or bytes, unit) from the issue.
TARGETS = {"first case after start": (2.0, "s"), "cached open (worklist)": (1.5, "s"), "cached open (link)": (1.5, "s"), "first open": (3.0, "s"), "key press": (0.15, "s"),
           "save and next": (1.5, "s"), "next case (N)": (1.5, "s"), "bytes (cached open)": (500_000, "B")}


@contextmanager
def _server(app: Path, env: dict[str, str], processes: list[subprocess.Popen] | None = None):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clean = {key: value for key, value in os.environ.items() if not key.startswith("ECGREVIEW_")}
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
                                "--server.address", "127.0.0.1", "--server.headless", "true"],
                               cwd=REPO, env=clean | env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if processes is not None:  # the caller measures its CPU time (bench_case_switch.py)
        processes.append(process)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server for {app} did not start")
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


class _Wire:
    """Bytes the server sends over the page's websocket."""

    def __init__(self, page) -> None:
        self.received = 0
        page.on("websocket", lambda socket: socket.on("framereceived", self._count))

    def _count(self, payload) -> None:
        self.received += len(payload)


def _settle(page, *, case: bool) -> None:
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=TIMEOUT_MS)
    if case:
        for test_id in ("ecg-trace", "device-panel", "dnn-panel"):
            page.locator(f".st-key-{test_id}").first.wait_for(state="visible", timeout=TIMEOUT_MS)
        page.locator(".st-key-ecg-trace svg.ecg-paper-svg path.ecg-lead").first.wait_for(state="visible",
                                                                                          timeout=TIMEOUT_MS)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT_MS)


#: The case shown: the "File <name>" of its header ('' when none).
FILE_JS = """() => {
  const node = [...document.querySelectorAll('p, span, div')].find(node => node.childElementCount === 0 &&
    /^File \\S+/.test(node.textContent.trim()));
  return node ? node.textContent.trim().split(/\\s+/)[1] : '';
}"""


def _another_case(page, shown: str) -> None:
    """Wait until the page shows a case other than ``shown`` (a file name; '' for none), then until it settles.

    The worklist's order is the index's (not the folder listing's), so the name itself is not assumed."""
    page.wait_for_function(f"shown => {{ const now = ({FILE_JS})(); return now !== '' && now !== shown; }}",
                           arg=shown, timeout=TIMEOUT_MS)
    _settle(page, case=True)


def _timed_load(page, url: str, *, case: bool) -> float:
    start = time.perf_counter()
    page.goto(url)
    _settle(page, case=case)
    return time.perf_counter() - start


def _checked(page, class_name: str, call: str) -> str:
    """JS: whether the reader's call on ``class_name`` shows ``call`` (its segmented control's active option)."""
    return (f"() => [...document.querySelectorAll('.st-key-call-{class_name} "
            "[role=radio][aria-checked=true]')]"
            f".some(button => button.innerText.trim() === '{call}')")


def _sign_in(page) -> None:
    """Type the reader's name (name mode), then leave the box so that single keys are shortcuts again."""
    box = page.get_by_label("Reader", exact=True)
    box.fill("bench")
    box.press("Enter")
    _settle(page, case=True)
    page.evaluate("document.activeElement.blur()")


def _key_press(page, key: str, class_name: str, call: str) -> float:
    start = time.perf_counter()
    page.keyboard.press(key)
    page.wait_for_function(_checked(page, class_name, call), timeout=TIMEOUT_MS, polling="raf")
    return time.perf_counter() - start


def first_cases_after_start(env: dict[str, str], bare_url: str, browser, starts: int,
                            figures: dict[str, list[float]]) -> None:
    """``starts`` times: start the app's server on an index kept from an earlier run (a restart), wait until
    it answers (its warm-up has run: the health check answers after it), open the worklist's first case by
    its link in a new browser context, and load the bare page in another new context (the baseline)."""
    from ecgreview.config import Settings
    from ecgreview.record import THRESHOLDS
    from ecgreview.review.index_updater import update_case_index
    from ecgreview.review.worklist import INDEX_FILE, CaseIndex

    settings = Settings.from_env(env)
    update_case_index(settings)  # the index an earlier run of the server left
    first = CaseIndex(settings.home / INDEX_FILE).cases(thresholds=THRESHOLDS)[0].source_sha256
    for _ in range(starts):
        with _server(REPO / "app.py", env) as url:
            for name, address, case in (("first case after start", f"{url}/review?case={first}", True),
                                         ("bare page (new browser)", bare_url, False)):
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                figures[name].append(_timed_load(page, address, case=case))
                context.close()


def run(rounds: int, starts: int = 3) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    from ecgreview.record import CLASSES
    from tests.ui.reading_room_fixtures import write_fixture_weights

    figures: dict[str, list[float]] = {name: [] for name in
                                       ("bare page", "bare page (new browser)", "first case after start", "first open", "cached open (link)", "cached open (worklist)",
                                        "next case (N)", "key press",
                                        "save and next", "bytes (cached open)", "bytes (bare page)")}
    files = list_case_files(DEMO_CASES_DIR)
    cases = [read_ecg(path).source_sha256 for path in files]
    if 4 * rounds + 3 > len(cases):
        raise SystemExit(f"--rounds at most {(len(cases) - 3) // 4} with {len(cases)} demo cases")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        bare = folder / "bare_app.py"
        bare.write_text(BARE_APP)
        weights = write_fixture_weights(folder / "weights.hdf5")
        env = {"ECGREVIEW_HOME": str(folder / "home"), "ECGREVIEW_MODEL": str(weights)}
        with _server(bare, {}) as bare_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
            first_cases_after_start(env, bare_url, browser, starts, figures)
            browser.close()
        with _server(bare, {}) as bare_url, _server(REPO / "app.py", env) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            _timed_load(page, f"{url}/worklist", case=False)  # warm: model load, index of the demo cases
            _timed_load(page, f"{url}/?case={cases[-1]}", case=True)  # warm: first case, figures code
            _timed_load(page, f"{url}/?case={cases[0]}", case=True)  # the worklist's first case, opened once
            for round_index in range(rounds):
                base = 4 * round_index  # opening a case prefetches the next: 4 apart, every first open is cold
                page = context.new_page()
                wire = _Wire(page)
                figures["bare page"].append(_timed_load(page, bare_url, case=False))
                figures["bytes (bare page)"].append(wire.received)
                page.close()
                page = context.new_page()
                _timed_load(page, f"{url}/worklist", case=False)
                page.get_by_text("Open first case").first.wait_for()
                page.wait_for_timeout(1500)  # the reader looks at the worklist
                start = time.perf_counter()
                page.keyboard.press("o")
                try:
                    _another_case(page, "")
                except Exception:
                    _shot_on_failure(page, "worklist-open")
                    raise
                figures["cached open (worklist)"].append(time.perf_counter() - start)
                page.close()
                page = context.new_page()
                figures["first open"].append(_timed_load(page, f"{url}/?case={cases[base]}", case=True))
                page.close()
                page = context.new_page()
                wire = _Wire(page)
                figures["cached open (link)"].append(_timed_load(page, f"{url}/?case={cases[base]}", case=True))
                figures["bytes (cached open)"].append(wire.received)
                _sign_in(page)
                page.wait_for_timeout(1500)  # the reader reads; the next case is prefetched meanwhile
                shown = page.evaluate(FILE_JS)
                start = time.perf_counter()
                page.keyboard.press("n")
                _another_case(page, shown)
                figures["next case (N)"].append(time.perf_counter() - start)
                page.keyboard.press("1")
                for class_name in CLASSES:
                    key, call = ("p", "present") if class_name in ("AF", "ST") else ("a", "absent")
                    figures["key press"].append(_key_press(page, key, class_name, call))
                page.wait_for_timeout(1000)
                shown = page.evaluate(FILE_JS)
                start = time.perf_counter()
                page.keyboard.press("s")
                try:
                    _another_case(page, shown)
                except Exception:
                    _shot_on_failure(page, "save-and-next")
                    raise
                figures["save and next"].append(time.perf_counter() - start)
                page.close()
            browser.close()
    return figures


#: The figures divided by another baseline than the bare page in the page's browser context.
BASELINE_OF = {"first case after start": "bare page (new browser)"}


def report(figures: dict[str, list[float]]) -> str:
    lines = [f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}; "
             f"Chromium {VIEWPORT['width']}x{VIEWPORT['height']}; demo cases, fixture weights", "",
             f"{'figure':<24} {'median':>10} {'max':>10} {'vs bare page':>13}"]
    for name, values in figures.items():
        if name.startswith("bytes"):
            ratio = statistics.median(values) / max(statistics.median(figures["bytes (bare page)"]), 1)
            lines.append(f"{name:<24} {statistics.median(values) / 1000:>8.0f}kB {max(values) / 1000:>8.0f}kB "
                         f"{ratio:>12.2f}x")
        else:
            baseline = statistics.median(figures[BASELINE_OF.get(name, "bare page")])
            lines.append(f"{name:<24} {statistics.median(values):>9.3f}s {max(values):>9.3f}s "
                         f"{statistics.median(values) / baseline:>12.2f}x")
    lines += ["", "targets (median):"]
    for name, (target, unit) in TARGETS.items():
        value = statistics.median(figures[name])
        shown = f"{value / 1000:.0f} kB <= {target / 1000:.0f} kB" if unit == "B" else f"{value:.3f} s <= {target} s"
        lines.append(f"  {'met   ' if value <= target else 'MISSED'} {name}: {shown}")
    return "\n".join(lines)


def _shot_on_failure(page, name: str) -> None:
    try:
        page.screenshot(path=f"/tmp/bench-failure-{name}.png", full_page=True)
    except Exception:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="cases opened per figure (default 4)")
    parser.add_argument("--starts", type=int, default=3, help="server starts for the first case after start (default 3)")
    arguments = parser.parse_args()
    print(report(run(arguments.rounds, arguments.starts)))


if __name__ == "__main__":
    main()
