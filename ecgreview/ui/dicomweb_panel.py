"""The Worklist page's line about the DICOMweb case source: the server, when its last full search ran, and a
button that asks for a full search again.

Incremental syncs ask the server only for the studies from the last one's date on
(:mod:`ecgreview.io.dicomweb_state`); a full search finds an old study imported late. The button never
searches here: it leaves the request for the next sync (:func:`~ecgreview.io.dicomweb_state.request_full_search`)
and asks the index's background updater for an update now, so the search runs under the index's lock like
every sync, and the page keeps drawing what is indexed meanwhile.
"""

from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from ecgreview.config import Settings
from ecgreview.io.dicomweb import dicomweb_cache, server_label
from ecgreview.io.dicomweb_state import full_search_request, read_state, request_full_search
from ecgreview.model.inference import InferenceModel
from ecgreview.ui import indexing
from ecgreview.ui.text import escape_markdown

__all__ = ["FULL_SEARCH_BUTTON", "describe", "dicomweb_source"]

#: The button's label (and its key's stem).
FULL_SEARCH_BUTTON = "Full server search"


def _when(text: str) -> str:
    """A stored UTC time (ISO 8601) as ``2024-03-12 12:00 UTC``; the text as is when it is not one."""
    try:
        return datetime.fromisoformat(text).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return text


def describe(settings: Settings) -> str:
    """The source's line: the server, its last full search (or none yet) and a full search asked for, if any."""
    cache, label = dicomweb_cache(settings), server_label(settings)
    state = read_state(cache)
    last = state.full_search_utc if state is not None and state.server == label else ""
    parts = [f"Cases also from the DICOMweb server {label}",
             f"last full search {_when(last)}" if last else "no full search yet"]
    requested = full_search_request(cache)
    if requested:
        parts.append(f"a full search asked for at {_when(requested)} runs with the next index update")
    return " · ".join(parts)


def _ask(settings: Settings, model: InferenceModel | None) -> None:
    """The button: leave the request, and start the background update now (never waits for it)."""
    request_full_search(dicomweb_cache(settings), now_utc=datetime.now(timezone.utc))
    indexing.request_update(settings, model, max_age_s=0)


def dicomweb_source(settings: Settings, model: InferenceModel | None) -> None:
    """The source's line and the button; nothing without a DICOMweb server."""
    if not settings.dicomweb_url:
        return
    line, button = st.columns([3, 1], vertical_alignment="center")
    line.caption(escape_markdown(describe(settings)))
    button.button(FULL_SEARCH_BUTTON, key="dicomweb-full-search", on_click=_ask, args=(settings, model),
                  disabled=bool(full_search_request(dicomweb_cache(settings))),
                  help="Incremental updates ask the server only for recent studies; a full search also finds old "
                       "ECGs imported late (a prior from an archive). It runs in the background, with the next "
                       "index update.")
