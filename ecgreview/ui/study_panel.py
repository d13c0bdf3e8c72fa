"""The reader's studies on the worklist page: progress, their cases in their own seeded order, and
(for a coordinator) a new study from the worklist's cases.

A study design (:mod:`ecgreview.study.design`, saved under ``Settings.home / "studies"``) that
names the signed-in reader shows their progress (:func:`ecgreview.study.progress.progress`)
per session and their cases in the design's order. Opening a case marks every case of that
session as a study case (:class:`ecgreview.ui.two_step.StudyCase`): the review page reads it in
the mode the design assigns (two-step, unaided or aided) and stores the session's
``session_id``; ``S`` goes on in the study's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES
from ecgreview.review.modes import mode_label
from ecgreview.review.worklist_query import WorklistPage
from ecgreview.security.auth import COORDINATOR_ROLES
from ecgreview.study.design import (
    StudyDesign,
    create_design,
    designs_for_reader,
    save_design,
    session_label,
    studies_dir,
)
from ecgreview.study.plan import UNCERTAIN_OPTIONS, AnalysisPlan
from ecgreview.study.progress import assignment_status, progress
from ecgreview.ui import identity, state
from ecgreview.ui.navigation import open_review
from ecgreview.ui.text import escape_markdown, plural
from ecgreview.ui.two_step import StudyCase

_NONCE = "study-table-nonce"


def render(settings: Settings, reader: str, reviews: pd.DataFrame, *,
           case_names: Callable[[Sequence[str]], dict[str, str]], worklist: WorklistPage,
           all_cases: Callable[[], Sequence[str]]) -> None:
    """The reader's studies (nothing when none names them), and the coordinator's study builder.

    ``case_names`` gives the file names of cases (by SHA-256), ``worklist`` is the worklist page shown
    and ``all_cases`` lists every case of the worklist's filter (asked only when a study takes them all).
    """
    if reader:
        try:
            designs = designs_for_reader(studies_dir(settings), reader)
        except EcgReviewError as exc:
            st.error(f"Cannot read the study designs — {escape_markdown(exc)}")
            designs = []
        for design in designs:
            _study(design, reviews, reader, case_names(design.case_ids))
    if any(identity.may(role) for role in COORDINATOR_ROLES):
        _builder(settings, worklist, all_cases)


def _study(design: StudyDesign, reviews: pd.DataFrame, reader: str, names: dict[str, str]) -> None:
    """One study: done / total per session, the next case, and the reader's cases in order."""
    try:
        where = progress(design, reviews, reader)
    except ValueError as exc:
        st.error(f"Study {escape_markdown(design.study_id)}: {escape_markdown(str(exc))}")
        return
    layout = f"crossover, wash-out {design.washout_days} days" if design.crossover else "two-step"
    sessions = " · ".join(f"session {item.session}: {item.done} / {item.total}"
                          + (f" (opens {item.opens_at_utc:%Y-%m-%d %H:%M} UTC)" if item.opens_at_utc else "")
                          for item in where.sessions)
    with st.container(border=True, key=f"study-{design.study_id}"):
        st.markdown(f"**Your study {escape_markdown(design.study_id)}** ({layout}) · **{where.done} / {where.total} "
                    f"done** · {sessions}")
        rows = [{"Session": item.session, "#": item.position + 1, "File": names.get(item.case_id, "(not in the "
                 "case folder)"), "Mode": mode_label(item.mode), "Status": status, "source_sha256": item.case_id}
                for item, status in assignment_status(design, reviews, reader)]
        table = pd.DataFrame(rows)
        if where.finished:
            st.success("Study complete: thank you.")
        elif where.next_case_id is None:
            st.info(f"Session 2 opens on {where.waiting_until_utc:%Y-%m-%d %H:%M} UTC (wash-out).")
        elif st.button(f"Open next study case ({where.next_step})", key=f"study-next-{design.study_id}",
                       type="primary"):
            _open(design, reader, where.next_case_id, next(item.session for item in where.sessions
                                                           if item.done < item.total))
        with st.expander(f"My {len(table)} study readings, in my order"):
            nonce = st.session_state.get(_NONCE, 0)
            event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row",
                                 column_order=["Session", "#", "File", "Mode", "Status"],
                                 key=f"study-table-{design.study_id}-{nonce}")
            selected = event.selection.rows if event else []
            if selected:
                st.session_state[_NONCE] = nonce + 1
                row = table.iloc[selected[0]]
                first = where.sessions[0]
                if int(row["Session"]) == 1 or (first.done == first.total and where.waiting_until_utc is None):
                    _open(design, reader, row["source_sha256"], int(row["Session"]))
                st.warning("Session 2 opens after session 1 and its wash-out.")


def _open(design: StudyDesign, reader: str, case_id: str, session: int) -> None:
    """Open a study case on the review page, every case of its session marked with the design's mode."""

    items = [item for item in design.schedule[reader] if item.session == session]
    marked = st.session_state.setdefault(state.STUDY_CASES, {})
    for item in items:
        marked[item.case_id] = StudyCase(design.study_id, session_label(design, session), item.mode,
                                         item.position, len(items))
    st.session_state[state.WORKLIST_ORDER] = [item.case_id for item in items]
    st.session_state[state.WORKLIST_QUERY] = None  # next/previous follow the study's order
    open_review(case_id)


def _builder(settings: Settings, worklist: WorklistPage, all_cases: Callable[[], Sequence[str]]) -> None:
    """A coordinator (admin, teacher) creates a study from the worklist's cases: readers, seed, crossover."""
    with st.expander("New reader study (coordinator)"), st.form("new-study"):
        study_id = st.text_input("Study id", key="study-id",
                                 placeholder="e.g. af-pilot-2027 (lowercase letters, digits, - and _)")
        everything = st.checkbox(f"All {worklist.matching} cases of the worklist", key="study-all-cases",
                                 help="Every case the worklist's filters show, on every page")
        labels = dict(zip(worklist.rows["source_sha256"], worklist.rows["File"]))
        chosen = st.multiselect("Or these cases (of the page shown)", list(labels), key="study-cases",
                                format_func=lambda sha: labels.get(sha, sha))
        readers = st.text_area("Readers (one name per line, as they sign in)", key="study-readers", height=90)
        seed_column, crossover_column, washout_column = st.columns(3)
        seed = seed_column.number_input("Seed", min_value=0, value=1, step=1, key="study-seed")
        crossover = crossover_column.toggle("Crossover (aided / unaided halves, two sessions)", key="study-crossover")
        washout = washout_column.number_input("Wash-out (days)", min_value=0, max_value=3650, value=14,
                                              key="study-washout")
        st.markdown("**Analysis plan** (frozen with the study, before any reading)")
        primary = st.multiselect("Primary endpoint classes", CLASSES, default=list(CLASSES), key="study-primary")
        reference_column, uncertain_column, possible_column = st.columns(3)
        reference = reference_column.selectbox("Reference standard", ("consensus", "clinical"),
                                               key="study-reference",
                                               help="consensus: the readers' consensus (adjudicated where they "
                                                    "disagree); clinical: a clinical-diagnosis CSV given at analysis")
        uncertain = uncertain_column.selectbox("An 'uncertain' call counts as", UNCERTAIN_OPTIONS,
                                               key="study-uncertain")
        possible = possible_column.toggle("A 'possible' device call is positive", value=True, key="study-possible")
        description = st.text_input("Reference described", key="study-reference-description",
                                    placeholder="e.g. consensus of two cardiologists, adjudicated by a third")
        if not st.form_submit_button("Create study", type="primary"):
            return
    case_ids = list(all_cases()) if everything else chosen
    names = [line.strip() for line in readers.splitlines() if line.strip()]
    try:
        plan = AnalysisPlan(primary_classes=tuple(primary), reference_standard=reference,
                            reference_description=description.strip(), possible_counts_as_positive=possible,
                            uncertain_as=uncertain, thresholds=settings.thresholds)
        design = create_design(study_id.strip(), case_ids, names, seed=int(seed), crossover=crossover,
                               washout_days=int(washout), plan=plan)
        path = save_design(design, studies_dir(settings))
    except (ValueError, EcgReviewError) as exc:
        st.error(f"Study not created — {escape_markdown(str(exc))}")
        return
    st.success(f"Created study {escape_markdown(design.study_id)}: {plural(len(design.case_ids), 'case')}, "
               f"{plural(len(design.readers), 'reader')}, seed {design.seed}; saved to {escape_markdown(str(path))}.")
