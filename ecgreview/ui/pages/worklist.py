"""The worklist page: every case of the folder (and uploads) with DNN, device and review status."""

from __future__ import annotations

from typing import Any

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
from ecgreview.review.worklist import INDEX_FILE
from ecgreview.review.worklist_query import SORT_KEYS, WorklistFilters, WorklistPage, case_names
from ecgreview.security.auth import READING_ROLES
from ecgreview.ui import case_navigation, decision_panel, identity, indexing, page_setup, resources, state, study_panel
from ecgreview.ui.dicomweb_panel import dicomweb_source
from ecgreview.ui.navigation import open_review
from ecgreview.ui.text import escape_markdown

_OPINION_COLUMNS = ["DNN calls", "Device calls", "Discordant", "Discordant classes", "Disagreement", "Reason"]
_ANY = "any"
#: Sort keys that order cases by the DNN's, the device's and readers' calls (not while blinded) and by who
#: read them (only for those who may see other readings): a student sorting by them would learn the answers.
_SORTS_BY_OPINIONS = ("discordance", "disagreement")
_SORTS_BY_READINGS = ("reviews",)
_COLUMN_ORDER = ["File", "Pseudonym", "Acquired", "Reason", "Disagreement", "Discordant classes", "DNN calls",
                 "Device calls", "Prior", "Reviews", "Reviewed by me", "Device"]


#: Cases per page of the worklist table.
PAGE_SIZE = 200


def render() -> None:
    """Draw the page."""
    settings = page_setup.page_settings("Worklist")
    if settings is None:
        return
    with st.sidebar:
        reader = page_setup.reader_input()
        mode_slot = st.container()
        model = page_setup.model_panel(settings)
        with mode_slot:
            mode = decision_panel.reading_mode(dnn_installed=model is not None)
    if settings.cases_dir == DEMO_CASES_DIR:
        st.caption(DEMO_CASES_ATTRIBUTION)
    indexing.request_update(settings, model)  # in the background; the page shows what is indexed now
    status, studies = st.container(), st.container()
    try:
        reviews = read_reviews(settings.reviews_path)
    except EcgReviewError as exc:
        st.error(f"Cannot read the review store — {escape_markdown(exc)}")
        return
    blinded = hides_opinions_in_lists(mode) or identity.reads_blinded()  # students never see opinions
    filters, sort_by, descending = filter_controls(reviews, blinded=blinded, others=identity.may_see_other_readings())
    page = _page(settings, model, reader=reader, filters=filters, sort_by=sort_by, descending=descending)
    with status:
        updating = index_status(settings, model, quiet_check=page.total > 0)
        dicomweb_source(settings, model)  # the DICOMweb server's line and its full search (nothing without one)
    with studies:
        index_path = settings.home / INDEX_FILE
        study_panel.render(settings, reader, reviews, case_names=lambda hashes: case_names(index_path, hashes),
                           worklist=page, all_cases=lambda: indexing.worklist_page(
                               settings, model, reader=reader, filters=filters, sort_by=sort_by,
                               descending=descending, offset=0, limit=1, with_order=True).order)
    rows = page.rows
    if blinded:
        rows = rows.drop(columns=_OPINION_COLUMNS)
    if not identity.may_see_other_readings():
        rows = rows.drop(columns=["Reviews"])
    st.session_state[state.WORKLIST_ORDER] = list(rows["source_sha256"])
    case_table(rows, page, updating=updating)
    add_case(settings)


def _page(settings: Settings, model: InferenceModel | None, **query: Any) -> WorklistPage:
    """The worklist page the reader asked for (the first when the filters leave fewer pages)."""
    number = int(st.session_state.get(state.WORKLIST_PAGE, 1) or 1)
    page = indexing.worklist_page(settings, model, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE, **query)
    if page.rows.empty and number > 1:
        st.session_state[state.WORKLIST_PAGE] = 1
        page = indexing.worklist_page(settings, model, offset=0, limit=PAGE_SIZE, **query)
    return page


def index_status(settings: Settings, model: InferenceModel | None, *, quiet_check: bool) -> bool:
    """How far the index update is, the files that could not be read, and unverified weights; True while updating."""
    updating = indexing.progress_panel(settings, quiet_check=quiet_check)
    failed = resources.cached_index(str(settings.home / INDEX_FILE)).failures()
    if failed:
        with st.expander(f"{len(failed)} file(s) could not be read"):
            st.markdown("\n".join(f"- {escape_markdown(failure)}" for failure in failed))
    if model is not None and model.identity.status != "verified":
        st.warning(f"DNN calls come from {escape_markdown(model.identity.label)}.")
    return updating


def filter_controls(reviews: pd.DataFrame, *, blinded: bool, others: bool = True) -> tuple[WorklistFilters, str, bool]:
    """Filters (discordant only, disagreement only, not yet reviewed by me, class, reviewer) and the sort."""
    toggles, columns = st.columns(4), st.columns(4)  # four to a row: every label whole at 1280 px wide
    discordant = toggles[0].toggle("Discordant only", key="filter-discordant", disabled=blinded,
                                   help="DNN, device and readers disagree on a class (hidden in blinded mode).")
    disagreement = toggles[1].toggle("Disagreement only", key="filter-disagreement", disabled=blinded,
                                     help="Discordant, or the DNN changed a call since the prior ECG of the "
                                          "pseudonym (hidden in blinded mode). Sort by disagreement: most first.")
    mine = toggles[2].toggle("Not reviewed by me", key="filter-mine")
    class_name = columns[0].selectbox("Class called present", [_ANY, *CLASSES], key="filter-class",
                                      disabled=blinded)
    readers = sorted(set(reviews.loc[reviews["role"].isin(READING_ROLES), "reader"])) if others else []
    reviewer = columns[1].selectbox("Reviewer", [_ANY, *readers], key="filter-reviewer")
    sorts = sort_options(blinded=blinded, others=others)
    sort_by = columns[2].selectbox("Sort by", sorts, key="worklist-sort")
    sort_by = sort_by if sort_by in sorts else sorts[0]  # a value kept from before, or sent by a client
    with columns[3]:
        st.html("<div style='height:1.9rem'></div>")  # the toggle level with the boxes beside it
        descending = st.toggle("Descending", key="worklist-descending")
    filters = WorklistFilters(discordant_only=discordant and not blinded, unreviewed_by_me=mine,
                              class_name=None if class_name == _ANY or blinded else class_name,
                              reviewer=None if reviewer == _ANY else reviewer,
                              disagreement_only=disagreement and not blinded)
    return filters, sort_by, descending


def sort_options(*, blinded: bool, others: bool) -> list[str]:
    """The sort keys the reader may use: none by opinions while blinded (students always), none by
    readings for those who may not see other readings (students)."""
    hidden = (_SORTS_BY_OPINIONS if blinded else ()) + (() if others else _SORTS_BY_READINGS)
    return [key for key in SORT_KEYS if key not in hidden]


def case_table(rows: pd.DataFrame, page: WorklistPage, *, updating: bool = False) -> None:
    """The table (one page of it); a click on a row's box or on any of its cells (or O for the first row) opens the
    case on the review page."""
    number = int(st.session_state.get(state.WORKLIST_PAGE, 1) or 1)
    pages = max(1, -(-page.matching // PAGE_SIZE))
    first_shown = (number - 1) * PAGE_SIZE + 1 if len(rows) else 0
    shown = (f"{page.matching} cases indexed so far" if updating else
             f"{page.matching} of {page.total} cases" if pages == 1 else
             f"cases {first_shown}–{first_shown + len(rows) - 1} of {page.matching} ({page.total} indexed)")
    st.caption(f"{shown} · click a row to open it · `O` opens the first case; on the case, "
               "`S` saves and moves to the next case of this list.")
    nonce = st.session_state.get("worklist-nonce", 0)
    # the recording device's name: left out when no case on the page names one (never an empty column)
    order = [column for column in _COLUMN_ORDER if column in rows.columns
             and (column != "Device" or rows[column].fillna("").astype(str).str.strip().ne("").any())]
    event = st.dataframe(rows, hide_index=True, on_select="rerun", selection_mode=["single-row", "single-cell"],
                         column_order=order, key=f"{state.WORKLIST_SELECTION}-{nonce}")
    selection = event.selection if event else None  # a click on any cell of a row opens it, as the row's box does
    selected = list(selection.rows) if selection else []
    if not selected and selection and selection.cells:
        selected = [selection.cells[0][0]]
    first_column, page_column = st.columns([3, 1])
    first = first_column.button("Open first case", shortcut="O", disabled=rows.empty, key="open-first")
    if pages > 1:
        page_column.number_input(f"Page (of {pages})", min_value=1, max_value=pages, step=1, key=state.WORKLIST_PAGE)
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
            case_navigation.keep_upload(settings, source, record.source_sha256, force=True, file_name=upload.name)
            indexing.indexer(settings).request(max_age_s=0)  # list it soon; the page does not wait
            st.rerun()
