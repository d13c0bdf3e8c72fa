"""The review store: an append-only CSV of readers' calls beside the DNN's opinion.

The CSV is data of record: rows are appended, never edited; a correction is a new
row (:func:`latest_reviews` picks the last per reader and case). :data:`REVIEW_COLUMNS`
is the one definition of the schema. :func:`append_review` holds an OS lock while it
checks the header, appends one row and fsyncs it; a failed write is truncated back.

A writer killed mid-row leaves a partial last row. The next append ends it first
(closing a quoted field left open, then a newline), so it never merges with the new
row; it stays in the file as a malformed row that :func:`read_reviews` skips and
reports. Text cells starting with ``= + - @ '``, a tab or CR get a leading ``'``
against spreadsheet formula injection; reading removes it. Numeric columns are never
touched.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from filelock import FileLock, Timeout

from ecgreview import __version__
from ecgreview._review_csv import _append_locked, _csv_line, _is_uuid, _parse
from ecgreview.errors import ReviewStoreError
from ecgreview.record import CLASSES, THRESHOLDS

logger = logging.getLogger(__name__)

ROLES: tuple[str, ...] = ("reader", "adjudicator", "teacher", "student", "admin")
READING_MODES: tuple[str, ...] = ("adjudication", "blinded", "teaching")
MODEL_STATUSES: tuple[str, ...] = ("verified", "unverified", "none")
READER_CALLS: tuple[str, ...] = ("present", "absent", "uncertain")

#: The review CSV's columns, in file order. The one definition of the schema.
REVIEW_COLUMNS: tuple[str, ...] = (
    "review_id", "saved_at_utc", "reader", "role", "reading_mode", "opinions_seen",
    "session_id", "resolves_review_ids", "case_pseudonym", "source_name", "source_sha256",
    "app_version", "model_name", "model_sha256", "model_git_blob_sha1", "model_status", "thresholds",
    *(f"{kind}_{name}" for name in CLASSES
      for kind in ("dnn_prob", "dnn_call", "device_call", "reader_call", "agreement")),
    "device_statements", "statement_map_version", "phi_audit", "comment", "provenance",
)

#: Columns holding numbers: written as is, never given a formula-guard apostrophe.
NUMERIC_COLUMNS: frozenset[str] = frozenset({"thresholds", *(f"dnn_prob_{name}" for name in CLASSES)})

STATEMENT_SEPARATOR = " | "
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
_MAX_CELL_CHARS = 100_000  # below csv.field_size_limit(), so every row we write reads back


@dataclass(frozen=True, kw_only=True)
class Review:
    """One reader's reading of one ECG, with the DNN and device opinions shown beside it.

    Build one with :meth:`Review.create`; construction validates every field.
    Per-class dicts are keyed by the names in :data:`~ecgreview.record.CLASSES`.
    ``dnn_calls`` and ``agreement`` are derived, never stored separately.
    """

    review_id: str
    saved_at_utc: datetime
    reader: str
    role: str
    reading_mode: str
    opinions_seen: bool
    session_id: str
    resolves_review_ids: tuple[str, ...]
    case_pseudonym: str
    source_name: str
    source_sha256: str
    app_version: str
    model_name: str
    model_sha256: str
    model_git_blob_sha1: str
    model_status: str
    thresholds: tuple[float, ...]
    probabilities: dict[str, float | None]
    device_calls: dict[str, str]
    reader_calls: dict[str, str]
    device_statements: tuple[str, ...]
    statement_map_version: str
    phi_audit: str
    comment: str
    provenance: dict[str, object]

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def create(
        cls, *, reader: str, reader_calls: Mapping[str, str | None], source_sha256: str,
        opinions_seen: bool, source_name: str = "", case_pseudonym: str = "",
        probabilities: Mapping[str, float | None] | Sequence[float] | None = None,
        thresholds: Sequence[float] = THRESHOLDS, model_name: str = "", model_sha256: str = "",
        model_git_blob_sha1: str = "", model_status: str | None = None,
        device_calls: Mapping[str, str] | None = None, device_statements: Sequence[str] = (),
        statement_map_version: str = "", phi_audit: str = "", role: str = "reader", reading_mode: str = "adjudication",
        session_id: str = "", resolves_review_ids: Sequence[str] = (), comment: str = "",
        provenance: Mapping[str, object] | None = None,
        review_id: str | None = None, saved_at_utc: datetime | None = None,
    ) -> Review:
        """Build and validate a review; fills ``review_id``, ``saved_at_utc`` and ``app_version``.

        Parameters
        ----------
        reader_calls : mapping of str to str
            ``present``, ``absent`` or ``uncertain`` for every class in ``CLASSES``.
        source_sha256 : str
            SHA-256 (64 hex digits) of the ECG file: the case key.
        opinions_seen : bool
            Whether the reader had seen DNN or device opinions before saving.
        probabilities : mapping or sequence of float, optional
            In [0, 1], by class or in ``CLASSES`` order; ``None`` (or a missing class): no output.
        model_status : {"verified", "unverified", "none"}, optional
            Default ``"none"`` without probabilities, else ``"unverified"``.
        device_calls : mapping of str to str, optional
            Free text per class (``definite``, ``possible``...); a missing class is ``""``.
        phi_audit : str, optional
            One-line PHI audit of the source file (:meth:`ecgreview.audit.PhiAudit.summary`).

        Other keywords are stored as given. ``review_id``/``saved_at_utc`` default to a new
        UUID4 and now (UTC). Raises ValueError naming the field and its allowed values.
        """
        probabilities = _per_class_probabilities(probabilities)
        model_status = model_status or ("none" if set(probabilities.values()) == {None} else "unverified")
        return cls(
            review_id=review_id or str(uuid.uuid4()),
            saved_at_utc=saved_at_utc or datetime.now(timezone.utc),
            reader=reader.strip() if isinstance(reader, str) else reader,
            role=role, reading_mode=reading_mode, opinions_seen=opinions_seen, session_id=session_id,
            resolves_review_ids=tuple(resolves_review_ids), case_pseudonym=case_pseudonym,
            source_name=source_name, source_sha256=str(source_sha256).strip().lower(), app_version=__version__,
            model_name=model_name, model_sha256=model_sha256.lower(),
            model_git_blob_sha1=model_git_blob_sha1.lower(), model_status=model_status,
            thresholds=tuple(float(value) for value in thresholds), probabilities=probabilities,
            device_calls=_per_class("device_calls", device_calls or {}, required=False, default=""),
            reader_calls={name: (call.strip().lower() if isinstance(call, str) else call)
                          for name, call in _per_class("reader_calls", reader_calls, required=True).items()},
            device_statements=tuple(device_statements), statement_map_version=statement_map_version,
            phi_audit=phi_audit, comment=comment, provenance=dict(provenance or {}),
        )

    @property
    def dnn_calls(self) -> dict[str, str]:
        """``present``/``absent`` per class (``p > threshold``), ``""`` without a probability."""
        return {name: "" if p is None else ("present" if p > t else "absent")
                for (name, p), t in zip(self.probabilities.items(), self.thresholds)}

    @property
    def agreement(self) -> dict[str, str]:
        """``agree``/``disagree`` of reader and DNN per class; ``""`` when undecidable."""
        dnn = self.dnn_calls
        return {name: "" if not dnn[name] or call == "uncertain" else ("agree" if call == dnn[name] else "disagree")
                for name, call in self.reader_calls.items()}

    def to_row(self) -> dict[str, str]:
        """The CSV row, keyed and ordered by :data:`REVIEW_COLUMNS` (before formula guarding)."""
        row = {
            "review_id": self.review_id, "saved_at_utc": self.saved_at_utc.strftime(_TIME_FORMAT),
            "reader": self.reader, "role": self.role, "reading_mode": self.reading_mode,
            "opinions_seen": "true" if self.opinions_seen else "false", "session_id": self.session_id,
            "resolves_review_ids": ";".join(self.resolves_review_ids), "case_pseudonym": self.case_pseudonym,
            "source_name": self.source_name, "source_sha256": self.source_sha256,
            "app_version": self.app_version, "model_name": self.model_name, "model_sha256": self.model_sha256,
            "model_git_blob_sha1": self.model_git_blob_sha1, "model_status": self.model_status,
            "thresholds": ";".join(repr(value) for value in self.thresholds),
            "device_statements": STATEMENT_SEPARATOR.join(self.device_statements),
            "statement_map_version": self.statement_map_version, "phi_audit": self.phi_audit,
            "comment": self.comment,
            "provenance": json.dumps(self.provenance, separators=(",", ":"), sort_keys=True, ensure_ascii=False),
        }
        dnn, agreement = self.dnn_calls, self.agreement
        for name in CLASSES:
            probability = self.probabilities[name]
            row |= {f"dnn_prob_{name}": "" if probability is None else repr(probability),
                    f"dnn_call_{name}": dnn[name], f"device_call_{name}": self.device_calls[name],
                    f"reader_call_{name}": self.reader_calls[name], f"agreement_{name}": agreement[name]}
        return {column: row[column] for column in REVIEW_COLUMNS}


def _choice(field: str, value: object, allowed: Sequence[object]) -> None:
    if isinstance(value, bool) != isinstance(allowed[0], bool) or value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def _per_class(field: str, values: Mapping[str, object], *, required: bool, default: object = None) -> dict:
    unknown = [str(name) for name in values if name not in CLASSES]
    missing = [name for name in CLASSES if name not in values]
    if unknown:
        raise ValueError(f"{field} has unknown classes {', '.join(unknown)}; classes are {', '.join(CLASSES)}")
    if missing and required:
        raise ValueError(f"{field} is missing {', '.join(missing)}; every class in {', '.join(CLASSES)} needs "
                         f"one of {', '.join(map(repr, READER_CALLS))}")
    return {name: values.get(name, default) for name in CLASSES}


def _per_class_probabilities(values: Mapping[str, object] | Sequence[object] | None) -> dict[str, float | None]:
    if values is None:
        return dict.fromkeys(CLASSES)
    if not isinstance(values, Mapping):
        values = list(values)
        if len(values) != len(CLASSES):
            raise ValueError(f"probabilities must have {len(CLASSES)} values in CLASSES order; got {len(values)}")
        values = dict(zip(CLASSES, values))
    checked = _per_class("probabilities", values, required=False)
    return {name: None if value is None else _probability(f"probabilities[{name!r}]", value)
            for name, value in checked.items()}


def _probability(field: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{field} must be a finite number in [0, 1] or None; got {value!r}")
    return number


def _validate(review: Review) -> None:
    """Check every field of ``review``; raise ValueError naming the field and what is allowed."""
    if not isinstance(review.reader, str) or not review.reader.strip():
        raise ValueError("reader must be a non-empty name")
    for field, allowed in (("role", ROLES), ("reading_mode", READING_MODES), ("model_status", MODEL_STATUSES),
                           ("opinions_seen", (True, False))):
        _choice(field, getattr(review, field), allowed)
    for field in ("probabilities", "device_calls", "reader_calls"):
        if list(getattr(review, field)) != list(CLASSES):
            raise ValueError(f"{field} must be keyed by exactly {', '.join(CLASSES)}, in that order")
    if len(review.thresholds) != len(CLASSES):
        raise ValueError(f"thresholds must have {len(CLASSES)} values in CLASSES order; got {len(review.thresholds)}")
    for name, threshold in zip(CLASSES, review.thresholds):
        _probability(f"thresholds[{name!r}]", threshold)
        if review.probabilities[name] is not None:
            _probability(f"probabilities[{name!r}]", review.probabilities[name])
        _choice(f"reader_calls[{name!r}]", review.reader_calls[name], READER_CALLS)
    if review.model_status == "none" and any(p is not None for p in review.probabilities.values()):
        raise ValueError("model_status 'none' cannot come with probabilities; use 'verified' or 'unverified'")
    _check_identifiers(review)
    _check_cells(review)


def _check_identifiers(review: Review) -> None:
    for field, value in (("review_id", review.review_id),
                         *((f"resolves_review_ids[{i}]", v) for i, v in enumerate(review.resolves_review_ids))):
        if not _is_uuid(value):
            raise ValueError(f"{field} must be a UUID; got {value!r}")
    if review.resolves_review_ids and review.reading_mode != "adjudication":
        raise ValueError("resolves_review_ids needs reading_mode 'adjudication'")
    if not isinstance(review.saved_at_utc, datetime) or review.saved_at_utc.utcoffset() is None:
        raise ValueError(f"saved_at_utc must be a timezone-aware datetime; got {review.saved_at_utc!r}")
    object.__setattr__(review, "saved_at_utc", review.saved_at_utc.astimezone(timezone.utc))
    for field, digits in (("source_sha256", 64), ("model_sha256", 64), ("model_git_blob_sha1", 40)):
        value = getattr(review, field)
        if (value or field == "source_sha256") and not re.fullmatch(f"[0-9a-f]{{{digits}}}", str(value)):
            raise ValueError(f"{field} must be {digits} lowercase hex digits; got {value!r}")


def _check_cells(review: Review) -> None:
    try:
        row = review.to_row()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"provenance must be a mapping of JSON-serialisable values: {exc}") from exc
    for column, value in row.items():
        if not isinstance(value, str) or len(value) > _MAX_CELL_CHARS:
            raise ValueError(f"{column} must be text of at most {_MAX_CELL_CHARS} characters; got {value!r:.60}")


def _guard(column: str, text: str) -> str:
    return "'" + text if column not in NUMERIC_COLUMNS and text.startswith(_FORMULA_STARTS) else text


def _unguard(column: str, text: str) -> str:
    return text[1:] if column not in NUMERIC_COLUMNS and text.startswith("'") else text


def append_review(path: str | os.PathLike[str], review: Review, *, lock_timeout_s: float = 10.0) -> Review:
    """Append ``review`` as one row to the CSV at ``path`` (created with its header), durably.

    Parameters
    ----------
    path : path-like
        The review CSV; the OS lock is ``<path>.lock`` beside it.
    lock_timeout_s : float
        How long to wait for another process's save, in seconds.

    Returns
    -------
    Review
        ``review``, once its row is fsynced to disk.

    Raises
    ------
    ReviewStoreError
        Locked by another process, header mismatch, or an OS error (disk full, read-only).
        The store is then as before; the error's ``review`` attribute holds the review.
    """
    store = Path(path)
    line = _csv_line([_guard(column, value) for column, value in review.to_row().items()]).encode("utf-8")
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{store}.lock", timeout=lock_timeout_s):
            _append_locked(store, line, REVIEW_COLUMNS)
        return review
    except (OSError, ReviewStoreError) as exc:  # filelock's Timeout is an OSError
        error = exc if isinstance(exc, ReviewStoreError) else ReviewStoreError(store, (
            f"review store is locked by another process (waited {lock_timeout_s:g} s)" if isinstance(exc, Timeout)
            else f"review not saved: {exc.strerror or exc} ({type(exc).__name__})"))
        error.review = review  # type: ignore[attr-defined]
        if error is exc:
            raise
        raise error from exc


def read_reviews(path: str | os.PathLike[str], *, strict: bool = False) -> pd.DataFrame:
    """All rows of the review CSV in save order; a missing or empty file gives no rows.

    Parameters
    ----------
    strict : bool
        Raise on a malformed row instead of skipping it.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REVIEW_COLUMNS`, all ``str`` (empty cells ``""``), formula guards
        removed. ``frame.attrs["skipped"]`` lists the malformed rows left out as
        ``"line N: reason"`` (a partial row of an interrupted save, or one in progress).

    Raises
    ------
    ReviewStoreError
        Unreadable file, a header other than :data:`REVIEW_COLUMNS`, or ``strict``
        and a malformed row.
    """
    store = Path(path)
    try:
        data = store.read_bytes()
    except FileNotFoundError:
        data = b""
    except OSError as exc:
        raise ReviewStoreError(store, f"cannot read the review store: {exc.strerror or exc}") from exc
    rows, skipped = _parse(store, data, REVIEW_COLUMNS)
    if skipped:
        if strict:
            raise ReviewStoreError(store, f"{len(skipped)} malformed row(s), first at {skipped[0]}")
        logger.warning("%s: skipped %d malformed row(s): %s", store, len(skipped), "; ".join(skipped))
    rows = [[_unguard(column, cell) for column, cell in zip(REVIEW_COLUMNS, cells)] for cells in rows]
    frame = pd.DataFrame(rows, columns=list(REVIEW_COLUMNS), dtype=str)
    frame.attrs["skipped"] = skipped
    return frame


def reviews_for_case(path: str | os.PathLike[str], source_sha256: str) -> pd.DataFrame:
    """All reviews of one ECG (by the SHA-256 of its file), in save order; see :func:`read_reviews`."""
    frame = read_reviews(path)
    return frame[frame["source_sha256"] == source_sha256.strip().lower()].reset_index(drop=True)


def latest_reviews(
    reviews: pd.DataFrame | str | os.PathLike[str], *, by: Sequence[str] = ("source_sha256", "reader"),
) -> pd.DataFrame:
    """The latest row per reader per case (corrections are new rows; the last appended wins).

    Parameters
    ----------
    reviews : pandas.DataFrame or path-like
        A frame from :func:`read_reviews`, or the CSV path.
    by : sequence of str
        Columns that identify one reading; add ``"reading_mode"`` to keep blinded and
        adjudication readings apart. The last row in file (= lock) order of each wins.
    """
    frame = reviews if isinstance(reviews, pd.DataFrame) else read_reviews(reviews)
    unknown = [column for column in by if column not in REVIEW_COLUMNS]
    if unknown or not by:
        raise ValueError(f"by must name columns of REVIEW_COLUMNS; got {list(by)!r}")
    return frame.drop_duplicates(subset=list(by), keep="last").reset_index(drop=True)
