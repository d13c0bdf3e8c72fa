"""Preprocessing sensitivity: how many DNN calls flip between centre and end zero padding.

The pilot padded each ECG to 4096 samples by appending zeros; upstream centres it
(:func:`~ecgreview.preprocess.fit_length`). :func:`padding_report` reads every ECG of
a folder once, builds both model inputs, predicts both and compares the calls
(``p > t``, :func:`~ecgreview.record.dnn_calls`). ``python -m ecgreview padding-report
FOLDER`` prints the per-class counts and the flipped files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecgreview.errors import EcgReadError, EcgReviewError
from ecgreview.pipeline import predict_inputs, prepare_file, prepare_record
from ecgreview.record import CLASSES, THRESHOLDS, dnn_calls

__all__ = ["PaddingReport", "format_padding_report", "padding_report"]

_FLIP_COLUMNS = ("source_path", "source_sha256", "class", "prob_centre", "prob_end", "call_centre", "call_end")


@dataclass(frozen=True)
class PaddingReport:
    """Centre vs end padding on a set of ECGs.

    Attributes
    ----------
    files, scored : int
        Input files; ECGs read and predicted both ways.
    identical_inputs : int
        ECGs whose two model inputs are the same (exactly 4096 samples at 400 Hz).
    per_class : pandas.DataFrame
        Index class: ``flips``, ``present_centre``, ``present_end``, ``max_abs_difference``.
    flips : pandas.DataFrame
        One row per flipped (file, class): source_path, source_sha256, class, prob_centre,
        prob_end, call_centre, call_end (``present``/``absent``).
    errors : tuple of (str, str)
        ``(source_path, reason)`` of files that could not be read or preprocessed.
    """

    files: int
    scored: int
    identical_inputs: int
    per_class: pd.DataFrame
    flips: pd.DataFrame
    errors: tuple[tuple[str, str], ...]

    @property
    def flipped_files(self) -> list[str]:
        """Source paths with at least one flipped call, in input order."""
        return list(dict.fromkeys(self.flips["source_path"]))


def _both_inputs(path: Path) -> tuple[str, np.ndarray, np.ndarray]:
    """The file's SHA-256 and its model inputs with centre and with end padding (:mod:`ecgreview.pipeline`)."""
    centred = prepare_file(path, padding="centre")
    if centred.record is None or centred.model_input is None:
        raise EcgReadError(path, centred.error)
    appended = prepare_record(centred.record, padding="end")
    if appended.model_input is None:  # pragma: no cover - the same record preprocessed with centre padding
        raise EcgReadError(path, appended.error)
    return centred.record.source_sha256, centred.model_input, appended.model_input


def padding_report(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, model: Any,
                   thresholds: Sequence[float] = THRESHOLDS, batch_size: int = 32) -> PaddingReport:
    """Predict every ECG of ``paths`` with centre and with end padding and count flipped calls.

    Parameters
    ----------
    paths : path or sequence of paths
        Folders (their ECG files, recursively) and/or files, as for ``score``.
    model : object
        Has ``predict_probabilities(batch, batch_size=...)`` of (N, 4096, 12) → (N, 6)
        (a loaded TensorFlow or ONNX Runtime model).
    thresholds : sequence of float
        Thresholds in use, in :data:`~ecgreview.record.CLASSES` order.
    batch_size : int
        ECGs per model call (each is predicted twice).
    """
    from ecgreview.model.batch import list_score_inputs

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    items = list_score_inputs(paths)
    errors: list[tuple[str, str]] = []
    names, hashes, centre, end = [], [], [], []
    identical = 0
    for start in range(0, len(items), batch_size):
        chunk_centre, chunk_end = [], []
        for path, source_path in items[start:start + batch_size]:
            try:
                sha256, centred, appended = _both_inputs(path)
            except EcgReviewError as exc:
                errors.append((source_path, exc.reason))
                continue
            identical += bool(np.array_equal(centred, appended))
            names.append(source_path)
            hashes.append(sha256)
            chunk_centre.append(centred)
            chunk_end.append(appended)
        if chunk_centre:
            predicted = predict_inputs(model, chunk_centre + chunk_end)
            centre.append(predicted[:len(chunk_centre)])
            end.append(predicted[len(chunk_centre):])
    empty = np.zeros((0, len(CLASSES)))
    centre_p = np.concatenate(centre) if centre else empty
    end_p = np.concatenate(end) if end else empty
    return _compare(names, hashes, centre_p, end_p, thresholds, len(items), identical, tuple(errors))


def _compare(names: list[str], hashes: list[str], centre: np.ndarray, end: np.ndarray, thresholds: Sequence[float],
             files: int, identical: int, errors: tuple[tuple[str, str], ...]) -> PaddingReport:
    centre_calls, end_calls = dnn_calls(centre, thresholds), dnn_calls(end, thresholds)
    flipped = centre_calls != end_calls
    per_class = pd.DataFrame({
        "flips": flipped.sum(axis=0), "present_centre": centre_calls.sum(axis=0), "present_end": end_calls.sum(axis=0),
        "max_abs_difference": np.abs(centre - end).max(axis=0) if len(centre) else np.zeros(len(CLASSES))},
        index=pd.Index(CLASSES, name="class"))
    rows = [{"source_path": names[i], "source_sha256": hashes[i], "class": CLASSES[k],
             "prob_centre": float(centre[i, k]), "prob_end": float(end[i, k]),
             "call_centre": "present" if centre_calls[i, k] else "absent",
             "call_end": "present" if end_calls[i, k] else "absent"} for i, k in zip(*np.nonzero(flipped))]
    return PaddingReport(files, len(names), identical, per_class, pd.DataFrame(rows, columns=list(_FLIP_COLUMNS)),
                         errors)


def format_padding_report(report: PaddingReport) -> str:
    """The per-class counts and the flipped files as text."""
    lines = [f"Padding centre vs end: {report.scored} of {report.files} ECGs predicted both ways "
             f"({report.identical_inputs} with identical inputs), {len(report.errors)} unreadable",
             f"{'class':6} {'flips':>6} {'present centre':>15} {'present end':>12} {'max |dp|':>9}"]
    for name, row in report.per_class.iterrows():
        lines.append(f"{name:6} {int(row['flips']):>6} {int(row['present_centre']):>15} {int(row['present_end']):>12} "
                     f"{row['max_abs_difference']:>9.3f}")
    lines.append(f"{int(report.per_class['flips'].sum())} flipped calls in {len(report.flipped_files)} files")
    for row in report.flips.itertuples(index=False):
        lines.append(f"  {row.source_path!r} {row[2]}: centre {row.prob_centre:.3f} {row.call_centre}, "
                     f"end {row.prob_end:.3f} {row.call_end}")
    lines += [f"unreadable {path!r}: {reason}" for path, reason in report.errors]
    return "\n".join(lines) + "\n"
