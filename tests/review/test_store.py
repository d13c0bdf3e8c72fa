"""Tests of the append-only review store (ecgreview.review.store)."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import multiprocessing
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ecgreview import __version__
from ecgreview.errors import ReviewStoreError
from ecgreview.record import CLASSES
from ecgreview.review import store as reviews
from ecgreview.review.store import (
    REVIEW_COLUMNS,
    Review,
    append_review,
    latest_reviews,
    read_reviews,
    reviews_for_case,
)

SHA_A = "a" * 64
SHA_B = "b" * 64
ALL_ABSENT = dict.fromkeys(CLASSES, "absent")


def make_review(**changes: object) -> Review:
    """A valid review of case A; ``changes`` override keywords of Review.create."""
    arguments: dict[str, object] = {
        "reader": "Dr Ada", "reader_calls": ALL_ABSENT, "source_sha256": SHA_A, "opinions_seen": True,
    }
    arguments.update(changes)
    return Review.create(**arguments)  # type: ignore[arg-type]


def full_review(**changes: object) -> Review:
    """A review with every field filled, including awkward text."""
    arguments: dict[str, object] = {
        "reader_calls": dict(zip(CLASSES, ["present", "absent", "uncertain", "absent", "present", "absent"])),
        "probabilities": [0.5, 0.01, 0.9, 0.1, 0.2, 0.3], "model_name": "ribeiro-2020",
        "model_sha256": "c" * 64, "model_git_blob_sha1": "d" * 40, "model_status": "verified",
        "device_calls": {"AF": "definite", "SB": "possible"}, "device_statements": ("Sinus rhythm", "Normal ECG"),
        "statement_map_version": "2024-1", "session_id": "s-1", "case_pseudonym": "PSEUDO-7",
        "source_name": "ecg 1.dcm", "comment": 'He said "hi", then\nleft; ünïcode', "role": "adjudicator",
        "provenance": {"weights": "model.hdf5", "tensorflow": "2.15"},
    }
    arguments.update(changes)
    return make_review(**arguments)


def data_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# -- round trip and header -----------------------------------------------------------------------------------------

def test_round_trip_returns_the_row_as_written(tmp_path: Path) -> None:
    store = tmp_path / "nested" / "dir" / "reviews.csv"
    review = full_review()
    assert append_review(store, review) is review
    frame = read_reviews(store)
    assert list(frame.columns) == list(REVIEW_COLUMNS)
    assert frame.attrs["skipped"] == []
    assert frame.iloc[0].to_dict() == review.to_row()
    row = review.to_row()
    assert row["app_version"] == __version__
    assert row["saved_at_utc"].endswith("Z") and len(row["saved_at_utc"]) == len("2024-01-02T03:04:05.123456Z")
    assert row["thresholds"] == "0.124;0.07;0.05;0.278;0.39;0.174"
    assert row["device_statements"] == "Sinus rhythm | Normal ECG"
    assert row["provenance"] == '{"tensorflow":"2.15","weights":"model.hdf5"}'
    assert row["device_call_AF"] == "definite" and row["device_call_RBBB"] == ""
    assert uuid.UUID(row["review_id"]).version == 4


def test_header_is_written_once(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    for _ in range(3):
        append_review(store, make_review())
    lines = data_lines(store)
    assert lines[0] == ",".join(REVIEW_COLUMNS)
    assert sum(line.startswith("review_id,") for line in lines) == 1
    assert len(read_reviews(store)) == 3


def test_missing_or_empty_store_reads_as_no_rows(tmp_path: Path) -> None:
    assert list(read_reviews(tmp_path / "absent.csv").columns) == list(REVIEW_COLUMNS)
    (tmp_path / "empty.csv").touch()
    assert len(read_reviews(tmp_path / "empty.csv")) == 0
    append_review(tmp_path / "empty.csv", make_review())  # an empty file gets the header
    assert len(read_reviews(tmp_path / "empty.csv")) == 1


def test_carriage_return_in_text_round_trips(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    review = make_review(comment="line one\r\nline two\rthree")
    append_review(store, review)
    append_review(store, make_review())
    frame = read_reviews(store)
    assert frame["comment"].tolist() == ["line one\r\nline two\rthree", ""]


# -- concurrency ---------------------------------------------------------------------------------------------------

def _save_many(path: str, worker: int, count: int) -> None:
    for index in range(count):
        append_review(path, make_review(reader=f"reader {worker}", comment=f"save {index}, worker {worker}"),
                      lock_timeout_s=60)


def test_parallel_processes_never_lose_or_mix_rows(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.starmap(_save_many, [(str(store), worker, 200) for worker in range(4)])
    frame = read_reviews(store, strict=True)
    assert len(frame) == 800
    assert frame["review_id"].is_unique
    assert sum(line.startswith("review_id,") for line in data_lines(store)) == 1
    for worker in range(4):
        mine = frame[frame["reader"] == f"reader {worker}"]["comment"].tolist()
        assert mine == [f"save {index}, worker {worker}" for index in range(200)]


def test_lock_held_elsewhere_times_out(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, filelock\nwith filelock.FileLock(sys.argv[1]):\n"
         "    print('held', flush=True)\n    sys.stdin.read()", f"{store}.lock"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        review = make_review()
        with pytest.raises(ReviewStoreError, match="review store is locked by another process") as caught:
            append_review(store, review, lock_timeout_s=0.2)
        assert caught.value.review is review
        assert not store.exists()
    finally:
        holder.communicate("", timeout=10)
    append_review(store, review)  # released: the same review saves now
    assert read_reviews(store)["review_id"].tolist() == [review.review_id]


# -- formula injection ---------------------------------------------------------------------------------------------

def test_formula_cells_are_guarded_on_disk_and_restored_on_read(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    texts = {"comment": "=SUM(A1)", "session_id": "+1", "case_pseudonym": "-2", "source_name": "@cmd",
             "reader": "=Dr Evil", "statement_map_version": "\tTAB", "device_statements": ("=HYPERLINK(x)",)}
    review = make_review(probabilities=[0.5] * 6, device_calls={"AF": "-definite"}, **texts)
    append_review(store, review)
    raw = dict(zip(REVIEW_COLUMNS, list(csv.reader(io.StringIO(store.read_text(), newline="")))[1]))
    assert raw["comment"] == "'=SUM(A1)" and raw["session_id"] == "'+1" and raw["case_pseudonym"] == "'-2"
    assert raw["source_name"] == "'@cmd" and raw["reader"] == "'=Dr Evil" and raw["device_call_AF"] == "'-definite"
    assert raw["statement_map_version"] == "'\tTAB" and raw["device_statements"] == "'=HYPERLINK(x)"
    assert raw["dnn_prob_AF"] == "0.5" and raw["thresholds"].startswith("0.124;")  # numbers untouched
    assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for cell in raw.values())
    assert read_reviews(store).iloc[0].to_dict() == review.to_row()


def test_leading_apostrophe_text_round_trips(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    review = make_review(comment="'=already quoted", session_id="'plain")
    append_review(store, review)
    assert read_reviews(store).iloc[0].to_dict() == review.to_row()


# -- failures keep the store intact -------------------------------------------------------------------------------

@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable, also for root (chattr +i), or skip the test."""
    mode = path.stat().st_mode
    path.chmod(0o555 if path.is_dir() else 0o444)
    immutable = False
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        immutable = chattr is not None and subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode == 0
        if not immutable:
            path.chmod(mode)
            pytest.skip("running as root without chattr +i: cannot make a path read-only")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


def test_read_only_file_refuses_and_keeps_earlier_rows(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    first = make_review()
    append_review(store, first)
    before = store.read_bytes()
    second = make_review(comment="second")
    with read_only(store):
        with pytest.raises(ReviewStoreError, match="reviews.csv: review not saved") as caught:
            append_review(store, second)
    assert caught.value.review is second
    assert store.read_bytes() == before
    assert read_reviews(store)["review_id"].tolist() == [first.review_id]


def test_read_only_directory_refuses(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    with read_only(folder):
        with pytest.raises(ReviewStoreError, match="review not saved"):
            append_review(folder / "reviews.csv", make_review())
    assert list(folder.iterdir()) == []


def test_failed_fsync_removes_the_partly_saved_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "reviews.csv"
    append_review(store, make_review())
    before = store.read_bytes()
    real_fsync = os.fsync
    calls = []

    def full_disk(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(reviews.os, "fsync", full_disk)
    with pytest.raises(ReviewStoreError, match="review not saved: No space left on device"):
        append_review(store, make_review())
    monkeypatch.setattr(reviews.os, "fsync", real_fsync)
    assert store.read_bytes() == before


def test_other_header_is_read_by_name_and_upgraded_with_a_backup(tmp_path: Path) -> None:
    # Store v2: a missing column no longer makes a store unreadable or unwritable.
    store = tmp_path / "reviews.csv"
    columns = [("notes" if column == "comment" else column) for column in REVIEW_COLUMNS]
    store.write_text(",".join(columns) + "\n", encoding="utf-8")
    before = store.read_bytes()
    assert list(read_reviews(store).columns) == [*REVIEW_COLUMNS, "notes"]
    review = make_review(comment="kept")
    append_review(store, review)
    backups = list(tmp_path.glob("reviews.csv.before-schema-upgrade-*.bak"))
    assert len(backups) == 1 and backups[0].read_bytes() == before
    frame = read_reviews(store)
    assert list(frame.columns) == [*REVIEW_COLUMNS, "notes"]
    assert frame.iloc[0][list(REVIEW_COLUMNS)].to_dict() == review.to_row() and frame.iloc[0]["notes"] == ""


def test_reordered_header_is_read_and_appended_by_name(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    store.write_text(",".join(reversed(REVIEW_COLUMNS)) + "\n", encoding="utf-8")
    review = make_review(comment="reversed")
    append_review(store, review)
    assert data_lines(store)[0] == ",".join(reversed(REVIEW_COLUMNS))  # the file keeps its own order
    assert read_reviews(store).iloc[0].to_dict() == review.to_row()


@pytest.mark.parametrize("header", ["a,b,c", "review_id,reader,reader,saved_at_utc,source_sha256"])
def test_a_header_that_is_not_a_review_store_refuses_and_writes_nothing(tmp_path: Path, header: str) -> None:
    store = tmp_path / "reviews.csv"
    store.write_text(header + "\n", encoding="utf-8")
    before = store.read_bytes()
    with pytest.raises(ReviewStoreError, match="not a review store header: .*; nothing was written"):
        append_review(store, make_review())
    assert store.read_bytes() == before
    with pytest.raises(ReviewStoreError, match="not a review store header"):
        read_reviews(store)


# -- interrupted writers -------------------------------------------------------------------------------------------

def test_partial_last_row_is_ended_before_the_next_append(tmp_path: Path) -> None:
    first, killed, later = full_review(), full_review(comment='cut "here", or,\nthere'), full_review()
    store = tmp_path / "template.csv"
    append_review(store, first)
    prefix = store.read_bytes()
    append_review(store, killed)
    killed_line = store.read_bytes()[len(prefix):]
    for cut in range(1, len(killed_line) - 1, 3):  # every third byte: inside quotes, fields, UTF-8 characters
        store.write_bytes(prefix + killed_line[:cut])  # a writer killed mid-row
        append_review(store, later)
        assert store.read_bytes().endswith(b"\n" + reviews._csv_line(
            [reviews._guard(c, v) for c, v in later.to_row().items()]).encode())
        frame = read_reviews(store)
        assert frame.iloc[0].to_dict() == first.to_row() and frame.iloc[-1].to_dict() == later.to_row()
        assert len(frame) + len(frame.attrs["skipped"]) == 3, cut
        if frame.attrs["skipped"]:
            assert frame.attrs["skipped"][0].startswith("line ")
            with pytest.raises(ReviewStoreError, match="1 malformed row"):
                read_reviews(store, strict=True)


def test_complete_row_without_final_newline_is_kept(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    first, second = make_review(), make_review()
    append_review(store, first)
    store.write_bytes(store.read_bytes()[:-1])  # killed just before the newline
    append_review(store, second)
    frame = read_reviews(store)
    assert frame["review_id"].tolist() == [first.review_id, second.review_id]
    assert frame.attrs["skipped"] == []


# -- agreement and validation --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("probability", "reader_call", "dnn_call", "agreement"), [
    (0.9, "present", "present", "agree"),
    (0.9, "absent", "present", "disagree"),
    (0.01, "absent", "absent", "agree"),
    (0.01, "present", "absent", "disagree"),
    (0.9, "uncertain", "present", ""),
    (None, "present", "", ""),
    (0.124, "absent", "absent", "agree"),  # p > t: a probability equal to the threshold is absent
])
def test_agreement(probability: float | None, reader_call: str, dnn_call: str, agreement: str) -> None:
    review = make_review(probabilities={"1dAVb": probability}, reader_calls=ALL_ABSENT | {"1dAVb": reader_call})
    row = review.to_row()
    assert (row["dnn_call_1dAVb"], row["agreement_1dAVb"]) == (dnn_call, agreement)
    assert review.agreement["1dAVb"] == agreement
    assert row["model_status"] == ("none" if probability is None else "unverified")


def test_no_model_leaves_dnn_columns_empty() -> None:
    row = make_review().to_row()
    assert all(row[f"{kind}_{name}"] == "" for name in CLASSES for kind in ("dnn_prob", "dnn_call", "agreement"))
    assert row["model_status"] == "none"


@pytest.mark.parametrize(("changes", "message"), [
    ({"reader": "  "}, "reader must be a non-empty name"),
    ({"reader_calls": {"AF": "present"}}, "reader_calls is missing 1dAVb, RBBB, LBBB, SB, ST; .* 'present', "),
    ({"reader_calls": ALL_ABSENT | {"AF": "maybe"}},
     r"reader_calls\['AF'\] must be one of 'present', 'absent', 'uncertain'; got 'maybe'"),
    ({"reader_calls": ALL_ABSENT | {"AF": None}}, r"reader_calls\['AF'\] must be one of .*; got None"),
    ({"reader_calls": ALL_ABSENT | {"PVC": "absent"}}, "reader_calls has unknown classes PVC"),
    ({"probabilities": {"RBBB": 1.5}}, r"probabilities\['RBBB'\] must be a finite number in \[0, 1\] or None"),
    ({"probabilities": [float("nan")] * 6}, r"probabilities\['1dAVb'\] must be a finite number"),
    ({"probabilities": [0.1] * 5}, "probabilities must have 6 values in CLASSES order; got 5"),
    ({"role": "nurse"}, "role must be one of 'reader', 'adjudicator', 'teacher', 'student', 'admin'; got 'nurse'"),
    ({"reading_mode": "open"}, "reading_mode must be one of 'adjudication', 'blinded', 'teaching'"),
    ({"opinions_seen": "false"}, "opinions_seen must be one of True, False; got 'false'"),
    ({"model_status": "trusted"}, "model_status must be one of 'verified', 'unverified', 'none'"),
    ({"model_status": "none", "probabilities": [0.1] * 6}, "model_status 'none' cannot come with probabilities"),
    ({"source_sha256": "abc"}, "source_sha256 must be 64 lowercase hex digits; got 'abc'"),
    ({"model_git_blob_sha1": "xyz"}, "model_git_blob_sha1 must be 40 lowercase hex digits"),
    ({"resolves_review_ids": ["not-a-uuid"]}, r"resolves_review_ids\[0\] must be a UUID"),
    ({"resolves_review_ids": [str(uuid.uuid4())], "reading_mode": "blinded"}, "needs reading_mode 'adjudication'"),
    ({"saved_at_utc": datetime(2024, 1, 2)}, "saved_at_utc must be a timezone-aware datetime"),
    ({"provenance": {"model": object()}}, "provenance must be a mapping of JSON-serialisable values"),
    ({"thresholds": (0.1, 0.2)}, "thresholds must have 6 values"),
])
def test_validation_names_the_field_and_allowed_values(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_review(**changes)


def test_saved_at_is_normalised_to_utc() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert make_review(saved_at_utc=moment).to_row()["saved_at_utc"] == "2024-01-02T03:04:05.000006Z"


# -- queries -------------------------------------------------------------------------------------------------------

def test_reviews_for_case_and_latest_reviews(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    first = make_review(reader="Dr Ada")
    correction = make_review(reader="Dr Ada", reader_calls=ALL_ABSENT | {"AF": "present"})
    other_reader = make_review(reader="Dr Bob")
    other_case = make_review(reader="Dr Ada", source_sha256=SHA_B)
    for review in (first, other_reader, correction, other_case):
        append_review(store, review)
    assert reviews_for_case(store, SHA_A)["review_id"].tolist() == [
        first.review_id, other_reader.review_id, correction.review_id]
    assert reviews_for_case(store, "f" * 64).empty
    latest = latest_reviews(store)
    assert latest["review_id"].tolist() == [other_reader.review_id, correction.review_id, other_case.review_id]
    assert latest_reviews(read_reviews(store)).equals(latest)
    with pytest.raises(ValueError, match="by must name columns of REVIEW_COLUMNS"):
        latest_reviews(store, by=["doctor"])
