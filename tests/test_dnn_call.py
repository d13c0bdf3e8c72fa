"""One DNN decision rule everywhere: a probability exactly at each float32 threshold, and one ulp above.

The model outputs float32; the rule (:func:`ecgreview.record.dnn_calls`) compares in
float32. Each path that shows or stores a call (the review page's analysis, the saved
CSV row and its read-back, the worklist, batch scoring, the cohort, the published-DNN
calls, prediction comparison, the probability figure) must give the same call.
"""

from __future__ import annotations

import json
import sqlite3

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ecgreview.device.statements import map_statements
from ecgreview.model import batch as score
from ecgreview.plots import plot_probabilities
from ecgreview.record import CLASSES, THRESHOLDS, EcgRecord, dnn_calls
from ecgreview.review.case import CaseAnalysis
from ecgreview.review.store import Review, append_review, read_reviews
from ecgreview.review.worklist import CaseIndex, IndexedCase
from ecgreview.review.worklist_query import query_worklist, sync_dnn_calls, sync_listing
from ecgreview.study.cohort import load_cohort
from ecgreview.study.cohort_report import _published_calls
from ecgreview.study.compare import compare_predictions

AT = np.asarray(THRESHOLDS, dtype=np.float32)
ABOVE = np.nextafter(AT, np.float32(1))
SHA = "a" * 64
CASES = {"at": (AT, False), "above": (ABOVE, True)}


def test_float64_comparison_would_disagree_for_some_threshold() -> None:
    # Why the rule compares in float32: for some thresholds float32(t) > t in float64.
    assert any(float(p) > t for p, t in zip(AT, THRESHOLDS))
    assert not dnn_calls(AT).any() and dnn_calls(ABOVE).all()
    assert not dnn_calls([float(p) for p in AT]).any()  # the same value read back from text


def test_dnn_calls_checks_shapes_and_broadcasts_per_case_thresholds() -> None:
    with pytest.raises(ValueError, match="probabilities must have 6 values in the last axis"):
        dnn_calls(np.zeros(5))
    with pytest.raises(ValueError, match="thresholds must have 6 values in the last axis"):
        dnn_calls(AT, [0.5])
    per_case = np.stack([AT, np.zeros(6, np.float32)])
    assert dnn_calls(np.stack([AT, AT]), per_case).tolist() == [[False] * 6, [True] * 6]
    assert not dnn_calls(np.full(6, np.nan)).any()


def _analysis(probabilities: np.ndarray) -> CaseAnalysis:
    record = EcgRecord(np.zeros((4000, 12), np.float32), 400.0, ("I",) * 12, source_name="x.dcm",
                       source_sha256=SHA)
    identity = SimpleNamespace(name="m", sha256="c" * 64, git_blob_sha1="d" * 40, status="unverified", label="m")
    return CaseAnalysis(record, probabilities, identity, {}, map_statements(()))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", CASES)
def test_page_csv_row_and_read_back_agree(tmp_path: Path, name: str) -> None:
    probabilities, expected = CASES[name]
    word = "present" if expected else "absent"
    analysis = _analysis(probabilities)
    assert analysis.dnn_calls == (expected,) * 6
    assert [row["DNN call"] for row in analysis.class_rows()] == [word] * 6
    review = analysis.to_review(reader="Dr A", reader_calls=dict.fromkeys(CLASSES, "present"))
    assert review.dnn_calls == dict.fromkeys(CLASSES, word)
    store = tmp_path / "reviews.csv"
    append_review(store, review)
    frame = read_reviews(store)
    assert frame[[f"dnn_call_{c}" for c in CLASSES]].iloc[0].tolist() == [word] * 6
    assert Review.from_row(frame.iloc[0]).dnn_calls == dict.fromkeys(CLASSES, word)
    cohort = load_cohort(store)
    assert cohort.dnn_calls.loc[SHA].tolist() == [float(expected)] * 6


@pytest.mark.parametrize("name", CASES)
def test_worklist_scoring_and_figure_agree(name: str, tmp_path: Path) -> None:
    probabilities, expected = CASES[name]
    case = IndexedCase(Path("x.dcm"), SHA, "x.dcm", probabilities=tuple(float(p) for p in probabilities),
                       thresholds=THRESHOLDS)
    assert case.dnn_calls == dict.fromkeys(CLASSES, expected)
    index = CaseIndex(tmp_path / "index.sqlite")  # the worklist's rows: the index as its update writes it
    with sqlite3.connect(index.path) as connection:
        connection.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
                           ("x.dcm", 1, 1, SHA, json.dumps({"source_name": "x.dcm"}), ""))
        connection.execute("INSERT INTO predictions VALUES (?, ?, ?)",
                           (SHA, "m" * 64, json.dumps([float(p) for p in probabilities])))
    sync_listing(index.path)
    sync_dnn_calls(index.path, model_sha256="m" * 64, thresholds=THRESHOLDS)
    rows = query_worklist(index.path, model_sha256="m" * 64, thresholds=THRESHOLDS).rows
    assert rows["DNN calls"].tolist() == [", ".join(CLASSES) if expected else "none"]

    class Model:
        provenance: dict[str, str] = {}

        def predict_probabilities(self, batch: np.ndarray, batch_size: int = 1) -> np.ndarray:
            return np.repeat(probabilities[None], len(batch), axis=0)

    prepared = score._Prepared("x.dcm", {"source_sha256": SHA}, np.zeros((4096, 12), np.float32))
    row = score._with_calls(score._predict_chunk(Model(), [prepared], set()).rows[0], THRESHOLDS)
    assert [row[f"call_{c}"] for c in CLASSES] == [str(int(expected))] * 6
    colours = plot_probabilities(probabilities).data[0].marker.color
    assert len(set(colours)) == 1 and (colours[0] == "#c0392b") == expected


def test_published_calls_and_comparison_flips_agree(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    append_review(store, Review.create(reader="Dr A", reader_calls=dict.fromkeys(CLASSES, "absent"),
                                       source_sha256=SHA, opinions_seen=True))
    cohort = load_cohort(store)
    for name, (probabilities, expected) in CASES.items():
        path = tmp_path / f"{name}.csv"
        path.write_text("source_sha256," + ",".join(f"prob_{c}" for c in CLASSES) + "\n"
                        + SHA + "," + ",".join(repr(float(p)) for p in probabilities) + "\n", encoding="utf-8")
        assert _published_calls(cohort, path).loc[SHA].tolist() == [float(expected)] * 6
        np.save(tmp_path / f"{name}.npy", probabilities[None])
    flips = compare_predictions(tmp_path / "at.npy", tmp_path / "above.npy").flips
    assert flips.all()
    assert not compare_predictions(tmp_path / "at.npy", tmp_path / "at.csv").flips.any()
