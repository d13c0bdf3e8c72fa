"""One case through the pipeline: read record → preprocess → predict → device mapping.

:func:`analyse_case` is the orchestrator the UI and CLI call; :class:`CaseAnalysis`
holds what the review page shows and turns the reader's answers into a
:class:`~ecgreview.reviews.Review`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ecgreview.preprocess import preprocess_ecg
from ecgreview.record import CLASSES, THRESHOLDS, EcgRecord
from ecgreview.reviews import Review
from ecgreview.statements import DeviceInterpretation, StatementTable, map_statements

if TYPE_CHECKING:
    from ecgreview.model import LoadedModel
    from ecgreview.provenance import WeightsIdentity

__all__ = ["CaseAnalysis", "analyse_case"]


@dataclass(frozen=True)
class CaseAnalysis:
    """A record with the DNN's and the device's opinions on it.

    Attributes
    ----------
    record : EcgRecord
        The ECG as read (not preprocessed: that is only what the model sees).
    probabilities : numpy.ndarray or None
        (6,) DNN probabilities in :data:`CLASSES` order; None without a model.
    identity : WeightsIdentity or None
        The weights that produced ``probabilities``.
    provenance : dict
        Model, software and machine facts behind ``probabilities``.
    device : DeviceInterpretation
        The device statements and measurements read as the six classes.
    phi_audit : str
        One-line PHI audit of the source file (empty when not audited).
    """

    record: EcgRecord
    probabilities: np.ndarray | None
    identity: WeightsIdentity | None
    provenance: dict[str, Any]
    device: DeviceInterpretation
    phi_audit: str = ""

    @property
    def dnn_calls(self) -> tuple[bool, ...] | None:
        """Per class ``p > threshold``; None without a model."""
        if self.probabilities is None:
            return None
        return tuple(bool(p > t) for p, t in zip(self.probabilities, THRESHOLDS))

    @property
    def model_label(self) -> str:
        return self.identity.label if self.identity else "no model"

    def dnn_rows(self) -> Iterator[tuple[str, float, bool]]:
        """(class, probability, call) for each class; nothing without a model."""
        if self.probabilities is not None:
            yield from zip(CLASSES, (float(p) for p in self.probabilities), self.dnn_calls or ())

    def class_rows(self) -> list[dict[str, str]]:
        """One display row per class: DNN probability, threshold, DNN call, device call."""
        calls = self.dnn_calls
        rows = []
        for index, name in enumerate(CLASSES):
            device = self.device.calls[name]
            rows.append({
                "Class": name,
                "DNN p": "—" if self.probabilities is None else f"{self.probabilities[index]:.3f}",
                "Threshold": f"{THRESHOLDS[index]:g}",
                "DNN call": "—" if calls is None else ("present" if calls[index] else "absent"),
                "Device": device.strength,
            })
        return rows

    def to_review(
        self, *, reader: str, reader_calls: Mapping[str, str | None], comment: str = "",
        opinions_seen: bool = True, **options: Any,
    ) -> Review:
        """The reader's answers as a validated :class:`Review` (``options``: role, reading_mode, …)."""
        identity = self.identity
        return Review.create(
            reader=reader, reader_calls=reader_calls, comment=comment, opinions_seen=opinions_seen,
            source_sha256=self.record.source_sha256, source_name=self.record.source_name,
            case_pseudonym=self.record.pseudonym,
            probabilities=None if self.probabilities is None else [float(p) for p in self.probabilities],
            model_name=identity.name if identity else "", model_sha256=identity.sha256 if identity else "",
            model_git_blob_sha1=identity.git_blob_sha1 if identity else "",
            model_status=identity.status if identity else "none",
            device_calls={name: call.strength for name, call in self.device.calls.items()},
            device_statements=self.record.statements, statement_map_version=self.device.table_version,
            phi_audit=self.phi_audit, provenance=self.provenance, **options,
        )


def analyse_case(
    record: EcgRecord, model: LoadedModel | None = None, *, table: StatementTable | None = None, phi_audit: str = ""
) -> CaseAnalysis:
    """Map the device's statements and, when a model is given, run the DNN on ``record``.

    ``phi_audit`` is the source file's audit summary (:func:`ecgreview.audit.audit_dicom`),
    carried into the review.

    Raises
    ------
    PreprocessError
        The record cannot be brought into the model's input format.
    """
    device = map_statements(record.statements, record.measurements, table=table)
    if model is None:
        return CaseAnalysis(record, None, None, {}, device, phi_audit)
    probabilities = model.predict_probabilities(preprocess_ecg(record)[None])[0]
    return CaseAnalysis(record, probabilities, model.identity, model.provenance, device, phi_audit)
