"""The reader's decision panel: per class the DNN and the device beside the reader's call, keys, save.

The panel is a fragment (``st.fragment``): a key press or a click on a call reruns only
the panel, never the ECG, so it shows at once. Saving reruns the whole page (the next
case, or the opinions revealed after a blinded reading or the unaided step of a two-step
reading, :mod:`ecgreview.ui.two_step`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import streamlit as st

from ecgreview.config import Settings
from ecgreview.device.statements import NOT_AVAILABLE
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES
from ecgreview.report import AGREEMENT_MARKS
from ecgreview.review.case import CaseAnalysis
from ecgreview.review.modes import ADJUDICATION, DONE, SESSION_MODES, TWO_STEP, UNAIDED, mode_label
from ecgreview.review.protocol import mode_unavailable_reason
from ecgreview.review.store import READER_CALLS, append_review, dnn_agreement
from ecgreview.ui import case_navigation, case_panels, identity, session_values, state, two_step
from ecgreview.ui.keys import apply_keys, key_log
from ecgreview.ui.text import escape_markdown

#: The Review page's key that shows or hides the prior ECG (the serial panel's button shortcut, when the case has one).
PRIOR_KEY = "V"
KEYS_HELP_SHORT = "keys: `1`–`6` class, `P` `A` `U` call, `S` save and next"
#: Added to :data:`KEYS_HELP_SHORT` when the case has a prior ECG (the serial panel is shown).
KEYS_HELP_PRIOR = f", `{PRIOR_KEY}` prior ECG"
#: The Review page's keys; the teaching page shows the part before `` · `S` `` (it has no serial panel).
KEYS_HELP = ("**Keyboard** · `1`–`6` choose a class · `P` present · `A` absent · `U` uncertain (then the next "
             "class) · `Shift`+`1`–`5` confidence (study readings) · `S` save and next · `N` next case · "
             f"`B` previous case · `{PRIOR_KEY}` show or hide the prior ECG (when the case has one)")
_CALL_KEYS = {"present": "P", "absent": "A", "uncertain": "U"}


def reading_mode(*, dnn_installed: bool = True) -> str:
    """The session's reading mode (adjudication, blinded or two-step), kept across pages.

    Two-step reading is offered only with model weights installed: its aided step shows the DNN
    (:func:`ecgreview.review.protocol.mode_unavailable_reason`); without them the control says why.
    """
    assigned = two_step.study_case(st.query_params.get(state.QUERY_CASE, ""))
    if assigned is not None:  # a study case: the design sets the mode, not the reader
        st.markdown(f"**Reading mode** {mode_label(assigned.mode)}  \n"
                    f":gray[set by study {escape_markdown(assigned.study_id)}]")
        return st.session_state.get(state.READING_MODE, ADJUDICATION)
    offered = SESSION_MODES if dnn_installed else tuple(
        mode for mode in SESSION_MODES if not mode_unavailable_reason(mode, dnn_available=False))
    # kept for the browser session, across pages and a reload
    session_values.seed(state.READING_MODE, state.READING_MODE_WIDGET, query_key=state.QUERY_MODE,
                        default=ADJUDICATION, allowed=offered.__contains__)
    st.segmented_control("Reading mode", offered, key=state.READING_MODE_WIDGET, required=True,
                         format_func=mode_label,
                         on_change=session_values.keep(state.READING_MODE, state.READING_MODE_WIDGET,
                                                       query_key=state.QUERY_MODE, default=ADJUDICATION),
                         help="Blinded: the DNN and device opinions are shown only after you save. "
                              "Two-step: save an unaided reading, then an aided one with the DNN and "
                              "the device shown.")
    if not dnn_installed:
        st.caption("Two-step reading is not offered: no DNN weights are installed, so there is no DNN output "
                   "to read with.")
    session_values.show(state.READING_MODE, query_key=state.QUERY_MODE, default=ADJUDICATION)
    return st.session_state[state.READING_MODE]


def opinions_hidden(source_sha256: str) -> bool:
    """Whether the DNN and device opinions on this case are still hidden (the protocol's rule:
    blinded until saved, students always; two-step until the unaided row is saved; unaided always)."""
    return two_step.reading(source_sha256).opinions_hidden


def prepare_case(settings: Settings, analysis: CaseAnalysis, reader: str) -> None:
    """Before the panel: the reading's state, and in two-step mode the unaided calls filled in for the aided step."""
    sha = analysis.record.source_sha256
    calls = two_step.prepare(settings, sha, reader, dnn_available=analysis.probabilities is not None)
    if calls is not None and all(call is None for call in _calls(sha).values()):  # not yet answered
        for name, call in calls.items():
            _record_call(sha, name, call)


def _calls(source_sha256: str) -> dict[str, str | None]:
    """The reader's calls on this case in this session (reset after each save).

    The calls live in their own session key, not in the widgets' state: the browser
    reports every widget's value with each rerun request, and a value it has not yet
    redrawn after a key press would overwrite the key's call.
    """
    nonce = st.session_state.get(state.FORM_NONCE, 0)
    store = st.session_state.setdefault(state.READER_CALLS, {})
    return store.setdefault((source_sha256, nonce), {name: None for name in CLASSES})


def _record_call(source_sha256: str, name: str, call: str | None) -> None:
    """Set one call from a key; its widget is drawn anew (a new key) so that it shows the call."""
    _calls(source_sha256)[name] = call
    versions = st.session_state.setdefault(state.CALL_VERSIONS, {})
    versions[(source_sha256, name)] = versions.get((source_sha256, name), 0) + 1


def call_key(source_sha256: str, name: str) -> str:
    """Session key of the widget showing the reader's call on class ``name`` for this case."""
    version = st.session_state.get(state.CALL_VERSIONS, {}).get((source_sha256, name), 0)
    return f"call-{source_sha256[:16]}-{name}-{st.session_state.get(state.FORM_NONCE, 0)}-{version}"


def _call_clicked(source_sha256: str, name: str, widget_key: str) -> None:
    """A click on the call widget now on screen. The browser also reports, with a later rerun, the last
    value of a widget version a key press replaced (no longer drawn): that report is not a click."""
    if widget_key == call_key(source_sha256, name):
        _calls(source_sha256)[name] = st.session_state.get(widget_key)


def adjudicate_key() -> str:
    """Session key of the "record as consensus" checkbox (renewed after each save)."""
    return f"{state.ADJUDICATE}-{st.session_state.get(state.FORM_NONCE, 0)}"


def _apply_keys(keys: Mapping[str, Any]) -> None:
    """Apply the reading keys that arrived (in order) to the case on screen; S, N, B wait for the page
    (:func:`take_key_action`), after the calls pressed before them."""
    sha = st.session_state.get(state.CURRENT_CASE)
    if not sha:
        return

    def set_call(index: int, call: str) -> None:
        _record_call(sha, CLASSES[index], call)

    def set_confidence(level: int) -> None:
        if two_step.reading(sha).is_study:
            st.session_state[two_step.confidence_key(sha)] = level

    def on_action(sequence: int, action: str) -> None:
        st.session_state.setdefault(state.KEY_ACTIONS, []).append((sequence, action, sha))

    page = keys.get("page")
    same_page = page is not None and page == st.session_state.get(state.KEY_LOG_PAGE)
    st.session_state[state.KEY_LOG_PAGE] = page
    applied, cursor = apply_keys(keys.get("log") or [], last_applied=st.session_state.get(state.KEY_LOG_APPLIED, 0),
                                 cursor=st.session_state.get(state.CLASS_CURSOR, 0), set_call=set_call,
                                 classes=len(CLASSES), same_page=same_page, set_confidence=set_confidence,
                                 on_action=on_action)
    st.session_state[state.KEY_LOG_APPLIED] = applied
    st.session_state[state.CLASS_CURSOR] = cursor


def take_key_action(source_sha256: str) -> str | None:
    """The S/N/B action pressed on this case and not yet done (``save``, ``next``, ``previous``), once;
    actions pressed on another case are dropped (the reader has moved on)."""
    pending = st.session_state.get(state.KEY_ACTIONS) or []
    st.session_state[state.KEY_ACTIONS] = []
    mine = [action for _, action, case in pending if case == source_sha256]
    return mine[0] if mine else None


def _set_call(source_sha256: str, call: str) -> None:
    cursor = st.session_state.get(state.CLASS_CURSOR, 0)
    _record_call(source_sha256, CLASSES[cursor], call)
    st.session_state[state.CLASS_CURSOR] = (cursor + 1) % len(CLASSES)


def _choose_class(index: int) -> None:
    st.session_state[state.CLASS_CURSOR] = index


def call_inputs(source_sha256: str) -> dict[str, str | None]:
    """The reader's calls so far, one per class (None: not answered yet)."""
    return dict(_calls(source_sha256))


def _opinion_cells(analysis: CaseAnalysis, index: int, hidden: bool) -> tuple[str, str]:
    """Markdown of the DNN probability (against its threshold) and the device call for class ``index``."""
    if hidden:
        return ":gray[hidden]", ":gray[hidden]"
    name = CLASSES[index]
    calls = analysis.dnn_calls
    if analysis.probabilities is None or calls is None:
        dnn = ":gray[—]"
    else:
        text = f"{float(analysis.probabilities[index]):.3f}"
        threshold = analysis.thresholds[index]
        dnn = f":red[**{text}**] › {threshold:g}" if calls[index] else f"{text} ≤ {threshold:g}"
    strength = analysis.device.calls[name].strength
    device = {"definite": ":red[**present**]", "possible": ":orange[possible]",
              NOT_AVAILABLE: ":gray[n/a]"}.get(strength, escape_markdown(strength))  # n/a: no statements in the file
    return dnn, device


def class_grid(analysis: CaseAnalysis, *, hidden: bool | None = None, actions: tuple[str, ...] = ()) -> None:
    """One row per class: the class (key 1–6 chooses it), DNN p vs threshold, device call, the reader's call.

    ``hidden`` hides the DNN and device columns (default: hidden in a blinded reading not yet saved).
    ``actions`` are the S/N/B actions this page takes from the key log (:func:`take_key_action`).
    """
    sha = analysis.record.source_sha256
    hidden = opinions_hidden(sha) if hidden is None else hidden
    st.session_state[state.CURRENT_CASE] = sha
    key_log(_apply_keys, classes=CLASSES, cursor=st.session_state.get(state.CLASS_CURSOR, 0),
            applied=st.session_state.get(state.KEY_LOG_APPLIED, 0), case=sha, actions=actions,
            confidence=two_step.reading(sha).is_study)
    cursor = st.session_state.setdefault(state.CLASS_CURSOR, 0)
    marks = {} if hidden else agreement_marks(analysis, _calls(sha))
    widths = [1.05, 1.45, 0.95, 3.0, 0.6]  # one line per class at 1280 px wide (the grid's CSS: page_setup)
    head = st.columns(widths, vertical_alignment="bottom")
    titles = ("Class · 1–6", "DNN p › thr.", "Device", "Your call" if hidden else "Your call · ✓ ✗ vs DNN", "")
    for column, title in zip(head, titles):
        column.caption(title)
    for index, name in enumerate(CLASSES):
        label, dnn, device, call, mark = st.columns(widths, vertical_alignment="center")
        label.button(name, key=f"cursor-{index}", on_click=_choose_class, args=(index,),
                     type="primary" if index == cursor else "secondary",
                     help=f"Key {index + 1} selects {name}; then P, A or U sets its call")
        dnn_text, device_text = _opinion_cells(analysis, index, hidden)
        dnn.markdown(dnn_text)
        device.markdown(device_text)
        widget_key = call_key(sha, name)
        with call.container(key=f"call-{name}"):
            st.segmented_control(name, READER_CALLS, default=_calls(sha)[name], key=widget_key,
                                 label_visibility="collapsed", on_change=_call_clicked, args=(sha, name, widget_key))
        with mark.container(key=f"agreement-{name}"):  # drawn when empty too: the browser shows no empty block
            st.markdown(marks.get(name, ""))
    setters = st.columns(len(READER_CALLS))
    for column, value in zip(setters, READER_CALLS):
        column.button(f"{value} · {_CALL_KEYS[value]}", key=f"set-call-{value}", on_click=_set_call,
                      args=(sha, value), width="stretch", help=f"Sets {CLASSES[cursor]} to {value}, then the next class")


def agreement_marks(analysis: CaseAnalysis, calls: Mapping[str, str | None]) -> dict[str, str]:
    """Markdown per class: whether the reader's call so far agrees with the DNN's (✓) or not (✗), by
    :func:`ecgreview.review.store.dnn_agreement`; empty without a DNN output, a call, or with ``uncertain``.

    The caller shows it only when the protocol shows the DNN (never in a blinded or unaided reading)."""
    present = analysis.dnn_calls
    dnn = {name: "" if present is None else ("present" if present[index] else "absent")
           for index, name in enumerate(CLASSES)}
    colours = {"agree": "green", "disagree": "red"}
    return {name: f":{colours[word]}[{AGREEMENT_MARKS[word].split()[0]}]" if word else ""
            for name, word in dnn_agreement(calls, dnn).items()}


@st.fragment
def decision_panel(settings: Settings, analysis: CaseAnalysis, reader: str, following: str | None,
                   resolves: list[str], model_loaded: bool) -> None:
    """The DNN and device beside the reader's calls, a comment, Save / Save and next (reruns on its own)."""
    sha = analysis.record.source_sha256
    action = take_key_action(sha)
    if action == "next" and following:  # before drawing anything: the app reruns on that case at once
        case_navigation.open_case(following)
    elif action in ("next", "previous"):
        case_navigation.go_to_neighbour(settings, sha, action)
    current = two_step.reading(sha)
    first_step = current.mode == TWO_STEP and current.step == UNAIDED
    closed = current.step == DONE or bool(current.unavailable_reason)
    comment_key = f"comment-{sha[:16]}-{st.session_state.get(state.FORM_NONCE, 0)}"
    problem = _save_if_asked(settings, analysis, reader, resolves, following, comment_key, action=action,
                             closed=closed, first_step=first_step)  # before drawing: a save reruns the app
    with st.container(key="dnn-panel"):
        if current.is_study or current.unavailable_reason:
            st.markdown(two_step.caption(sha, has_next=following is not None))
        if current.opinions_hidden and not current.is_study:
            st.caption("Blinded reading: the DNN and device opinions (and other readers' reviews) are shown "
                       "after you save your calls.")
        elif not current.opinions_hidden:
            case_panels.model_caption(analysis, model_loaded=model_loaded)
        class_grid(analysis, actions=("save", "next", "previous"))
    two_step.confidence_input(sha)
    if resolves and current.step == ADJUDICATION and identity.may_adjudicate():
        st.checkbox(f"Record my reading as the consensus (adjudicator; resolves the {len(resolves)} readings)",
                    key=adjudicate_key())
    st.text_area("Comment", key=comment_key, height=68, placeholder="Comment (optional)", label_visibility="collapsed")
    save_column, next_column = st.columns(2)
    save_column.button("Save unaided reading" if first_step else "Save review", type="primary",
                       key=_SAVE_KEY, width="stretch", disabled=closed)
    next_column.button("Save and show DNN" if first_step else "Save and next", key=_SAVE_NEXT_KEY,
                       width="stretch", disabled=closed, help="Key S (after the calls pressed before it)")
    if problem:  # below the buttons, as before: the answers stay in the form
        st.error(problem)
    saved = st.session_state.get(state.LAST_SAVED)
    if saved:  # on the saved case and on the case opened next (the message names the case), never later
        saved_sha, text, next_sha = saved
        if sha == saved_sha or next_sha in (None, sha):
            st.success(text)
            st.session_state[state.LAST_SAVED] = (saved_sha, text, None if sha == saved_sha else sha)
        else:
            st.session_state[state.LAST_SAVED] = None



_SAVE_KEY, _SAVE_NEXT_KEY = "save-review", "save-and-next"


def _save_if_asked(settings: Settings, analysis: CaseAnalysis, reader: str, resolves: list[str], following: str | None,
                   comment_key: str, *, action: str | None, closed: bool, first_step: bool) -> str | None:
    """Save when Save, Save and next or the S key asked for it, before the panel is drawn: a saved reading reruns
    the app at once (on the next case for Save and next), so the saved case's panel is not drawn for nothing.
    Returns why it was not saved (None: nothing asked)."""
    save = bool(st.session_state.get(_SAVE_KEY)) and not closed  # a button's value in the run its click started
    save_next = (bool(st.session_state.get(_SAVE_NEXT_KEY)) or action == "save") and not closed
    if not (save or save_next):
        return None
    sha = analysis.record.source_sha256
    comment = st.session_state.get(comment_key) or ""  # the text area's value, as the browser sent it
    problem = save_reading(settings, analysis, reader, call_inputs(sha), comment, resolves)
    if problem is None:
        if save_next and following and not first_step:
            st.query_params[state.QUERY_CASE] = following
        st.rerun(scope="app")
    return problem


def save_reading(settings: Settings, analysis: CaseAnalysis, reader: str, calls: dict, comment: str,
                 resolves: list[str]) -> str | None:
    """Validate and append the reading; None when saved, else why not (the panel shows it; the answers stay in
    the form)."""
    unanswered = [name for name, call in calls.items() if call is None]
    if not reader or unanswered:
        problems = (["enter your name under Reader in the sidebar"] if not reader else []) + (
            [f"answer every class ({', '.join(unanswered)} still open)"] if unanswered else [])
        return f"Not saved — {'; '.join(problems)}. Your answers are still in the form."
    sha = analysis.record.source_sha256
    current = two_step.reading(sha)
    adjudicate = (bool(resolves) and current.step == ADJUDICATION and identity.may_adjudicate()
                  and st.session_state.get(adjudicate_key(), False))
    shown_at = st.session_state.get(state.CASE_SHOWN_AT, {}).get(sha)
    try:
        fields = current.row_fields(confidence=two_step.confidence(sha), resolves=resolves, adjudicate=adjudicate)
        review = analysis.to_review(
            reader=reader, reader_calls=calls, comment=comment,
            role=identity.row_role("adjudicator" if adjudicate else "reader"),
            reading_time_s=None if shown_at is None else round(time.monotonic() - shown_at, 1), **fields)
        append_review(settings.reviews_path, review)
    except (ValueError, EcgReviewError) as exc:
        return f"Not saved — {escape_markdown(exc)}. Your answers are still in the form."
    two_step.saved(sha, review)
    role = " as the consensus (adjudicator)" if adjudicate else (
        f" ({review.reading_mode} reading)" if current.is_study else "")
    st.session_state[state.LAST_SAVED] = (sha, f"Saved review {review.review_id[:8]} of "
                                               f"{escape_markdown(case_panels.case_label(analysis.record.source_name))}{role}.", None)
    st.session_state[state.FORM_NONCE] = st.session_state.get(state.FORM_NONCE, 0) + 1
    st.session_state[state.CLASS_CURSOR] = 0
    st.session_state.get(state.CASE_SHOWN_AT, {}).pop(sha, None)
    return None


def mark_shown(source_sha256: str) -> None:
    """Note when this case was first shown to the reader (for the reading time stored with the review)."""
    st.session_state.setdefault(state.CASE_SHOWN_AT, {}).setdefault(source_sha256, time.monotonic())
