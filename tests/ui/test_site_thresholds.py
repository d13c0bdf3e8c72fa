"""Site thresholds (ECGREVIEW_THRESHOLDS) reach every DNN call: the worklist, the Review page's saved row,
``score`` and ``evaluate`` call alike (issue 20: the worklist and ``score`` used the paper's thresholds)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ecgreview.cli import main
from ecgreview.io import read_ecg
from ecgreview.model.serving import load_inference_model
from ecgreview.preprocess import preprocess_ecg
from ecgreview.record import CLASSES, THRESHOLDS, dnn_calls
from ecgreview.review.store import read_reviews
from ecgreview.study.cohort import load_cohort
from ecgreview.ui import state
from tests.ui.reading_room_fixtures import (
    ENV_VARIABLES,
    build_case_folder,
    click_calls,
    open_page,
    write_fixture_weights,
)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A case folder, fixture weights, and site thresholds that flip every DNN call of syn-af.dcm."""
    for variable in (*ENV_VARIABLES, "ECGREVIEW_THRESHOLDS"):
        monkeypatch.delenv(variable, raising=False)
    cases = build_case_folder(tmp_path / "cases")
    weights = write_fixture_weights(tmp_path / "fixture.hdf5")
    record = read_ecg(cases / "syn-af.dcm")
    probabilities = load_inference_model(weights).predict_probabilities(preprocess_ecg(record)[None])[0]
    paper = dnn_calls(probabilities, THRESHOLDS)
    flipped = tuple(0.0 if not call else 1.0 for call in paper)  # p > 0 present, p > 1 never
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_CASES", str(cases))
    monkeypatch.setenv("ECGREVIEW_MODEL", str(weights))
    monkeypatch.setenv("ECGREVIEW_THRESHOLDS", ",".join(f"{value:g}" for value in flipped))
    expected = [name for name, call in zip(CLASSES, dnn_calls(probabilities, flipped)) if call]
    assert expected != [name for name, call in zip(CLASSES, paper) if call]
    return tmp_path, record, flipped, expected


def test_worklist_review_page_score_and_evaluate_use_the_site_thresholds(site):
    tmp_path, record, flipped, expected = site
    worklist = open_page("worklist")
    rows = worklist.dataframe[-1].value
    row = rows[rows["source_sha256"] == record.source_sha256].iloc[0]
    assert row["DNN calls"] == (", ".join(expected) or "none")

    app = open_page("review", query={state.QUERY_CASE: record.source_sha256})
    app.text_input(key=state.READER_NAME_WIDGET).input("Dr Site")
    click_calls(app.run(), dict.fromkeys(CLASSES, "absent"))
    app.button(key="save-review").click()
    app.run()
    assert not app.exception, app.exception
    saved = read_reviews(tmp_path / "home" / "reviews.csv").iloc[0]
    assert [name for name in CLASSES if saved[f"dnn_call_{name}"] == "present"] == expected
    assert tuple(float(value) for value in saved["thresholds"].split(";")) == flipped

    out = tmp_path / "scores.csv"
    assert main(["score", str(record_path(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    scored = next(csv.DictReader(out.open(encoding="utf-8")))
    assert [name for name in CLASSES if scored[f"call_{name}"] == "1"] == expected
    assert tuple(float(value) for value in scored["thresholds"].split(";")) == flipped

    cohort = load_cohort(tmp_path / "home" / "reviews.csv")
    assert cohort.thresholds == flipped
    assert [name for name in CLASSES if cohort.dnn_calls.iloc[0][name] == 1.0] == expected


def record_path(tmp_path: Path) -> Path:
    return tmp_path / "cases" / "syn-af.dcm"
