"""The index's write path: one connection per update (not per batch), and an interrupted update resumes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ecgreview.record import THRESHOLDS
from ecgreview.review import worklist
from ecgreview.review.worklist import CaseIndex
from tests.io.dicom_fixtures import write_ecg_dicom

FILES = 9


@pytest.fixture
def paths(tmp_path) -> list[Path]:
    folder = tmp_path / "cases"
    folder.mkdir()
    for number in range(FILES):
        write_ecg_dicom(folder, f"case-{number}.dcm", statements=("SINUS RHYTHM",), sample_count=1000 + number)
    return sorted(folder.iterdir())


def _connections_opened(monkeypatch, tmp_path: Path, paths: list[Path], batch_size: int) -> int:
    opened = []
    connect = sqlite3.connect

    def counting(*args, **kwargs):
        opened.append(args[0])
        return connect(*args, **kwargs)

    index = CaseIndex(tmp_path / f"index-{batch_size}.sqlite")
    monkeypatch.setattr(worklist.sqlite3, "connect", counting)
    update = index.update(paths, workers=1, batch_size=batch_size)
    monkeypatch.setattr(worklist.sqlite3, "connect", connect)
    assert update.new == FILES and len(index.cases(thresholds=THRESHOLDS)) == FILES
    return len(opened)


def test_an_update_opens_the_same_connections_whatever_the_number_of_batches(monkeypatch, tmp_path, paths):
    """Each batch is committed on the pass's one writing connection: closing a connection per batch checkpointed
    the WAL every time (the parent's largest cost when indexing without a model)."""
    assert _connections_opened(monkeypatch, tmp_path, paths, batch_size=1) == \
        _connections_opened(monkeypatch, tmp_path, paths, batch_size=FILES)


def test_an_interrupted_update_keeps_its_committed_rows_and_the_next_reads_only_the_rest(tmp_path, paths):
    index = CaseIndex(tmp_path / "index.sqlite")

    def stop_after_the_first_batch(done: int, total: int) -> None:
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index.update(paths, workers=1, batch_size=3, progress=stop_after_the_first_batch)
    assert len(index.cases(thresholds=THRESHOLDS)) == 3
    totals: list[int] = []
    update = index.update(paths, workers=1, batch_size=3, progress=lambda done, total: totals.append(total))
    assert (update.new, update.unchanged) == (FILES - 3, 3) and set(totals) == {FILES - 3}
    assert len(index.cases(thresholds=THRESHOLDS)) == FILES
