"""Load benchmark: N concurrent review sessions, each opening the demo ECG and saving a review.

Each session is a Streamlit ``AppTest`` of ``app.py`` in its own thread, as a browser
tab would be a session on the server: open the page (the demo ECG), answer every
class, save. ``ECGREVIEW_HOME`` points at a temporary folder (or ``--home``). Once a session has
opened, its process ends as a started server's warm-up ends (the start's objects frozen out of the full
garbage collections, ``ecgreview.ui.warm_start.settle_heap``; since 2026-12-04).

Run: ``.venv/bin/python bench/load_sessions.py --sessions 20 [--profile]``. Prints the open and
save latencies (p50, p95, max, in s) and the rows written; exit 1 when rows are lost. The saves are
clicked together, once every session has opened its case (``--staggered``: each as soon as its session
has opened, so that early saves share the cores with other sessions' first runs).

Baseline in the same run: the same number of concurrent sessions of a bare Streamlit page (a title and
one button; its click run is timed as a save is), so that the figures read as a ratio to what Streamlit
itself costs on this machine under this load (the load average is printed). Target (issue #23): save
p95 <= 1 s with 20 sessions on the 2-core machine. ``--profile`` samples the script threads every 2 ms
during the sessions' runs and prints the share of samples in each ecgreview function (cumulative):
what a run repeats.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    save_cpu_s: list[float] = field(default_factory=list)
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
            f"save, CPU of its process: {self._percentiles(self.save_cpu_s)}",
            f"open + save:           {self._percentiles([a + b for a, b in zip(self.open_s, self.save_s)])}",
            f"rows written: {self.rows_written} (expected {self.sessions})",
            *(f"error: {error}" for error in self.errors),
        ])


def _session(number: int, start_at: float, opened_all: Any = None) -> tuple[float, float, float]:
    """One reader: open the app, answer every class, save; the open and save latencies (s), and the CPU
    seconds its process used for the save (every thread: the script's and AppTest's).

    Waits until the wall-clock time ``start_at`` so that all sessions start together, and, with
    ``opened_all`` (a barrier of all sessions), until every session has opened its case and
    answered, so that the saves are clicked together and do not share the cores with other
    sessions' first run (2 CPU s each: imports, the case read).
    """
    from streamlit import config as streamlit_config
    from streamlit.testing.v1 import AppTest

    from ecgreview.record import CLASSES

    streamlit_config.set_option("client.showErrorDetails", "full")  # the benchmark reports real errors
    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    try:
        app = AppTest.from_file(APP, default_timeout=300).run()
        if app.exception:
            raise RuntimeError(f"session {number} failed to open: {app.exception}")
    except Exception:
        if opened_all is not None:
            opened_all.abort()  # the others stop waiting for this one
        raise
    opened = time.perf_counter()
    _as_a_started_server()
    app.text_input(key="reader_name_widget").input(f"Load Reader {number:02d}")
    for control in app.button_group:
        if control.label in CLASSES:
            control.set_value("absent")
    button = next(button for button in app.button if button.label == "Save review")
    if opened_all is not None:
        opened_all.wait(timeout=900)
    clicked, cpu_before = time.perf_counter(), time.process_time()
    button.click()
    app.run()
    saved, cpu_after = time.perf_counter(), time.process_time()
    if app.exception or not any("Saved review" in success.value for success in app.success):
        shown = [f"{kind}: {element.value}" for kind in ("error", "warning", "success", "toast")
                 for element in getattr(app, kind, [])]
        answers = {control.label: control.value for control in app.button_group if control.label in CLASSES}
        raise RuntimeError(f"session {number} did not save: {app.exception or shown}; form after run: {answers}")
    return opened - started, saved - clicked, cpu_after - cpu_before


def _as_a_started_server() -> None:
    """In a session's own process (processes mode), once its first run has imported and cached what a server's
    warm-up does: end as the server's warm start ends (:func:`ecgreview.ui.warm_start.settle_heap`, the start's
    objects frozen out of the full garbage collections). In threads mode the barrier does it once for the process."""
    if multiprocessing.parent_process() is not None:
        from ecgreview.ui.warm_start import settle_heap

        settle_heap()


_BARE_PAGE = """import streamlit as st

st.title("Bare page")
if st.button("Save"):
    st.success("Saved")
"""


def _bare_session(script: str, start_at: float, opened_all: Any = None) -> tuple[float, float]:
    """The baseline: a bare page opened and its button clicked (with ``opened_all``, together), timed as a
    session's open and save."""
    from streamlit.testing.v1 import AppTest

    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    app = AppTest.from_file(script, default_timeout=300).run()
    opened = time.perf_counter()
    _as_a_started_server()
    if opened_all is not None:
        opened_all.wait(timeout=900)
    clicked = time.perf_counter()
    app.button[0].click()
    app.run()
    if not app.success:
        raise RuntimeError("the bare page did not answer its click")
    return opened - started, time.perf_counter() - clicked


def run_baseline(sessions: int, folder: Path, *, mode: str = "threads", together: bool = True) -> LoadReport:
    """``sessions`` concurrent bare-page sessions (see :func:`_bare_session`), run as the app's are (``mode``,
    ``together``)."""
    script = folder / "bare_page.py"
    script.write_text(_BARE_PAGE, encoding="utf-8")
    report = LoadReport(sessions)
    start_at = time.time() + (20.0 if mode == "processes" else 1.0)
    executor = (ThreadPoolExecutor(max_workers=sessions) if mode == "threads" else
                ProcessPoolExecutor(max_workers=sessions, mp_context=multiprocessing.get_context("spawn")))
    manager, opened_all = _barrier(sessions, mode=mode, together=together)
    with executor as pool:
        for open_s, save_s in pool.map(_bare_session, [str(script)] * sessions, [start_at] * sessions,
                                       [opened_all] * sessions):
            report.open_s.append(open_s)
            report.save_s.append(save_s)
    report.wall_s = time.time() - start_at
    if manager is not None:
        manager.shutdown()
    return report


def _barrier(sessions: int, *, mode: str, together: bool) -> tuple[Any, Any]:
    """(the manager process to shut down or None, a barrier for ``sessions`` sessions or None)."""
    if not together:
        return None, None
    if mode == "threads":
        from ecgreview.ui.warm_start import settle_heap

        return None, threading.Barrier(sessions, action=settle_heap)  # once every session has opened
    manager = multiprocessing.get_context("spawn").Manager()
    return manager, manager.Barrier(sessions)


def fill_store(path: Path, rows: int) -> None:
    """Write ``rows`` readings of other cases than the demo ECG (3 readers per case) to the review store at
    ``path``, as a department's store holds after a year of reading; in one write (saving them one by one would
    take the benchmark's time)."""
    import uuid

    from ecgreview.record import CLASSES
    from ecgreview.review import store as reviews
    from ecgreview.review._store_csv import _csv_line

    first = reviews.Review.create(reader="Reader 0", reader_calls=dict.fromkeys(CLASSES, "absent"),
                                  source_sha256=f"{0:064x}", opinions_seen=True, probabilities=[0.1] * len(CLASSES),
                                  model_name="ribeiro-2020", comment="a reading of another case")
    reviews.append_review(path, first)
    template = first.to_row()
    lines = []
    for number in range(1, rows):
        template |= {"review_id": str(uuid.uuid4()), "source_sha256": f"{number // 3:064x}",
                     "reader": f"Reader {number % 3}"}
        lines.append(_csv_line([reviews._guard(column, value) for column, value in template.items()]))
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(lines))


def run_sessions(sessions: int, home: Path, *, mode: str = "threads", together: bool = True,
                 store_rows: int = 0) -> LoadReport:
    """Run ``sessions`` concurrent sessions with ``ECGREVIEW_HOME=home``; the report.

    ``store_rows``: the review store holds that many readings of other cases before the sessions start
    (:func:`fill_store`).

    ``together``: the saves are clicked at once, after every session has opened (a barrier);
    otherwise each session saves as soon as it has opened, while others are still opening.

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

    store = home / "reviews.csv"
    if store_rows:
        home.mkdir(parents=True, exist_ok=True)
        fill_store(store, store_rows)
    report = LoadReport(sessions)
    start_at = time.time() + (20.0 if mode == "processes" else 1.0)  # after the processes have imported
    executor = (ThreadPoolExecutor(max_workers=sessions) if mode == "threads" else
                ProcessPoolExecutor(max_workers=sessions, mp_context=multiprocessing.get_context("spawn")))
    manager, opened_all = _barrier(sessions, mode=mode, together=together)
    with executor as pool:
        futures = [pool.submit(_session, number, start_at, opened_all) for number in range(sessions)]
        for future in futures:
            try:
                open_s, save_s, save_cpu_s = future.result()
            except Exception as exc:  # noqa: BLE001 - reported, then counted by the caller
                report.errors.append(str(exc)[:500])
                continue
            report.open_s.append(open_s)
            report.save_s.append(save_s)
            report.save_cpu_s.append(save_cpu_s)
    report.wall_s = time.time() - start_at  # from the common start, not counting imports
    if manager is not None:
        manager.shutdown()
    report.rows_written = len(read_reviews(store)) - store_rows if store.exists() else 0
    return report


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark and print the report; 1 when a session failed or a row is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--mode", choices=("threads", "processes"), default="processes",
                        help="AppTest sessions in threads of one process (as a server runs them; AppTest is not "
                             "thread-safe: some sessions fail) or one process each (default)")
    parser.add_argument("--home", type=Path, help="ECGREVIEW_HOME to use (default: a new temporary folder)")
    parser.add_argument("--store-rows", type=int, default=20_000,
                        help="readings of other cases in the review store before the sessions start (default 20,000: "
                             "a department's year; 0: an empty store, the figures before 2026-12-04)")
    parser.add_argument("--profile", action="store_true", help="sample the script threads (threads mode)")
    parser.add_argument("--staggered", action="store_true",
                        help="each session saves as soon as it has opened (the figures before 2026-12-03 23:30), "
                             "not all together once every session has opened")
    args = parser.parse_args(argv)
    if args.profile and args.mode != "threads":
        parser.error("--profile samples the threads of this process: use it with --mode threads")
    with tempfile.TemporaryDirectory() as temporary:
        baseline = run_baseline(args.sessions, Path(temporary), mode=args.mode, together=not args.staggered)
        sampler = _Sampler() if args.profile else None
        report = run_sessions(args.sessions, args.home or Path(temporary) / "home", mode=args.mode,
                              together=not args.staggered, store_rows=args.store_rows)
        if sampler is not None:
            sampler.stop()
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"machine: {os.cpu_count()} CPUs, load average {load}; Python {sys.version.split()[0]}")
        print(f"baseline, bare Streamlit page: {baseline.text().splitlines()[1].split(': ', 1)[1]} (open); "
              f"{LoadReport._percentiles(baseline.save_s)} (click)")
        together = "each when its session opened" if args.staggered else "all together, once every session opened"
        print(f"saves: {together}; the review store held {args.store_rows:,} readings of other cases")
        print(report.text())
        if report.save_s and baseline.save_s:
            print(f"save p95 vs bare page click p95: {_p95(report.save_s) / _p95(baseline.save_s):.1f}x")
            met = _p95(report.save_s) <= 1.0
            print(f"target: {'met   ' if met else 'MISSED'} save p95 <= 1 s with {args.sessions} sessions: "
                  f"{_p95(report.save_s):.2f} s")
        if sampler is not None:
            print(sampler.text())
    return 0 if report.rows_written == args.sessions and not report.errors else 1


class _Sampler:
    """Samples the stacks of every other thread every 2 ms; counts, per ecgreview function, the samples it is in."""

    def __init__(self, interval_s: float = 0.002) -> None:
        import collections
        import threading

        self.counts: collections.Counter[str] = collections.Counter()
        self.samples = 0
        self._interval_s, self._running = interval_s, True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import threading
        import traceback

        own = threading.get_ident()
        while self._running:
            time.sleep(self._interval_s)
            for ident, frame in sys._current_frames().items():
                names = {f"{Path(entry.filename).name}:{entry.name}" for entry in traceback.extract_stack(frame)
                         if "/ecgreview/" in entry.filename or entry.filename.endswith("app.py")}
                if ident != own and names:
                    self.samples += 1
                    self.counts.update(names)

    def stop(self) -> None:
        self._running = False
        self._thread.join()

    def text(self, top: int = 25) -> str:
        """The ``top`` functions by share of the samples taken in ecgreview code."""
        lines = [f"profile: {self.samples} samples of script threads in ecgreview code (cumulative share)"]
        lines += [f"  {count / max(self.samples, 1):6.1%}  {name}" for name, count in self.counts.most_common(top)]
        return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
