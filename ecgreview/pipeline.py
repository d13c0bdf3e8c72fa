"""The read → preprocess → predict pipeline: one function per step, for one record or a batch.

Every entry point goes through it: the Review page (:func:`ecgreview.review.case.analyse_case`),
the worklist index, ``score`` (:mod:`ecgreview.model.batch`) and the padding report
(:mod:`ecgreview.study.padding`). Reading and preprocessing a file never raise here for a bad file
(:func:`prepare_file` gives the reason instead), so that a batch goes on past it; predicting is one
model call per batch (:func:`predict_inputs`), whatever the backend.

Examples
--------
>>> from ecgreview.examples import demo_ecg_path
>>> prepared = prepare_file(demo_ecg_path())
>>> prepared.model_input.shape, prepared.error
((4096, 12), '')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ecgreview.errors import EcgReviewError
from ecgreview.io import read_ecg
from ecgreview.preprocess import preprocess_ecg
from ecgreview.record import EcgRecord

__all__ = ["PreparedEcg", "predict_inputs", "predict_record", "prepare_file", "prepare_record"]

Padding = Literal["centre", "end"]


@dataclass(frozen=True)
class PreparedEcg:
    """One ECG ready for the model, or why it is not.

    Attributes
    ----------
    record : EcgRecord or None
        The record as read (None when the file could not be read).
    model_input : numpy.ndarray or None
        (4096, 12) float32 in mV at 400 Hz (:func:`~ecgreview.preprocess.preprocess_ecg`); None on an error.
    error : str
        Why the file could not be read or preprocessed; empty when it could.
    """

    record: EcgRecord | None
    model_input: np.ndarray | None
    error: str = ""


def prepare_record(record: EcgRecord, *, padding: Padding = "centre") -> PreparedEcg:
    """Preprocess ``record`` for the model; a record that cannot be gives its reason in ``error``."""
    try:
        return PreparedEcg(record, preprocess_ecg(record, padding=padding))
    except EcgReviewError as exc:
        return PreparedEcg(record, None, exc.reason)


def prepare_file(path: str | os.PathLike[str], *, padding: Padding = "centre") -> PreparedEcg:
    """Read and preprocess one file; an unreadable file gives its reason in ``error`` instead of raising.

    A reader bug (an exception that is not an :class:`~ecgreview.errors.EcgReviewError`) is reported
    the same way, as ``"unexpected <type>: <message>"``, so that one file never stops an archive run.
    """
    try:
        record = read_ecg(path)
    except EcgReviewError as exc:
        return PreparedEcg(None, None, exc.reason)
    except Exception as exc:  # noqa: BLE001 - reported per file, see the docstring
        return PreparedEcg(None, None, f"unexpected {type(exc).__name__}: {exc}")
    return prepare_record(record, padding=padding)


def predict_inputs(model: Any, inputs: Sequence[np.ndarray], *, batch_size: int | None = None) -> np.ndarray:
    """The model's probabilities for model inputs, in one call.

    Parameters
    ----------
    model : InferenceModel
        Has ``predict_probabilities(batch, batch_size=...)`` of (N, 4096, 12) → (N, 6).
    inputs : sequence of numpy.ndarray
        (4096, 12) model inputs (:attr:`PreparedEcg.model_input`).
    batch_size : int, optional
        Inputs per model step; default all at once.

    Returns
    -------
    numpy.ndarray
        (N, 6) float probabilities in :data:`~ecgreview.record.CLASSES` order; (0, 6) for no inputs.
    """
    if not len(inputs):
        return np.zeros((0, 6))
    batch = np.stack(inputs)
    return np.asarray(model.predict_probabilities(batch, batch_size=batch_size or len(batch)), dtype=float)


def predict_record(model: Any, record: EcgRecord, *, padding: Padding = "centre") -> np.ndarray:
    """The model's (6,) probabilities for one record.

    Raises
    ------
    PreprocessError
        The record cannot be brought into the model's input format.
    """
    return predict_inputs(model, [preprocess_ecg(record, padding=padding)])[0]
