"""How each kind of review-store cell is written and read back: the one definition of every cell format.

:meth:`ecgreview.review.store.Review.to_row` / :meth:`~ecgreview.review.store.Review.from_row` (one row)
and :mod:`ecgreview.review.review_table` (a whole store, vectorised) both use these, so a cell
is never parsed two ways. Every reader takes the cell's text as stored (formula guards removed).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from ecgreview.record import THRESHOLDS

#: Separates device statements in the ``device_statements`` cell.
STATEMENT_SEPARATOR = " | "
#: Separates values in the ``thresholds`` and ``resolves_review_ids`` cells.
LIST_SEPARATOR = ";"
#: ``saved_at_utc``: UTC, ISO-8601 with microseconds and ``Z``.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: ``opinions_seen`` as stored.
BOOLEAN_CELLS: dict[str, bool] = {"true": True, "false": False}


def cell_text(value: object) -> str:
    """A cell of a read frame as text: ``None`` and NaN (a column an older file lacks) read as ``""``."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def time_from_cell(text: str) -> datetime:
    """``saved_at_utc`` as an aware UTC datetime; ValueError naming the column otherwise."""
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"saved_at_utc must look like 2026-01-31T12:00:00.000000Z; got {text!r}") from None


def number_from_cell(column: str, text: str) -> float | None:
    """A numeric cell: None when empty; ValueError naming ``column`` when not a number."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{column} must be a number or empty; got {text!r}") from None


def thresholds_from_cell(text: str) -> tuple[float, ...]:
    """The ``thresholds`` cell (``"0.124;0.07;…"``); empty (rows before thresholds were stored): :data:`THRESHOLDS`.

    The count is not checked here (a :class:`~ecgreview.review.store.Review` checks it);
    ValueError naming the column when a value is not a number.
    """
    if not text.strip():
        return THRESHOLDS
    try:
        return tuple(float(value) for value in text.split(LIST_SEPARATOR))
    except ValueError:
        raise ValueError(f"thresholds must be numbers separated by {LIST_SEPARATOR!r}; got {text[:60]!r}") from None


def statements_from_cell(text: str) -> tuple[str, ...]:
    """The ``device_statements`` cell as statements; blank pieces are no statement."""
    return tuple(piece for piece in text.split(STATEMENT_SEPARATOR) if piece.strip())


def ids_from_cell(text: str) -> tuple[str, ...]:
    """The ``resolves_review_ids`` cell as review ids (empty: none)."""
    return tuple(piece for piece in text.split(LIST_SEPARATOR) if piece)


def provenance_from_cell(text: str) -> dict[str, object]:
    """The ``provenance`` cell (a JSON object; empty: ``{}``); ValueError naming the column otherwise."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"provenance must be a JSON object; got {text[:60]!r}")
    return value
