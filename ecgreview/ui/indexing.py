"""The worklist index on the pages: start the background update, show how far it is, never wait for it.

Pages read whatever the index holds now (:func:`indexed_cases`); when it may be stale,
that call starts the one background updater of this index and case folder
(:class:`~ecgreview.review.index_updater.BackgroundIndexer`, held by ``st.cache_resource`` and shared
by every session) and returns at once. :func:`progress_panel` shows "Indexing N of M…",
with its rate and the time left, refreshed every :data:`REFRESH_S` seconds, and reruns the page when the update has finished.
"""

from __future__ import annotations

import streamlit as st

from ecgreview.config import Settings
from ecgreview.model.inference import InferenceModel
from ecgreview.review.index_updater import BackgroundIndexer
from ecgreview.review.worklist import IndexedCase
from ecgreview.review.worklist_query import (
    WorklistFilters,
    WorklistPage,
    query_worklist,
    sync_dnn_calls,
    sync_readings,
    worklist_neighbours,
)
from ecgreview.ui import resources, state
from ecgreview.ui.text import escape_markdown

#: Seconds between two refreshes of the progress panel while the index is being updated.
REFRESH_S = 0.5


def indexer(settings: Settings) -> BackgroundIndexer:
    """The background updater of this server process for the settings' index and case folder."""
    return resources.indexer_for(settings)


def request_update(settings: Settings, model: InferenceModel | None = None, *, max_age_s: float | None = None) -> None:
    """Start the background update when the index's last one is older than ``max_age_s``; never waits."""
    indexer(settings).request(model, max_age_s=max_age_s)


def _query_options(settings: Settings, model_sha256: str, reader: str, filters: WorklistFilters, sort_by: str,
                   descending: bool) -> dict:
    """What a worklist query and its neighbours are asked with (kept in the session for next/previous)."""
    return {"model_sha256": model_sha256, "thresholds": settings.thresholds, "reader": reader, "filters": filters,
            "sort_by": sort_by, "descending": descending}


def worklist_page(settings: Settings, model: InferenceModel | None, *, reader: str, filters: WorklistFilters,
                  sort_by: str, descending: bool, offset: int, limit: int, with_order: bool = False) -> WorklistPage:
    """One page of the worklist from the index (:mod:`ecgreview.review.worklist_query`), after bringing its
    listing, DNN calls and readings up to date (each only what changed); the query is kept in the session so
    that next/previous on the Review page follow this order.

    Raises
    ------
    ReviewStoreError
        The review store cannot be read.
    """
    index_path = resources.listed_index(settings)
    model_sha256 = model.identity.sha256 if model is not None else ""
    sync_dnn_calls(index_path, model_sha256=model_sha256, thresholds=settings.thresholds)
    sync_readings(index_path, settings.reviews_path)
    options = _query_options(settings, model_sha256, reader, filters, sort_by, descending)
    st.session_state[state.WORKLIST_QUERY] = options
    return query_worklist(index_path, offset=offset, limit=limit, with_order=with_order, **options)


def neighbours(settings: Settings, source_sha256: str) -> tuple[str | None, str | None]:
    """The previous and next case of the worklist's current order (its filters and sort; every indexed case
    by file when the worklist was not opened in this session): two index lookups, whatever its size."""
    options = st.session_state.get(state.WORKLIST_QUERY) or _query_options(
        settings, "", "", WorklistFilters(), "file", False)
    return worklist_neighbours(resources.listed_index(settings), source_sha256, **options)


def indexed_cases(settings: Settings, model: InferenceModel | None = None, *,
                  max_age_s: float | None = None) -> list[IndexedCase]:
    """Every indexed case now (with ``model``'s probabilities), after starting an update in the background
    when the last one is older than ``max_age_s`` (default: the updater's ``recheck_s``); never waits."""
    background = indexer(settings)
    background.request(model, max_age_s=max_age_s)
    index = resources.cached_index(str(background.index_path))
    return index.cases(model_sha256=model.identity.sha256 if model is not None else "", thresholds=settings.thresholds)


def progress_panel(settings: Settings, *, quiet_check: bool = False) -> bool:
    """While the index is being updated, show how far it is (refreshed) and return True.

    ``quiet_check``: a periodic re-check that has found nothing to read yet is not shown (the
    page already lists the indexed cases, and redrawing it when the check ends would only
    interrupt the reader); files it finds are listed from the next run of the page.
    """
    background = indexer(settings)
    status = background.status()
    if status.last_error:
        st.warning(f"Indexing the case folder stopped — {escape_markdown(status.last_error)}")
    if not status.running:
        return False
    if quiet_check and (status.progress is None or status.progress.total == 0):
        return False
    _progress(background)
    return True


@st.fragment(run_every=REFRESH_S)
def _progress(background: BackgroundIndexer) -> None:
    status = background.status()
    if not status.running:
        st.rerun()  # the whole page, with the new rows
    progress = status.progress
    if progress is not None and progress.state == "indexing" and progress.total:
        st.progress(progress.done / progress.total, text=progress.describe())  # files/s and time left
    else:
        st.caption("Checking the case folder for new or changed ECG files…")
