"""The background, locked index updater: requests return at once, one updater per index, readers see rows."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from filelock import Timeout

import ecgreview.review.parallel_read
from ecgreview.config import Settings
from ecgreview.io import read_ecg
from ecgreview.record import THRESHOLDS
from ecgreview.review.index_updater import BackgroundIndexer, index_lock, read_progress, update_case_index
from ecgreview.review.worklist import INDEX_FILE, CaseIndex
from tests.io.dicom_fixtures import write_ecg_dicom
from tests.review.test_worklist import FakeModel

FILES = 6


@pytest.fixture
def settings(tmp_path) -> Settings:
    folder = tmp_path / "cases"
    folder.mkdir()
    for number in range(FILES):
        write_ecg_dicom(folder, f"case-{number}.dcm", statements=("SINUS RHYTHM",), sample_count=1000 + number)
    return Settings(home=tmp_path / "home", models_dir=tmp_path / "models", reviews_path=tmp_path / "reviews.csv",
                    cases_dir=folder)


class GatedReader:
    """``read_ecg`` that waits for ``gate`` before each file and records how many readers run at once."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self._lock = threading.Lock()
        self.active = self.most_active = self.calls = 0

    def __call__(self, path: Path):
        with self._lock:
            self.active += 1
            self.calls += 1
            self.most_active = max(self.most_active, self.active)
        self.started.set()
        try:
            assert self.gate.wait(60), "the test never opened the gate"
            return read_ecg(path)
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture
def reader(monkeypatch) -> GatedReader:
    gated = GatedReader()
    monkeypatch.setattr(ecgreview.review.parallel_read, "read_ecg", gated)  # files are read there
    yield gated
    gated.gate.set()  # never leave a thread waiting


def test_request_returns_at_once_and_readers_see_rows_as_they_come(settings, reader):
    indexer = BackgroundIndexer(settings)
    start = time.perf_counter()
    assert indexer.request() is True
    assert time.perf_counter() - start < 1.0  # while the update is blocked on the first file
    assert reader.started.wait(30)
    status = indexer.status()
    assert status.running and (status.progress.state, status.progress.done, status.progress.total) == ("indexing", 0, FILES)
    assert CaseIndex(indexer.index_path).cases(thresholds=THRESHOLDS) == []  # a reader is not blocked by the writer
    assert indexer.request() is False  # one run at a time
    reader.gate.set()
    assert indexer.wait(60)
    cases = CaseIndex(indexer.index_path).cases(thresholds=THRESHOLDS)
    assert len(cases) == FILES and not any(case.error for case in cases)
    status = indexer.status()
    assert not status.running and status.progress.state == "done" and status.last_update.new == FILES


def test_rows_appear_batch_by_batch_while_the_update_runs(settings):
    """A reader (another connection) sees each committed batch (WAL) while the writer goes on."""
    index_path = settings.home / INDEX_FILE
    seen: list[tuple[int, int, int, str]] = []

    def progress(done: int, total: int) -> None:
        shown = read_progress(index_path)
        seen.append((len(CaseIndex(index_path).cases(thresholds=THRESHOLDS)), done, total, shown.state if shown else ""))

    model = FakeModel()
    update = update_case_index(settings, model=model, progress=progress, batch_size=2)
    assert update.new == FILES and update.predicted == FILES and model.seen == FILES
    assert seen == [(0, 0, FILES, "indexing"), (2, 2, FILES, "indexing"), (4, 4, FILES, "indexing"),
                    (6, 6, FILES, "indexing")]
    assert read_progress(index_path).state == "done"


def _waiting_for_a_lock(caplog: pytest.LogCaptureFixture) -> bool:
    """Whether a thread has logged that it waits for a held file lock (filelock's debug message)."""
    return any(record.name.startswith("filelock") and "not acquired" in record.getMessage()
               for record in list(caplog.records))


def test_two_updaters_of_one_index_never_run_at_once(settings, reader, caplog):
    caplog.set_level(logging.DEBUG, logger="filelock")
    first, second = BackgroundIndexer(settings), BackgroundIndexer(settings)  # as in two server processes
    assert first.request()
    assert reader.started.wait(30)
    assert second.request()
    deadline = time.monotonic() + 30
    while not _waiting_for_a_lock(caplog):  # the second has reached the lock the first holds
        assert time.monotonic() < deadline, "the second updater never waited for the index lock"
        time.sleep(0.01)  # the poll interval of a wait on a condition
    assert reader.calls == 1  # the second waits for the lock, it does not read
    assert second.status().running  # and says that the index is being updated
    bystander = BackgroundIndexer(settings)  # never started: sees the lock held elsewhere
    assert bystander.status().running
    reader.gate.set()
    assert first.wait(60) and second.wait(60)
    assert reader.most_active == 1
    assert first.status().last_update.new == FILES and second.status().last_update.unchanged == FILES
    assert not bystander.status().running


def test_update_waits_for_the_lock_or_times_out(settings):
    settings.home.mkdir()
    lock = index_lock(settings.home / INDEX_FILE)
    with lock:
        with pytest.raises(Timeout):
            update_case_index(settings, lock_timeout_s=0.2)
    assert update_case_index(settings, lock_timeout_s=0.2).new == FILES


def test_request_rechecks_only_when_due_or_for_a_new_model(settings):
    indexer = BackgroundIndexer(settings, recheck_s=60)
    assert indexer.request() and indexer.wait(60)
    assert indexer.request() is False  # finished just now
    model = FakeModel()
    assert indexer.request(model) and indexer.wait(60)  # predictions for this model are missing
    assert indexer.status().last_update.predicted == FILES and model.seen == FILES
    assert indexer.request(model) is False and indexer.request() is False
    write_ecg_dicom(settings.cases_dir, "late.dcm")
    assert indexer.request(max_age_s=0) and indexer.wait(60)
    assert indexer.status().last_update.new == 1
    assert indexer.runs_started == 3


def test_a_failed_update_is_reported_not_raised(settings, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk went away")

    monkeypatch.setattr(CaseIndex, "update", broken)
    indexer = BackgroundIndexer(settings)
    assert indexer.request() and indexer.wait(60)
    status = indexer.status()
    assert not status.running and "disk went away" in status.last_error
    assert str(indexer.index_path) in status.last_error
    assert status.progress.state == "failed" and status.progress.error == "disk went away"
