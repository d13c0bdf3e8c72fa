"""What an export holds: one reading (or a case's consensus) and the codes it is written with.

See :mod:`ecgreview.review.export` for the exports. Codes (one definition each, here): the six
findings are the SNOMED CT codes of the PhysioNet/CinC Challenge 2020 scored diagnoses
(``dx_mapping_scored.csv``; :data:`ecgreview.io.wfdb.SNOMED_CODES`, the first code of each class);
a call's presence is DICOM CID 240 "Present/Absent" (SCT 52101004 Present, 272519000 Absent,
373068000 Undetermined for an ``uncertain`` call); the report is LOINC 11524-6 "EKG study" (the
LOINC check digit of 11524 is 6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from ecgreview.errors import EcgReviewError
from ecgreview.io.wfdb import SNOMED_CODES
from ecgreview.record import CLASSES
from ecgreview.review.consensus import DECIDED, consensus_status
from ecgreview.review.protocol import latest_readings
from ecgreview.review.store import Review, latest_reviews
from ecgreview.security.auth import ADJUDICATOR, CONSENSUS_ROLES

__all__ = ["CONSENSUS", "EXPORT_KINDS", "FINDING_MEANINGS", "PRESENCE", "READING", "REPORT_CODE", "ExportError",
           "ReadingToExport", "consensus_to_export", "finding_code", "reading_to_export"]

#: What is exported: one reader's reading, or the case's consensus.
READING = "reading"
CONSENSUS = "consensus"
EXPORT_KINDS: tuple[str, ...] = (READING, CONSENSUS)

#: Display text of each class's SNOMED CT finding (:func:`finding_code`).
FINDING_MEANINGS: dict[str, str] = {
    "1dAVb": "First degree atrioventricular block", "RBBB": "Right bundle branch block",
    "LBBB": "Left bundle branch block", "SB": "Sinus bradycardia", "AF": "Atrial fibrillation",
    "ST": "Sinus tachycardia",
}
#: A reader's call as a SNOMED CT presence value (DICOM CID 240 "Present/Absent"): (code, meaning).
PRESENCE: dict[str, tuple[str, str]] = {
    "present": ("52101004", "Present"), "absent": ("272519000", "Absent"), "uncertain": ("373068000", "Undetermined"),
}
#: The report's code: LOINC 11524-6 "EKG study".
REPORT_CODE = ("11524-6", "EKG study")


def finding_code(name: str) -> tuple[str, str]:
    """The SNOMED CT code and display text of class ``name`` (the CinC 2020 code: ``SNOMED_CODES[name][0]``)."""
    if name not in CLASSES:
        raise ValueError(f"name must be one of {', '.join(CLASSES)}; got {name!r}")
    return SNOMED_CODES[name][0], FINDING_MEANINGS[name]


class ExportError(EcgReviewError):
    """There is nothing to export (no reading, no consensus), or the case file cannot be used."""


@dataclass(frozen=True, kw_only=True)
class ReadingToExport:
    """A reading (or consensus) of one case, as exported.

    Attributes
    ----------
    kind : {"reading", "consensus"}
    calls : dict
        ``present``, ``absent`` or ``uncertain`` per class (``CLASSES`` order).
    observers : tuple of str
        The reader; for a consensus its readers, then the adjudicator.
    review_ids : tuple of str
        The review rows behind it (its identity: the same rows export to the same UIDs).
    probabilities : dict
        The DNN's probability per class the reader saw (None: no output), with the model's
        ``model_name``, ``model_sha256``, ``model_git_blob_sha1``, ``model_status`` and ``thresholds``.
    """

    kind: str
    source_sha256: str
    case_pseudonym: str
    source_name: str
    calls: dict[str, str]
    observers: tuple[str, ...]
    review_ids: tuple[str, ...]
    saved_at_utc: datetime
    probabilities: dict[str, float | None] = field(default_factory=dict)
    thresholds: tuple[float, ...] = ()
    model_name: str = ""
    model_sha256: str = ""
    model_git_blob_sha1: str = ""
    model_status: str = "none"
    device_statements: tuple[str, ...] = ()

    @property
    def has_dnn(self) -> bool:
        """Whether the DNN's probabilities are part of the reading."""
        return any(value is not None and not math.isnan(value) for value in self.probabilities.values())


def _case_readings(reviews: pd.DataFrame, source_sha256: str) -> pd.DataFrame:
    sha = source_sha256.strip().lower()
    readings = latest_readings(reviews, sha)
    if readings.empty:
        raise ExportError(sha[:12], "no saved clinical reading of this case (students' and teaching rows do not count)")
    return readings


def _from_review(review: Review, **changes: object) -> ReadingToExport:
    values: dict[str, object] = dict(
        kind=READING, source_sha256=review.source_sha256, case_pseudonym=review.case_pseudonym,
        source_name=review.source_name, calls=dict(review.reader_calls), observers=(review.reader,),
        review_ids=(review.review_id,), saved_at_utc=review.saved_at_utc, probabilities=dict(review.probabilities),
        thresholds=review.thresholds, model_name=review.model_name, model_sha256=review.model_sha256,
        model_git_blob_sha1=review.model_git_blob_sha1, model_status=review.model_status,
        device_statements=review.device_statements)
    return ReadingToExport(**(values | changes))  # type: ignore[arg-type]


def reading_to_export(reviews: pd.DataFrame, source_sha256: str, *, reader: str) -> ReadingToExport:
    """``reader``'s latest clinical reading of the case (a correction is a new row: the last wins).

    Raises
    ------
    ExportError
        The reader has no clinical reading of the case.
    """
    readings = _case_readings(reviews, source_sha256)
    mine = readings[readings["reader"] == reader.strip()]
    if mine.empty:
        raise ExportError(source_sha256[:12], f"{reader.strip() or 'this reader'} has no saved clinical reading "
                                              "of this case")
    return _from_review(Review.from_row(latest_reviews(mine).iloc[0].to_dict()))  # one reader, one case: one row


def consensus_to_export(reviews: pd.DataFrame, source_sha256: str) -> ReadingToExport:
    """The case's consensus (:func:`~ecgreview.review.consensus.consensus_status`) as a reading.

    A class all readers called ``uncertain`` is exported as uncertain; the DNN's output and the
    device statements are those of the latest reading.

    Raises
    ------
    ExportError
        No clinical reading of the case, or a class without a consensus (a tie): an adjudicator decides it first.
    """
    readings = _case_readings(reviews, source_sha256)
    status = consensus_status(readings).iloc[0]
    undecided = [f"{name} ({status[name]})" for name in CLASSES if status[name] not in (*DECIDED, "uncertain")]
    if undecided:
        raise ExportError(source_sha256[:12], f"no consensus on {', '.join(undecided)}: an adjudicator's reading "
                                              "decides it before a consensus can be exported")
    voters = readings[readings["role"].isin((*CONSENSUS_ROLES, ADJUDICATOR))]
    observers = [*voters.loc[voters["role"] != ADJUDICATOR, "reader"], *voters.loc[voters["role"] == ADJUDICATOR,
                                                                                    "reader"]]
    reviews_in_order = [Review.from_row(row.to_dict()) for _, row in readings.iterrows()]
    latest = reviews_in_order[-1]
    dnn = next((review for review in reversed(reviews_in_order)
                if any(value is not None for value in review.probabilities.values())), latest)
    return _from_review(
        latest, kind=CONSENSUS, calls={name: str(status[name]) for name in CLASSES},
        observers=tuple(dict.fromkeys(observers)), review_ids=tuple(voters["review_id"]),
        probabilities=dict(dnn.probabilities), thresholds=dnn.thresholds, model_name=dnn.model_name,
        model_sha256=dnn.model_sha256, model_git_blob_sha1=dnn.model_git_blob_sha1, model_status=dnn.model_status)
