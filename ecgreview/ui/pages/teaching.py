"""The teaching page: teachers prepare sessions and see results; students read blinded and are scored."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.model.inference import InferenceModel
from ecgreview.review.store import read_reviews
from ecgreview.review.teaching import TeachingSession, list_sessions, load_session, next_case, sessions_dir
from ecgreview.ui import identity, page_setup, state, teaching_panels
from ecgreview.ui.text import escape_markdown

ROLES = ("Student", "Teacher")


def render() -> None:
    """Draw the page."""
    settings = page_setup.page_settings("Teaching")
    if settings is None:
        return
    try:
        reviews = read_reviews(settings.reviews_path)
    except EcgReviewError as exc:
        st.error(f"Cannot read the review store — {escape_markdown(exc)}")
        return
    with st.sidebar:
        reader = page_setup.reader_input()
        role = (st.segmented_control("I am a", ROLES, default="Student", key=state.TEACHING_ROLE, required=True)
                if identity.may("teacher") else "Student")
        model = page_setup.model_panel(settings)
    session = choose_session(settings)
    if role == "Teacher":
        teaching_panels.prepare_session(settings, reviews)
        if session is not None:
            teaching_panels.results(session, reviews)
        return
    if session is None:
        st.info("No teaching session yet: a teacher prepares one on this page (I am a: Teacher).")
        return
    if not reader:
        st.warning("Enter your name under Reader in the sidebar to start.")
        return
    student_flow(settings, session, reviews, reader, model)


def choose_session(settings: Settings) -> TeachingSession | None:
    """The selected session, or None when there is none (or it cannot be read)."""
    paths = list_sessions(sessions_dir(settings))
    if not paths:
        return None
    path = st.selectbox("Session", paths, format_func=lambda p: p.stem, key=state.TEACHING_SESSION)
    try:
        return load_session(path)
    except EcgReviewError as exc:
        st.error(f"Cannot open the session — {escape_markdown(exc)}")
        return None


def student_flow(settings: Settings, session: TeachingSession, reviews: pd.DataFrame, student: str,
                 model: InferenceModel | None) -> None:
    """Reveal the last answer, or read the next case, or show the final score."""
    revealed = st.session_state.get(state.TEACHING_REVEAL)
    if revealed and revealed[0] == session.session_id:
        shown = next(item for item in session.cases if item.source_sha256 == revealed[1])
        teaching_panels.reveal(shown, teaching_panels.case_analysis(settings, shown, model), revealed[2])
        return
    case = next_case(session, reviews, student)
    if case is None:
        teaching_panels.final_score(session, reviews, student)
        return
    analysis = teaching_panels.case_analysis(settings, case, model)
    if analysis is not None:
        teaching_panels.answer_case(settings, session, case, analysis, student)
