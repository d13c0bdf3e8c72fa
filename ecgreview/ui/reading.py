"""The reader's panel: calls per class with keyboard shortcuts, save / save-and-next, readers' disagreements."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ecgreview.case import CaseAnalysis
from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES
from ecgreview.reviews import READER_CALLS, append_review, read_reviews
from ecgreview.ui import state
from ecgreview.worklist import disagreeing_classes, latest_readings

KEYS_HELP = ("**Keyboard** · `1`–`6` choose a class · `P` present · `A` absent · `U` uncertain (then the next "
             "class) · `S` save and next · `N` next case · `B` previous case")
_CALL_KEYS = {"present": "P", "absent": "A", "uncertain": "U"}


def reading_mode() -> str:
    """The session's reading mode (adjudication or blinded), kept across pages."""
    if state.READING_MODE_WIDGET not in st.session_state:  # widget state ends with its page; the mode does not
        st.session_state[state.READING_MODE_WIDGET] = st.session_state.get(state.READING_MODE, "adjudication")
    mode = st.segmented_control("Reading mode", state.MODES, key=state.READING_MODE_WIDGET, required=True,
                                help="Blinded: the DNN and device opinions are shown only after you save.")
    st.session_state[state.READING_MODE] = mode or "adjudication"
    return st.session_state[state.READING_MODE]


def opinions_hidden(source_sha256: str) -> bool:
    """Whether the DNN and device opinions on this case are still hidden (blinded, not yet saved)."""
    return (st.session_state.get(state.READING_MODE) == "blinded"
            and source_sha256 not in st.session_state.get(state.REVEALED, set()))


def call_key(source_sha256: str, name: str) -> str:
    """Session key of the radio holding the reader's call on class ``name`` for this case."""
    return f"call-{source_sha256[:16]}-{name}-{st.session_state.get(state.FORM_NONCE, 0)}"


def adjudicate_key() -> str:
    """Session key of the "record as consensus" checkbox (renewed after each save)."""
    return f"{state.ADJUDICATE}-{st.session_state.get(state.FORM_NONCE, 0)}"


def _set_call(source_sha256: str, call: str) -> None:
    cursor = st.session_state.get(state.CLASS_CURSOR, 0)
    st.session_state[call_key(source_sha256, CLASSES[cursor])] = call
    st.session_state[state.CLASS_CURSOR] = (cursor + 1) % len(CLASSES)


def _choose_class(index: int) -> None:
    st.session_state[state.CLASS_CURSOR] = index


def call_inputs(source_sha256: str) -> dict[str, str | None]:
    """The class cursor, P/A/U buttons and one radio per class; nothing is pre-filled."""
    cursor = st.session_state.setdefault(state.CLASS_CURSOR, 0)
    chooser = st.columns(len(CLASSES))
    for index, (column, name) in enumerate(zip(chooser, CLASSES)):
        column.button(name, key=f"cursor-{index}", shortcut=str(index + 1), on_click=_choose_class, args=(index,),
                      type="primary" if index == cursor else "secondary")
    setters = st.columns(len(READER_CALLS))
    for column, call in zip(setters, READER_CALLS):
        column.button(f"{call} → {CLASSES[cursor]}", key=f"set-call-{call}", shortcut=_CALL_KEYS[call],
                      on_click=_set_call, args=(source_sha256, call))
    return {name: st.radio(name, READER_CALLS, index=None, horizontal=True, key=call_key(source_sha256, name))
            for name in CLASSES}


def readers_panel(settings: Settings, analysis: CaseAnalysis) -> list[str]:
    """Other readers' latest readings of this case and where they disagree; the ids an adjudication resolves."""
    try:
        readings = latest_readings(read_reviews(settings.reviews_path), analysis.record.source_sha256)
    except EcgReviewError as exc:
        st.error(f"Cannot read earlier reviews — {exc}")
        return []
    readers = readings[readings["role"] == "reader"]
    if len(readers) < 2:
        return []
    disputed = disagreeing_classes(readings)
    st.markdown(f"**{len(readers)} readers** · " + (f"disagree on {', '.join(disputed)}" if disputed else "agree"))
    shown = readings[["reader", "role", *[f"reader_call_{name}" for name in CLASSES]]]
    st.dataframe(shown.rename(columns=lambda c: c.removeprefix("reader_call_")), hide_index=True)
    return list(readers["review_id"]) if disputed else []


def save_reading(settings: Settings, analysis: CaseAnalysis, reader: str, calls: dict, comment: str,
                 resolves: list[str]) -> bool:
    """Validate and append the reading; True when saved. Errors keep the answers in place."""
    unanswered = [name for name, call in calls.items() if call is None]
    if not reader or unanswered:
        problems = (["enter your name under Reader in the sidebar"] if not reader else []) + (
            [f"answer every class ({', '.join(unanswered)} still open)"] if unanswered else [])
        st.error(f"Not saved — {'; '.join(problems)}. Your answers are still in the form.")
        return False
    sha = analysis.record.source_sha256
    mode = st.session_state.get(state.READING_MODE, "adjudication")
    adjudicate = bool(resolves) and mode == "adjudication" and st.session_state.get(adjudicate_key(), False)
    try:
        review = analysis.to_review(
            reader=reader, reader_calls=calls, comment=comment, opinions_seen=not opinions_hidden(sha),
            reading_mode=mode, role="adjudicator" if adjudicate else "reader",
            resolves_review_ids=resolves if adjudicate else ())
        append_review(settings.reviews_path, review)
    except (ValueError, EcgReviewError) as exc:
        st.error(f"Not saved — {exc}. Your answers are still in the form.")
        return False
    st.session_state.setdefault(state.REVEALED, set()).add(sha)
    role = " as the consensus (adjudicator)" if adjudicate else ""
    st.session_state[state.LAST_SAVED] = f"Saved review {review.review_id[:8]}{role} to {settings.reviews_path}"
    st.session_state[state.FORM_NONCE] = st.session_state.get(state.FORM_NONCE, 0) + 1
    st.session_state[state.CLASS_CURSOR] = 0
    return True


def earlier_reviews(settings: Settings, source_sha256: str) -> None:
    """All rows of this case in the review store (corrections are new rows)."""
    try:
        frame = read_reviews(settings.reviews_path)
    except EcgReviewError as exc:
        st.error(f"Cannot read earlier reviews — {exc}")
        return
    earlier = frame[frame["source_sha256"] == source_sha256]
    st.subheader(f"Earlier reviews of this case ({len(earlier)})")
    if len(earlier):
        columns = ["saved_at_utc", "reader", "role", "reading_mode", *[f"reader_call_{c}" for c in CLASSES], "comment"]
        st.dataframe(pd.DataFrame(earlier[columns]), hide_index=True)
