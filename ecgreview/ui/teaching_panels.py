"""Widgets of the teaching page: the teacher's session builder and results, the student's reading."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.model.inference import InferenceModel
from ecgreview.review.case import CaseAnalysis
from ecgreview.review.store import append_review
from ecgreview.review.teaching import (
    TeachingCase,
    TeachingSession,
    comparison_rows,
    create_session,
    reference_from_labels,
    reference_from_readings,
    score_student,
    sessions_dir,
    teacher_table,
)
from ecgreview.review.protocol import latest_readings
from ecgreview.review.worklist import IndexedCase
from ecgreview.ui import case_navigation, case_panels, decision_panel, indexing, state, viewer
from ecgreview.ui.text import escape_markdown

REFERENCE_SOURCES = ("consensus reviews", "labels in the files")


def indexed_cases(settings: Settings) -> list[IndexedCase]:
    """The worklist's readable cases indexed now (an update, when due, runs in the background: its progress
    is shown and the page reruns when it has finished)."""
    cases = indexing.indexed_cases(settings)
    indexing.progress_panel(settings, quiet_check=bool(cases))
    return [case for case in cases if not case.error]


def prepare_session(settings: Settings, reviews: pd.DataFrame) -> None:
    """The teacher picks cases and where the reference comes from, and creates the session file."""
    st.subheader("Prepare a session")
    cases = indexed_cases(settings)
    name = st.text_input("Session name", key="teaching-new-name")
    chosen = st.multiselect("Cases", cases, format_func=lambda case: f"{case.source_name} · {case.pseudonym}",
                            key="teaching-new-cases")
    source = st.radio("Reference answers from", REFERENCE_SOURCES, horizontal=True, key="teaching-new-source")
    if not st.button("Create session", key="teaching-create", disabled=not (name and chosen)):
        return
    made = []
    for case in chosen:
        reference = (reference_from_labels(case.reference_labels) if source == REFERENCE_SOURCES[1]
                     else reference_from_readings(latest_readings(reviews, case.source_sha256)))
        made.append(TeachingCase(case.source_sha256, case.source_name, reference))
    try:
        session = create_session(sessions_dir(settings), name, made)
    except (ValueError, EcgReviewError) as exc:
        st.error(f"Session not created — {escape_markdown(exc)}")
        return
    st.success(f"Created session {escape_markdown(session.session_id)} with {len(session.cases)} cases.")
    unscored = sum(1 for case in session.cases for value in case.reference.values() if not value)
    if unscored:
        st.warning(f"{unscored} class answer(s) have no reference and will not be scored.")


def results(session: TeachingSession, reviews: pd.DataFrame) -> None:
    """The teacher's table: each student's fraction right per class."""
    st.subheader(f"Results of {escape_markdown(session.session_id)}")
    table = teacher_table(session, reviews)
    if table.empty:
        st.info("No student has answered yet.")
    else:
        st.dataframe(table, hide_index=True, column_config={
            name: st.column_config.NumberColumn(format="percent") for name in table.columns[3:]})


def case_analysis(settings: Settings, case: TeachingCase, model: InferenceModel | None) -> CaseAnalysis | None:
    """Read and analyse one session case, found by its SHA-256 in the worklist index."""
    source = case_navigation.find_case(settings, case.source_sha256)
    if source is None:
        if not indexing.progress_panel(settings):
            st.error(f"{escape_markdown(case.source_name)}: the case file is not in the case folder or the uploads.")
        return None
    return case_panels.analyse(settings, source, model)


def answer_case(settings: Settings, session: TeachingSession, case: TeachingCase, analysis: CaseAnalysis,
                student: str) -> None:
    """A blinded reading of one case: the trace, the calls (keyboard or mouse), Submit."""
    position = [item.source_sha256 for item in session.cases].index(case.source_sha256) + 1
    st.subheader(f"Case {position} of {len(session.cases)} · {escape_markdown(case.source_name)}")
    viewer.ecg_trace(analysis.record, viewer.current_view())
    st.caption(decision_panel.KEYS_HELP.split(" · `S`")[0] + " · `S` submit")
    decision_panel.class_grid(analysis, hidden=True, actions=("save",))  # S through the reading keys' log
    calls = decision_panel.call_inputs(case.source_sha256)
    submitted = st.button("Submit answer", type="primary", key="teaching-submit", help="Key S")
    if not (submitted or decision_panel.take_key_action(case.source_sha256) == "save"):
        return
    if not student or any(call is None for call in calls.values()):
        st.error("Not saved — enter your name and answer every class.")
        return
    try:
        review = analysis.to_review(reader=student, reader_calls=calls, opinions_seen=False, role="student",
                                    reading_mode="teaching", session_id=session.session_id)
        append_review(settings.reviews_path, review)
    except (ValueError, EcgReviewError) as exc:
        st.error(f"Not saved — {escape_markdown(exc)}")
        return
    st.session_state[state.TEACHING_REVEAL] = (session.session_id, case.source_sha256, dict(calls))
    st.session_state[state.FORM_NONCE] = st.session_state.get(state.FORM_NONCE, 0) + 1
    st.session_state[state.CLASS_CURSOR] = 0
    st.rerun()


def reveal(case: TeachingCase, analysis: CaseAnalysis | None, answers: dict[str, str]) -> None:
    """After an answer: reference, DNN and device beside the student's answer, marked right or wrong."""
    st.subheader(f"{escape_markdown(case.source_name)}: your answer beside the reference, the DNN and the device")
    dnn = None
    if analysis is not None and analysis.dnn_calls is not None:
        dnn = dict(zip([row[0] for row in analysis.dnn_rows()], analysis.dnn_calls))
        st.caption(f"DNN: {escape_markdown(analysis.model_label)}")
    device = {name: call.strength for name, call in analysis.device.calls.items()} if analysis else {}
    st.dataframe(pd.DataFrame(comparison_rows(case, answers, dnn_calls=dnn, device_strengths=device)),
                 hide_index=True)
    # keyed per case: a click on the last case's Next, replayed by Streamlit into a later run, cannot skip this
    # case's feedback (a CI run showed the answer saved and the page on the case after it)
    if st.button("Next case", type="primary", shortcut="N", key=f"teaching-next-{case.source_sha256[:16]}"):
        del st.session_state[state.TEACHING_REVEAL]
        st.rerun()


def final_score(session: TeachingSession, reviews: pd.DataFrame, student: str) -> None:
    """The student's score per class at the end of the session."""
    scores = score_student(session, reviews, student)
    overall = scores.loc["all"]
    st.subheader(f"Session complete — {int(overall['correct'])} of {int(overall['scored'])} answers right")
    st.dataframe(scores.reset_index(), hide_index=True,
                 column_config={"score": st.column_config.NumberColumn(format="percent")})
