"""Load: N concurrent readers in real Chromium pages against one `streamlit run` server.

Each reader opens the demo ECG, answers the six classes, saves, and waits for the
"Saved review" confirmation. Prints latency percentiles (open, save) and checks that
the review CSV holds exactly one intact row per acknowledged save.

    .venv/bin/python bench/load_browser.py --sessions 20

Needs Debian's Chromium (/usr/bin/chromium). Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ecgreview.record import CLASSES  # noqa: E402
from ecgreview.review.store import read_reviews  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _start_server(home: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith("ECGREVIEW_")}
    env["ECGREVIEW_HOME"] = str(home)
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"),
                                "--server.port", str(port), "--server.address", "127.0.0.1"],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("server did not start")


async def _reader(browser, url: str, number: int, timings: list, failures: list) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(300_000)  # 20 pages share 2 cores: slow, not broken
    page = await context.new_page()
    try:
        started = time.perf_counter()
        await page.goto(url)
        await page.get_by_text("RITMO SINUSALE").first.wait_for(timeout=300_000)
        opened = time.perf_counter()
        await page.get_by_label("Reader", exact=True).fill(f"Load reader {number:02d}")
        await page.get_by_label("Reader", exact=True).press("Enter")
        for name in CLASSES:
            group = page.locator('[data-testid="stRadio"]').filter(has=page.get_by_text(name, exact=True))
            await group.get_by_text("absent", exact=True).click(timeout=300_000)
        clicked = time.perf_counter()
        await page.get_by_role("button", name="Save review").click(timeout=300_000)
        await page.get_by_text("Saved review").wait_for(timeout=300_000)
        timings.append((opened - started, time.perf_counter() - clicked))
    except Exception as exc:  # reported, counted: a session that did not get its confirmation
        failures.append(f"reader {number}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        await context.close()


async def _run(sessions: int, url: str) -> tuple[list, list]:
    from playwright.async_api import async_playwright

    timings: list = []
    failures: list = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
        await asyncio.gather(*(_reader(browser, url, number, timings, failures) for number in range(sessions)))
        await browser.close()
    return timings, failures


def _percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"p50 {statistics.median(ordered):.1f} s, p95 {p95:.1f} s, max {ordered[-1]:.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        process, url = _start_server(home)
        try:
            timings, failures = asyncio.run(_run(args.sessions, url))
        finally:
            process.terminate()
            process.wait(timeout=30)
        rows = read_reviews(home / "reviews.csv")
        readers = sorted(rows["reader"]) if len(rows) else []
    print(f"{args.sessions} concurrent browser sessions; {len(timings)} saves acknowledged; "
          f"{len(rows)} rows in the CSV ({len(set(readers))} distinct readers)")
    print(f"open (to device statements): {_percentiles([t[0] for t in timings])}")
    print(f"save (click to confirmation): {_percentiles([t[1] for t in timings])}")
    for failure in failures:
        print("  not acknowledged:", failure)
    acknowledged_all_present = len(rows) >= len(timings) and len(set(readers)) == len(rows)
    return 0 if acknowledged_all_present and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
