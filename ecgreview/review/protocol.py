"""The reading protocol: how one reading of one case proceeds, and which rows are clinical readings.

One definition, used by the Review page, the worklist, the cohort study, ``evaluate`` and the
consensus, of:

* the **reading modes** (:data:`SESSION_MODES` a reader chooses, :data:`DESIGN_MODES` a study
  assigns, :data:`ROW_MODES` a review row records) and their labels;
* the **state of one reading** (:class:`Reading`): which row the next save writes, what is
  hidden until then, whether it may be saved at all and with which fields; a pure, immutable
  object the UI renders and advances with :meth:`Reading.saved`;
* the **clinical readings** of a store (:func:`clinical_readings`, :func:`latest_readings`):
  rows of readers and adjudicators outside teaching. Students' answers and teaching rows are
  kept in the same CSV but never count as a clinical reading.

Rules a row must keep (:meth:`Reading.row_fields` refuses to write anything else):

* ``opinions_seen`` is True exactly when the DNN or the device was on screen before the save.
* An ``aided`` row (and the aided step of a two-step reading) needs the DNN's output for the
  case: without it there is nothing to be aided by, so the mode says why it is unavailable
  (:func:`mode_unavailable_reason`) and no row is written. The review store refuses an aided
  row whose ``model_status`` is ``none`` as a second guard.
* A study mode asks for the reader's confidence (1–5).
* Only an adjudication may resolve other rows, and only an aided row may name its unaided row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

import pandas as pd

from ecgreview.review.modes import (
    ADJUDICATION,
    AIDED,
    BLINDED,
    DESIGN_MODES,
    DONE,
    SESSION_MODES,
    TEACHING,
    TWO_STEP,
    UNAIDED,
    mode_label,
)
from ecgreview.review.store import latest_reviews
from ecgreview.security.auth import ADJUDICATOR, READING_ROLES

__all__ = [
    "Reading", "ReadingNotSaved", "RowFields", "case_mode", "clinical_readings", "hides_opinions_in_lists", "is_adjudicated",
    "is_clinical",
    "latest_readings", "mode_unavailable_reason",
]

#: Modes whose reading shows the DNN and so cannot happen without its output.
_NEEDS_DNN: tuple[str, ...] = (TWO_STEP, AIDED)


def hides_opinions_in_lists(mode: str) -> bool:
    """Whether lists of cases (the worklist) hide the DNN and device columns in this session mode."""
    return mode in (BLINDED, TWO_STEP, UNAIDED)


def mode_unavailable_reason(mode: str, *, dnn_available: bool) -> str | None:
    """Why a reading in ``mode`` cannot happen now, or None when it can.

    A two-step or aided reading shows the DNN's output; with none (no weights installed, or the
    model gave no result for this ECG) a row saying "aided" would record what did not happen.
    """
    if mode in _NEEDS_DNN and not dnn_available:
        return (f"{mode_label(mode).capitalize()} reading needs the DNN's probabilities, and none are available "
                "(no model weights installed, or the model gave no result for this ECG): an aided reading "
                "without the DNN would not be what it says")
    return None


def case_mode(*, student: bool, session_mode: str, assigned_mode: str | None = None) -> str:
    """How one case is read: ``blinded`` for a student, the study design's mode for a study case,
    else the reader's session mode."""
    if student:
        return BLINDED
    mode = assigned_mode or session_mode
    if mode not in SESSION_MODES + DESIGN_MODES:
        raise ValueError(f"mode must be one of {', '.join(SESSION_MODES + DESIGN_MODES[1:])}; got {mode!r}")
    return mode


class RowFields(TypedDict):
    """The fields of a review row that the protocol decides (see :meth:`Reading.row_fields`)."""

    reading_mode: str
    opinions_seen: bool
    resolves_review_ids: tuple[str, ...]
    confidence: int | None
    session_id: str


class ReadingNotSaved(ValueError):
    """The reading cannot be saved now; the message says why (shown to the reader as it is)."""


@dataclass(frozen=True, kw_only=True)
class Reading:
    """The state of one reader's reading of one case.

    Attributes
    ----------
    mode : str
        From :func:`case_mode`: one of :data:`SESSION_MODES` or :data:`DESIGN_MODES`.
    dnn_available : bool
        Whether the DNN's probabilities for this case exist (and so can be shown).
    revealed : bool
        Blinded mode: the reading was saved, so the opinions are shown now.
    unaided_review_id : str or None
        Two-step mode: the saved unaided row awaiting its aided reading.
    done : bool
        Two-step mode: the aided row is saved; nothing more to save for this case.
    session_id : str
        The study (or teaching) session the row belongs to; empty outside one.
    """

    mode: str
    dnn_available: bool
    revealed: bool = False
    unaided_review_id: str | None = None
    done: bool = False
    session_id: str = ""

    def __post_init__(self) -> None:
        case_mode(student=False, session_mode=self.mode)  # validates the mode

    @property
    def step(self) -> str:
        """The ``reading_mode`` of the row the next save writes, or ``"done"``."""
        if self.mode != TWO_STEP:
            return self.mode
        return DONE if self.done else AIDED if self.unaided_review_id else UNAIDED

    @property
    def is_study(self) -> bool:
        """Whether this is a reader-study reading (confidence asked, unaided/aided rows)."""
        return self.mode in DESIGN_MODES

    @property
    def opinions_hidden(self) -> bool:
        """Whether the DNN, the device and other readers' readings are hidden now."""
        if self.mode == BLINDED:
            return not self.revealed
        return self.step == UNAIDED

    @property
    def dnn_shown(self) -> bool:
        """Whether the DNN's output is on screen now."""
        return self.dnn_available and not self.opinions_hidden

    @property
    def unavailable_reason(self) -> str | None:
        """Why this reading cannot be saved at all (see :func:`mode_unavailable_reason`), or None."""
        return mode_unavailable_reason(self.mode, dnn_available=self.dnn_available)

    def row_fields(self, *, confidence: int | None = None, resolves: Sequence[str] = (),
                   adjudicate: bool = False) -> RowFields:
        """The protocol's fields of the row a save writes now.

        Parameters
        ----------
        confidence : int, optional
            The reader's confidence (1–5); required in a study mode, ignored outside.
        resolves : sequence of str
            Review ids an adjudication resolves (the readers' disagreeing readings).
        adjudicate : bool
            Record the reading as the consensus (adjudication mode only).

        Returns
        -------
        dict
            ``reading_mode``, ``opinions_seen``, ``resolves_review_ids``, ``confidence``, ``session_id``.

        Raises
        ------
        ReadingNotSaved
            Unavailable mode, both readings saved already, no confidence in a study mode, or an
            adjudication asked for outside adjudication mode.
        """
        step = self.step
        if self.unavailable_reason:
            raise ReadingNotSaved(self.unavailable_reason)
        if step == DONE:
            raise ReadingNotSaved("both readings of this case are saved; open the next case")
        if self.is_study and confidence is None:
            raise ReadingNotSaved("choose your confidence (1–5)")
        if adjudicate and step != ADJUDICATION:
            raise ReadingNotSaved(f"a consensus is recorded in adjudication mode, not in {mode_label(step)} mode")
        resolved: tuple[str, ...] = ()
        if adjudicate:
            resolved = tuple(resolves)
        elif step == AIDED and self.unaided_review_id:
            resolved = (self.unaided_review_id,)
        return RowFields(reading_mode=step, opinions_seen=not self.opinions_hidden, resolves_review_ids=resolved,
                         confidence=int(confidence) if self.is_study and confidence is not None else None,
                         session_id=self.session_id)

    def saved(self, *, review_id: str, reading_mode: str) -> Reading:
        """The state after the row ``review_id`` (of ``reading_mode``) was saved."""
        if self.mode == TWO_STEP:
            return dataclasses.replace(self, unaided_review_id=review_id if reading_mode == UNAIDED else None,
                                       done=reading_mode == AIDED)
        return dataclasses.replace(self, revealed=self.mode != UNAIDED)


def is_clinical(reviews: pd.DataFrame) -> pd.Series:
    """Per row of a review store, whether it is a clinical reading: a reader's or adjudicator's row, not teaching.

    Students' rows (whatever their mode) and teaching-mode rows stay in the store for the
    teaching views and are not clinical readings.
    """
    return reviews["role"].isin(READING_ROLES) & (reviews["reading_mode"] != TEACHING)


def clinical_readings(reviews: pd.DataFrame) -> pd.DataFrame:
    """The rows of a review store that are clinical readings (:func:`is_clinical`), in save order."""
    return reviews[is_clinical(reviews)]


def latest_readings(reviews: pd.DataFrame, source_sha256: str | None = None) -> pd.DataFrame:
    """The latest clinical reading per reader per case (of one case when given), in save order.

    The one "latest reading" rule: :func:`ecgreview.review.store.latest_reviews` on
    :func:`clinical_readings`.
    """
    frame = clinical_readings(reviews)
    if source_sha256 is not None:
        frame = frame[frame["source_sha256"] == source_sha256]
    return latest_reviews(frame)


def is_adjudicated(readings: pd.DataFrame) -> bool:
    """Whether an adjudicator's reading is among ``readings`` (rows of :func:`latest_readings`)."""
    return bool((readings["role"] == ADJUDICATOR).any())
