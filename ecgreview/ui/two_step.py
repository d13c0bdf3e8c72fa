"""Two-step reading (unaided, then aided) and study cases in the reading room.

A case is read in one mode (:func:`case_mode`): a student always reads ``blinded``; a case
opened from a study (:mod:`ecgreview.ui.study_panel`) is read in the mode its design assigns
(``two-step``, ``unaided`` or ``aided``); any other case in the session's reading mode.

In ``two-step`` mode the reader first saves an ``unaided`` row (the DNN and the device
hidden), then an ``aided`` row naming it, with the opinions shown and the unaided calls
filled in. Which step a case is at comes from the review store
(:func:`ecgreview.study.progress.pending_unaided`), so a reload resumes at the aided step.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES
from ecgreview.review.store import CONFIDENCE_LEVELS, Review, read_reviews
from ecgreview.study.progress import pending_unaided
from ecgreview.ui import identity, state
from ecgreview.ui.text import escape_markdown

#: Modes that ask for the reader's confidence and store ``unaided``/``aided`` rows.
STUDY_MODES = (state.TWO_STEP, "unaided", "aided")
CONFIDENCE_HELP = "Your confidence in these calls: 1 = not at all confident … 5 = certain."


@dataclass(frozen=True)
class StudyCase:
    """A case opened from a study: its design's mode (``two-step``, ``unaided``, ``aided``) and session."""

    study_id: str
    session_id: str
    mode: str
    position: int
    total: int


def study_case(source_sha256: str) -> StudyCase | None:
    """The study assignment of this case in this session, or None."""
    return st.session_state.get(state.STUDY_CASES, {}).get(source_sha256)


def case_mode(source_sha256: str) -> str:
    """How this case is read: ``blinded`` for students, the study's mode, else the session's reading mode."""
    if identity.reads_blinded():
        return "blinded"
    assigned = study_case(source_sha256)
    return assigned.mode if assigned else st.session_state.get(state.READING_MODE, "adjudication")


def step(source_sha256: str) -> str | None:
    """The row the next save writes: ``unaided`` or ``aided``; ``done`` after a two-step reading; None outside."""
    mode = case_mode(source_sha256)
    if mode != state.TWO_STEP:
        return mode if mode in STUDY_MODES else None
    if source_sha256 in st.session_state.get(state.TWO_STEP_PENDING, {}):
        return "aided"
    return "done" if source_sha256 in st.session_state.get(state.TWO_STEP_DONE, set()) else "unaided"


def hides_opinions(source_sha256: str) -> bool | None:
    """Whether a study mode hides the DNN and device now (None: not a study mode)."""
    current = step(source_sha256)
    return None if current is None else current == "unaided"


def pending_calls(settings: Settings, source_sha256: str, reader: str) -> dict[str, str] | None:
    """Find (in the store) the unaided row awaiting its aided reading; its calls, to fill in the aided form."""
    pending = st.session_state.setdefault(state.TWO_STEP_PENDING, {})
    pending.pop(source_sha256, None)
    if case_mode(source_sha256) != state.TWO_STEP or not reader:
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
    pending[source_sha256] = row
    return {name: row[f"reader_call_{name}"] for name in CLASSES}


def confidence_key(source_sha256: str) -> str:
    """Session key of the confidence control (renewed after each save)."""
    return f"confidence-{source_sha256[:16]}-{st.session_state.get(state.FORM_NONCE, 0)}"


def confidence_input(source_sha256: str) -> None:
    """The reader's confidence, 1–5, in the study modes."""
    if step(source_sha256) in ("unaided", "aided"):
        with st.container(key="confidence"):
            st.segmented_control("Confidence (1–5)", CONFIDENCE_LEVELS, key=confidence_key(source_sha256),
                                 help=CONFIDENCE_HELP)


def caption(source_sha256: str) -> str | None:
    """What this step of a study reading is (Markdown), or None outside the study modes."""
    current, assigned = step(source_sha256), study_case(source_sha256)
    where = f"Study {escape_markdown(assigned.study_id)}, case {assigned.position + 1} of {assigned.total} ·" \
        if assigned else ""
    texts = {
        ("two-step", "unaided"): "**Step 1 of 2, unaided**: the DNN and the device are hidden. Record your calls and "
                                 "your confidence; saving shows them.",
        ("two-step", "aided"): "**Step 2 of 2, aided**: your unaided calls are filled in. Change any call after "
                               "seeing the DNN and the device, set your confidence and save.",
        ("two-step", "done"): "**Two-step reading saved** (unaided and aided). `N` opens the next case.",
        ("unaided", "unaided"): "**Unaided reading**: the DNN and the device stay hidden for this case.",
        ("aided", "aided"): "**Aided reading**: the DNN and the device are shown.",
    }
    text = texts.get((case_mode(source_sha256), current)) if current is not None else None
    return None if text is None else f":blue[{where}] {text}" if where else text


def row_fields(source_sha256: str) -> dict[str, object]:
    """``reading_mode``, ``opinions_seen``, ``resolves_review_ids``, ``confidence`` and ``session_id`` of the row
    the save writes in a study mode (raises ValueError when it cannot be saved now)."""
    current = step(source_sha256)
    if current == "done":
        raise ValueError("both readings of this case are saved; open the next case")
    confidence = st.session_state.get(confidence_key(source_sha256))
    if confidence is None:
        raise ValueError("choose your confidence (1–5)")
    assigned = study_case(source_sha256)
    unaided = st.session_state.get(state.TWO_STEP_PENDING, {}).get(source_sha256)
    return {"reading_mode": current, "opinions_seen": current == "aided", "confidence": int(confidence),
            "resolves_review_ids": [unaided["review_id"]] if current == "aided" and unaided is not None else [],
            "session_id": assigned.session_id if assigned else ""}


def saved(source_sha256: str, review: Review) -> None:
    """After a save in a study mode: the unaided row awaits its aided reading; the aided row ends the case."""
    pending = st.session_state.setdefault(state.TWO_STEP_PENDING, {})
    if case_mode(source_sha256) != state.TWO_STEP:
        return
    if review.reading_mode == "unaided":
        pending[source_sha256] = pd.Series({"review_id": review.review_id})
    else:
        pending.pop(source_sha256, None)
        st.session_state.setdefault(state.TWO_STEP_DONE, set()).add(source_sha256)
