"""One definition of "the device said nothing": a file without statements has device calls
``NOT_AVAILABLE`` (never "absent"), stored so in the review CSV, shown so on the Review page and in
teaching feedback, and left out of the Built-in column of the cohort study (issue #18)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ecgreview.device.statements import NOT_AVAILABLE, map_statements
from ecgreview.record import CLASSES, EcgRecord
from ecgreview.review.case import CaseAnalysis
from ecgreview.review.store import append_review, read_reviews
from ecgreview.review.teaching import TeachingCase, comparison_rows

SHA = "b" * 64


def _analysis(statements: tuple[str, ...], sha256: str = SHA) -> CaseAnalysis:
    record = EcgRecord(np.zeros((4000, 12), np.float32), 400.0, ("I",) * 12, source_name="x.hea",
                       source_sha256=sha256, statements=statements)
    return CaseAnalysis(record, None, None, {}, map_statements(statements))


def _save(path: Path, analysis: CaseAnalysis) -> None:
    calls = dict.fromkeys(CLASSES, "absent") | {"AF": "present"}
    append_review(path, analysis.to_review(reader="Dr A", reader_calls=calls))


def test_stored_and_read_back_as_not_available(tmp_path):
    path = tmp_path / "reviews.csv"
    _save(path, _analysis(()))
    with open(path, encoding="utf-8", newline="") as handle:
        (row,) = csv.DictReader(line for line in handle if not line.startswith("#"))
    assert {row[f"device_call_{name}"] for name in CLASSES} == {NOT_AVAILABLE}
    assert set(read_reviews(path)["device_call_AF"]) == {NOT_AVAILABLE}


def test_shown_alike_on_the_review_page_and_in_teaching_feedback():
    pytest.importorskip("streamlit")
    from ecgreview.ui.decision_panel import _opinion_cells

    analysis = _analysis(())
    assert {row["Device"] for row in analysis.class_rows()} == {NOT_AVAILABLE}
    assert {_opinion_cells(analysis, index, False)[1] for index in range(len(CLASSES))} == {":gray[n/a]"}
    case = TeachingCase(SHA, "x.hea", dict.fromkeys(CLASSES, "absent"))
    strengths = {name: call.strength for name, call in analysis.device.calls.items()}
    rows = comparison_rows(case, dict.fromkeys(CLASSES, "absent"), dnn_calls=None, device_strengths=strengths)
    assert {row["Device"] for row in rows} == {NOT_AVAILABLE}
    with_statements = _analysis(("Sinus rhythm",))
    assert _opinion_cells(with_statements, CLASSES.index("AF"), False)[1] == "absent"


def test_left_out_of_built_in(tmp_path):
    from ecgreview.study.cohort import load_cohort
    from ecgreview.study.cohort_report import cohort_table

    path = tmp_path / "reviews.csv"
    _save(path, _analysis(("Atrial fibrillation",), "c" * 64))
    _save(path, _analysis(()))
    cohort = load_cohort(path)
    assert "Built-in: no device statements for 1 of 2 cases (left out of Built-in)" in cohort.notes
    assert not any("unknown strength" in note for note in cohort.notes)
    assert cohort_table(cohort).loc[("AF", "Built-in"), "cases"] == 1
    assert np.isnan(cohort.device_calls.loc[SHA]).all()
