"""Review-store benchmark: append latency at 200 vs 20,000 rows (a ratio), and read time.

Usage: ``.venv/bin/python bench/bench_review_store.py [--small 200] [--large 20000] [--appends 40]``

Builds two stores in a temporary folder (rows generated from one realistic review with
fresh review ids, written in one go: building them with ``append_review`` would itself
take the benchmark's time), then times ``--appends`` calls of ``append_review`` on each,
round-robin so that load from other processes hits both alike. Reports the median and
95th percentile per store and the large/small ratio of the medians (store v2 promises
a ratio near 1: an append reads only the header and the tail). Then the read time of
the large store: the first ``read_reviews`` (a parse) and a repeated one (the cache). Then a page's
question after each of ``--saves`` saves (one case's latest readings and history, ``review.readings``),
round-robin on both stores: median, 99th percentile and max per store and the large/small ratio of the
medians (since 2026-12-04 a version costs its new rows; the rows read since join the base once per 256
rows, the max).

With ``--compare-v01`` (default when git holds the 0.1 store, see
``tests/review/v01_fixture.py``) the same appends run through the 0.1 code on 0.1
stores, for the before/after figures. Always exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecgreview.record import CLASSES  # noqa: E402
from ecgreview.review import readings  # noqa: E402
from ecgreview.review import store as reviews  # noqa: E402
from ecgreview.review._store_csv import _csv_line  # noqa: E402
from ecgreview.review.store import REVIEW_COLUMNS, Review, read_reviews  # noqa: E402


def _review(module: object = reviews, case: str = "a" * 64) -> object:
    return module.Review.create(  # type: ignore[attr-defined]
        reader="Dr Müller", reader_calls=dict(zip(CLASSES, ["present", "absent", "uncertain"] * 2)),
        source_sha256=case, opinions_seen=True, probabilities=[0.5, 0.01, 0.9, 0.1, 0.2, 0.3],
        model_name="ribeiro-2020", model_sha256="c" * 64, model_git_blob_sha1="d" * 40, model_status="verified",
        device_calls={"AF": "definite"}, device_statements=("Sinus rhythm", "Normal ECG"),
        comment='A comment, with "quotes"\nand a second line', provenance={"weights": "model.hdf5", "python": "3.11"})


def _build(path: Path, rows: int, columns: tuple[str, ...], line: Callable[[list[str]], str], module: object) -> None:
    template = _review(module).to_row()  # type: ignore[attr-defined]
    parts = [",".join(columns) + "\n"]
    for _ in range(rows):
        template["review_id"] = str(uuid.uuid4())
        parts.append(line([module._guard(column, template[column]) for column in columns]))  # type: ignore[attr-defined]
    path.write_text("".join(parts), encoding="utf-8")


def _time_appends(stores: dict[str, Path], appends: int, module: object) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(appends):
        for name, path in stores.items():
            review = _review(module)
            start = time.perf_counter()
            module.append_review(path, review)  # type: ignore[attr-defined]
            times[name].append(time.perf_counter() - start)
    return times


def _summary(label: str, times: dict[str, list[float]], small: int, large: int) -> None:
    medians = {}
    for name, values in times.items():
        values = sorted(values)
        medians[name] = statistics.median(values)
        p95 = values[max(0, int(round(0.95 * len(values))) - 1)]
        print(f"  {label:<8} {name:>6} rows: append median {medians[name] * 1e3:6.2f} ms, p95 {p95 * 1e3:6.2f} ms")
    print(f"  {label:<8} ratio {large}/{small} rows (medians): {medians['large'] / medians['small']:.2f}x")


def _readings_after_saves(stores: dict[str, Path], saves: int, small: int, large: int) -> None:
    """A case's latest readings and history asked for after each save, on both stores in turn (the Review page
    asks this of each new version); prints median, p99 and max per store and the ratio of the medians."""
    case = "b" * 64  # a case of its own (the stores' rows are all of case "a")
    times: dict[str, list[float]] = {name: [] for name in stores}
    for name, path in stores.items():
        readings.case_readings(path, case)  # the first read of the store: its whole parse (timed above)
    for _ in range(saves):
        for name, path in stores.items():
            reviews.append_review(path, _review(case=case))
            start = time.perf_counter()
            readings.case_readings(path, case)
            readings.case_history(path, case)
            times[name].append(time.perf_counter() - start)
    for name, rows in (("small", small), ("large", large)):
        ordered = sorted(times[name])
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        print(f"  v2       {rows:>6} rows: a case's readings after each of {saves} saves: median "
              f"{statistics.median(ordered) * 1e3:.2f} ms, p99 {p99 * 1e3:.1f} ms, max {ordered[-1] * 1e3:.1f} ms")
    ratio = statistics.median(times["large"]) / statistics.median(times["small"])
    print(f"  v2       ratio {large}/{small} rows (medians): {ratio:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=20_000)
    parser.add_argument("--appends", type=int, default=40)
    parser.add_argument("--saves", type=int, default=300, help="saves, each followed by a case's readings")
    parser.add_argument("--compare-v01", choices=("auto", "yes", "no"), default="auto")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}; "
          f"Python {sys.version.split()[0]}; {args.appends} appends per store, round-robin")
    with tempfile.TemporaryDirectory(prefix="bench-review-store-") as folder:
        stores = {"small": Path(folder) / "small.csv", "large": Path(folder) / "large.csv"}
        for name, rows in (("small", args.small), ("large", args.large)):
            _build(stores[name], rows, REVIEW_COLUMNS, _csv_line, reviews)
        size_mb = stores["large"].stat().st_size / 1e6
        print(f"stores: {args.small} and {args.large} rows ({size_mb:.1f} MB)")
        _summary("v2", _time_appends(stores, args.appends, reviews), args.small, args.large)
        start = time.perf_counter()
        rows = len(read_reviews(stores["large"]))
        parse_s = time.perf_counter() - start
        start = time.perf_counter()
        read_reviews(stores["large"])
        cached_s = time.perf_counter() - start
        print(f"  v2       read {rows} rows: first (parse) {parse_s:.2f} s, unchanged again (cache) "
              f"{cached_s * 1e3:.2f} ms")
        start = time.perf_counter()
        converted = [Review.from_row(row) for row in read_reviews(stores["large"]).to_dict("records")]
        print(f"  v2       Review.from_row on {len(converted)} rows: {time.perf_counter() - start:.2f} s")
        _readings_after_saves(stores, args.saves, args.small, args.large)
        if args.compare_v01 != "no":
            _compare_v01(Path(folder), args, required=args.compare_v01 == "yes")
    return 0


def _compare_v01(folder: Path, args: argparse.Namespace, *, required: bool) -> None:
    from tests.review.v01_fixture import V01_COLUMNS, load_v01_store

    old = load_v01_store()
    if old is None:
        print("  v0.1     not measured: git history with the 0.1 store is not available")
        if required:
            raise SystemExit(2)
        return
    import ecgreview_v01_review_csv as old_csv  # type: ignore[import-not-found]

    stores = {"small": folder / "small-v01.csv", "large": folder / "large-v01.csv"}
    for name, rows in (("small", args.small), ("large", args.large)):
        _build(stores[name], rows, V01_COLUMNS, old_csv._csv_line, old)
    _summary("v0.1", _time_appends(stores, max(5, args.appends // 4), old), args.small, args.large)
    start = time.perf_counter()
    rows = len(old.read_reviews(stores["large"]))
    print(f"  v0.1     read {rows} rows: {time.perf_counter() - start:.2f} s (every call)")


if __name__ == "__main__":
    raise SystemExit(main())
