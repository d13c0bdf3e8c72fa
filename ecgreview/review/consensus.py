"""How opinions on a case combine: the readers' consensus, and discordance between opinions.

The one definition of each, used by the cohort study (:mod:`ecgreview.study.cohort`), teaching
references (:mod:`ecgreview.review.teaching`), the worklist and the discordant-case report.
Which rows are a reader's *latest* reading is the review store's rule
(:func:`ecgreview.review.store.latest_reviews`: corrections are new rows, the last appended wins).

**Consensus** (:func:`consensus_status`), per case and class:

1. The readers (role ``reader``, :data:`CONSENSUS_ROLES`) vote with their latest call.
   A call is the consensus when a **strict majority of all readers of the case** made it:
   ``present`` when more than half said present, ``absent`` when more than half said
   absent. Otherwise there is no consensus: ``tie`` (as many present as absent, at least
   one each) or ``uncertain`` (no majority because of ``uncertain`` calls). With two
   readers both must agree; with three, two of them.
2. The latest adjudicator row of the case (role ``adjudicator``) overrides the vote where
   the adjudicator said ``present`` or ``absent``; an adjudicator's ``uncertain`` leaves
   the readers' vote standing.
3. A case no reader or adjudicator read is ``not read``.

Strict majority rather than unanimity: it is the rule of the cohort study (the paper's
cardiologists' consensus with a senior adjudicator resolving disagreement), and a teaching
reference is the same reference the study uses. Unanimity of two readers is the same rule.

**Discordance** (:func:`calls_disagree`): opinions on a case and class are discordant when
at least one decided opinion is ``present`` and at least one is ``absent``; opinions that do
not exist (no model, no device statement, an ``uncertain`` reader) are left out, so a single
opinion is never discordant.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from ecgreview.record import CLASSES
from ecgreview.review.store import latest_reviews
from ecgreview.security.auth import ADJUDICATOR, CONSENSUS_ROLES

__all__ = ["ADJUDICATOR_ROLE", "CONSENSUS_ROLES", "DECIDED", "calls_disagree", "classes_to_adjudicate",
           "consensus_status"]

#: The role whose latest decided call overrides the readers' vote.
ADJUDICATOR_ROLE = ADJUDICATOR
#: Calls that decide a class.
DECIDED: tuple[str, ...] = ("present", "absent")


def _reader_calls(frame: pd.DataFrame) -> pd.DataFrame:
    """``reader_call_<class>`` columns renamed to the class names."""
    return frame[[f"reader_call_{name}" for name in CLASSES]].set_axis(list(CLASSES), axis=1)


def consensus_status(latest: pd.DataFrame, cases: Sequence[str] | pd.Index | None = None) -> pd.DataFrame:
    """The consensus per case and class (see the module docstring for the rule).

    Parameters
    ----------
    latest : pandas.DataFrame
        The latest review row per reader per case (:func:`ecgreview.review.store.latest_reviews`),
        any roles, with ``source_sha256``, ``reader``, ``role`` and ``reader_call_<class>``.
        Rows of other roles (students) are ignored.
    cases : sequence of str, optional
        The cases (``source_sha256``) to report, in this order; default: those in ``latest``
        in first-seen order.

    Returns
    -------
    pandas.DataFrame
        (cases, classes) of ``present``/``absent``, or why there is none: ``tie``,
        ``uncertain``, ``not read``.
    """
    index = pd.Index(pd.unique(latest["source_sha256"]) if cases is None else list(cases), name="source_sha256")
    status = pd.DataFrame("not read", index=index, columns=list(CLASSES), dtype=object)
    readers = latest[latest["role"].isin(CONSENSUS_ROLES)]
    calls = _reader_calls(readers.set_index("source_sha256"))
    calls = calls[calls.index.isin(index)]
    if len(calls):
        grouped = calls.groupby(level=0, sort=False)
        present, absent = (grouped.agg(lambda column, value=value: int((column == value).sum())) for value in DECIDED)
        total = grouped.size().to_numpy()[:, None]
        vote = np.select([present * 2 > total, absent * 2 > total, (present == absent) & (present > 0)],
                         ["present", "absent", "tie"], "uncertain")
        status.loc[present.index] = vote
    adjudicated = latest_reviews(latest[latest["role"] == ADJUDICATOR_ROLE], by=("source_sha256",))
    final = _reader_calls(adjudicated.set_index("source_sha256")).reindex(index)
    return status.mask(final.isin(DECIDED), final)


def calls_disagree(opinions: npt.ArrayLike) -> np.ndarray:
    """Whether opinions are discordant: at least one decided ``present`` and one ``absent``.

    Parameters
    ----------
    opinions : array-like
        (..., opinions): 1/True present, 0/False absent, NaN/None no opinion (left out).
        A ragged list per case is fine one case at a time.

    Returns
    -------
    numpy.ndarray
        Boolean array over the leading axes (a 0-d array for one list of opinions).

    Examples
    --------
    >>> bool(calls_disagree([True, False])), bool(calls_disagree([1.0, float("nan")])), bool(calls_disagree([]))
    (True, False, False)
    """
    values = np.asarray(opinions, dtype=float)
    return (values == 1).any(axis=-1) & (values == 0).any(axis=-1)


def classes_to_adjudicate(readings: pd.DataFrame) -> list[str]:
    """Classes of one case whose readers (role ``reader``, two or more) reached no decided consensus.

    A class needs an adjudicator when its readers disagree (:func:`calls_disagree`: a
    ``present`` and an ``absent``) or their vote is a tie or uncertain
    (:func:`consensus_status`); an adjudicator's own reading does not count here.

    Parameters
    ----------
    readings : pandas.DataFrame
        One case's latest clinical readings (:func:`ecgreview.review.protocol.latest_readings`).
    """
    readers = readings[readings["role"].isin(CONSENSUS_ROLES)]
    if readers["reader"].nunique() < 2:
        return []
    status = consensus_status(readers).iloc[0]
    calls = _reader_calls(readers)
    split = calls_disagree((calls == "present").astype(float).where(calls.isin(DECIDED)).to_numpy(dtype=float).T)
    return [name for name, disagree in zip(CLASSES, split) if disagree or status[name] not in DECIDED]
