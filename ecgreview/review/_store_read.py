"""Reading the review CSV: the whole store (cached per version of the file), or the rows appended after a byte.

Private: :mod:`ecgreview.review.store` re-exports the public names (:func:`read_reviews`,
:func:`read_review_tail`, :class:`StoreStamp`, :func:`reviews_for_case`, :func:`latest_reviews`) and
is the module to import; its docstring states the guarantees (cells by the file's own header, UTF-8
only, malformed rows skipped and reported, formula guards removed).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecgreview.errors import ReviewStoreError
from ecgreview.review._store_csv import _parse
from ecgreview.review._store_schema import NUMERIC_COLUMNS, REVIEW_COLUMNS
from ecgreview.security.spreadsheet import unguard_text

# Log under the public module's name, as before the split.
logger = logging.getLogger("ecgreview.review.store")

__all__ = ["StoreStamp", "latest_reviews", "read_review_tail", "read_reviews", "reviews_for_case"]

_CACHE_SIZE = 4
_cache: dict[str, tuple[tuple[int, int, int], pd.DataFrame]] = {}
_cache_lock = threading.Lock()


def read_reviews(path: str | os.PathLike[str], *, strict: bool = False) -> pd.DataFrame:
    """All rows of the review CSV in save order; a missing or empty file gives no rows.

    Parsed once per change of the file: the result is cached by (inode, size,
    modification time in ns), so rereading an unchanged store costs a ``stat``.

    Parameters
    ----------
    strict : bool
        Raise on a malformed row instead of skipping it.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REVIEW_COLUMNS` (then any columns of a newer schema the file holds),
        all ``str`` (empty cells and columns an older file lacks ``""``), formula guards
        removed. ``frame.attrs["skipped"]`` lists the malformed rows left out as
        ``"line N: reason"`` (a partial row of an interrupted save, or one in progress).

    Raises
    ------
    ReviewStoreError
        Unreadable file, not UTF-8 (naming the line), a header that is not a review
        store's, or ``strict`` and a malformed row.
    """
    store = Path(path)
    frame = _read_cached(store)
    skipped = frame.attrs["skipped"]
    if skipped and strict:
        raise ReviewStoreError(store, f"{len(skipped)} malformed row(s), first at {skipped[0]}")
    copy = frame.copy(deep=False)  # copy-on-write: callers may change theirs freely
    copy.attrs = {"skipped": list(skipped)}
    return copy


def _read_cached(store: Path) -> pd.DataFrame:
    key = str(store.absolute())
    try:
        with store.open("rb") as handle:
            status = os.fstat(handle.fileno())
            stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
            with _cache_lock:
                cached = _cache.get(key)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            data = handle.read(status.st_size)
    except FileNotFoundError:
        return _frame(store, b"")
    except OSError as exc:
        raise ReviewStoreError(store, f"cannot read the review store: {exc.strerror or exc}") from exc
    frame = _frame(store, data)
    with _cache_lock:
        _cache.pop(key, None)
        _cache[key] = (stamp, frame)
        while len(_cache) > _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
    return frame


def _frame(store: Path, data: bytes) -> pd.DataFrame:
    """The frame of ``data`` (see :func:`read_reviews`), cells by the file's own header."""
    header, rows, skipped = _parse(store, data)
    if skipped:
        logger.warning("%s: skipped %d malformed row(s): %s", store, len(skipped), "; ".join(skipped))
    columns = [*REVIEW_COLUMNS, *(column for column in header if column not in REVIEW_COLUMNS)]
    by_name = dict(zip(header, zip(*rows))) if rows else {}
    empty = ("",) * len(rows)
    frame = pd.DataFrame({column: _unguard_all(column, by_name.get(column, empty)) for column in columns},
                         columns=columns, dtype=str)
    frame.attrs["skipped"] = skipped
    return frame


def _unguard_all(column: str, cells: Sequence[str]) -> list[str]:
    if column in NUMERIC_COLUMNS:
        return list(cells)
    return [unguard_text(cell) for cell in cells]


@dataclass(frozen=True)
class StoreStamp:
    """Which version of a review store was read: its inode, size and modification time (ns)."""

    inode: int
    size: int
    modified_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> StoreStamp | None:
        """The store's stamp now; None when it does not exist."""
        try:
            status = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(status.st_ino, status.st_size, status.st_mtime_ns)


def read_review_tail(path: str | os.PathLike[str], *, start: int) -> tuple[pd.DataFrame, int]:
    """The rows appended to the store after byte ``start`` (the end of a row), and where they end.

    For a reader that has read the store up to ``start`` and follows what is appended (rows are
    only ever appended): it reads the header line and the new bytes, never the whole file. A row
    still being written (no line end yet) is left for the next call: the returned end is the end
    of the last complete line (the one place that rule is written). ``start=0`` reads every
    complete row, for a reader that starts following the store.

    Returns
    -------
    rows, end : pandas.DataFrame, int
        As :func:`read_reviews` (formula guards removed), and the offset to pass next time.

    Raises
    ------
    ReviewStoreError
        The store cannot be read, or ``start`` is past its end (it was replaced: read it whole).
    """
    store = Path(path)
    try:
        with store.open("rb") as handle:
            header = handle.readline()
            size = os.fstat(handle.fileno()).st_size
            start = start or len(header)
            if start > size or start < len(header):
                raise ReviewStoreError(store, f"cannot follow the store from byte {start} (it holds {size})")
            handle.seek(start)
            tail = handle.read(size - start)
    except OSError as exc:
        raise ReviewStoreError(store, f"cannot read the review store: {exc.strerror or exc}") from exc
    complete = tail[:tail.rfind(b"\n") + 1]
    return _frame(store, header + complete), start + len(complete)


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
