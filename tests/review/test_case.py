"""One case through the pipeline (:mod:`ecgreview.review.case`): what the model sees, the display rows, the review.

The model here is a stand-in that records its input and returns fixed probabilities (no TensorFlow):
these tests are about the orchestration, not the network. Multi-file records and upload names are in
``test_case_source.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from ecgreview.device.statements import map_statements
from ecgreview.errors import EcgReadError, PreprocessError
from ecgreview.examples import demo_ecg_path
from ecgreview.io import read_ecg
from ecgreview.model.provenance import WeightsIdentity
from ecgreview.preprocess import preprocess_ecg
from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.case import CaseAnalysis, CaseSource, analyse_case

#: One probability per class: above the paper's threshold for 1dAVb and AF only.
PROBABILITIES = np.array([0.9, 0.01, 0.02, 0.1, 0.8, 0.05], dtype=np.float32)


@dataclasses.dataclass
class _StandInModel:
    """Records every batch it is given; returns :data:`PROBABILITIES` for each ECG."""

    backend_name: ClassVar[str] = "stand-in"
    path: Path = Path("fixture.hdf5")
    identity: WeightsIdentity = WeightsIdentity("fixture.hdf5", "e" * 64, "f" * 40, 1, "unverified",
                                                "fixture (unverified)")
    provenance: dict[str, Any] = dataclasses.field(default_factory=lambda: {"backend": "stand-in"})
    batches: list[np.ndarray] = dataclasses.field(default_factory=list)

    def predict_probabilities(self, batch: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        self.batches.append(batch)
        return np.tile(PROBABILITIES, (len(batch), 1))


@pytest.fixture(scope="module")
def demo_record():
    return read_ecg(demo_ecg_path())


def test_the_model_sees_the_preprocessed_record_once(demo_record):
    model = _StandInModel()
    analysis = analyse_case(demo_record, model, phi_audit="PHI audit: nothing found")  # type: ignore[arg-type]
    assert len(model.batches) == 1 and model.batches[0].shape == (1, 4096, 12)
    np.testing.assert_array_equal(model.batches[0][0], preprocess_ecg(demo_record))
    assert analysis.record is demo_record  # the record as read, not what the model saw
    np.testing.assert_array_equal(analysis.probabilities, PROBABILITIES)
    assert analysis.identity is model.identity and analysis.provenance == {"backend": "stand-in"}
    assert analysis.phi_audit == "PHI audit: nothing found" and analysis.thresholds == THRESHOLDS


def test_calls_and_rows_use_the_thresholds_given(demo_record):
    analysis = analyse_case(demo_record, _StandInModel())  # type: ignore[arg-type]
    assert analysis.dnn_calls == (True, False, False, False, True, False)
    assert [(name, round(p, 3), call) for name, p, call in analysis.dnn_rows()] == [
        (name, round(float(p), 3), call) for name, p, call in zip(CLASSES, PROBABILITIES, analysis.dnn_calls)]
    strict = analyse_case(demo_record, _StandInModel(), thresholds=[0.95] * 6)  # type: ignore[arg-type]
    assert strict.thresholds == (0.95,) * 6 and strict.dnn_calls == (False,) * 6
    rows = strict.class_rows()
    assert [row["Class"] for row in rows] == list(CLASSES)
    assert rows[0] == {"Class": "1dAVb", "DNN p": "0.900", "Threshold": "0.95", "DNN call": "absent",
                       "Device": "absent"}
    assert analysis.model_label == "fixture (unverified)"


def test_without_a_model_only_the_device_speaks(demo_record):
    analysis = analyse_case(demo_record)
    assert analysis.probabilities is None and analysis.identity is None and analysis.provenance == {}
    assert analysis.dnn_calls is None and list(analysis.dnn_rows()) == [] and analysis.model_label == "no model"
    assert {row["DNN p"] for row in analysis.class_rows()} == {"—"}
    assert {row["DNN call"] for row in analysis.class_rows()} == {"—"}
    expected = map_statements(demo_record.statements, demo_record.measurements)
    assert {name: call.strength for name, call in analysis.device.calls.items()} == \
        {name: call.strength for name, call in expected.calls.items()}


def test_device_statements_are_read_as_classes(demo_record):
    record = dataclasses.replace(demo_record, statements=("ATRIAL FIBRILLATION", "RIGHT BUNDLE BRANCH BLOCK"))
    analysis = analyse_case(record)
    assert analysis.device.calls["AF"].strength == "definite" and analysis.device.calls["RBBB"].strength == "definite"
    by_class = {row["Class"]: row["Device"] for row in analysis.class_rows()}
    assert by_class["AF"] == "definite" and by_class["SB"] == "absent"


def test_the_review_carries_the_case_the_model_and_the_device(demo_record):
    model = _StandInModel()
    analysis = analyse_case(demo_record, model, phi_audit="PHI audit: patient name")  # type: ignore[arg-type]
    calls = dict.fromkeys(CLASSES, "absent") | {"AF": "present"}
    review = analysis.to_review(reader=" Dr Case ", reader_calls=calls, comment="checked", role="reader",
                                reading_mode="adjudication")
    assert review.reader == "Dr Case" and review.reader_calls == calls and review.comment == "checked"
    assert review.source_sha256 == demo_record.source_sha256 and review.source_name == demo_record.source_name
    assert review.case_pseudonym == demo_record.pseudonym and review.device_statements == demo_record.statements
    assert review.model_name == "fixture.hdf5" and review.model_sha256 == "e" * 64
    assert review.model_git_blob_sha1 == "f" * 40 and review.model_status == "unverified"
    assert review.probabilities == {name: pytest.approx(float(p)) for name, p in zip(CLASSES, PROBABILITIES)}
    assert review.dnn_calls["AF"] == "present" and review.agreement["AF"] == "agree"
    assert review.agreement["1dAVb"] == "disagree"  # the DNN said present, the reader absent
    assert review.phi_audit == "PHI audit: patient name" and review.provenance == {"backend": "stand-in"}
    assert review.statement_map_version == analysis.device.table_version and review.opinions_seen


def test_a_review_without_a_model_says_none(demo_record):
    review = analyse_case(demo_record).to_review(reader="Dr Case", reader_calls=dict.fromkeys(CLASSES, "uncertain"),
                                                 opinions_seen=False)
    assert review.model_status == "none" and review.model_name == "" and review.model_sha256 == ""
    assert set(review.probabilities.values()) == {None} and set(review.dnn_calls.values()) == {""}
    assert not review.opinions_seen


def test_a_record_the_model_cannot_take_is_a_preprocess_error(demo_record):
    broken = dataclasses.replace(demo_record, signal_mv=np.full_like(demo_record.signal_mv, np.nan))
    model = _StandInModel()
    with pytest.raises(PreprocessError, match="NaN or infinite"):
        analyse_case(broken, model)  # type: ignore[arg-type]
    assert model.batches == []
    assert analyse_case(broken).probabilities is None  # without a model the record is still shown


def test_a_case_from_a_path_reads_its_bytes_and_names_a_missing_file(tmp_path):
    path = tmp_path / "case.dcm"
    path.write_bytes(demo_ecg_path().read_bytes())
    source = CaseSource.from_path(path)
    assert source.name == "case.dcm" and source.main_bytes() == demo_ecg_path().read_bytes()
    assert source.read().source_sha256 == read_ecg(demo_ecg_path()).source_sha256
    before = source.cache_key()
    path.unlink()
    assert source.cache_key() != before and source.cache_key() == ("path", (str(path), -1, -1))
    with pytest.raises(EcgReadError, match=r"case\.dcm: cannot read file"):
        source.main_bytes()


@pytest.mark.parametrize(("name", "suffix"), [("scan.XML", ".xml"), ("record.hea", ".hea"), ("no-suffix", ""),
                                              ("odd.d c m", ""), ("évian.dçm", ""), ("../../etc/passwd.dcm", ".dcm")])
def test_an_upload_keeps_only_a_plain_suffix(name, suffix):
    source = CaseSource.from_upload(b"not an ECG", name)
    assert source.path is None and source.main_bytes() == b"not an ECG"
    assert source.name == f"upload-{source.cache_key()[1][:12]}{suffix}"
    with pytest.raises(EcgReadError):
        source.read()
