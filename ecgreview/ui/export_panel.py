"""The Review page's export section: a saved reading (or the case's consensus) as DICOM SR and FHIR.

Offered once the reader has a saved clinical reading of the case, or the case has a consensus, and
never while opinions are hidden or mid-study; its content is drawn only when the reader opens it (a toggle:
the consensus check and the widgets are not part of every run). The files are built when a download button is
clicked (:func:`ecgreview.review.export.reading_documents`); a case from the DICOMweb server can
have its SR stored back there.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.io.dicomweb import came_from_dicomweb, server_label
from ecgreview.review.case import CaseAnalysis
from ecgreview.review.case_cache import BoundedCache
from ecgreview.review.export import (
    ExportError,
    consensus_to_export,
    reading_documents,
    store_reading_sr,
    waveform_dataset,
)
from ecgreview.review.modes import DONE
from ecgreview.review.readings import case_readings, store_version
from ecgreview.review.worklist import INDEX_FILE
from ecgreview.ui import identity, resources, two_step
from ecgreview.ui.text import escape_markdown

__all__ = ["export_section"]

_MINE, _CONSENSUS = "My reading", "Consensus"
#: Cases x store versions whose consensus check is kept (a few bytes each).
_MAX_KNOWN = 4096


def _choices(settings: Settings, source_sha256: str, reader: str, *, consensus: bool = True) -> dict[str, str | None]:
    """What may be exported now: label -> the reader to export (None: the consensus). ``consensus=False``
    leaves the consensus check out (asked only when the panel is open, or when it alone decides whether
    the panel is offered)."""
    try:
        stamp = store_version(settings.reviews_path)  # before reading: a save in between only makes a key unused
        readings = case_readings(settings.reviews_path, source_sha256)
    except (EcgReviewError, OSError):
        return {}  # the decision panel says why the store cannot be read
    choices: dict[str, str | None] = {}
    if reader and (readings["reader"] == reader).any():
        choices[_MINE] = reader
    if consensus and identity.may_see_other_readings() and len(readings) and _has_consensus(
            str(settings.reviews_path), stamp, source_sha256, readings):
        choices[_CONSENSUS] = None
    return choices


#: Whether a case has a consensus to export, per version of the store (every rerun of every session asks).
_CONSENSUS_KNOWN: BoundedCache[bool] = BoundedCache(_MAX_KNOWN, size_of=lambda _: 1)


def _has_consensus(reviews_path: str, stamp: object, source_sha256: str, readings: pd.DataFrame) -> bool:
    """Whether the case's ``readings`` (of the store at ``stamp``) have a consensus to export: asked of
    :func:`~ecgreview.review.export.consensus_to_export` once per case and version of the store."""
    def exportable() -> bool:
        try:
            consensus_to_export(readings, source_sha256)
        except ExportError:
            return False  # no consensus yet (a tie): nothing to offer
        return True
    return _CONSENSUS_KNOWN.get((reviews_path, stamp, source_sha256), exportable)


def export_section(settings: Settings, analysis: CaseAnalysis, reader: str) -> None:
    """Downloads of the reading as DICOM SR and FHIR JSON, and storing the SR on the DICOMweb server."""
    sha = analysis.record.source_sha256
    current = two_step.reading(sha)
    if current.opinions_hidden or (current.is_study and current.step != DONE):
        return
    choices = _choices(settings, sha, reader.strip(), consensus=False)  # the reader's own reading offers the panel
    if not choices:
        choices = _choices(settings, sha, reader.strip())  # else only a consensus does
        if not choices:
            return
    # drawn when the reader opens it, not on every run as an expander's content is (the consensus check, the widgets)
    if st.toggle("Export the reading (DICOM SR, HL7 FHIR)", key="export-open"):
        _export_choices(settings, sha, _choices(settings, sha, reader.strip()) or choices)


def _export_choices(settings: Settings, sha: str, choices: dict[str, str | None]) -> None:
    """The open export panel: which reading, and its downloads."""
    path = resources.cached_index(str(settings.home / INDEX_FILE)).find(sha)
    is_dicom = path is not None and waveform_dataset(path) is not None
    label = st.radio("Export", list(choices), horizontal=True, key="export-kind")
    who = choices[label]
    stem = f"{sha[:12]}-{'consensus' if who is None else 'reading'}"
    sr_column, fhir_column, store_column = st.columns(3)
    sr_column.download_button(
        "DICOM SR", data=lambda: reading_documents(settings, sha, reader=who).sr_file or b"",
        file_name=f"{stem}.sr.dcm", mime="application/dicom", key="export-sr", on_click="ignore",
        disabled=not is_dicom, help=None if is_dicom else "A DICOM SR references a DICOM waveform; this case "
                                                          "is another format (FHIR only)")
    fhir_column.download_button(
        "FHIR JSON", data=lambda: reading_documents(settings, sha, reader=who, with_sr=is_dicom).fhir_json,
        file_name=f"{stem}.fhir.json", mime="application/fhir+json", key="export-fhir", on_click="ignore")
    if is_dicom and path is not None and came_from_dicomweb(settings, path):
        if store_column.button("Store the SR in the PACS", key="export-store"):
            _store(settings, sha, who)
    st.caption("Calls as SNOMED CT findings, the DNN's probabilities with the model's SHA-256, the device's "
               "statements; the patient only by pseudonym; comments are not exported.")


def _store(settings: Settings, source_sha256: str, reader: str | None) -> None:
    try:
        stored = store_reading_sr(settings, reading_documents(settings, source_sha256, reader=reader))
    except EcgReviewError as exc:
        st.error(f"The SR was not stored — {escape_markdown(exc)}")
        return
    st.success(f"Stored the SR in {escape_markdown(server_label(settings))} "
               f"(SOP Instance UID {escape_markdown(', '.join(stored))})")
