"""The typed read model of the review store: every cell as what it holds, parsed once per file version.

:func:`~ecgreview.review.store.read_reviews` gives the file's cells as text (formula guards
removed). :func:`read_reviews_typed` gives the same rows, index and columns with each cell
parsed by its column's one reader (:mod:`ecgreview.review._store_cells`), so no consumer
splits or converts a stored cell again:

==========================  ==================================================================
column                      typed value
==========================  ==================================================================
``saved_at_utc``            ``datetime64[us, UTC]`` (NaT: not a time)
``dnn_prob_<class>``        ``float64`` (NaN: no model output)
``thresholds``              tuple of float, one per class; :data:`~ecgreview.record.THRESHOLDS`
                            for an empty cell or one that does not hold one number per class
``device_statements``       tuple of str (no blank statement)
``resolves_review_ids``     tuple of str
``provenance``              dict (``{}`` when empty)
``opinions_seen``           ``boolean`` (NA: neither ``true`` nor ``false``)
``confidence``              ``Int64`` (NA: not asked)
``reading_time_s``          ``float64`` (NaN: not measured)
``schema_version``          ``int64`` (1 for rows of schema 1, which have no such column)
==========================  ==================================================================

Every other column (readers, roles, modes, the per-class calls, which are words of the
vocabulary, hashes, free text) stays ``str``, so row filters such as
:func:`~ecgreview.review.protocol.clinical_readings` and
:func:`~ecgreview.review.store.latest_reviews` work on either frame. A cell that is not what its
column holds reads as missing and is listed in ``frame.attrs["bad_cells"]`` (``"review <id>:
<column> holds 'x'"``); ``frame.attrs["skipped"]`` is :func:`read_reviews`'s.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from pathlib import Path

import numpy as np
import pandas as pd

from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review._store_cells import (
    BOOLEAN_CELLS,
    TIME_FORMAT,
    ids_from_cell,
    provenance_from_cell,
    statements_from_cell,
    thresholds_from_cell,
)
from ecgreview.review._store_read import _read_cached

__all__ = ["PROBABILITY_COLUMNS", "read_reviews_typed", "typed_reviews"]

#: The DNN's probability columns, in :data:`~ecgreview.record.CLASSES` order.
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"dnn_prob_{name}" for name in CLASSES)

_CACHE_SIZE = 4
#: Path -> (the text frame it was built from, the typed frame): rebuilt when read_reviews' cache entry changes.
_cache: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
_cache_lock = threading.Lock()


def read_reviews_typed(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The review CSV's rows with typed cells (module docstring), parsed once per version of the file.

    The version is :func:`~ecgreview.review.store.read_reviews`'s cache key (inode, size,
    modification time in ns): an unchanged store costs a ``stat``.

    Raises
    ------
    ReviewStoreError
        As :func:`~ecgreview.review.store.read_reviews`.
    """
    store = Path(path)
    text = _read_cached(store)
    key = str(store.absolute())
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] is text:
        typed = cached[1]
    else:
        typed = typed_reviews(text)
        with _cache_lock:
            _cache.pop(key, None)
            _cache[key] = (text, typed)
            while len(_cache) > _CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
    copy = typed.copy(deep=False)  # copy-on-write: callers may change theirs freely
    copy.attrs = {name: list(value) for name, value in typed.attrs.items()}
    return copy


def typed_reviews(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (text cells, as :func:`~ecgreview.review.store.read_reviews` gives) with typed cells.

    Columns the frame lacks are left out; ``attrs["skipped"]`` is kept.
    """
    typed = frame.copy(deep=False)
    bad: list[str] = []
    ids = frame["review_id"] if "review_id" in frame.columns else pd.Series("", index=frame.index)

    def note(column: str, mask: pd.Series) -> None:
        bad.extend(f"review {ids[index]}: {column} holds {str(frame.at[index, column])[:60]!r}"
                   for index in mask[mask].index)

    for column in (*PROBABILITY_COLUMNS, "reading_time_s"):
        if column in frame.columns:
            typed[column] = _numbers(frame[column], column, note)
    if "confidence" in frame.columns:
        numbers = _numbers(frame["confidence"], "confidence", note)
        fractional = numbers.notna() & (numbers != numbers.round())
        note("confidence", fractional)
        typed["confidence"] = numbers.where(~fractional).astype("Int64")
    if "schema_version" in frame.columns:
        typed["schema_version"] = _numbers(frame["schema_version"], "schema_version", note).fillna(1).astype("int64")
    if "saved_at_utc" in frame.columns:
        times = pd.to_datetime(frame["saved_at_utc"], format=TIME_FORMAT, utc=True, errors="coerce")
        note("saved_at_utc", times.isna())
        typed["saved_at_utc"] = times
    if "opinions_seen" in frame.columns:
        seen = frame["opinions_seen"].map(BOOLEAN_CELLS).astype("boolean")
        note("opinions_seen", seen.isna())
        typed["opinions_seen"] = seen
    for column, reader in (("thresholds", _thresholds), ("device_statements", statements_from_cell),
                           ("resolves_review_ids", ids_from_cell), ("provenance", _provenance)):
        if column in frame.columns:
            values = _each_distinct(frame[column], reader)
            note(column, values.isna())
            typed[column] = values.where(values.notna(), _fallback(column, frame.index))
    typed.attrs = {"skipped": list(frame.attrs.get("skipped", [])), "bad_cells": bad}
    return typed


def _numbers(cells: pd.Series, column: str, note: Callable[[str, pd.Series], None]) -> pd.Series:
    """Numeric cells as float64: empty is NaN; a cell that is not a number is NaN and noted."""
    text = cells.fillna("").astype(str).str.strip()
    numbers = pd.to_numeric(text.replace("", np.nan), errors="coerce").astype("float64")
    note(column, numbers.isna() & text.ne(""))
    return numbers


def _each_distinct(cells: pd.Series, reader: Callable[[str], object]) -> pd.Series:
    """``reader`` applied once per distinct cell (a store repeats its thresholds and statements); None if it fails."""
    parsed: dict[Hashable, object] = {}
    for text in pd.unique(cells):
        try:
            parsed[text] = reader(str(text))
        except ValueError:
            parsed[text] = None
    return pd.Series([parsed[text] for text in cells], index=cells.index, dtype=object)


def _thresholds(text: str) -> tuple[float, ...]:
    values = thresholds_from_cell(text)
    if len(values) != len(CLASSES):
        raise ValueError(f"thresholds must hold {len(CLASSES)} values; got {len(values)}")
    return values


def _provenance(text: str) -> dict[str, object]:
    return provenance_from_cell(text)


def _fallback(column: str, index: pd.Index) -> pd.Series:
    """What a bad cell of ``column`` reads as (an object series, to keep tuples and dicts whole)."""
    value: object = {"thresholds": THRESHOLDS, "device_statements": (), "resolves_review_ids": ()}.get(column)
    return pd.Series([{} if column == "provenance" else value for _ in index], index=index, dtype=object)
