"""The review store: an append-only CSV of readers' calls beside the DNN's opinion.

The CSV is data of record: rows are appended, never edited; a correction is a new
row (:func:`latest_reviews` picks the last per reader and case). :data:`REVIEW_COLUMNS`
is the one definition of the schema. :func:`append_review` holds an OS lock while it
checks the header, appends one row and fsyncs it; a failed write is truncated back.
An append reads only the header line and the end of the file, so it costs the same
at 200 rows as at 20,000. New files are created with mode 0640 whatever the umask.

Schema versions. Every row carries ``schema_version`` (:data:`SCHEMA_VERSION`; empty in
rows written by ecgreview 0.1, schema 1, which had no such column): a plain column, so
that spreadsheets and ``pandas.read_csv`` read the file as before. Cells are read by
the file's own header, so a store with fewer columns (an older schema) or more (a newer
one) reads whole: missing columns read as ``""``, unknown ones are kept after
:data:`REVIEW_COLUMNS`. Appending to a store that lacks some of today's columns first
rewrites it once with the full header, keeping every row and character and a byte-exact
backup ``<name>.before-schema-upgrade-<UTC time>.bak`` beside it; no manual step is
needed. A header without ``review_id``, ``saved_at_utc``, ``reader`` and
``source_sha256``, or with a repeated column, is refused (nothing is written).

The file must be UTF-8: a store re-saved in another encoding (a spreadsheet's
Windows-1252 turns "Müller" into bytes that are not UTF-8) fails to read with an error
naming the line, instead of silently replacing characters.

Reads are cached per file by (inode, size, modification time in ns): a page that reads
the store several times per rerun parses it once, and after a save only what was appended
(the whole file again when it was replaced, rewritten or cut).
:func:`read_review_parts` gives a version as the rows of the last whole parse (the same
for every version grown from it) and the few rows read since, for a reader that keeps
what it works out per row from version to version (:mod:`ecgreview.review.readings`). The
reading side lives in :mod:`ecgreview.review._store_read` and the column list in
:mod:`ecgreview.review._store_schema`; this module re-exports them and is the one to import.
:meth:`Review.from_row` turns a row back into a :class:`Review`.

A writer killed mid-row leaves a partial last row. The next append ends it first
(closing a quoted field left open, then a newline), so it never merges with the new
row; it stays in the file as a malformed row that :func:`read_reviews` skips and
reports. Cut inside a character, the partial row's unfinished character (1-3 bytes,
never written whole) is dropped by that append; until then a read skips it with the row. Text cells starting with ``= + - @ '``, a tab or CR get a leading ``'``
against spreadsheet formula injection; reading removes it. Numeric columns are never
touched.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout

from ecgreview import __version__
from ecgreview.errors import ReviewStoreError
from ecgreview.record import CLASSES, THRESHOLDS, dnn_calls
from ecgreview.review._store_checks import (
    CONFIDENCE_LEVELS,
    MODEL_STATUSES,
    READER_CALLS,
    READING_MODES,
    RESOLVING_MODES,
    ROLES,
    SCHEMA_VERSION,
    _check_new_row,
    _per_class,
    _per_class_probabilities,
    _seconds,
    _validate,
)
from ecgreview.review._store_cells import (
    BOOLEAN_CELLS,
    LIST_SEPARATOR,
    STATEMENT_SEPARATOR,
    TIME_FORMAT,
    cell_text,
    ids_from_cell,
    number_from_cell,
    provenance_from_cell,
    statements_from_cell,
    thresholds_from_cell,
    time_from_cell,
)
from ecgreview.review._store_csv import (
    STORE_MODE,
    _append_locked,
    _csv_line,  # noqa: F401  (tests build expected rows with it)
)
from ecgreview.review._store_read import (
    StoreParts,
    StoreStamp,
    latest_reviews,
    read_review_parts,
    read_review_tail,
    read_reviews,
    reviews_for_case,
)
from ecgreview.review._store_schema import NUMERIC_COLUMNS, REVIEW_COLUMNS
from ecgreview.security.spreadsheet import guard_text, unguard_text

__all__ = [
    "CONFIDENCE_LEVELS", "MODEL_STATUSES", "NUMERIC_COLUMNS", "READER_CALLS", "READING_MODES", "RESOLVING_MODES",
    "REVIEW_COLUMNS", "ROLES", "SCHEMA_VERSION", "STATEMENT_SEPARATOR", "Review", "StoreParts", "StoreStamp",
    "append_review", "dnn_agreement", "latest_reviews", "read_review_parts", "read_review_tail", "read_reviews",
    "reviews_for_case",
]

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
    signal_findings: str = ""
    confidence: int | None = None
    reading_time_s: float | None = None
    schema_version: int = SCHEMA_VERSION

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
        provenance: Mapping[str, object] | None = None, confidence: int | None = None,
        reading_time_s: float | None = None, signal_findings: str = "",
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
            One-line PHI audit of the source file (:meth:`ecgreview.security.findings.PhiAudit.summary`).
        signal_findings : str, optional
            The record's plausibility findings (:func:`ecgreview.plausibility.finding_codes`, e.g.
            ``"amplitude:II;flat:V3"``); empty when none were found.
        reading_mode : str
            One of :data:`READING_MODES`. ``unaided``: the first step of a two-step reading,
            with DNN and device hidden (``opinions_seen`` must be False); ``aided``: the
            second step (``opinions_seen`` True), naming the unaided row as its one
            ``resolves_review_ids`` (a crossover's aided session names none).
        confidence : int, optional
            The reader's confidence, 1 to 5 (:data:`CONFIDENCE_LEVELS`); None when not asked.
        reading_time_s : float, optional
            Seconds from the case being shown to the save; None when not measured.

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
            phi_audit=phi_audit, comment=comment, provenance=dict(provenance or {}), signal_findings=signal_findings,
            confidence=confidence, reading_time_s=None if reading_time_s is None else _seconds(reading_time_s),
        )

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> Review:
        """The review a stored row holds (a row of :func:`read_reviews`, formula guards removed).

        Columns missing from an older store read as empty: a schema-1 row has no
        ``confidence``, ``reading_time_s`` or ``schema_version`` (read as 1). The derived
        columns (``dnn_call_*``, ``agreement_*``) are recomputed, not read.

        Raises
        ------
        ValueError
            A cell is not what its column holds (naming the column).
        """
        def cell(column: str) -> str:
            return cell_text(row.get(column, ""))

        def number(column: str, kind: type) -> object:
            value = number_from_cell(column, cell(column))
            return None if value is None else kind(value)

        opinions_seen = cell("opinions_seen")
        return cls(
            review_id=cell("review_id"), saved_at_utc=time_from_cell(cell("saved_at_utc")), reader=cell("reader"),
            role=cell("role"), reading_mode=cell("reading_mode"),
            opinions_seen=BOOLEAN_CELLS.get(opinions_seen, opinions_seen),  # type: ignore[arg-type]
            session_id=cell("session_id"),
            resolves_review_ids=ids_from_cell(cell("resolves_review_ids")),
            case_pseudonym=cell("case_pseudonym"), source_name=cell("source_name"),
            source_sha256=cell("source_sha256"), app_version=cell("app_version"), model_name=cell("model_name"),
            model_sha256=cell("model_sha256"), model_git_blob_sha1=cell("model_git_blob_sha1"),
            model_status=cell("model_status"), thresholds=thresholds_from_cell(cell("thresholds")),
            probabilities={name: number(f"dnn_prob_{name}", float) for name in CLASSES},  # type: ignore[misc]
            device_calls={name: cell(f"device_call_{name}") for name in CLASSES},
            reader_calls={name: cell(f"reader_call_{name}") for name in CLASSES},
            device_statements=statements_from_cell(cell("device_statements")),
            statement_map_version=cell("statement_map_version"), phi_audit=cell("phi_audit"),
            comment=cell("comment"), provenance=provenance_from_cell(cell("provenance")),
            signal_findings=cell("signal_findings"),
            confidence=number("confidence", int), reading_time_s=number("reading_time_s", float),  # type: ignore[arg-type]
            schema_version=number("schema_version", int) or 1,  # type: ignore[arg-type]
        )

    @property
    def dnn_calls(self) -> dict[str, str]:
        """``present``/``absent`` per class (:func:`~ecgreview.record.dnn_calls`), ``""`` without a probability."""
        values = [math.nan if p is None else p for p in self.probabilities.values()]
        calls = dnn_calls(values, self.thresholds)
        return {name: "" if p is None else ("present" if call else "absent")
                for (name, p), call in zip(self.probabilities.items(), calls)}

    @property
    def agreement(self) -> dict[str, str]:
        """``agree``/``disagree`` of reader and DNN per class (:func:`dnn_agreement`)."""
        return dnn_agreement(self.reader_calls, self.dnn_calls)

    def to_row(self) -> dict[str, str]:
        """The CSV row, keyed and ordered by :data:`REVIEW_COLUMNS` (before formula guarding)."""
        row = {
            "review_id": self.review_id, "saved_at_utc": self.saved_at_utc.strftime(TIME_FORMAT),
            "reader": self.reader, "role": self.role, "reading_mode": self.reading_mode,
            "opinions_seen": "true" if self.opinions_seen else "false", "session_id": self.session_id,
            "resolves_review_ids": LIST_SEPARATOR.join(self.resolves_review_ids), "case_pseudonym": self.case_pseudonym,
            "source_name": self.source_name, "source_sha256": self.source_sha256,
            "app_version": self.app_version, "model_name": self.model_name, "model_sha256": self.model_sha256,
            "model_git_blob_sha1": self.model_git_blob_sha1, "model_status": self.model_status,
            "thresholds": LIST_SEPARATOR.join(repr(value) for value in self.thresholds),
            "device_statements": STATEMENT_SEPARATOR.join(self.device_statements),
            "statement_map_version": self.statement_map_version, "phi_audit": self.phi_audit,
            "signal_findings": self.signal_findings, "comment": self.comment,
            "confidence": "" if self.confidence is None else str(self.confidence),
            "reading_time_s": "" if self.reading_time_s is None else repr(self.reading_time_s),
            "schema_version": str(self.schema_version),
            "provenance": json.dumps(self.provenance, separators=(",", ":"), sort_keys=True, ensure_ascii=False),
        }
        dnn, agreement = self.dnn_calls, self.agreement
        for name in CLASSES:
            probability = self.probabilities[name]
            row |= {f"dnn_prob_{name}": "" if probability is None else repr(probability),
                    f"dnn_call_{name}": dnn[name], f"device_call_{name}": self.device_calls[name],
                    f"reader_call_{name}": self.reader_calls[name], f"agreement_{name}": agreement[name]}
        return {column: row[column] for column in REVIEW_COLUMNS}


def dnn_agreement(reader_calls: Mapping[str, str | None], dnn_calls_by_class: Mapping[str, str]) -> dict[str, str]:
    """``agree``/``disagree`` of the reader's call and the DNN's call per class; ``""`` when undecidable.

    The one definition of reader–DNN agreement (the review page's live mark, the saved reading's
    report). Undecidable: no DNN call (``""``), no reader call yet (None) or an ``uncertain`` call.

    Parameters
    ----------
    reader_calls : mapping of str to str or None
        ``present``/``absent``/``uncertain`` (or None: not answered yet) per class.
    dnn_calls_by_class : mapping of str to str
        ``present``/``absent`` per class, ``""`` without a DNN output (:attr:`Review.dnn_calls`).
    """
    return {name: "" if not dnn_calls_by_class.get(name) or call in (None, "uncertain")
            else ("agree" if call == dnn_calls_by_class[name] else "disagree") for name, call in reader_calls.items()}


def _guard(column: str, text: str) -> str:
    """The project's one formula guard (:func:`ecgreview.security.spreadsheet.guard_text`) on text columns."""
    return text if column in NUMERIC_COLUMNS else guard_text(text)


def _unguard(column: str, text: str) -> str:
    return text if column in NUMERIC_COLUMNS else unguard_text(text)


def append_review(path: str | os.PathLike[str], review: Review, *, lock_timeout_s: float = 10.0) -> Review:
    """Append ``review`` as one row to the CSV at ``path`` (created with its header), durably.

    Reads only the header line and the end of the file (the cost does not grow with the
    store). A store of an older schema is upgraded first, once (see the module docstring).

    Parameters
    ----------
    path : path-like
        The review CSV; the OS lock is ``<path>.lock`` beside it. Created with mode 0640.
    lock_timeout_s : float
        How long to wait for another process's save, in seconds.

    Returns
    -------
    Review
        ``review``, once its row is fsynced to disk.

    Raises
    ------
    ReviewStoreError
        Locked by another process, a header that is not a review store's, or an OS error
        (disk full, read-only). The store is then as before; the error's ``review``
        attribute holds the review.
    ValueError
        A row that must not be written: an ``aided`` row without the DNN output the reader saw.
    """
    store = Path(path)
    _check_new_row(review)
    cells = {column: _guard(column, value) for column, value in review.to_row().items()}
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{store}.lock", timeout=lock_timeout_s, mode=STORE_MODE):
            _append_locked(store, cells, REVIEW_COLUMNS)
        return review
    except (OSError, ReviewStoreError) as exc:  # filelock's Timeout is an OSError
        error = exc if isinstance(exc, ReviewStoreError) else ReviewStoreError(store, (
            f"review store is locked by another process (waited {lock_timeout_s:g} s)" if isinstance(exc, Timeout)
            else f"review not saved: {exc.strerror or exc} ({type(exc).__name__})"))
        error.review = review  # type: ignore[attr-defined]
        if error is exc:
            raise
        raise error from exc
