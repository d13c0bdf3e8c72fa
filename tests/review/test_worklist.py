"""The worklist index (incremental, per model) and its rows: discordance, filters, sort, readers."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecgreview.config import Settings
from ecgreview.examples import demo_ecg_path
from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.consensus import classes_to_adjudicate
from ecgreview.review.protocol import latest_readings
from ecgreview.review.store import Review, append_review, read_reviews
from ecgreview.review.worklist import (
    CaseIndex,
    case_paths,
    neighbours,
    save_upload,
)
from ecgreview.security.phi.dicom import deidentify_bytes
from tests.io.dicom_fixtures import write_ecg_dicom


@dataclass(frozen=True)
class _Identity:
    sha256: str


class FakeModel:
    """Stands in for a InferenceModel: AF for every case, nothing else; counts what it is asked."""

    def __init__(self, sha256: str = "a" * 64) -> None:
        self.identity = _Identity(sha256)
        self.seen = 0

    def predict_probabilities(self, batch: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        self.seen += len(batch)
        return np.tile(np.array([0.0, 0.0, 0.0, 0.0, 0.9, 0.0]), (len(batch), 1))


@pytest.fixture
def folder(tmp_path) -> Path:
    cases = tmp_path / "cases"
    cases.mkdir()
    shutil.copy(demo_ecg_path(), cases / "demo.dcm")
    write_ecg_dicom(cases, "af.dcm", statements=("ATRIAL FIBRILLATION",))
    write_ecg_dicom(cases, "sinus.dcm", statements=("SINUS RHYTHM", "NORMAL ECG"))
    write_ecg_dicom(cases, "silent.dcm", statements=())
    (cases / "broken.dcm").write_bytes(b"not a dicom file")
    return cases


def _review(sha: str, reader: str, calls: dict[str, str], role: str = "reader", **options) -> Review:
    return Review.create(reader=reader, reader_calls=dict.fromkeys(CLASSES, "absent") | calls,
                         source_sha256=sha, opinions_seen=True, role=role, **options)


def test_index_reads_only_new_or_changed_files(tmp_path, folder):
    index = CaseIndex(tmp_path / "home" / "index.sqlite")
    paths = sorted(folder.iterdir())
    model = FakeModel()
    first = index.update(paths, model=model)
    assert first.read == 5 and first.predicted == 4 and len(first.failed) == 1
    assert "broken.dcm" in first.failed[0]
    again = CaseIndex(index.path).update(paths, model=model)  # a new process: the file persists
    assert (again.read, again.predicted, again.unchanged) == (0, 0, 5)
    assert model.seen == 4
    os.utime(folder / "af.dcm", ns=(1, 1))
    changed = index.update(paths, model=model)
    assert changed.read == 1 and changed.predicted == 1
    other = FakeModel("b" * 64)
    new_model = index.update(paths, model=other)
    assert new_model.read == 0 and new_model.predicted == 4 and other.seen == 4
    cases = index.cases(paths, thresholds=THRESHOLDS, model_sha256=other.identity.sha256)
    assert [case.source_name for case in cases] == ["af.dcm", "broken.dcm", "demo.dcm", "silent.dcm", "sinus.dcm"]
    af = cases[0]
    assert af.device_calls["AF"] == "definite" and af.dnn_calls["AF"] and af.pseudonym == "PSEUDO-0042"
    assert index.find(af.source_sha256) == folder / "af.dcm"
    assert index.find("0" * 64) is None
    (folder / "sinus.dcm").unlink()
    pruned = index.update(sorted(folder.iterdir()), prune=True)
    assert pruned.removed == 1 and len(index.cases(thresholds=THRESHOLDS)) == 4


def test_readers_disagreements_and_adjudication(tmp_path):
    sha = "1" * 64
    store = tmp_path / "reviews.csv"
    first = append_review(store, _review(sha, "Dr A", {"AF": "present"}))
    append_review(store, _review(sha, "Dr A", {"AF": "present", "SB": "present"}))  # a correction
    second = append_review(store, _review(sha, "Dr B", {"AF": "absent"}))
    readings = latest_readings(read_reviews(store), sha)
    assert list(readings["reader"]) == ["Dr A", "Dr B"] and first.review_id not in set(readings["review_id"])
    assert classes_to_adjudicate(readings) == ["SB", "AF"]
    append_review(store, _review(sha, "Dr C", {"AF": "present"}, role="adjudicator",
                                 resolves_review_ids=list(readings["review_id"])))
    readings = latest_readings(read_reviews(store), sha)
    assert list(readings["role"]) == ["reader", "reader", "adjudicator"]
    assert second.review_id in readings.iloc[2]["resolves_review_ids"]
    assert classes_to_adjudicate(readings) == ["SB", "AF"]  # the readers still disagreed


def test_case_paths_uploads_and_neighbours(tmp_path, folder):
    settings = Settings(home=tmp_path / "home", models_dir=tmp_path, reviews_path=tmp_path / "r.csv")
    assert case_paths(settings) == [demo_ecg_path()]
    clean, _ = deidentify_bytes(demo_ecg_path().read_bytes())  # uploads with PHI are not kept (tests/security)
    saved = save_upload(settings, clean, "../evil name.dcm", "f" * 64)
    assert saved.parent == settings.home / "uploads" and saved.name == "ffffffffffff-evil_name.dcm"
    with_folder = Settings(home=settings.home, models_dir=tmp_path, reviews_path=tmp_path / "r.csv", cases_dir=folder)
    listed = case_paths(with_folder)
    assert folder / "af.dcm" in listed and saved in listed and demo_ecg_path() not in listed
    assert neighbours(["a", "b", "c"], "b") == ("a", "c")
    assert neighbours(["a", "b", "c"], "c") == ("b", None)
    assert neighbours(["a"], "z") == (None, "a") and neighbours([], "z") == (None, None)
    assert isinstance(read_reviews(tmp_path / "none.csv"), pd.DataFrame)
