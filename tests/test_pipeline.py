"""The read → preprocess → predict pipeline (ecgreview.pipeline): one path for every entry point."""

from __future__ import annotations

import numpy as np

from ecgreview.examples import demo_ecg_path
from ecgreview.io import read_ecg
from ecgreview.pipeline import predict_inputs, predict_record, prepare_file, prepare_record
from ecgreview.preprocess import preprocess_ecg
from ecgreview.review.case import analyse_case


class CountingModel:
    """Probabilities from the input's mean (so that inputs are told apart); counts model calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.identity = None
        self.provenance: dict[str, str] = {}

    def predict_probabilities(self, batch: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        self.calls.append(len(batch))
        means = batch.reshape(len(batch), -1).mean(axis=1, dtype=float)
        return np.tile((np.tanh(means) + 1) / 2, (6, 1)).T


def test_prepare_file_reads_and_preprocesses_like_the_stages():
    prepared = prepare_file(demo_ecg_path())
    record = read_ecg(demo_ecg_path())
    assert prepared.error == "" and prepared.record == record
    np.testing.assert_array_equal(prepared.model_input, preprocess_ecg(record))
    end = prepare_record(record, padding="end")
    assert end.model_input.shape == (4096, 12)


def test_a_bad_file_gives_its_reason_instead_of_raising(tmp_path):
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"DICM but not really")
    prepared = prepare_file(broken)
    assert prepared.record is None and prepared.model_input is None and prepared.error
    missing = prepare_file(tmp_path / "missing.hea")
    assert missing.model_input is None and missing.error


def test_one_model_call_per_batch_and_the_same_probabilities_on_every_path():
    model = CountingModel()
    record = read_ecg(demo_ecg_path())
    single = predict_record(model, record)
    batched = predict_inputs(model, [prepare_record(record).model_input] * 3)
    assert model.calls == [1, 3] and single.shape == (6,) and batched.shape == (3, 6)
    np.testing.assert_allclose(batched, np.tile(single, (3, 1)))
    np.testing.assert_allclose(analyse_case(record, model).probabilities, single)  # the Review page's path
    assert predict_inputs(model, []).shape == (0, 6) and model.calls == [1, 3, 1]
