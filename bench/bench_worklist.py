"""Worklist benchmark at hospital scale: a page of the worklist at 1,000, 10,000 and 100,000 indexed cases.

Usage: ``.venv/bin/python bench/bench_worklist.py [--sizes 1000,10000,100000] [--repeat 7]``

Generates index rows directly (no files are needed: the rows of ``files`` and ``predictions`` as the
index writes them, with the metadata a reader gives, 1/10 of the cases read by 2 readers, 2 % with
the device calling AF), then times what the worklist page does on every rerun
(:mod:`ecgreview.review.worklist_query`):

(a) the syncs when nothing changed (listing, DNN calls, the review store's end);
(b) the first page (200 rows) sorted by file, with the totals; (b') the same with the order of every
    matching case (what next/previous on the Review page follows);
(c) the same filtered to discordant cases and sorted by discordance.

The baseline, measured in the same run on the same file: a bare SQLite query of the first 200
paths (``SELECT path FROM files ORDER BY path LIMIT 200``). Figures are medians of ``--repeat``
runs, given in ms and as ratios to the baseline; the last lines give the flatness, the 100,000-case
figure over the 1,000-case one (target <= 1.5 for (b)) and the absolute target (<= 300 ms). The load
average is printed. Nothing is kept. Always exits 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecgreview.record import CLASSES, THRESHOLDS  # noqa: E402
from ecgreview.review.store import REVIEW_COLUMNS, Review  # noqa: E402
from ecgreview.review.worklist import CaseIndex  # noqa: E402
from ecgreview.review.worklist_query import (  # noqa: E402
    WorklistFilters,
    query_worklist,
    sync_dnn_calls,
    sync_listing,
    sync_readings,
)

MODEL = "b" * 64


def build_index(path: Path, cases: int, seed: int = 0) -> Path:
    """An index of ``cases`` generated rows, and a review store (beside it) reading 1/10 of them."""
    CaseIndex(path)
    rng = np.random.default_rng(seed)
    files, predictions, reviews = [], [], []
    for number in range(cases):
        sha = f"{number:064x}"
        af = rng.random() < 0.02
        metadata = {"source_name": f"ecg{number:06d}.dcm", "pseudonym": f"P{rng.integers(0, cases // 3 + 1):06d}",
                    "device": "Generated", "acquisition_time": f"2026-{1 + number % 12:02d}-{1 + number % 28:02d}",
                    "statements": ["ATRIAL FIBRILLATION"] if af else ["SINUS RHYTHM"], "measurements": [],
                    "reference_labels": {}, "device_calls": {name: "definite" if af and name == "AF" else "absent"
                                                             for name in CLASSES}, "table_version": "bench"}
        files.append((f"/cases/{number // 1000:03d}/ecg{number:06d}.dcm", 1000, number, sha, json.dumps(metadata), ""))
        predictions.append((sha, MODEL, json.dumps([float(p) for p in rng.random(len(CLASSES)) * 0.3])))
        if number % 10 == 0:
            for reader in ("Dr A", "Dr B"):
                reviews.append(Review.create(reader=reader, source_sha256=sha, opinions_seen=True, reader_calls={
                    name: str(rng.choice(["present", "absent"])) for name in CLASSES}).to_row())
    with sqlite3.connect(path) as connection:
        connection.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)", files)
        connection.executemany("INSERT INTO predictions VALUES (?, ?, ?)", predictions)
    store = path.with_name("reviews.csv")
    with store.open("w", newline="", encoding="utf-8") as handle:  # the store's layout, written at once
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(REVIEW_COLUMNS)
        writer.writerows([row[column] for column in REVIEW_COLUMNS] for row in reviews)
    return store


def _median_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(cases: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.sqlite"
        reviews = build_index(path, cases)
        first = time.perf_counter()
        sync_listing(path)
        sync_dnn_calls(path, model_sha256=MODEL, thresholds=THRESHOLDS)
        sync_readings(path, reviews)
        first_sync_ms = (time.perf_counter() - first) * 1000

        def bare() -> None:
            with sqlite3.connect(path) as connection:
                connection.execute("SELECT path FROM files ORDER BY path LIMIT 200").fetchall()

        def syncs() -> None:
            sync_listing(path)
            sync_dnn_calls(path, model_sha256=MODEL, thresholds=THRESHOLDS)
            sync_readings(path, reviews)

        def page() -> None:
            query_worklist(path, model_sha256=MODEL, thresholds=THRESHOLDS, reader="Dr A")

        def ordered() -> None:
            query_worklist(path, model_sha256=MODEL, thresholds=THRESHOLDS, reader="Dr A", with_order=True)

        def discordant() -> None:
            query_worklist(path, model_sha256=MODEL, thresholds=THRESHOLDS, reader="Dr A", sort_by="discordance",
                           descending=True, filters=WorklistFilters(discordant_only=True))

        return {"first sync": first_sync_ms, "baseline": _median_ms(bare, repeat), "syncs": _median_ms(syncs, repeat),
                "page": _median_ms(page, repeat), "ordered": _median_ms(ordered, repeat),
                "discordant": _median_ms(discordant, repeat)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; medians of {args.repeat} runs")
    results = {}
    for size in (int(value) for value in args.sizes.split(",")):
        figures = results[size] = measure(size, args.repeat)
        base = figures["baseline"]
        print(f"{size:>7} cases: first sync {figures['first sync']:.0f} ms (once) · bare query {base:.1f} ms · "
              f"(a) syncs {figures['syncs']:.1f} ms ({figures['syncs'] / base:.1f}x) · (b) page "
              f"{figures['page']:.1f} ms ({figures['page'] / base:.1f}x) · (b') with the case order "
              f"{figures['ordered']:.1f} ms · (c) discordant "
              f"{figures['discordant']:.1f} ms ({figures['discordant'] / base:.1f}x)")
    smallest, largest = min(results), max(results)
    if smallest != largest:
        for name in ("syncs", "page", "ordered", "discordant"):
            ratio = results[largest][name] / results[smallest][name]
            print(f"flatness {name}: {largest} / {smallest} cases = {ratio:.2f} (target <= 1.5 for the page)")
        page_ms = results[largest]["syncs"] + results[largest]["page"]
        print(f"page rerun at {largest} cases (syncs + page): {page_ms:.0f} ms (target <= 300 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
