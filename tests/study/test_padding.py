"""Centre vs end zero padding: different model inputs, and a report that counts flipped calls."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgreview.examples import DEMO_CASES_DIR
from ecgreview.io import list_case_files, read_ecg
from ecgreview.model.batch import score_ecgs
from ecgreview.preprocess import fit_length, preprocess_ecg
from ecgreview.record import CLASSES, LEAD_ORDER, THRESHOLDS, dnn_calls
from ecgreview.study.padding import format_padding_report, padding_report

AF, ST = CLASSES.index("AF"), CLASSES.index("ST")


class PositionModel:
    """AF is likely when the first 10 input rows carry signal, ST when rows 4000-4009 do."""

    provenance = {"model_file": "position-fixture", "status": "unverified"}

    def predict_probabilities(self, batch: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        probabilities = np.zeros((len(batch), len(CLASSES)), dtype=np.float32)
        probabilities[:, AF] = np.where(np.abs(batch[:, :10]).sum(axis=(1, 2)) > 0, 0.9, 0.1)
        probabilities[:, ST] = np.where(np.abs(batch[:, 4000:4010]).sum(axis=(1, 2)) > 0, 0.9, 0.1)
        return probabilities


def _write_record(folder: Path, name: str, samples: int) -> None:
    time_s = np.arange(samples) / 400
    signal = 0.5 + 0.3 * np.sin(2 * np.pi * 1.2 * time_s)[:, None] * np.ones((1, len(LEAD_ORDER)))
    wfdb.wrsamp(name, fs=400, units=["mV"] * len(LEAD_ORDER), sig_name=list(LEAD_ORDER), p_signal=signal,
                fmt=["16"] * len(LEAD_ORDER), write_dir=str(folder))


@pytest.fixture
def constructed(tmp_path) -> Path:
    """short: 4000 samples (AF and ST flip); shorter: 3000 (AF flips); 4095 and 4096: identical inputs; long: 5000."""
    for name, samples in (("short", 4000), ("shorter", 3000), ("almost", 4095), ("exact", 4096), ("long", 5000)):
        _write_record(tmp_path, name, samples)
    (tmp_path / "broken.hea").write_text("not a header\n")
    return tmp_path


def test_fit_length_end_and_centre():
    signal = np.ones((6, 2), dtype=np.float32)
    centre, end = fit_length(signal, 10), fit_length(signal, 10, padding="end")
    assert centre[:, 0].tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 0, 0]
    assert end[:, 0].tolist() == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    long = np.arange(12, dtype=np.float32)[:, None]
    assert fit_length(long, 10)[:, 0].tolist() == list(range(1, 11))
    assert fit_length(long, 10, padding="end")[:, 0].tolist() == list(range(10))
    with pytest.raises(ValueError, match="padding must be one of centre, end"):
        fit_length(signal, 10, padding="start")


def test_demo_case_inputs_differ_between_paddings():
    record = read_ecg(DEMO_CASES_DIR / "A0003.hea")
    centre, end = preprocess_ecg(record), preprocess_ecg(record, padding="end")
    assert centre.shape == end.shape == (4096, 12)
    assert not np.array_equal(centre, end)
    assert np.array_equal(centre, preprocess_ecg(record, padding="centre"))


def test_report_counts_flips_on_constructed_cases(constructed):
    report = padding_report(constructed, model=PositionModel(), batch_size=2)
    assert (report.files, report.scored, report.identical_inputs, len(report.errors)) == (6, 5, 2, 1)
    assert report.per_class.loc["AF", "flips"] == 2 and report.per_class.loc["ST", "flips"] == 1
    assert report.per_class["flips"].sum() == 3
    assert report.per_class.loc["AF", ["present_centre", "present_end"]].tolist() == [3, 5]
    assert report.flipped_files == ["short.hea", "shorter.hea"]
    flips = report.flips.set_index(["source_path", "class"])
    assert flips.loc[("short.hea", "ST"), ["call_centre", "call_end"]].tolist() == ["present", "absent"]
    assert flips.loc[("shorter.hea", "AF"), ["prob_centre", "prob_end"]].tolist() == pytest.approx([0.1, 0.9])
    text = format_padding_report(report)
    assert "3 flipped calls in 2 files" in text and "unreadable 'broken.hea'" in text


def test_score_padding_option_changes_the_inputs(constructed, tmp_path):
    outputs = {}
    for padding in ("centre", "end"):
        out = tmp_path / f"{padding}.csv"
        score_ecgs(constructed / "short.hea", model=PositionModel(), thresholds=THRESHOLDS, out_csv=out,
                   padding=padding)
        with out.open(newline="") as stream:
            outputs[padding] = next(csv.DictReader(stream))
    assert (outputs["centre"]["call_AF"], outputs["end"]["call_AF"]) == ("0", "1")
    with pytest.raises(ValueError, match="padding must be one of"):
        score_ecgs(constructed, model=PositionModel(), thresholds=THRESHOLDS, out_csv=tmp_path / "x.csv",
                   padding="middle")


@pytest.fixture(scope="module")
def fixture_model(tmp_path_factory):
    from ecgreview.model.network import build_model, load_model
    from tests.model_fixtures import random_weights, weight_specs_from_keras, write_keras224_hdf5

    specs = weight_specs_from_keras(build_model())
    path = write_keras224_hdf5(tmp_path_factory.mktemp("weights") / "model.hdf5", specs, random_weights(specs, seed=4))
    return load_model(path)


def test_report_on_the_demo_cases_with_fixture_weights(fixture_model):
    report = padding_report(DEMO_CASES_DIR, model=fixture_model, batch_size=8)
    files = list_case_files(DEMO_CASES_DIR)
    records = [read_ecg(file) for file in files]
    batch = np.stack([preprocess_ecg(r, padding=p) for p in ("centre", "end") for r in records])
    probabilities = fixture_model.predict_probabilities(batch)
    flipped = dnn_calls(probabilities[:len(records)]) != dnn_calls(probabilities[len(records):])
    assert (report.files, report.scored, report.errors) == (len(files), len(files), ())
    assert report.per_class["flips"].tolist() == flipped.sum(axis=0).tolist()
    assert len(report.flips) == int(flipped.sum())


def test_padding_report_cli(fixture_model, tmp_path, capsys):
    from ecgreview.cli import main

    folder = tmp_path / "cases"
    folder.mkdir()
    for suffix in (".hea", ".mat"):
        shutil.copyfile(DEMO_CASES_DIR / f"A0003{suffix}", folder / f"A0003{suffix}")
    code = main(["padding-report", str(folder), "--model", str(fixture_model.path), "--out", str(tmp_path / "f.csv")])
    out = capsys.readouterr().out
    assert code in (0, 1) and "Padding centre vs end: 1 of 1 ECGs predicted both ways" in out
    assert (tmp_path / "f.csv").read_text().startswith("source_path,source_sha256,class")
    assert main(["padding-report", str(tmp_path / "missing")]) == 2
