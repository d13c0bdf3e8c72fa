"""Batch scoring: folder in, predictions CSV and errors CSV out; resumable; local and Dask engines agree."""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from ecgreview.cli.score import register as register_cli
from ecgreview.errors import EcgReviewError
from ecgreview.examples import demo_ecg_path
from ecgreview.io import read_ecg
from ecgreview.io.wfdb import read_wfdb_ecg
from ecgreview.model.batch import ERROR_COLUMNS, SCORE_COLUMNS, score_ecgs
from ecgreview.model.network import LoadedModel, build_model, load_model
from ecgreview.preprocess import preprocess_ecg
from ecgreview.record import CLASSES, THRESHOLDS, dnn_calls
from ecgreview.study.compare import load_probabilities
from tests.model_fixtures import random_weights, weight_specs_from_keras, write_keras224_hdf5

GOOD_DICOMS = ("ecg2dcm_guangxi_teaching_sinus_rhythm.dcm", "ecgtoolkit_Example.dcm")
WFDB_RECORDS = ("A0003", "E00001")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> LoadedModel:
    """Fixture weights (random, released layout) built without ../shared."""
    specs = weight_specs_from_keras(build_model())
    path = tmp_path_factory.mktemp("weights") / "model.hdf5"
    write_keras224_hdf5(path, specs, random_weights(specs, seed=11))
    return load_model(path)


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory, corpus_dir) -> Path:
    """The demo ECG, real DICOM and WFDB files, a truncated DICOM and a text file posing as DICOM."""
    folder = tmp_path_factory.mktemp("cases")
    shutil.copyfile(demo_ecg_path(), folder / "demo.dcm")
    for name in GOOD_DICOMS:
        shutil.copyfile(corpus_dir / "dicom" / name, folder / name)
    (folder / "wfdb").mkdir()
    for record in WFDB_RECORDS:
        for suffix in (".hea", ".mat"):
            shutil.copyfile(corpus_dir / "wfdb" / f"{record}{suffix}", folder / "wfdb" / f"{record}{suffix}")
    shutil.copyfile(corpus_dir / "dicom" / "broken" / "ecgtoolkit_Example_2008-09.dcm", folder / "truncated.dcm")
    (folder / "notes.dcm").write_text("not an ECG, just notes\n", encoding="utf-8")
    (folder / "README.txt").write_text("ignored: not an ECG suffix\n", encoding="utf-8")
    return folder


def _inputs(folder: Path) -> np.ndarray:
    """Model inputs of the readable ECGs in the order of the scoring CSV (sorted relative paths)."""
    records = [read_ecg(folder / name) for name in ("demo.dcm", *GOOD_DICOMS)]
    records += [read_wfdb_ecg(folder / "wfdb" / f"{record}.hea") for record in WFDB_RECORDS]
    order = sorted(range(len(records)), key=lambda i: ["demo.dcm", *GOOD_DICOMS, *(f"wfdb/{r}.hea" for r in WFDB_RECORDS)][i])
    return np.stack([preprocess_ecg(records[index]) for index in order])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def scored(tmp_path_factory, model, case_folder) -> Path:
    out = tmp_path_factory.mktemp("out") / "predictions.csv"
    summary = score_ecgs(case_folder, model=model, thresholds=THRESHOLDS, out_csv=out, batch_size=32)
    assert (summary.files, summary.scored, summary.skipped, summary.failed) == (7, 5, 0, 2)
    return out


def test_rows_errors_and_provenance(scored, model):
    rows = _rows(scored)
    assert tuple(rows[0]) == SCORE_COLUMNS
    assert [row["source_path"] for row in rows] == sorted(
        ["demo.dcm", *GOOD_DICOMS, *(f"wfdb/{record}.hea" for record in WFDB_RECORDS)])
    assert {row["model_sha256"] for row in rows} == {model.identity.sha256}
    assert {row["model_status"] for row in rows} == {"unverified"}
    assert all(row["backend"].startswith("tensorflow tf.function") and row["source_sha256"] for row in rows)
    errors = _rows(scored.with_name("predictions.errors.csv"))
    assert tuple(errors[0]) == ERROR_COLUMNS
    reasons = {row["source_path"]: row["error"] for row in errors}
    assert set(reasons) == {"truncated.dcm", "notes.dcm"}
    assert "truncated" in reasons["truncated.dcm"]
    assert "not a DICOM file" in reasons["notes.dcm"]


def test_probabilities_identical_to_model_and_close_to_single(scored, model, case_folder):
    source = load_probabilities(scored)
    batch = _inputs(case_folder)
    expected = model.predict_probabilities(batch, batch_size=len(batch)).astype(np.float64)
    assert np.array_equal(source.probabilities, expected)  # repr floats: every digit survives
    single = np.concatenate([model.predict_probabilities(batch[index:index + 1]) for index in range(len(batch))])
    reference = model.predict_reference(batch)
    for other in (single, reference):
        assert np.abs(source.probabilities - other).max() <= 1e-5
        assert np.array_equal(dnn_calls(source.probabilities), dnn_calls(other))
    calls = np.array([[int(row[f"call_{name}"]) for name in CLASSES] for row in _rows(scored)], dtype=bool)
    assert np.array_equal(calls, dnn_calls(source.probabilities))


def test_second_run_appends_nothing(scored, model, case_folder):
    errors = scored.with_name("predictions.errors.csv")
    before = scored.read_bytes(), errors.read_bytes()
    summary = score_ecgs(case_folder, model=model, thresholds=THRESHOLDS, out_csv=scored)
    assert (summary.scored, summary.skipped, summary.failed) == (0, 5, 2)
    assert (scored.read_bytes(), errors.read_bytes()) == before


def test_torn_last_row_is_rescored(scored, model, case_folder, tmp_path):
    out = tmp_path / "torn.csv"
    complete = scored.read_bytes()
    out.write_bytes(complete[:-40])  # a run killed while writing the last row
    summary = score_ecgs(case_folder, model=model, thresholds=THRESHOLDS, out_csv=out)
    assert summary.scored == 1
    rows, expected = _rows(out), _rows(scored)
    assert [row["source_sha256"] for row in rows] == [row["source_sha256"] for row in expected]
    # the last ECG is now predicted alone, in another batch: equal within float32 rounding
    assert np.abs(load_probabilities(out).probabilities - load_probabilities(scored).probabilities).max() <= 1e-5
    assert [row[f"call_{name}"] for row in rows for name in CLASSES] == [
        row[f"call_{name}"] for row in expected for name in CLASSES]


def test_explicit_files_and_small_batches(model, case_folder, tmp_path, scored):
    files = [case_folder / "demo.dcm", case_folder / "README.txt", case_folder / "wfdb" / "A0003.hea"]
    out = tmp_path / "few.csv"
    summary = score_ecgs(files, model=model, thresholds=THRESHOLDS, out_csv=out, errors_csv=tmp_path / "bad.csv",
                         batch_size=1)
    assert (summary.scored, summary.failed) == (2, 1)
    assert _rows(tmp_path / "bad.csv")[0]["source_path"] == str(case_folder / "README.txt")
    by_hash = {row["source_sha256"]: row for row in _rows(scored)}
    for row in _rows(out):
        for name in CLASSES:
            assert abs(float(row[f"prob_{name}"]) - float(by_hash[row["source_sha256"]][f"prob_{name}"])) <= 1e-5


def test_refuses_other_header_and_bad_options(model, case_folder, tmp_path):
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(EcgReviewError, match="other.csv: not a scoring file"):
        score_ecgs(case_folder, model=model, thresholds=THRESHOLDS, out_csv=out)
    with pytest.raises(ValueError, match="engine must be one of local, dask"):
        score_ecgs(case_folder, model=model, thresholds=THRESHOLDS, out_csv=tmp_path / "x.csv", engine="spark")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        score_ecgs(case_folder, model=model, thresholds=THRESHOLDS, out_csv=tmp_path / "x.csv", batch_size=0)


def test_cli_subcommand(model, case_folder, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "cli.csv"
    args = parser.parse_args(["score", str(case_folder), "--out", str(out), "--model", str(model.path), "--no-progress"])
    assert args.handler(args) == 1  # two files failed
    assert "5 scored, 0 already scored, 2 failed of 7 files" in capsys.readouterr().out
    assert len(_rows(out)) == 5


def test_dask_engine_writes_the_same_file(scored, model, case_folder, tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "dask.csv"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = score_ecgs(case_folder, model=model, thresholds=THRESHOLDS, out_csv=out, batch_size=32,
                             engine="dask", scheduler_address=cluster.scheduler_address)
    assert (summary.scored, summary.failed) == (5, 2)
    assert out.read_bytes() == scored.read_bytes()
    assert out.with_name("dask.errors.csv").read_bytes() == scored.with_name("predictions.errors.csv").read_bytes()
