"""Cached, process-wide resources for the UI: the model, opened cases, their figures.

``st.cache_resource`` holds one loaded model per weights file and backend per server
process, shared by every session (TensorFlow and ONNX Runtime inference are
thread-safe; the model object is never mutated after loading).

Every page opens a case through :func:`open_case` (a :class:`~ecgreview.review.case.CaseSource`:
a path, with a multi-file record read beside it, or an upload): the analysis (record,
DNN, device mapping, PHI audit) is kept in a cache bounded in bytes and shared by all
sessions, and :func:`prefetch_case` prepares the case the reader will open next on a
background thread. Figures are cached the same way, per case and view.

:func:`warm_up` fills these caches at server start (``app.py``'s lifespan), before the first
browser connects, so that the first case opens as fast as any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from ecgreview.config import Settings
from ecgreview.device.statements import StatementTable, load_statement_table
from ecgreview.errors import EcgReadError, EcgReviewError
from ecgreview.examples import demo_ecg_path
from ecgreview.model.inference import InferenceModel
from ecgreview.model.serving import installed_models, load_inference_model
from ecgreview.record import THRESHOLDS
from ecgreview.review.case import CaseAnalysis, CaseSource, analyse_case
from ecgreview.review.case_cache import BoundedCache
from ecgreview.review.index_updater import BackgroundIndexer
from ecgreview.review.readings import store_version
from ecgreview.review.worklist import INDEX_FILE, CaseIndex
from ecgreview.security.phi import audit_file
from ecgreview.ui.server_guards import server_logger

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


def listed_index(settings: Settings) -> Path:
    """The path of the settings' worklist index (its tables made), with its listing brought up to date (only what
    changed) under the site's linking rule (``settings.serial_link``): what the worklist page, the neighbours of
    a case, its prior ECGs and the warm-up read."""
    from ecgreview.review.worklist_query import sync_listing

    index_path = cached_index(str(settings.home / INDEX_FILE)).path
    sync_listing(index_path, link_rule=settings.serial_link)
    return index_path


def indexer_for(settings: Settings) -> BackgroundIndexer:
    """The background updater of this server process for the settings' index and case folder."""
    return cached_indexer(str(settings.home / INDEX_FILE), str(settings.cases_dir), settings)


@st.cache_resource
def cached_indexer(index_path: str, cases_dir: str, _settings: Settings) -> BackgroundIndexer:
    """The one background updater of ``index_path`` for ``cases_dir`` in this server process (all sessions)."""
    del index_path, cases_dir  # the cache key; the settings hold both
    return BackgroundIndexer(_settings)


#: Cases opened (read, audited, through the DNN) at server start: the demo ECG and the worklist's first ones.
WARM_CASES = 3


@dataclass(frozen=True)
class WarmUp:
    """What :func:`warm_up` loaded before the first browser connected."""

    elapsed_s: float
    model: str
    cases_opened: int
    index_update_started: bool
    problems: tuple[str, ...] = ()

    def log_line(self) -> str:
        """``ecgreview ready in 1.2 s (model …; 3 cases opened; index update started)``, then any problem."""
        index = "index update started" if self.index_update_started else "index up to date"
        problems = "".join(f"; not warmed: {problem}" for problem in self.problems)
        return (f"ecgreview ready in {self.elapsed_s:.1f} s ({self.model}; {self.cases_opened} case(s) opened; "
                f"{index}){problems}")


def warm_up(settings: Settings, *, cases: int = WARM_CASES) -> WarmUp:
    """Fill the caches the pages use, before the first browser connects (called once at server start).

    Loads the statement table and the model the Review page would choose (the best installed weights,
    through :func:`cached_model`), reads and groups the review store (a whole parse: 0.5 s at 20,000 readings;
    later reads parse only what was appended), starts the index's background update, brings the worklist's
    tables up to date, and opens the demo ECG (the Review page's default case) and the worklist's first ``cases`` cases
    (:func:`open_case`). Nothing here raises: what could not be warmed is named in ``problems`` and the
    page that needs it shows why, as it would have without a warm-up.
    """
    started, problems = time.perf_counter(), list[str]()
    cached_statement_table()
    try:
        store_version(settings.reviews_path)
    except EcgReviewError as exc:
        problems.append(f"the review store: {exc}")
    model = _warm_model(settings, problems)
    update_started = indexer_for(settings).request(model)
    sources = _first_sources(settings, model, cases, problems)
    opened = 0
    for source in sources:
        try:
            open_case(source, model, thresholds=settings.thresholds)
            opened += 1
        except EcgReviewError as exc:
            problems.append(str(exc))
    label = model.identity.name if model is not None else "no model"
    return WarmUp(time.perf_counter() - started, label, opened, update_started, tuple(problems))


def _warm_model(settings: Settings, problems: list[str]) -> InferenceModel | None:
    try:
        paths = installed_models(settings)
        if not paths:
            return None
        return cached_model(str(paths[0]), paths[0].stat().st_mtime_ns, settings.backend)
    except (EcgReviewError, OSError) as exc:
        problems.append(f"the model: {exc}")
        return None


def _first_sources(settings: Settings, model: InferenceModel | None, count: int,
                   problems: list[str]) -> list[CaseSource]:
    """The demo ECG (the Review page's default case) and the worklist's first ``count`` cases (by file)."""
    from ecgreview.review.worklist_query import query_worklist, sync_dnn_calls, sync_readings

    sources = [CaseSource.from_path(demo_ecg_path())]  # the Review page's case when none is chosen
    model_sha256 = model.identity.sha256 if model is not None else ""
    try:
        index_path = listed_index(settings)
        sync_dnn_calls(index_path, model_sha256=model_sha256, thresholds=settings.thresholds)
        sync_readings(index_path, settings.reviews_path)
        rows = query_worklist(index_path, model_sha256=model_sha256, thresholds=settings.thresholds, limit=count).rows
    except EcgReviewError as exc:
        problems.append(f"the worklist: {exc}")
        return sources
    index = cached_index(str(index_path))
    paths = [index.find(sha256) for sha256 in rows["source_sha256"]]
    return sources + [CaseSource.from_path(path) for path in paths if path is not None and path != demo_ecg_path()]


def server_log() -> logging.Logger:
    """The server's own log lines (``ecgreview.server``) on stderr, beside Streamlit's."""
    return server_logger("ecgreview.server")
