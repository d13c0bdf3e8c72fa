"""Load benchmark: N concurrent review sessions, each opening the demo ECG and saving a review.

Each session is a Streamlit ``AppTest`` of ``app.py`` in its own thread, as a browser
tab would be a session on the server: open the page (the demo ECG), answer every
class, save. ``ECGREVIEW_HOME`` points at a temporary folder (or ``--home``).

Run: ``.venv/bin/python bench/load_sessions.py --sessions 20``. Prints the open and
save latencies (p50, p95, max, in s) and the rows written; exit 1 when rows are lost.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

APP = str(REPO / "app.py")
_CLEARED = ("ECGREVIEW_MODEL", "ECGREVIEW_MODELS_DIR", "ECGREVIEW_REVIEWS", "ECGREVIEW_CASES", "ECGREVIEW_CONFIG")


@dataclass
class LoadReport:
    """Latencies in seconds per session, rows written, and the sessions' errors."""

    sessions: int
    open_s: list[float] = field(default_factory=list)
    save_s: list[float] = field(default_factory=list)
    rows_written: int = 0
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @staticmethod
    def _percentiles(values: list[float]) -> str:
        if not values:
            return "no data"
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return f"p50 {statistics.median(ordered):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s"

    def text(self) -> str:
        """A human-readable summary."""
        return "\n".join([
            f"{self.sessions} concurrent sessions in {self.wall_s:.1f} s",
            f"open (demo ECG shown): {self._percentiles(self.open_s)}",
            f"save (click to saved): {self._percentiles(self.save_s)}",
            f"open + save:           {self._percentiles([a + b for a, b in zip(self.open_s, self.save_s)])}",
            f"rows written: {self.rows_written} (expected {self.sessions})",
            *(f"error: {error}" for error in self.errors),
        ])


def _session(number: int, start_at: float) -> tuple[float, float]:
    """One reader: open the app, answer every class, save; the open and save latencies (s).

    Waits until the wall-clock time ``start_at`` so that all sessions start together.
    """
    from streamlit import config as streamlit_config
    from streamlit.testing.v1 import AppTest

    from ecgreview.record import CLASSES

    streamlit_config.set_option("client.showErrorDetails", "full")  # the benchmark reports real errors
    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    app = AppTest.from_file(APP, default_timeout=300).run()
    opened = time.perf_counter()
    if app.exception:
        raise RuntimeError(f"session {number} failed to open: {app.exception}")
    app.text_input(key="reader_name_widget").input(f"Load Reader {number:02d}")
    for control in app.button_group:
        if control.label in CLASSES:
            control.set_value("absent")
    button = next(button for button in app.button if button.label == "Save review")
    clicked = time.perf_counter()
    button.click()
    app.run()
    saved = time.perf_counter()
    if app.exception or not any("Saved review" in success.value for success in app.success):
        shown = [f"{kind}: {element.value}" for kind in ("error", "warning", "success", "toast")
                 for element in getattr(app, kind, [])]
        answers = {control.label: control.value for control in app.button_group if control.label in CLASSES}
        raise RuntimeError(f"session {number} did not save: {app.exception or shown}; form after run: {answers}")
    return opened - started, saved - clicked


def run_sessions(sessions: int, home: Path, *, mode: str = "threads") -> LoadReport:
    """Run ``sessions`` concurrent sessions with ``ECGREVIEW_HOME=home``; the report.

    ``mode`` ``"threads"`` runs every AppTest in a thread of this process (as the Streamlit
    server runs sessions); ``"processes"`` runs each in its own process (spawn), which
    isolates AppTest's process-wide state but still shares the one review CSV.
    """
    if mode not in ("threads", "processes"):
        raise ValueError(f"mode must be 'threads' or 'processes'; got {mode!r}")
    for variable in _CLEARED:
        os.environ.pop(variable, None)
    os.environ["ECGREVIEW_HOME"] = str(home)
    from ecgreview.review.store import read_reviews

    report = LoadReport(sessions)
    start_at = time.time() + (20.0 if mode == "processes" else 1.0)  # after the processes have imported
    executor = (ThreadPoolExecutor(max_workers=sessions) if mode == "threads" else
                ProcessPoolExecutor(max_workers=sessions, mp_context=multiprocessing.get_context("spawn")))
    with executor as pool:
        futures = [pool.submit(_session, number, start_at) for number in range(sessions)]
        for future in futures:
            try:
                open_s, save_s = future.result()
            except Exception as exc:  # noqa: BLE001 - reported, then counted by the caller
                report.errors.append(str(exc)[:500])
                continue
            report.open_s.append(open_s)
            report.save_s.append(save_s)
    report.wall_s = time.time() - start_at  # from the common start, not counting imports
    store = home / "reviews.csv"
    report.rows_written = len(read_reviews(store)) if store.exists() else 0
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark and print the report; 1 when a session failed or a row is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--mode", choices=("threads", "processes"), default="threads")
    parser.add_argument("--home", type=Path, help="ECGREVIEW_HOME to use (default: a new temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        report = run_sessions(args.sessions, args.home or Path(temporary), mode=args.mode)
        print(report.text())
    return 0 if report.rows_written == args.sessions and not report.errors else 1


if __name__ == "__main__":
    sys.exit(main())
