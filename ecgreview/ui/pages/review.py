"""The review page: one ECG, the DNN and the device side by side, the reader's calls."""

from __future__ import annotations

import streamlit as st

from ecgreview.case import CaseAnalysis
from ecgreview.config import Settings
from ecgreview.ui import components, identity, reading, state, viewer


def render() -> None:
    """Draw the page."""
    settings = components.page_settings("ECG review")
    if settings is None:
        return
    with st.sidebar:
        reader = components.reader_input()
        reading.reading_mode()
        model = components.model_panel(settings)
        case = components.worklist_case(settings) or components.case_picker(settings)
    if case is None:
        return
    analysis = components.analyse(case, model)
    if analysis is None:
        return
    sha = analysis.record.source_sha256
    components.keep_upload(settings, case, sha)
    components.case_header(analysis.record, analysis.phi_audit)
    following = components.case_navigation(settings, sha)
    viewer.ecg_trace(analysis.record)
    opinions, form = st.columns([5, 4], gap="large")
    with opinions:
        if reading.opinions_hidden(sha):
            st.info("Blinded reading: the DNN and device opinions (and other readers' reviews) are shown "
                    "after you save your calls.")
        else:
            components.dnn_panel(analysis, model_loaded=model is not None)
            components.device_panel(analysis)
    with form:
        review_panel(settings, analysis, reader, following)
    if not reading.opinions_hidden(sha):
        reading.earlier_reviews(settings, sha)


def review_panel(settings: Settings, analysis: CaseAnalysis, reader: str, following: str | None) -> None:
    """Other readers, the calls (keyboard or mouse), a comment, Save / Save and next."""
    sha = analysis.record.source_sha256
    st.subheader("Your reading")
    st.caption(reading.KEYS_HELP)
    resolves = [] if reading.opinions_hidden(sha) else reading.readers_panel(settings, analysis)
    if resolves and st.session_state.get(state.READING_MODE) == "adjudication" and identity.may("adjudicator"):
        st.checkbox(f"Record my reading as the consensus (adjudicator; resolves the {len(resolves)} readings above)",
                    key=reading.adjudicate_key())
    calls = reading.call_inputs(sha)
    comment = st.text_area("Comment", key=f"comment-{sha[:16]}-{st.session_state.get(state.FORM_NONCE, 0)}")
    save_column, next_column = st.columns(2)
    save = save_column.button("Save review", type="primary", key="save-review")
    save_next = next_column.button("Save and next", shortcut="S", key="save-and-next")
    if (save or save_next) and reading.save_reading(settings, analysis, reader, calls, comment, resolves):
        if save_next and following:
            components.open_case(following)
        st.rerun()
    saved = st.session_state.get(state.LAST_SAVED)
    if saved:
        st.success(saved)
