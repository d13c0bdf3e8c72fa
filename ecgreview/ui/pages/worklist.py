"""The worklist page: every case of the folder (and uploads) with DNN, device and review status."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.examples import DEMO_CASES_ATTRIBUTION, DEMO_CASES_DIR
from ecgreview.model.inference import InferenceModel
from ecgreview.record import CLASSES
from ecgreview.review.case import CaseSource
from ecgreview.review.protocol import hides_opinions_in_lists
from ecgreview.review.store import read_reviews
from ecgreview.review.worklist import SORT_KEYS, IndexedCase, WorklistFilters, worklist_rows
from ecgreview.security.auth import READING_ROLES
from ecgreview.ui import components, identity, indexing, reading, state, study_panel
from ecgreview.ui.navigation import open_review
from ecgreview.ui.text import escape_markdown

_OPINION_COLUMNS = ["DNN calls", "Device calls", "Discordant", "Discordant classes"]
_ANY = "any"
#: Sort keys that order cases by the DNN's, the device's and readers' calls (not while blinded) and by who
#: read them (only for those who may see other readings): a student sorting by them would learn the answers.
_SORTS_BY_OPINIONS = ("discordance",)
_SORTS_BY_READINGS = ("reviews",)
_COLUMN_ORDER = ["File", "Pseudonym", "Acquired", "Discordant classes", "DNN calls", "Device calls", "Reviews",
                 "Reviewed by me", "Device"]


def render() -> None:
    """Draw the page."""
    settings = components.page_settings("Worklist")
    if settings is None:
        return
    with st.sidebar:
        reader = components.reader_input()
        mode_slot = st.container()
        model = components.model_panel(settings)
        with mode_slot:
            mode = reading.reading_mode(dnn_installed=model is not None)
    if settings.cases_dir == DEMO_CASES_DIR:
        st.caption(DEMO_CASES_ATTRIBUTION)
    cases, updating = refresh_index(settings, model)
    try:
        reviews = read_reviews(settings.reviews_path)
    except EcgReviewError as exc:
        st.error(f"Cannot read the review store — {escape_markdown(exc)}")
        return
    study_panel.render(settings, reader, reviews, cases)
    blinded = hides_opinions_in_lists(mode) or identity.reads_blinded()  # students never see opinions
    filters, sort_by, descending = filter_controls(reviews, blinded=blinded, others=identity.may_see_other_readings())
    rows = worklist_rows(cases, reviews, reader=reader, filters=filters, sort_by=sort_by, descending=descending)
    if blinded:
        rows = rows.drop(columns=_OPINION_COLUMNS)
    if not identity.may_see_other_readings():
        rows = rows.drop(columns=["Reviews"])
    st.session_state[state.WORKLIST_ORDER] = list(rows["source_sha256"])
    case_table(rows, total=len(cases), updating=updating)
    add_case(settings)


def refresh_index(settings: Settings, model: InferenceModel | None) -> tuple[list[IndexedCase], bool]:
    """The cases indexed now, and whether the index is being updated (in the background: never waited for)."""
    cases = indexing.indexed_cases(settings, model)
    updating = indexing.progress_panel(settings, quiet_check=bool(cases))
    failed = [case.error for case in cases if case.error]
    if failed:
        with st.expander(f"{len(failed)} file(s) could not be read"):
            st.markdown("\n".join(f"- {escape_markdown(failure)}" for failure in failed))
    if model is not None and model.identity.status != "verified":
        st.warning(f"DNN calls come from {escape_markdown(model.identity.label)}.")
    return cases, updating


def filter_controls(reviews: pd.DataFrame, *, blinded: bool, others: bool = True) -> tuple[WorklistFilters, str, bool]:
    """Filters (discordant only, not yet reviewed by me, class, reviewer) and the sort."""
    columns = st.columns([2, 2, 2, 2, 2, 1])
    discordant = columns[0].toggle("Discordant only", key="filter-discordant", disabled=blinded,
                                   help="DNN, device and readers disagree on a class (hidden in blinded mode).")
    mine = columns[1].toggle("Not reviewed by me", key="filter-mine")
    class_name = columns[2].selectbox("Class called present", [_ANY, *CLASSES], key="filter-class",
                                      disabled=blinded)
    readers = sorted(set(reviews.loc[reviews["role"].isin(READING_ROLES), "reader"])) if others else []
    reviewer = columns[3].selectbox("Reviewer", [_ANY, *readers], key="filter-reviewer")
    sorts = sort_options(blinded=blinded, others=others)
    sort_by = columns[4].selectbox("Sort by", sorts, key="worklist-sort")
    sort_by = sort_by if sort_by in sorts else sorts[0]  # a value kept from before, or sent by a client
    descending = columns[5].toggle("Descending", key="worklist-descending")
    filters = WorklistFilters(discordant_only=discordant and not blinded, unreviewed_by_me=mine,
                              class_name=None if class_name == _ANY or blinded else class_name,
                              reviewer=None if reviewer == _ANY else reviewer)
    return filters, sort_by, descending


def sort_options(*, blinded: bool, others: bool) -> list[str]:
    """The sort keys the reader may use: none by opinions while blinded (students always), none by
    readings for those who may not see other readings (students)."""
    hidden = (_SORTS_BY_OPINIONS if blinded else ()) + (() if others else _SORTS_BY_READINGS)
    return [key for key in SORT_KEYS if key not in hidden]


def case_table(rows: pd.DataFrame, *, total: int, updating: bool = False) -> None:
    """The table; selecting a row (or pressing O for the first) opens the case on the review page."""
    shown = f"{len(rows)} cases indexed so far" if updating else f"{len(rows)} of {total} cases"
    st.caption(f"{shown} · click a row to open it · `O` opens the first case; on the case, "
               "`S` saves and moves to the next case of this list.")
    nonce = st.session_state.get("worklist-nonce", 0)
    order = [column for column in _COLUMN_ORDER if column in rows.columns]
    event = st.dataframe(rows, hide_index=True, on_select="rerun", selection_mode="single-row", column_order=order,
                         key=f"{state.WORKLIST_SELECTION}-{nonce}")
    selected = event.selection.rows if event else []
    first = st.button("Open first case", shortcut="O", disabled=rows.empty, key="open-first")
    if selected or first:
        st.session_state["worklist-nonce"] = nonce + 1
        open_review(rows.iloc[selected[0] if selected else 0]["source_sha256"])


def add_case(settings: Settings) -> None:
    """Upload a case into the worklist (kept under the app's folder)."""
    with st.expander("Add a case"):
        upload = st.file_uploader("ECG file", key="worklist-upload")
        if upload is not None and st.button("Add to the worklist", key="add-upload"):
            source = CaseSource.from_upload(upload.getvalue(), upload.name)
            try:
                record = source.read()
            except EcgReviewError as exc:
                st.error(f"Cannot open this ECG — {escape_markdown(exc)}")
                return
            components.keep_upload(settings, source, record.source_sha256, force=True)
            indexing.indexer(settings).request(max_age_s=0)  # list it soon; the page does not wait
            st.rerun()
