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


def _call_array(frame: pd.DataFrame) -> np.ndarray:
    """(rows, classes) of the ``reader_call_<class>`` cells as objects (NaN where empty), in :data:`CLASSES` order."""
    return frame[[f"reader_call_{name}" for name in CLASSES]].to_numpy(dtype=object)


def _reader_vote(calls: np.ndarray, positions: np.ndarray, cases: int) -> np.ndarray:
    """The readers' vote (the module docstring's rule 1), (cases, classes) of objects.

    ``calls`` (rows, classes) are the readers' latest calls and ``positions`` (rows,) the case each
    row is of (0 to ``cases`` - 1); a case without a row is ``not read``. Counts over the rows, not a
    group-by per case: the Review page asks for one case's handful of rows on every save.
    """
    present = np.zeros((cases, len(CLASSES)), dtype=np.int64)
    absent = np.zeros_like(present)
    np.add.at(present, positions, calls == "present")
    np.add.at(absent, positions, calls == "absent")
    total = np.bincount(positions, minlength=cases)[:, None]
    vote = np.select([present * 2 > total, absent * 2 > total, (present == absent) & (present > 0)],
                     ["present", "absent", "tie"], "uncertain").astype(object)
    vote[total[:, 0] == 0] = "not read"
    return vote


def _adjudicate(status: np.ndarray, cases: pd.Index, adjudications: pd.DataFrame) -> None:
    """Rule 2 in place: where a case's latest adjudicator row (one per case in ``adjudications``) decided a
    class, its call replaces the readers' vote in ``status`` (rows in the order of ``cases``)."""
    positions = cases.get_indexer(adjudications["source_sha256"])
    found = positions >= 0
    final = _call_array(adjudications)[found]
    decided = (final == DECIDED[0]) | (final == DECIDED[1])
    status[positions[found]] = np.where(decided, final, status[positions[found]])


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
    unique = index if index.is_unique else index.unique()
    positions = unique.get_indexer(latest["source_sha256"])
    calls = _call_array(latest)
    readers = (latest["role"].isin(CONSENSUS_ROLES) & latest["source_sha256"].notna()).to_numpy() & (positions >= 0)
    status = _reader_vote(calls[readers], positions[readers], len(unique))
    adjudicators = (latest["role"] == ADJUDICATOR_ROLE).to_numpy(dtype=bool)
    if adjudicators.any():
        _adjudicate(status, unique, latest_reviews(latest[adjudicators], by=("source_sha256",)))
    if unique is not index:
        status = status[unique.get_indexer(index)]
    return pd.DataFrame(status, index=index, columns=list(CLASSES), dtype=object)


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
    calls = _call_array(readers)
    case = readers["source_sha256"].to_numpy(dtype=object)
    first_case = np.flatnonzero(case == case[0])  # the case of the first row (one case is expected)
    status = _reader_vote(calls[first_case], np.zeros(len(first_case), dtype=np.int64), 1)[0]
    opinions = np.where(calls == "present", 1.0, np.where(calls == "absent", 0.0, np.nan))
    split = calls_disagree(opinions.T)
    return [name for name, disagree, vote in zip(CLASSES, split, status) if disagree or vote not in DECIDED]
