"""Reliability of the review store under concurrency, SIGKILL and hostile text (ecgreview.review.store).

``tests/review/test_store.py`` covers 4 × 200 parallel saves, partial rows, read-only
stores and a full disk. Here: 8 processes × 1,000 saves (slow; 8 × 100 by default),
a writer killed with SIGKILL at random points while saving, and a formula-injection
round trip for every text column.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ecgreview.record import CLASSES
from ecgreview.review.store import REVIEW_COLUMNS, Review, append_review, read_reviews
from tests.conftest import REPO

SHA = "e" * 64
ALL_ABSENT = dict.fromkeys(CLASSES, "absent")


def _review(reader: str, comment: str = "", **changes: object) -> Review:
    return Review.create(reader=reader, reader_calls=ALL_ABSENT, source_sha256=SHA, opinions_seen=False,
                         comment=comment, **changes)  # type: ignore[arg-type]


def _save_many(arguments: tuple[str, int, int]) -> list[str]:
    """Worker: append ``count`` reviews as reader ``worker-<number>``; the review ids, in order."""
    store, number, count = arguments
    saved = []
    for index in range(count):
        review = _review(f"worker-{number}", comment=f"worker-{number} review {index}",
                         provenance={"worker": number, "index": index})
        saved.append(append_review(store, review, lock_timeout_s=120).review_id)
    return saved


def _run_parallel(store: Path, processes: int, saves: int) -> None:
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        saved = pool.map(_save_many, [(str(store), number, saves) for number in range(processes)])
    frame = read_reviews(store, strict=True)
    assert len(frame) == processes * saves
    assert frame.attrs["skipped"] == []
    assert sorted(frame["review_id"]) == sorted(review_id for ids in saved for review_id in ids)
    assert frame["review_id"].is_unique
    for number, ids in enumerate(saved):
        rows = frame[frame["reader"] == f"worker-{number}"]
        assert list(rows["review_id"]) == ids  # each process's rows in its own order
        assert list(rows["comment"]) == [f"worker-{number} review {index}" for index in range(saves)]
    assert store.read_text(encoding="utf-8").count("review_id,saved_at_utc") == 1


def test_eight_processes_save_concurrently_without_loss(tmp_path: Path) -> None:
    _run_parallel(tmp_path / "reviews.csv", 8, 100)


@pytest.mark.slow
def test_eight_processes_times_thousand_saves(tmp_path: Path) -> None:
    started = time.perf_counter()
    _run_parallel(tmp_path / "reviews.csv", 8, 1000)
    print(f"8 x 1000 saves: {time.perf_counter() - started:.1f} s")


# -- SIGKILL in the middle of saves -----------------------------------------------------------------------------------

_WRITER = textwrap.dedent("""
    import os, sys
    from ecgreview.record import CLASSES
    from ecgreview.review.store import Review, append_review
    store, acks, run = sys.argv[1], sys.argv[2], sys.argv[3]
    fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    index = 0
    while True:
        size = 60_000 if index % 3 == 0 else 200  # large rows widen the window for a kill mid-write
        review = Review.create(
            reader="killed writer", reader_calls=dict.fromkeys(CLASSES, "present"), source_sha256="f" * 64,
            opinions_seen=True, comment=f'run {run} #{index} "quoted, text"\\n' + "x" * size,
            provenance={"run": run, "index": index})
        append_review(store, review)
        os.write(fd, (review.review_id + "\\n").encode())  # acknowledged only after append_review returned
        index += 1
""")


def _acknowledged(acks: Path) -> list[str]:
    if not acks.exists():
        return []
    return [line for line in acks.read_text(encoding="utf-8").split("\n") if len(line) == 36]


def _kill_writer_once(store: Path, acks: Path, run: int, rng: random.Random) -> None:
    """Start a writer, let it save at least a few rows, then SIGKILL it at a random moment."""
    before = len(_acknowledged(acks))
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(store), str(acks), str(run)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while len(_acknowledged(acks)) < before + 3 and time.monotonic() < deadline and writer.poll() is None:
            time.sleep(0.005)  # the poll interval of a wait on a condition
        time.sleep(rng.uniform(0, 0.05))  # the thing tested: a kill at a random moment of a save
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    assert writer.returncode == -signal.SIGKILL


def test_sigkilled_writer_loses_no_acknowledged_review(tmp_path: Path) -> None:
    store, acks = tmp_path / "reviews.csv", tmp_path / "acknowledged.txt"
    rng = random.Random(7)
    for run in range(6):
        _kill_writer_once(store, acks, run, rng)
        frame = read_reviews(store)  # every complete row parses; a cut-short last row is skipped
        missing = set(_acknowledged(acks)) - set(frame["review_id"])
        assert not missing, f"run {run}: acknowledged but not in the store: {sorted(missing)[:3]}"
        assert len(frame.attrs["skipped"]) <= run + 1  # at most one partial row per kill
    after = _review("after the kills", comment="a normal save")
    append_review(store, after)
    frame = read_reviews(store)
    assert frame.iloc[-1]["review_id"] == after.review_id
    acknowledged = _acknowledged(acks)
    assert set(acknowledged) <= set(frame["review_id"])
    # At most one row per kill was written but never acknowledged (killed between fsync and the ack).
    assert len(frame) - 1 - len(acknowledged) <= 6
    assert frame["review_id"].is_unique


# -- formula injection round trip -------------------------------------------------------------------------------------

_HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)", "=cmd|' /C calc'!A0",
            "\t=1", "\r=1", "'quoted", "-", "=", "normal text", "Dr. =Eve"]
_TEXT_COLUMNS = ("reader", "comment", "source_name", "case_pseudonym", "session_id", "statement_map_version")


@pytest.mark.parametrize("text", _HOSTILE)
def test_formula_text_is_neutralised_on_disk_and_restored_on_read(tmp_path: Path, text: str) -> None:
    store = tmp_path / "reviews.csv"
    reader = text if text.strip() else f"x{text}"
    review = _review(reader, comment=text, source_name=text, case_pseudonym=text, session_id=text,
                     statement_map_version=text, device_statements=(text, "Sinus rhythm"))
    append_review(store, review)
    row = read_reviews(store, strict=True).iloc[0].to_dict()
    assert row == review.to_row()
    with store.open(encoding="utf-8", newline="") as handle:
        cells = list(csv.reader(handle))[1]
    on_disk = dict(zip(REVIEW_COLUMNS, cells))
    for column in (*_TEXT_COLUMNS, "device_statements"):
        assert not on_disk[column].startswith(("=", "+", "-", "@", "\t", "\r")), (column, on_disk[column])
    assert on_disk["thresholds"] == review.to_row()["thresholds"]  # numbers are never guarded


def test_negative_looking_numbers_are_not_guarded(tmp_path: Path) -> None:
    """Probabilities and thresholds stay numbers; a spreadsheet must still read them as numbers."""
    store = tmp_path / "reviews.csv"
    append_review(store, _review("-Dr Minus", probabilities=[0.5] * len(CLASSES)))
    raw = store.read_text(encoding="utf-8")
    assert ",'-Dr Minus," in raw and ",0.5," in raw
    assert read_reviews(store).iloc[0]["reader"] == "-Dr Minus"


def test_hostile_text_in_many_rows_reads_back_in_order(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    reviews = [_review(f"r{number}{text}", comment=text * 3) for number, text in enumerate(_HOSTILE * 3)]
    for review in reviews:
        append_review(store, review)
    frame = read_reviews(store, strict=True)
    assert list(frame["comment"]) == [review.comment for review in reviews]
    assert list(frame["reader"]) == [review.reader for review in reviews]
    assert io.StringIO(store.read_text(encoding="utf-8")).readline().startswith("review_id,")
