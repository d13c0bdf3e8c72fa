"""Cached, process-wide resources for the UI: the model, read cases, predictions.

``st.cache_resource`` holds one loaded model per weights file and backend per server
process, shared by every session (TensorFlow and ONNX Runtime inference are
thread-safe; the model object is never mutated after loading).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ecgreview.case import CaseAnalysis, analyse_case
from ecgreview.io import read_ecg
from ecgreview.audit import audit_dicom
from ecgreview.errors import EcgReadError
from ecgreview.model import LoadedModel, load_inference_model
from ecgreview.record import EcgRecord
from ecgreview.statements import StatementTable, load_statement_table
from ecgreview.worklist import CaseIndex


@st.cache_resource(show_spinner="Loading the Ribeiro DNN…")
def cached_model(path: str, modified_ns: int, backend: str = "auto") -> LoadedModel:
    """The loaded model for ``path`` (``ECGREVIEW_BACKEND``); ``modified_ns`` renews it when the file changes."""
    del modified_ns
    return load_inference_model(Path(path), backend=backend)


@st.cache_data(max_entries=256)
def cached_phi_audit(data: bytes, name: str) -> str:
    """One-line PHI audit of a DICOM file (tags only, never values); other formats are not audited."""
    try:
        return audit_dicom(data, name=name).summary()
    except EcgReadError:
        return "PHI audit: not available for this format (DICOM only)"


@st.cache_resource
def cached_statement_table() -> StatementTable:
    return load_statement_table()


@st.cache_data(max_entries=64, show_spinner="Reading the ECG…")
def cached_read(data: bytes, name: str) -> EcgRecord:
    return read_ecg(data, name=name)


@st.cache_resource(max_entries=256, show_spinner="Running the DNN…")
def cached_analysis(source_sha256: str, model_key: str, phi_audit: str, _record: EcgRecord,
                    _model: LoadedModel | None) -> CaseAnalysis:
    """Analysis of one case by one model, keyed by their hashes."""
    del source_sha256, model_key
    return analyse_case(_record, _model, table=cached_statement_table(), phi_audit=phi_audit)


@st.cache_resource
def cached_index(path: str) -> CaseIndex:
    """The worklist index object for ``path`` (the SQLite file is shared by all sessions)."""
    return CaseIndex(path)
