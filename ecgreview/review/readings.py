"""A case's latest clinical readings from a review store, worked out once per version of the store.

The Review page asks for the readings of the case on screen several times a run (the other readers'
table, whether an adjudication is due, the export choices), and every reader's session asks again on
every run, while the store changes only when someone saves. Here the store's latest clinical
readings (:func:`ecgreview.review.protocol.latest_readings`, the one rule) are grouped by case once
per version of the file (its inode, size and modification time: :class:`~ecgreview.review.store.StoreStamp`),
together with every clinical reading of each case (the "earlier reviews"), so that each later question
costs a ``stat`` and a dictionary lookup. Grouping is one pass that numbers each row's case; a case's rows and
latest readings are taken the first time they are asked for in that version, not for every case of the store.

The store is read as two parts (:func:`~ecgreview.review.store.read_review_parts`): the rows of its last whole
parse (with the rows joined to them once per 256), and the few rows read since. The first part is grouped, and a
case's rows taken from it, once for all the versions that share it; a new version groups only its new rows. So a
save costs its own rows, however many readings the store holds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecgreview.review.protocol import is_clinical, latest_readings
from ecgreview.review.store import StoreStamp, read_review_parts

__all__ = ["case_history", "case_readings", "one_version", "store_version"]

_MAX_STORES = 4
#: The cases whose rows a part of the store keeps taken (beyond: the first taken is dropped).
_MAX_TAKEN = 512


@dataclass(frozen=True, eq=False)
class _Part:
    """Rows of the store and, per row, the number of its case when it is a clinical reading (one pass over two
    columns: no frame of the clinical rows is built); a case's rows are taken when first asked for."""

    rows: pd.DataFrame
    #: Per row of ``rows``, the number of its case in ``cases``; -1: not a clinical reading.
    codes: np.ndarray
    cases: pd.Index
    #: The clinical rows of the cases asked for so far (None: the part has none).
    taken: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, rows: pd.DataFrame) -> _Part:
        codes, cases = pd.factorize(rows["source_sha256"])
        codes[~is_clinical(rows).to_numpy()] = -1
        return cls(rows, codes, pd.Index(cases))

    def clinical_rows(self, source_sha256: str) -> pd.DataFrame | None:
        """The case's clinical rows in this part, in save order (None: it has none)."""
        with self.lock:
            if source_sha256 in self.taken:
                return self.taken[source_sha256]
        try:
            positions = np.flatnonzero(self.codes == self.cases.get_loc(source_sha256))
        except KeyError:
            positions = _NO_ROWS
        rows = self.rows.take(positions) if len(positions) else None
        with self.lock:
            if len(self.taken) >= _MAX_TAKEN:
                self.taken.pop(next(iter(self.taken)))
            return self.taken.setdefault(source_sha256, rows)


@dataclass(frozen=True, eq=False)
class _Grouped:
    """One version of a store: the part of its last whole parse (shared by the versions grown from it) and the
    rows read since; a case's rows and latest readings, taken when first asked for in that version."""

    stamp: object
    base_key: object
    base: _Part
    tail: _Part
    #: The frames of the cases asked for so far in this version: (case, latest) -> rows.
    taken: dict[tuple[str, bool], pd.DataFrame] = field(default_factory=dict)

    def rows_of(self, source_sha256: str, *, latest: bool) -> pd.DataFrame:
        """The case's rows (a copy: the cached ones stay as read), none: an empty frame with the columns."""
        return self._taken(source_sha256, latest).copy()

    def _taken(self, source_sha256: str, latest: bool) -> pd.DataFrame:
        rows = self.taken.get((source_sha256, latest))
        if rows is None:
            if latest:  # the store's latest-reading rule on the case's clinical rows
                rows = latest_readings(self._taken(source_sha256, False))
            else:
                parts = [part for part in (self.base.clinical_rows(source_sha256),
                                           self.tail.clinical_rows(source_sha256)) if part is not None]
                rows = (pd.concat(parts) if len(parts) > 1 else parts[0] if parts
                        else self.tail.rows.take(_NO_ROWS))
            rows = self.taken.setdefault((source_sha256, latest), rows)
        return rows


_NO_ROWS = np.empty(0, dtype=np.intp)


_cache: dict[str, _Grouped] = {}
_lock = threading.Lock()
#: Inside :func:`one_version`: the version of each store answered from so far (path -> grouped rows).
_pinned: ContextVar[dict[str, _Grouped] | None] = ContextVar("ecgreview_pinned_store_versions", default=None)


@contextmanager
def one_version() -> Iterator[None]:
    """Answer every question about a store inside the block from one version of it: the first one read there.

    A page run asks for the case's readings several times; while other readers save, each ask would
    otherwise find a new version and group the whole store again, and the panels of one page would
    show different versions. The block's first question reads (or finds cached) the version it
    answers from; later ones in the block (in this thread or context) reuse it. Outside a block
    every question sees the store as it is now.
    """
    token = _pinned.set({})
    try:
        yield
    finally:
        _pinned.reset(token)


def _stamp(path: Path) -> object:
    """The store's stamp (None when it does not exist); for a path that cannot even be looked at, a value
    equal to no other (never cached: :func:`read_reviews` then says what is wrong)."""
    try:
        return StoreStamp.of(path)
    except OSError:
        return object()


def _group(path: Path, previous: _Grouped | None) -> _Grouped:
    stamp = _stamp(path)  # taken before reading: a save in between only makes the next call read again
    parts = read_review_parts(path)
    if previous is not None and parts.base_key is not None and previous.base_key == parts.base_key:
        base = previous.base  # grown from the same whole parse: its grouping and the cases taken from it hold
    else:
        base = _Part.of(parts.base)
    return _Grouped(stamp, parts.base_key, base, _Part.of(parts.tail))


def _grouped(reviews_path: str | os.PathLike[str]) -> _Grouped:
    path = Path(reviews_path).absolute()
    key = str(path)
    pins = _pinned.get()
    if pins is not None and key in pins:
        return pins[key]
    with _lock:
        cached = _cache.get(key)
    if cached is None or cached.stamp != _stamp(path):
        cached = _group(path, cached)
        with _lock:
            if key not in _cache and len(_cache) >= _MAX_STORES:
                _cache.pop(next(iter(_cache)))
            _cache[key] = cached
    if pins is not None:
        pins[key] = cached
    return cached


def store_version(reviews_path: str | os.PathLike[str]) -> object:
    """The version of the store (:class:`~ecgreview.review.store.StoreStamp`, None: no store yet) that
    :func:`case_readings` and :func:`case_history` answer from now (inside :func:`one_version`: the block's),
    a key for what is worked out from those readings.

    Raises
    ------
    ReviewStoreError
        The store cannot be read (as :func:`~ecgreview.review.store.read_reviews`).
    """
    return _grouped(reviews_path).stamp


def case_readings(reviews_path: str | os.PathLike[str], source_sha256: str) -> pd.DataFrame:
    """The latest clinical reading per reader of one case (rows of the review store, in save order).

    The same rows as ``latest_readings(read_reviews(reviews_path), source_sha256)``; an empty frame
    with the store's columns when the case has none.

    Raises
    ------
    ReviewStoreError
        The store cannot be read (as :func:`~ecgreview.review.store.read_reviews`).
    """
    return _grouped(reviews_path).rows_of(source_sha256, latest=True)


def case_history(reviews_path: str | os.PathLike[str], source_sha256: str) -> pd.DataFrame:
    """Every clinical reading of one case, corrections included (rows of the review store, in save order).

    The same rows as ``clinical_readings(read_reviews(reviews_path))`` of that case; teaching answers
    are not among them.

    Raises
    ------
    ReviewStoreError
        The store cannot be read (as :func:`~ecgreview.review.store.read_reviews`).
    """
    return _grouped(reviews_path).rows_of(source_sha256, latest=False)
