"""Indexing in worker processes: the same rows and probabilities as reading here, failures per file, rows as they come."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgreview.device.statements import load_statement_table
from ecgreview.pipeline import PreparedEcg, prepare_file, prepare_record
from ecgreview.record import THRESHOLDS
from ecgreview.review import parallel_read
from ecgreview.review.parallel_read import read_files
from ecgreview.review.worklist import CaseIndex
from tests.io.dicom_fixtures import write_ecg_dicom
from tests.review.test_worklist import FakeModel

FILES = 12


@pytest.fixture
def folder(tmp_path) -> Path:
    cases = tmp_path / "cases"
    cases.mkdir()
    for number in range(FILES):
        statements = ("ATRIAL FIBRILLATION",) if number % 3 == 0 else ("SINUS RHYTHM",)
        write_ecg_dicom(cases, f"case-{number:02d}.dcm", statements=statements, sample_count=1000 + number)
    (cases / "broken.dcm").write_bytes(b"not a dicom file")
    return cases


@pytest.fixture
def pooled(monkeypatch):
    """Use the worker pool even for this small folder."""
    monkeypatch.setattr(parallel_read, "PARALLEL_MIN_FILES", 2)


def _work(folder: Path) -> list[tuple[str, int, int]]:
    return [(str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in sorted(folder.iterdir())]


class ProbabilityModel(FakeModel):
    """Probabilities computed from the input itself, so that a wrong input-to-case pairing shows."""

    def predict_probabilities(self, batch: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        self.seen += len(batch)
        summary = np.abs(batch).mean(axis=(1, 2))
        return np.stack([summary / (1 + summary)] * 6, axis=1)


def test_workers_read_what_this_process_reads(folder, pooled):
    table = load_statement_table()
    here = {read.path: read for read in read_files(_work(folder), table=table, with_model_input=True, workers=1)}
    there = {read.path: read for read in read_files(_work(folder), table=table, with_model_input=True, workers=2,
                                                    max_in_flight=3)}
    assert set(here) == set(there) and len(here) == FILES + 1
    for path, read in here.items():
        assert there[path].row() == read.row()
        if read.model_input is None:
            assert there[path].model_input is None
        else:
            np.testing.assert_array_equal(there[path].model_input, read.model_input)
            np.testing.assert_array_equal(read.model_input, prepare_file(path).model_input)
    broken = there[str(folder / "broken.dcm")]
    assert broken.error.startswith("broken.dcm: not a DICOM file") and broken.source_sha256 == ""


def test_parallel_index_stores_the_serial_index(tmp_path, folder, pooled):
    paths = sorted(folder.iterdir())
    model = ProbabilityModel()
    serial = CaseIndex(tmp_path / "serial.sqlite")
    parallel = CaseIndex(tmp_path / "parallel.sqlite")
    first = serial.update(paths, model=model, workers=1, batch_size=4)
    second = parallel.update(paths, model=model, workers=2, batch_size=4)
    assert (second.read, second.predicted) == (first.read, first.predicted) == (FILES + 1, FILES)
    assert len(second.failed) == 1 and "broken.dcm" in second.failed[0]
    sha = model.identity.sha256
    assert parallel.cases(paths, thresholds=THRESHOLDS, model_sha256=sha) == \
        serial.cases(paths, thresholds=THRESHOLDS, model_sha256=sha)
    af = [case for case in parallel.cases(paths, thresholds=THRESHOLDS) if case.device_calls.get("AF") not in (None, "absent")]
    assert len(af) == len(range(0, FILES, 3))


def test_rows_are_stored_before_the_last_file_is_read(tmp_path, folder, pooled):
    index = CaseIndex(tmp_path / "index.sqlite")
    listed: list[int] = []

    def progress(done: int, total: int) -> None:
        listed.append(len(index.cases(thresholds=THRESHOLDS)))
        assert listed[-1] == done and total == FILES + 1

    index.update(sorted(folder.iterdir()), workers=2, batch_size=3, progress=progress)
    assert listed[0] == 0 and 0 < listed[1] < FILES + 1 and listed[-1] == FILES + 1
    assert listed == sorted(listed)


def test_a_record_the_model_cannot_take_is_listed_and_reported(tmp_path, folder, monkeypatch):
    def prepare(record):
        if record.source_name == "case-00.dcm":
            return PreparedEcg(record, None, "cannot be resampled to 400 Hz")
        return prepare_record(record)

    monkeypatch.setattr(parallel_read, "prepare_record", prepare)
    paths = sorted(folder.iterdir())
    index = CaseIndex(tmp_path / "index.sqlite")
    update = index.update(paths, model=ProbabilityModel(), workers=1, batch_size=5)
    assert update.predicted == FILES - 1
    assert "case-00.dcm: cannot be resampled to 400 Hz" in update.failed
    cases = {case.source_name: case for case in index.cases(paths, thresholds=THRESHOLDS,
                                                             model_sha256=FakeModel().identity.sha256)}
    assert cases["case-00.dcm"].probabilities is None and cases["case-01.dcm"].probabilities is not None


@pytest.mark.parametrize("option, value", [("workers", 0), ("max_in_flight", 0)])
def test_bad_options_name_the_parameter(folder, option, value):
    with pytest.raises(ValueError, match=option):
        list(read_files(_work(folder), table=load_statement_table(), **{option: value}))


def test_update_refuses_bad_workers(tmp_path, folder):
    with pytest.raises(ValueError, match="workers"):
        CaseIndex(tmp_path / "index.sqlite").update(sorted(folder.iterdir()), workers=0)


def test_progress_says_the_rate_and_the_time_left():
    from ecgreview.review.index_updater import IndexProgress

    progress = IndexProgress("indexing", 100, 1100, reading_started_s=1000.0, updated_s=1004.0)
    assert progress.files_per_s == 25.0 and progress.remaining_s == 40.0
    assert progress.describe() == "Indexing 100 of 1,100 new or changed ECG files — 25 files/s, about 40 s left"
    assert IndexProgress("indexing", 0, 10, reading_started_s=5.0, updated_s=5.0).remaining_s is None
    assert IndexProgress("checking").describe().startswith("Checking the case folder")
    slow = IndexProgress("indexing", 10, 10_000, reading_started_s=0.5, updated_s=10.5)
    assert slow.describe().endswith("1 files/s, about 2 h 46 min left")


def test_the_command_indexes_with_workers_and_shows_the_rate(tmp_path, folder, pooled, monkeypatch, capsys):
    from ecgreview.cli import main

    for variable in ("ECGREVIEW_MODEL", "ECGREVIEW_MODELS_DIR", "ECGREVIEW_REVIEWS", "ECGREVIEW_CASES",
                     "ECGREVIEW_CONFIG", "ECGREVIEW_BACKEND"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    assert main(["index", str(folder), "--no-model", "--workers", "2"]) == 1  # broken.dcm is listed as failed
    captured = capsys.readouterr()
    assert f"{FILES + 1}/{FILES + 1} new or changed files indexed, " in captured.err
    assert "files/s, about 0 s left" in captured.err
    assert f"{FILES + 1} new, 0 changed" in captured.out and "failed: broken.dcm: not a DICOM file" in captured.out
    with pytest.raises(SystemExit):
        main(["index", str(folder), "--workers", "0"])
    assert "--workers: must be a positive integer, got '0'" in capsys.readouterr().err
