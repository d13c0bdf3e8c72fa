"""Cached, process-wide resources for the UI: the model, opened cases, their figures.

``st.cache_resource`` holds one loaded model per weights file and backend per server
process, shared by every session (TensorFlow and ONNX Runtime inference are
thread-safe; the model object is never mutated after loading).

Every page opens a case through :func:`open_case` (a :class:`~ecgreview.review.case.CaseSource`:
a path, with a multi-file record read beside it, or an upload): the analysis (record,
DNN, device mapping, PHI audit) is kept in a cache bounded in bytes and shared by all
sessions, and :func:`prefetch_case` prepares the case the reader will open next on a
background thread. Figures are cached the same way, per case and view.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from ecgreview.config import Settings
from ecgreview.device.statements import StatementTable, load_statement_table
from ecgreview.errors import EcgReadError
from ecgreview.model.inference import InferenceModel
from ecgreview.model.serving import load_inference_model
from ecgreview.record import THRESHOLDS
from ecgreview.review.case import CaseAnalysis, CaseSource, analyse_case
from ecgreview.review.case_cache import BoundedCache
from ecgreview.review.index_updater import BackgroundIndexer
from ecgreview.review.worklist import CaseIndex
from ecgreview.security.audit import audit_file

#: Memory the opened cases may take in one server process (records, probabilities, audits).
CASE_CACHE_BYTES = 512 * 1024 * 1024
#: Wait before prefetching, so that the page being shown is sent first.
PREFETCH_DELAY_S = 0.75
#: Memory the drawn figures may take.
FIGURE_CACHE_BYTES = 128 * 1024 * 1024


@st.cache_resource(show_spinner="Loading the Ribeiro DNN…")
def cached_model(path: str, modified_ns: int, backend: str = "auto") -> InferenceModel:
    """The loaded model for ``path`` (``ECGREVIEW_BACKEND``); ``modified_ns`` renews it when the file changes."""
    del modified_ns
    return load_inference_model(Path(path), backend=backend)


def _phi_audit(data: bytes, name: str) -> str:
    """One-line PHI audit of a DICOM or XML file (element names only, never values)."""
    try:
        return audit_file(data, name=name).summary()
    except EcgReadError:
        return "PHI audit: not available for this format (DICOM and XML only)"


@st.cache_resource
def cached_statement_table() -> StatementTable:
    return load_statement_table()


def _figure_nbytes(figure: go.Figure) -> int:
    return 50_000 + sum(8 * len(trace.x if trace.x is not None else ()) for trace in figure.data)


# Process-wide (not st.cache_resource: the prefetch thread uses them outside any script run).
_CASES: BoundedCache[CaseAnalysis] = BoundedCache(CASE_CACHE_BYTES)
_FIGURES: BoundedCache[go.Figure] = BoundedCache(FIGURE_CACHE_BYTES, size_of=_figure_nbytes)


def case_cache() -> BoundedCache[CaseAnalysis]:
    """The opened cases of this server process, shared by its sessions, bounded in bytes."""
    return _CASES


def figure_cache() -> BoundedCache[go.Figure]:
    """Drawn figures by case and view, bounded in bytes."""
    return _FIGURES


def _model_key(model: InferenceModel | None) -> str:
    return f"{model.identity.sha256}:{model.provenance.get('backend', '')}" if model else "none"


def _analysis_task(source: CaseSource, model: InferenceModel | None, table: StatementTable,
                   thresholds: tuple[float, ...]) -> tuple[Hashable, Callable[[], CaseAnalysis]]:
    def compute() -> CaseAnalysis:
        record = source.read()
        return analyse_case(record, model, table=table, phi_audit=_phi_audit(source.main_bytes(), source.name),
                            thresholds=thresholds)
    return (source.cache_key(), _model_key(model), thresholds, table.version), compute


def open_case(source: CaseSource, model: InferenceModel | None, *,
              thresholds: tuple[float, ...] = THRESHOLDS) -> CaseAnalysis:
    """The case read, audited and run through the DNN (cached by its files' stats and the model).

    Raises
    ------
    EcgReviewError
        The case cannot be read or brought into the model's input format.
    """
    key, compute = _analysis_task(source, model, cached_statement_table(), tuple(thresholds))
    return case_cache().get(key, compute)


def prefetch_case(source: CaseSource, model: InferenceModel | None, figures: Callable[[CaseAnalysis], Any] | None = None,
                  *, thresholds: tuple[float, ...] = THRESHOLDS) -> None:
    """Open ``source`` on a background thread (and draw ``figures(analysis)``) so that showing it is instant."""
    key, compute = _analysis_task(source, model, cached_statement_table(), tuple(thresholds))

    def compute_and_draw() -> CaseAnalysis:
        analysis = compute()
        if figures is not None:
            figures(analysis)
        return analysis
    case_cache().prefetch(key, compute_and_draw, delay_s=PREFETCH_DELAY_S)


def cached_figure(key: Hashable, draw: Callable[[], go.Figure]) -> go.Figure:
    """A figure drawn once per ``key`` (case, view settings) and kept for every session."""
    return figure_cache().get(key, draw)


@st.cache_resource
def cached_index(path: str) -> CaseIndex:
    """The worklist index object for ``path`` (the SQLite file is shared by all sessions)."""
    return CaseIndex(path)


@st.cache_resource
def cached_indexer(index_path: str, cases_dir: str, _settings: Settings) -> BackgroundIndexer:
    """The one background updater of ``index_path`` for ``cases_dir`` in this server process (all sessions)."""
    del index_path, cases_dir  # the cache key; the settings hold both
    return BackgroundIndexer(_settings)
