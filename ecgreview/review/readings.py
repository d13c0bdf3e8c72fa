"""A case's latest clinical readings from a review store, worked out once per version of the store.

The Review page asks for the readings of the case on screen several times a run (the other readers'
table, whether an adjudication is due, the export choices), and every reader's session asks again on
every run, while the store changes only when someone saves. Here the store's latest clinical
readings (:func:`ecgreview.review.protocol.latest_readings`, the one rule) are grouped by case once
per version of the file (its inode, size and modification time: :class:`~ecgreview.review.store.StoreStamp`),
so that each later question costs a ``stat`` and a dictionary lookup.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pandas as pd

from ecgreview.review.protocol import latest_readings
from ecgreview.review.store import StoreStamp, read_reviews

__all__ = ["case_readings"]

_MAX_STORES = 4
_cache: dict[str, tuple[StoreStamp | None | object, dict[str, pd.DataFrame], pd.DataFrame]] = {}
_lock = threading.Lock()


def _stamp(path: Path) -> StoreStamp | None | object:
    """The store's stamp; for a path that cannot even be looked at, a value equal to no other (never cached:
    :func:`read_reviews` then says what is wrong)."""
    try:
        return StoreStamp.of(path)
    except OSError:
        return object()


def _by_case(path: Path) -> tuple[StoreStamp | None | object, dict[str, pd.DataFrame], pd.DataFrame]:
    stamp = _stamp(path)  # taken before reading: a save in between only makes the next call read again
    latest = latest_readings(read_reviews(path))
    groups = {str(sha): rows for sha, rows in latest.groupby("source_sha256", sort=False)}
    return stamp, groups, latest.iloc[0:0]


def case_readings(reviews_path: str | os.PathLike[str], source_sha256: str) -> pd.DataFrame:
    """The latest clinical reading per reader of one case (rows of the review store, in save order).

    The same rows as ``latest_readings(read_reviews(reviews_path), source_sha256)``; an empty frame
    with the store's columns when the case has none.

    Raises
    ------
    ReviewStoreError
        The store cannot be read (as :func:`~ecgreview.review.store.read_reviews`).
    """
    path = Path(reviews_path).absolute()
    key = str(path)
    with _lock:
        cached = _cache.get(key)
    if cached is None or cached[0] != _stamp(path):
        cached = _by_case(path)
        with _lock:
            if key not in _cache and len(_cache) >= _MAX_STORES:
                _cache.pop(next(iter(_cache)))
            _cache[key] = cached
    rows = cached[1].get(source_sha256)
    return (rows if rows is not None else cached[2]).copy()  # a copy: the cached rows stay as read
