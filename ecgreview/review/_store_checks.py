"""Field checks of :class:`ecgreview.review.store.Review`, and the vocabularies they check against.

Private: :mod:`ecgreview.review.store` re-exports the public names (``ROLES``, ``READING_MODES`` …)
and is the module to import. Every check raises ValueError naming the field and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ecgreview.plausibility import parse_finding_codes
from ecgreview.record import CLASSES
from ecgreview.review._store_csv import _is_uuid
from ecgreview.review.modes import AIDED, RESOLVING_MODES
from ecgreview.review.modes import ROW_MODES as READING_MODES
from ecgreview.security.auth import ROLES

#: Reader confidence scale (``confidence``): 1 (not at all) to 5 (certain).
CONFIDENCE_LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
#: The schema this version writes (stored in each row's ``schema_version``; 0.1 files had none: 1).
SCHEMA_VERSION = 3  # 3: signal_findings
MODEL_STATUSES: tuple[str, ...] = ("verified", "unverified", "none")
READER_CALLS: tuple[str, ...] = ("present", "absent", "uncertain")

_MAX_CELL_CHARS = 100_000  # below csv.field_size_limit(), so every row we write reads back


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


def _seconds(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and number >= 0):
        raise ValueError(f"reading_time_s must be a finite number of seconds >= 0 or None; got {value!r}")
    return number


def _check_two_step(review: Any) -> None:
    """Confidence, reading time, and the rules of the ``unaided``/``aided`` pair."""
    if review.confidence is not None and (isinstance(review.confidence, bool) or review.confidence not in
                                          CONFIDENCE_LEVELS or not isinstance(review.confidence, int)):
        raise ValueError(f"confidence must be one of {', '.join(map(str, CONFIDENCE_LEVELS))} or None; "
                         f"got {review.confidence!r}")
    if review.reading_time_s is not None:
        _seconds(review.reading_time_s)
    if isinstance(review.schema_version, bool) or not isinstance(review.schema_version, int) or review.schema_version < 1:
        raise ValueError(f"schema_version must be a positive integer; got {review.schema_version!r}")
    if review.reading_mode == "unaided" and review.opinions_seen:
        raise ValueError("reading_mode 'unaided' needs opinions_seen False (DNN and device hidden)")
    if review.reading_mode == "aided" and (not review.opinions_seen or len(review.resolves_review_ids) > 1):
        raise ValueError("reading_mode 'aided' needs opinions_seen True and resolves_review_ids naming at most the "
                         "one unaided review it follows (none in a crossover's aided session)")


def _check_new_row(review: Any) -> None:
    """Rules for a row about to be written (rows already in a store are read as they are).

    An aided row names the model whose output the reader saw: with ``model_status`` ``none`` or no
    probability, no DNN was shown, and a row saying "aided" would record what did not happen.
    """
    if review.reading_mode == AIDED and (review.model_status == "none"
                                         or all(p is None for p in review.probabilities.values())):
        raise ValueError("reading_mode 'aided' needs the DNN output the reader saw: model_status "
                         f"{review.model_status!r} with no probabilities is not an aided reading")


def _validate(review: Any) -> None:
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
    try:
        parse_finding_codes(review.signal_findings)
    except ValueError as exc:
        raise ValueError(f"signal_findings: {exc}") from None
    _check_two_step(review)
    _check_cells(review)


def _check_identifiers(review: Any) -> None:
    for field, value in (("review_id", review.review_id),
                         *((f"resolves_review_ids[{i}]", v) for i, v in enumerate(review.resolves_review_ids))):
        if not _is_uuid(value):
            raise ValueError(f"{field} must be a UUID; got {value!r}")
    if review.resolves_review_ids and review.reading_mode not in RESOLVING_MODES:
        raise ValueError(f"resolves_review_ids needs reading_mode {' or '.join(map(repr, RESOLVING_MODES))}")
    if not isinstance(review.saved_at_utc, datetime) or review.saved_at_utc.utcoffset() is None:
        raise ValueError(f"saved_at_utc must be a timezone-aware datetime; got {review.saved_at_utc!r}")
    object.__setattr__(review, "saved_at_utc", review.saved_at_utc.astimezone(timezone.utc))
    for field, digits in (("source_sha256", 64), ("model_sha256", 64), ("model_git_blob_sha1", 40)):
        value = getattr(review, field)
        if (value or field == "source_sha256") and not re.fullmatch(f"[0-9a-f]{{{digits}}}", str(value)):
            raise ValueError(f"{field} must be {digits} lowercase hex digits; got {value!r}")


def _check_cells(review: Any) -> None:
    try:
        row = review.to_row()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"provenance must be a mapping of JSON-serialisable values: {exc}") from exc
    for column, value in row.items():
        if not isinstance(value, str) or len(value) > _MAX_CELL_CHARS:
            raise ValueError(f"{column} must be text of at most {_MAX_CELL_CHARS} characters; got {value!r:.60}")
