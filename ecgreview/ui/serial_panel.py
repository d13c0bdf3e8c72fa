"""The Review page's serial comparison: the prior ECGs of the case's patient (the site's linking rule,
``Settings.serial_link``), the chosen prior stacked under (or beside) the current ECG on the same paper, and
what changed since it (DNN, device, intervals).

Linking and the change rules are the library's (:mod:`ecgreview.review.serial`); this panel only draws them.
While the reading's opinions are hidden (blinded, two-step before the unaided row, students), the prior's
trace may be shown but no DNN, device or measurement change is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from ecgreview.config import Settings
from ecgreview.model.inference import InferenceModel
from ecgreview.review.case import CaseAnalysis, CaseSource
from ecgreview.review.serial import change_summary, change_table, interval_changes, prior_cases
from ecgreview.review.serial_link import describe_link_key, link_key
from ecgreview.review.worklist_serial import ListedCase, listed_cases_of
from ecgreview.ui import case_panels, decision_panel, resources, viewer
from ecgreview.ui.text import escape_markdown

__all__ = ["ARRANGEMENTS", "SHOW_PRIOR_KEY", "SHOW_PRIOR_SHORTCUT", "priors_of", "render"]

#: How the prior is drawn: under the current ECG (one column, the same width: the rhythm strips line up), or
#: both side by side (each at half the column).
ARRANGEMENTS = ("Stacked", "Side by side")
#: The "Show prior ECG" toggle (kept from case to case: a reader who compares keeps comparing).
SHOW_PRIOR_KEY = "serial-show-prior"
#: The key that shows or hides the prior (a button shortcut: one press, one rerun; V for "view prior"; the key help
#: names it: :data:`ecgreview.ui.decision_panel.PRIOR_KEY`).
SHOW_PRIOR_SHORTCUT = decision_panel.PRIOR_KEY
_ARRANGEMENT_KEY = "serial-arrangement"
_PAPER_CONFIG = {"displaylogo": False, "staticPlot": True}


def priors_of(settings: Settings, analysis: CaseAnalysis) -> list[ListedCase]:
    """The listed priors of the case (:func:`ecgreview.review.serial.prior_cases` under ``settings.serial_link``),
    newest first."""
    record = analysis.record
    key = link_key(record.pseudonym, record.source_name, settings.serial_link)
    if not key:
        return []
    linked = listed_cases_of(resources.listed_index(settings), [key])
    current = next((case for case in linked if case.source_sha256 == record.source_sha256), None)
    if current is None:  # not indexed yet (a fresh upload): its time as the index will store it
        when = record.acquisition_time.isoformat(sep=" ") if record.acquisition_time else ""
        current = ListedCase(record.source_sha256, Path(), record.source_name, record.pseudonym, when)
    return prior_cases(current, linked, rule=settings.serial_link)


def render(settings: Settings, analysis: CaseAnalysis, priors: Sequence[ListedCase], view: viewer.View,
           model: InferenceModel | None) -> None:
    """The prior ECGs (``priors``, from :func:`priors_of`; none: nothing is drawn), the show-prior toggle and
    arrangement, the prior's paper and the change tables."""
    if not priors:
        return
    sha = analysis.record.source_sha256
    with st.container(key="serial-panel"):  # no border: the prior's paper is exactly as wide as the current one
        key = link_key(analysis.record.pseudonym, analysis.record.source_name, settings.serial_link)
        st.markdown(f"**Prior ECGs** · {len(priors)} of {escape_markdown(describe_link_key(key))}")
        by_sha = {case.source_sha256: case for case in priors}
        chosen = st.selectbox("Prior ECG", list(by_sha), key=f"serial-prior-{sha[:16]}",
                              format_func=lambda key: f"{by_sha[key].acquisition_time[:16]} · "
                                                      f"{by_sha[key].source_name}")
        toggle, key_column, arrangement_column = st.columns([2, 1, 2], vertical_alignment="center")
        shown = toggle.toggle("Show prior ECG", key=SHOW_PRIOR_KEY,
                              help="The prior on the same paper: layout, speed and gain of the current ECG. "
                                   f"Key `{SHOW_PRIOR_SHORTCUT}` shows or hides it.")
        key_column.button("Toggle prior", key="serial-show-prior-key", type="tertiary", on_click=_flip_prior,
                          shortcut=SHOW_PRIOR_SHORTCUT, help="Show or hide the prior ECG")
        arrangement = arrangement_column.segmented_control("Arrangement", ARRANGEMENTS, default=ARRANGEMENTS[0],
                                                           key=_ARRANGEMENT_KEY, required=True) or ARRANGEMENTS[0]
        prior = case_panels.analyse(settings, CaseSource.from_path(by_sha[chosen].path), model)
        if prior is None:
            return
        if shown:
            _papers(analysis, prior, by_sha[chosen], view, arrangement)
        if decision_panel.opinions_hidden(sha):
            st.caption("Changes since the prior (DNN, device, intervals) are shown once the opinions are.")
            return
        _changes(analysis, prior, by_sha[chosen])


def _flip_prior() -> None:
    """Key V: the show-prior toggle's opposite (before the toggle is drawn again)."""
    st.session_state[SHOW_PRIOR_KEY] = not st.session_state.get(SHOW_PRIOR_KEY, False)


def _caption(case: ListedCase, view: viewer.View) -> str:
    return (f"Prior ECG · acquired {escape_markdown(case.acquisition_time[:16])} · "
            f"{escape_markdown(case.source_name)}"
            f" · {escape_markdown(view.describe())}")


def _papers(current: CaseAnalysis, prior: CaseAnalysis, case: ListedCase, view: viewer.View, arrangement: str) -> None:
    """The prior's paper in the current view (both start at their first page, so the rhythm strips share the
    time grid); side by side, the current ECG again at its left."""
    prior_figure = viewer.ecg_figure(prior.record, view, 0.0)
    if arrangement == ARRANGEMENTS[0]:
        st.caption(_caption(case, view))
        viewer.paper_chart("serial-prior-paper", prior_figure, view, config=_PAPER_CONFIG, key="serial-prior-figure")
        return
    st.caption(_caption(case, view))
    acquired = current.record.acquisition_time
    left, right = st.columns(2, gap="small")
    with left:  # one-line captions: the two papers start at the same height
        st.caption("Current · " + escape_markdown(acquired.strftime("%Y-%m-%d %H:%M") if acquired else "time unknown"))
        viewer.paper_chart("serial-current-paper", viewer.ecg_figure(current.record, view, 0.0), view,
                           config=_PAPER_CONFIG, key="serial-current-figure")
    with right:
        st.caption("Prior · " + escape_markdown(case.acquisition_time[:16]))
        viewer.paper_chart("serial-prior-paper", prior_figure, view, config=_PAPER_CONFIG, key="serial-prior-figure")


def _changes(current: CaseAnalysis, prior: CaseAnalysis, case: ListedCase) -> None:
    """The headline (new / resolved calls), the per-class table and the interval table."""
    table = change_table(current, prior)
    summary = change_summary(table)
    when = escape_markdown(case.acquisition_time[:10])
    st.markdown(f"**Since {when}:** {escape_markdown(summary)}" if summary else
                f"**Since {when}:** no call changed (DNN, device).")
    st.dataframe(_highlight(table), hide_index=True, key="serial-change-table")
    st.dataframe(interval_changes(current.record, prior.record), hide_index=True, key="serial-interval-table")


def _highlight(table: pd.DataFrame) -> pd.io.formats.style.Styler:
    """New calls in red, resolved in green."""
    colours = {"new": "color: #b03a2e; font-weight: bold", "resolved": "color: #1e7b34; font-weight: bold"}
    return table.style.map(lambda value: colours.get(value, ""), subset=["DNN change", "Device change"])
