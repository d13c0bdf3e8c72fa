"""The reading state of each case in this browser session, kept for :class:`ecgreview.review.protocol.Reading`.

The rules (which row a save writes, what is hidden, when a reading may be saved) are the
protocol's; this module only keeps its inputs in the session and hands them over:
the case's mode (:func:`ecgreview.review.protocol.case_mode`: a student always reads
``blinded``; a study case in its design's mode; any other case in the session's mode), whether
the DNN gave probabilities for the case, the blinded reading saved, and the two-step reading's
unaided row. Which step a two-step case is at comes from the review store
(:func:`ecgreview.study.progress.pending_unaided`), so a reload resumes at the aided step.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES
from ecgreview.review import protocol
from ecgreview.review.modes import ADJUDICATION, AIDED, DONE, TWO_STEP, UNAIDED, mode_label
from ecgreview.review.store import CONFIDENCE_LEVELS, Review, read_reviews
from ecgreview.study.progress import pending_unaided
from ecgreview.ui import identity, state
from ecgreview.ui.text import escape_markdown

CONFIDENCE_HELP = "Your confidence in these calls: 1 = not at all confident … 5 = certain."


@dataclass(frozen=True)
class StudyCase:
    """A case opened from a study: its design's mode (``two_step``, ``unaided``, ``aided``) and session."""

    study_id: str
    session_id: str
    mode: str
    position: int
    total: int


def study_case(source_sha256: str) -> StudyCase | None:
    """The study assignment of this case in this session, or None."""
    return st.session_state.get(state.STUDY_CASES, {}).get(source_sha256)


def case_mode(source_sha256: str) -> str:
    """How this case is read (:func:`ecgreview.review.protocol.case_mode`)."""
    assigned = study_case(source_sha256)
    return protocol.case_mode(student=identity.reads_blinded(), assigned_mode=assigned.mode if assigned else None,
                              session_mode=st.session_state.get(state.READING_MODE, ADJUDICATION))


def reading(source_sha256: str) -> protocol.Reading:
    """The protocol state of this case's reading now."""
    assigned = study_case(source_sha256)
    return protocol.Reading(
        mode=case_mode(source_sha256),
        dnn_available=st.session_state.get(state.DNN_AVAILABLE, {}).get(source_sha256, False),
        revealed=source_sha256 in st.session_state.get(state.REVEALED, set()),
        unaided_review_id=st.session_state.get(state.TWO_STEP_PENDING, {}).get(source_sha256),
        done=source_sha256 in st.session_state.get(state.TWO_STEP_DONE, set()),
        session_id=assigned.session_id if assigned else "")


def prepare(settings: Settings, source_sha256: str, reader: str, *, dnn_available: bool) -> dict[str, str] | None:
    """Before the panel: note whether the DNN has output for the case and, in two-step mode, find the
    unaided row awaiting its aided reading (in the store); its calls, to fill in the aided form."""
    st.session_state.setdefault(state.DNN_AVAILABLE, {})[source_sha256] = dnn_available
    pending = st.session_state.setdefault(state.TWO_STEP_PENDING, {})
    pending.pop(source_sha256, None)
    if case_mode(source_sha256) != TWO_STEP or not reader or source_sha256 in st.session_state.get(
            state.TWO_STEP_DONE, set()):
        return None
    try:
        reviews = read_reviews(settings.reviews_path)
    except EcgReviewError as exc:
        st.error(f"Cannot read earlier reviews — {escape_markdown(exc)}")
        return None
    assigned = study_case(source_sha256)
    row = pending_unaided(reviews, reader=reader, source_sha256=source_sha256,
                          session_id=assigned.session_id if assigned else "")
    if row is None:
        return None
    pending[source_sha256] = str(row["review_id"])
    return {name: row[f"reader_call_{name}"] for name in CLASSES}


def confidence_key(source_sha256: str) -> str:
    """Session key of the confidence control (renewed after each save)."""
    return f"confidence-{source_sha256[:16]}-{st.session_state.get(state.FORM_NONCE, 0)}"


def confidence(source_sha256: str) -> int | None:
    """The reader's confidence on this case now (None: not chosen)."""
    value = st.session_state.get(confidence_key(source_sha256))
    return None if value is None else int(value)


def confidence_input(source_sha256: str) -> None:
    """The reader's confidence, 1–5, in the study modes."""
    current = reading(source_sha256)
    if current.is_study and current.step != DONE and not current.unavailable_reason:
        with st.container(key="confidence"):
            st.segmented_control("Confidence (1–5)", CONFIDENCE_LEVELS, key=confidence_key(source_sha256),
                                 help=CONFIDENCE_HELP)


_CAPTIONS = {
    (TWO_STEP, UNAIDED): "**Step 1 of 2, unaided**: the DNN and the device are hidden. Record your calls and "
                         "your confidence; saving shows them.",
    (TWO_STEP, AIDED): "**Step 2 of 2, aided**: your unaided calls are filled in. Change any call after "
                       "seeing the DNN and the device, set your confidence and save.",
    (TWO_STEP, DONE): "**Two-step reading saved** (unaided and aided). `N` opens the next case.",
    (UNAIDED, UNAIDED): "**Unaided reading**: the DNN and the device stay hidden for this case.",
    (AIDED, AIDED): "**Aided reading**: the DNN and the device are shown.",
}


def caption(source_sha256: str, *, has_next: bool = True) -> str | None:
    """What this step of a study reading is (Markdown), or None outside the study modes; ``has_next``: a
    case follows in the study's (or worklist's) order."""
    current, assigned = reading(source_sha256), study_case(source_sha256)
    if not current.is_study:
        return None
    where = f":blue[Study {escape_markdown(assigned.study_id)}, case {assigned.position + 1} of {assigned.total} ·] " \
        if assigned else ""
    if current.unavailable_reason:
        return f"{where}**{mode_label(current.mode).capitalize()} reading is not available** — " \
               f"{escape_markdown(current.unavailable_reason)}."
    if assigned and not has_next and current.step == DONE:
        return where + "**Study session complete**: this was the last case. Your readings are saved; the " \
                       "Worklist shows your progress (and when a next session opens)."
    return where + _CAPTIONS[(current.mode, current.step)]


def saved(source_sha256: str, review: Review) -> None:
    """After a save: keep the protocol's next state (blinded: revealed; two-step: the aided step or done)."""
    after = reading(source_sha256).saved(review_id=review.review_id, reading_mode=review.reading_mode)
    if after.revealed:
        st.session_state.setdefault(state.REVEALED, set()).add(source_sha256)
    pending = st.session_state.setdefault(state.TWO_STEP_PENDING, {})
    if after.unaided_review_id:
        pending[source_sha256] = after.unaided_review_id
    else:
        pending.pop(source_sha256, None)
    if after.done:
        st.session_state.setdefault(state.TWO_STEP_DONE, set()).add(source_sha256)
