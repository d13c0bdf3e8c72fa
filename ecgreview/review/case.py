"""One case through the pipeline: read record → preprocess → predict → device mapping.

:func:`analyse_case` is the orchestrator the UI and CLI call; :class:`CaseAnalysis`
holds what the review page shows and turns the reader's answers into a
:class:`~ecgreview.review.store.Review`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ecgreview.device.statements import DeviceInterpretation, StatementTable, map_statements
from ecgreview.errors import EcgReadError
from ecgreview.io import read_ecg, record_files
from ecgreview.plausibility import SignalFinding, check_plausibility, finding_codes
from ecgreview.pipeline import predict_record
from ecgreview.record import CLASSES, THRESHOLDS, EcgRecord, dnn_calls
from ecgreview.review.store import Review

if TYPE_CHECKING:
    from ecgreview.model.inference import InferenceModel
    from ecgreview.model.provenance import WeightsIdentity

__all__ = ["CaseAnalysis", "CaseSource", "analyse_case"]


@dataclass(frozen=True)
class CaseSource:
    """Where one case comes from: a path on the server, or an upload's bytes.

    A case is a record, not a file: from a path, a multi-file record (a WFDB ``.hea``
    with its ``.mat``/``.dat``) is read with the files beside it, exactly as the
    worklist index read it. Every page opens a case through :meth:`read`.

    Build one with :meth:`from_path` or :meth:`from_upload`.
    """

    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    name: str = ""

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> "CaseSource":
        path = Path(path)
        return cls(path=path, name=path.name)

    @classmethod
    def from_upload(cls, data: bytes, name: str) -> "CaseSource":
        """An uploaded file (several files of one WFDB record: :func:`ecgreview.io.bundle_files` first).

        The upload's file name is not kept (names like ``Doe_John_19500101.dcm`` carry
        identity): the case is named ``upload-<first 12 hex digits of its SHA-256>`` with
        the original suffix, which is only a format hint.
        """
        data = bytes(data)
        suffix = os.path.splitext(os.path.basename(name))[1].lower()
        suffix = suffix if suffix.isascii() and suffix[1:].isalnum() else ""
        return cls(data=data, name=f"upload-{hashlib.sha256(data).hexdigest()[:12]}{suffix}")

    def cache_key(self) -> tuple[Any, ...]:
        """Changes when the case's content may have: every file's path, size and mtime, or the upload's hash."""
        if self.path is None:
            return ("upload", hashlib.sha256(self.data or b"").hexdigest())
        stats = []
        for path in record_files(self.path):
            try:
                stat = path.stat()
            except OSError:
                stats.append((str(path), -1, -1))
            else:
                stats.append((str(path), stat.st_size, stat.st_mtime_ns))
        return ("path", *stats)

    def read(self) -> EcgRecord:
        """The record (any supported format, recognised by content).

        Raises
        ------
        EcgReadError
            The file cannot be read or is not a supported ECG.
        """
        if self.path is not None:
            return read_ecg(self.path)
        return read_ecg(self.data or b"", name=self.name)

    def main_bytes(self) -> bytes:
        """The bytes of the case's main file (the DICOM/XML file, or the WFDB header), e.g. for a PHI audit."""
        if self.path is None:
            return self.data or b""
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise EcgReadError(self.name, f"cannot read file ({exc.strerror or exc})") from exc


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
    thresholds : tuple of float
        Decision thresholds of the DNN calls (``Settings.thresholds``; the paper's by default).
    signal_findings : tuple of SignalFinding
        What :func:`ecgreview.plausibility.check_plausibility` found implausible in the signal.
    """

    record: EcgRecord
    probabilities: np.ndarray | None
    identity: WeightsIdentity | None
    provenance: dict[str, Any]
    device: DeviceInterpretation
    phi_audit: str = ""
    thresholds: tuple[float, ...] = THRESHOLDS
    signal_findings: tuple[SignalFinding, ...] = ()

    @property
    def dnn_calls(self) -> tuple[bool, ...] | None:
        """Per class ``p > threshold``; None without a model."""
        if self.probabilities is None:
            return None
        return tuple(bool(call) for call in dnn_calls(self.probabilities, self.thresholds))

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
                "Threshold": f"{self.thresholds[index]:g}",
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
            phi_audit=self.phi_audit, provenance=self.provenance, thresholds=self.thresholds,
            signal_findings=finding_codes(self.signal_findings), **options,
        )


def analyse_case(
    record: EcgRecord, model: InferenceModel | None = None, *, table: StatementTable | None = None, phi_audit: str = "",
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> CaseAnalysis:
    """Map the device's statements, check the signal's plausibility and, when a model is given, run the DNN.

    ``phi_audit`` is the source file's audit summary (:func:`ecgreview.security.phi.dicom.audit_dicom`),
    carried into the review. ``thresholds`` are the site's (``Settings.thresholds``).

    Raises
    ------
    PreprocessError
        The record cannot be brought into the model's input format.
    """
    device = map_statements(record.statements, record.measurements, table=table)
    findings = check_plausibility(record)
    if model is None:
        return CaseAnalysis(record, None, None, {}, device, phi_audit, tuple(thresholds), findings)
    probabilities = predict_record(model, record)
    return CaseAnalysis(record, probabilities, model.identity, model.provenance, device, phi_audit,
                        tuple(thresholds), findings)
