"""A reader's progress through a study design (:mod:`ecgreview.study.design`), from the review rows.

:func:`progress` gives, per session, how many of how many cases are done and which case
and step (``unaided`` or ``aided``) come next; in a crossover, session 2 waits for the
wash-out after the reader's last session-1 reading.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import pandas as pd

from ecgreview.review._store_cells import ids_from_cell
from ecgreview.review.store import latest_reviews
from ecgreview.study.design import TIME_FORMAT, Assignment, StudyDesign
from ecgreview.study.plan import AnalysisPlan

__all__ = ["ReaderProgress", "SessionProgress", "assignment_status", "pending_unaided", "progress", "replace_plan",
           "study_readings"]


@dataclass(frozen=True)
class SessionProgress:
    """One session of one reader: ``done`` of ``total`` cases; ``opens_at_utc`` None when open."""

    session: int
    done: int
    total: int
    next_case_id: str | None
    next_step: str | None
    opens_at_utc: datetime | None


@dataclass(frozen=True)
class ReaderProgress:
    """Where a reader stands in a study.

    ``next_case_id`` and ``next_step`` (``unaided`` or ``aided``: what to record now)
    name the next reading; both None when the reader is finished or waiting for the
    wash-out (``waiting_until_utc``).
    """

    reader: str
    sessions: tuple[SessionProgress, ...]
    next_case_id: str | None
    next_step: str | None
    waiting_until_utc: datetime | None

    @property
    def done(self) -> int:
        return sum(item.done for item in self.sessions)

    @property
    def total(self) -> int:
        return sum(item.total for item in self.sessions)

    @property
    def finished(self) -> bool:
        return self.done == self.total


def _readings(design: StudyDesign, reviews: pd.DataFrame, reader: str) -> pd.DataFrame:
    """The reader's unaided/aided rows of study cases since the design was created (other studies' rows left out)."""
    design._assignments(reader)  # an unknown reader is an error, not an empty study
    columns = {"reader", "source_sha256", "reading_mode", "saved_at_utc"}
    if len(reviews.columns) == 0:
        reviews = pd.DataFrame(columns=sorted(columns), dtype=str)
    missing = columns - set(reviews.columns)
    if missing:
        raise ValueError(f"reviews must have the review CSV's columns; missing {', '.join(sorted(missing))}")
    rows = reviews[(reviews["reader"] == reader) & reviews["source_sha256"].isin(design.case_ids)
                   & reviews["reading_mode"].isin(("unaided", "aided"))].copy()
    rows["saved"] = pd.to_datetime(rows["saved_at_utc"], utc=True, format="ISO8601", errors="coerce")
    rows = rows[rows["saved"] >= pd.Timestamp(design.created_at_utc)]
    if "session_id" in rows.columns:
        session_ids = rows["session_id"].fillna("").astype(str)
        other_study = session_ids.str.startswith("study:") & ~session_ids.str.startswith(f"study:{design.study_id}:")
        rows = rows[~other_study]
    return rows


def study_readings(design: StudyDesign, reviews: pd.DataFrame) -> pd.DataFrame:
    """Every design reader's unaided/aided rows of the study's cases since the design was created
    (rows tagged with another study's ``session_id`` left out): the rows :func:`progress` counts."""
    frames = [_readings(design, reviews, reader) for reader in design.readers]
    return pd.concat(frames).drop(columns="saved") if frames else pd.DataFrame()


def progress(design: StudyDesign, reviews: pd.DataFrame, reader: str, *,
             now_utc: datetime | None = None) -> ReaderProgress:
    """Which case ``reader`` reads next, and how many of how many are done, per session.

    A ``two_step`` case is done when the reader has saved its ``aided`` row (after the
    ``unaided`` one); an ``unaided``/``aided`` case when a row of that mode exists. Rows
    saved before the design was created, or tagged with another study's ``session_id``,
    do not count.

    Parameters
    ----------
    reviews : pandas.DataFrame
        Review rows (:func:`~ecgreview.review.store.read_reviews`).
    now_utc : datetime, optional
        For the wash-out; default now.
    """
    rows = _readings(design, reviews, reader)
    modes = rows.groupby("source_sha256")["reading_mode"].agg(set).to_dict()
    now = pd.Timestamp(now_utc or datetime.now(timezone.utc))
    sessions: list[SessionProgress] = []
    next_case, next_step, waiting = None, None, None
    for session in design.sessions:
        items = [item for item in design._assignments(reader) if item.session == session]
        done = [_is_done(item, modes.get(item.case_id, set())) for item in items]
        opens = _session_two_opens(design, rows, reader) if session == 2 else None
        pending = [item for item, finished in zip(items, done) if not finished]
        upcoming = pending[0] if pending else None
        is_open = session == 1 or (sessions[0].done == sessions[0].total and opens is not None and now >= opens)
        step = None if upcoming is None else (
            ("aided" if "unaided" in modes.get(upcoming.case_id, set()) else "unaided")
            if upcoming.mode == "two_step" else upcoming.mode)
        sessions.append(SessionProgress(session, sum(done), len(items), upcoming.case_id if upcoming else None,
                                        step, None if is_open else opens))
        if next_case is None and upcoming is not None and waiting is None:
            if is_open:
                next_case, next_step = upcoming.case_id, step
            elif sessions[0].done == sessions[0].total:
                waiting = opens
    return ReaderProgress(reader, tuple(sessions), next_case, next_step, waiting)


def assignment_status(design: StudyDesign, reviews: pd.DataFrame, reader: str) -> list[tuple[Assignment, str]]:
    """Every assignment of ``reader`` in reading order with its status: ``done``, ``aided next``
    (a two-step case whose unaided row is saved) or ``to read`` (the rule of :func:`progress`)."""
    rows = _readings(design, reviews, reader)
    modes = rows.groupby("source_sha256")["reading_mode"].agg(set).to_dict()
    statuses = []
    for item in design._assignments(reader):
        seen = modes.get(item.case_id, set())
        started = item.mode == "two_step" and "unaided" in seen
        statuses.append((item, "done" if _is_done(item, seen) else "aided next" if started else "to read"))
    return statuses


def pending_unaided(reviews: pd.DataFrame, *, reader: str, source_sha256: str,
                    session_id: str = "") -> pd.Series | None:
    """The reader's latest ``unaided`` row of a case that no ``aided`` row names yet, or None.

    This is the first step of a two-step reading still waiting for its second step (the
    aided reading resumes from it after a reload). Only rows of ``session_id`` count (a
    study session's rows carry :func:`~ecgreview.study.design.session_label`; rows read
    outside a study carry ``""``), so the unaided session of a crossover is never
    continued as a two-step reading.

    Parameters
    ----------
    reviews : pandas.DataFrame
        Review rows (:func:`~ecgreview.review.store.read_reviews`).
    """
    if len(reviews) == 0 or "reading_mode" not in reviews.columns:
        return None
    sessions = reviews["session_id"].fillna("") if "session_id" in reviews.columns else pd.Series("", reviews.index)
    mine = reviews[(reviews["reader"] == reader) & (reviews["source_sha256"] == source_sha256)
                   & (sessions == session_id)]
    unaided = mine[mine["reading_mode"] == "unaided"]
    if unaided.empty:
        return None
    latest = latest_reviews(unaided).iloc[0]  # one reader, one case: one latest row
    named = {review_id for cell in mine.loc[mine["reading_mode"] == "aided", "resolves_review_ids"].fillna("")
             for review_id in ids_from_cell(str(cell))}
    return None if latest["review_id"] in named else latest


def _session_two_opens(design: StudyDesign, rows: pd.DataFrame, reader: str) -> datetime | None:
    """The reader's first session-1 reading of each case, the latest of those, plus the wash-out."""
    first = [rows.loc[(rows["source_sha256"] == item.case_id) & (rows["reading_mode"] == item.mode), "saved"].min()
             for item in design._assignments(reader) if item.session == 1]
    first = [time for time in first if not pd.isna(time)]
    return (max(first) + timedelta(days=design.washout_days)).to_pydatetime() if first else None


def _is_done(item: Assignment, modes: set[str]) -> bool:
    return "aided" in modes and "unaided" in modes if item.mode == "two_step" else item.mode in modes


def replace_plan(design: StudyDesign, plan: AnalysisPlan, reviews: pd.DataFrame, *,
                 now_utc: datetime | None = None) -> StudyDesign:
    """The design with ``plan`` as its analysis plan, refused once the study has a reading.

    A plan is fixed before reading begins: once any reader has saved a reading of the study
    (:func:`study_readings`), another choice can only be analysed as a
    labelled sensitivity analysis. Save the result with ``save_design(..., replace=True)``.

    Raises
    ------
    ValueError
        The study has readings (how many, and when the first was saved).
    """
    if not isinstance(plan, AnalysisPlan):
        raise ValueError(f"plan must be an AnalysisPlan; got {type(plan).__name__}")
    rows = study_readings(design, reviews)
    if len(rows):
        raise ValueError(f"study {design.study_id!r} has {len(rows)} reading(s) already (the first saved "
                         f"{rows['saved_at_utc'].min()}): its analysis plan is frozen once reading begins and cannot "
                         "change; analyse another choice as a labelled sensitivity analysis")
    stamp = (now_utc or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime(TIME_FORMAT)
    return replace(design, plan=replace(plan, frozen_at_utc=stamp))
