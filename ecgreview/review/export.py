"""Readings written back as standard objects: a DICOM Structured Report and an HL7 FHIR report.

IHE Resting ECG Workflow puts an ECG's measurements and interpretations in DICOM SR. A reader's
saved clinical reading of a case (their latest, :func:`ecgreview.review.protocol.latest_readings`),
or the case's consensus (:func:`ecgreview.review.consensus.consensus_status`: the readers' strict
majority, an adjudicator's decided calls overriding it), is exported
(:mod:`ecgreview.review.export_reading` says what it holds and with which codes) as

* a DICOM Comprehensive SR referencing the waveform instance
  (:func:`ecgreview.review.export_sr.build_reading_sr`), and
* a FHIR R5 ``Bundle`` of a ``DiagnosticReport`` and its ``Observation`` resources
  (:func:`ecgreview.review.export_fhir.build_reading_fhir`),

each carrying the reader's calls per class as coded findings, the DNN's probabilities with the
model's fingerprint as algorithm identification, and the recording device's statements as text.
Neither names the patient other than by the pseudonym (the case's DICOM PatientID); the reader's
free-text comment is not exported (it may name anyone). When the case came from the DICOMweb
server, the SR is stored back there (STOW-RS, :func:`ecgreview.io.dicomweb.store_datasets`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ecgreview._files import write_atomically
from ecgreview.config import Settings
from ecgreview.io.dicomweb import came_from_dicomweb, store_datasets
from ecgreview.review.export_fhir import build_reading_fhir, fhir_json
from ecgreview.review.export_reading import (
    CONSENSUS,
    EXPORT_KINDS,
    READING,
    ExportError,
    ReadingToExport,
    consensus_to_export,
    reading_to_export,
)
from ecgreview.review.export_sr import build_reading_sr, sr_bytes
from ecgreview.review.store import read_reviews

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["CONSENSUS", "EXPORT_FORMATS", "EXPORT_KINDS", "READING", "ExportError", "ExportedFiles",
           "ReadingDocuments", "ReadingToExport", "consensus_to_export", "export_reading", "reading_documents",
           "reading_for", "reading_to_export", "store_reading_sr", "waveform_dataset"]

#: The export formats: a DICOM SR file and a FHIR JSON bundle.
EXPORT_FORMATS: tuple[str, ...] = ("sr", "fhir")


@dataclass(frozen=True)
class ExportedFiles:
    """What :func:`export_reading` wrote: the SR (None when not asked for) and the FHIR bundle (None when
    not asked for), and the SOP instance UIDs the DICOMweb server accepted (empty when not sent)."""

    sr_path: Path | None = None
    fhir_path: Path | None = None
    stored_uids: tuple[str, ...] = ()
    sr_dataset: Dataset | None = field(default=None, repr=False)


def waveform_dataset(path: str | Path) -> Dataset | None:
    """The case file's DICOM identifiers (no samples), or None when it is not a DICOM file with UIDs."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path, specific_tags=["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID",
                                                       "SeriesInstanceUID", "PatientID", "Modality"])
    except (InvalidDicomError, OSError, ValueError, TypeError, EOFError):
        return None
    return dataset if "SOPInstanceUID" in dataset and "StudyInstanceUID" in dataset else None


def reading_for(settings: Settings, source_sha256: str, *, reader: str | None) -> ReadingToExport:
    """``reader``'s latest clinical reading of the case, or with ``reader=None`` its consensus (see
    :func:`~ecgreview.review.export_reading.reading_to_export` and ``consensus_to_export``)."""
    reviews = read_reviews(settings.reviews_path)
    if reader is None:
        return consensus_to_export(reviews, source_sha256)
    return reading_to_export(reviews, source_sha256, reader=reader)


@dataclass(frozen=True)
class ReadingDocuments:
    """A reading's exports, built and checked by reading them back: the SR (None when the case is not a
    DICOM waveform), the FHIR bundle's JSON, and whether the case came from the DICOMweb server."""

    reading: ReadingToExport
    fhir_json: str
    sr: Dataset | None = field(default=None, repr=False)
    sr_file: bytes | None = field(default=None, repr=False)
    from_dicomweb: bool = False

    @property
    def stem(self) -> str:
        """``<sha12>-<kind>``: the file names' stem."""
        return f"{self.reading.source_sha256[:12]}-{self.reading.kind}"


def reading_documents(settings: Settings, source_sha256: str, *, reader: str | None,
                      with_sr: bool = True) -> ReadingDocuments:
    """Build ``reader``'s reading of a case (``reader=None``: its consensus) as DICOM SR and FHIR.

    The SR is built when ``with_sr`` and the case (found through the worklist index) is a DICOM
    waveform; both documents are read back (:func:`~ecgreview.review.export_sr.read_reading_sr`,
    :func:`~ecgreview.review.export_fhir.read_reading_fhir`) before they are returned.

    Raises
    ------
    ExportError
        Nothing to export (no reading, no consensus yet).
    """
    from ecgreview.review.export_fhir import read_reading_fhir
    from ecgreview.review.export_sr import read_reading_sr
    from ecgreview.review.worklist import CaseIndex

    reading = reading_for(settings, source_sha256, reader=reader)
    path = CaseIndex.for_settings(settings).find(reading.source_sha256)
    waveform = waveform_dataset(path) if path is not None and with_sr else None
    sr = build_reading_sr(reading, waveform) if waveform is not None else None
    sr_file = sr_bytes(sr) if sr is not None else None
    if sr_file is not None:
        read_reading_sr(sr_file)
    text = fhir_json(build_reading_fhir(reading, waveform=waveform, sr=sr))
    read_reading_fhir(text)
    return ReadingDocuments(reading, text, sr, sr_file, path is not None and came_from_dicomweb(settings, path))


def store_reading_sr(settings: Settings, documents: ReadingDocuments) -> tuple[str, ...]:
    """Store the documents' SR on the DICOMweb server (STOW-RS); returns the SOP instance UIDs it accepted.

    Raises
    ------
    ExportError
        There is no SR, or the case did not come from the server.
    DicomwebError
        The server refused it.
    """
    if documents.sr is None or not documents.from_dicomweb:
        raise ExportError(documents.reading.source_name or None, "only the SR of a case from the DICOMweb server "
                                                                  "is stored there")
    return store_datasets(settings, [documents.sr])


def export_reading(settings: Settings, source_sha256: str, *, folder: str | Path, reader: str | None = None,
                   formats: Sequence[str] = EXPORT_FORMATS, send: bool = True) -> ExportedFiles:
    """Export ``reader``'s reading of a case (``reader=None``: its consensus) into ``folder``.

    Writes ``<sha12>-<kind>.sr.dcm`` and ``<sha12>-<kind>.fhir.json`` (mode 0640; ``kind`` is
    ``reading`` or ``consensus``; see :func:`reading_documents`). With ``send``, the SR is stored
    on the DICOMweb server when the case came from it.

    Parameters
    ----------
    formats : sequence of {"sr", "fhir"}
        What to write.

    Raises
    ------
    ValueError
        ``formats`` names something else, or nothing.
    ExportError
        Nothing to export, or an SR asked for a case that is not an indexed DICOM waveform.
    DicomwebError
        The server refused the SR (the files are written first).
    """
    if not formats or set(formats) - set(EXPORT_FORMATS):
        raise ValueError(f"formats must name {' and/or '.join(EXPORT_FORMATS)}; got {list(formats)!r}")
    documents = reading_documents(settings, source_sha256, reader=reader, with_sr="sr" in formats)
    if "sr" in formats and documents.sr_file is None:
        raise ExportError(documents.reading.source_name or None, "not an indexed DICOM waveform: a DICOM SR "
                                                                 "references the waveform instance (export FHIR only)")
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    sr_path = target / f"{documents.stem}.sr.dcm" if documents.sr_file is not None else None
    fhir_path = target / f"{documents.stem}.fhir.json" if "fhir" in formats else None
    if sr_path is not None:
        write_atomically(sr_path, documents.sr_file)  # type: ignore[arg-type]
    if fhir_path is not None:
        write_atomically(fhir_path, documents.fhir_json.encode("utf-8"))
    stored = store_reading_sr(settings, documents) if send and documents.from_dicomweb and sr_path else ()
    return ExportedFiles(sr_path=sr_path, fhir_path=fhir_path, stored_uids=stored, sr_dataset=documents.sr)
