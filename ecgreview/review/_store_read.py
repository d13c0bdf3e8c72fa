"""Reading the review CSV: the whole store (cached per version of the file), or the rows appended after a byte.

Private: :mod:`ecgreview.review.store` re-exports the public names (:func:`read_reviews`,
:func:`read_review_tail`, :class:`StoreStamp`, :func:`reviews_for_case`, :func:`latest_reviews`) and
is the module to import; its docstring states the guarantees (cells by the file's own header, UTF-8
only, malformed rows skipped and reported, formula guards removed).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import pandas as pd
import pyarrow as pa

from ecgreview.errors import ReviewStoreError
from ecgreview.review._store_csv import _parse
from ecgreview.review._store_schema import NUMERIC_COLUMNS, REVIEW_COLUMNS
from ecgreview.security.spreadsheet import unguard_text

# Log under the public module's name, as before the split.
logger = logging.getLogger("ecgreview.review.store")

__all__ = ["StoreParts", "StoreStamp", "latest_reviews", "read_review_parts", "read_review_tail", "read_reviews",
           "reviews_for_case"]

_CACHE_SIZE = 4
_cache: dict[str, _Version] = {}
_cache_lock = threading.Lock()


def read_reviews(path: str | os.PathLike[str], *, strict: bool = False) -> pd.DataFrame:
    """All rows of the review CSV in save order; a missing or empty file gives no rows.

    Parsed once per change of the file: the result is cached by (inode, size,
    modification time in ns), so rereading an unchanged store costs a ``stat``; after a
    save only the bytes appended are parsed (:func:`_read_cached`).

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
    return _shallow(frame)


class StoreParts(NamedTuple):
    """One version of a review store as two frames, whose rows in turn are :func:`read_reviews`' rows (same
    columns; ``tail``'s index goes on from ``base``'s)."""

    #: The rows of the last whole parse of the file and those joined to them since: the same rows for every version
    #: until the rows read since pass :data:`_MAX_RECENT_ROWS` and join them, or the file is parsed whole again
    #: (when it was not only appended to).
    base: pd.DataFrame
    #: The rows read since (at most :data:`_MAX_RECENT_ROWS` and a save's partial rows): a few, rebuilt per version.
    tail: pd.DataFrame
    #: Equal for the versions that share ``base`` (what is worked out from ``base`` holds for all of them).
    base_key: object


def read_review_parts(path: str | os.PathLike[str]) -> StoreParts:
    """The store's current version as the rows parsed before (its last whole parse, and the rows joined to them once
    per :data:`_MAX_RECENT_ROWS`) and the rows read since.

    For a reader that works out something per row (a case's rows, say) and keeps it from version to version:
    only ``tail`` is new in a version that grew from the last one, so the work per save is that of its rows, not
    of the store's. ``attrs["skipped"]`` of ``tail`` is :func:`read_reviews`'.

    Raises
    ------
    ReviewStoreError
        As :func:`read_reviews`.
    """
    store = Path(path)
    version = _read_version(store)
    if version is None:
        empty = _parsed_frame(store, b"")
        return StoreParts(_shallow(empty), _shallow(empty), None)
    return StoreParts(_shallow(version.base), _shallow(version.tail), version.base_key)


def _shallow(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy that shares the cells (copy-on-write: callers may change theirs freely), with its own ``attrs``."""
    copy = frame.copy(deep=False)
    copy.attrs = {"skipped": list(frame.attrs.get("skipped", ()))}
    return copy


@dataclass(frozen=True)
class _Version:
    """One version of a store as read: its rows, and what the next read needs to parse only what was appended."""

    stamp: tuple[int, int, int]
    #: The header's line, as bytes (the next read checks it is still the file's), and its cells.
    header: bytes
    columns: tuple[str, ...]
    #: Bytes up to the end of the last well-formed row that ends its line (:class:`~ecgreview.review._store_csv.Parsed`).
    settled: int
    settled_lines: int
    #: The malformed rows before ``settled`` (final: a well-formed row follows them).
    settled_skipped: tuple[str, ...]
    #: The bytes just before ``settled`` (the next read checks they did not change).
    mark: bytes
    #: The settled rows of the last whole parse and of the last join (one frame of one chunk per column, the same
    #: object for every version grown from it: pyarrow's take on a column of two chunks first copies them together,
    #: so a case's rows taken from a frame joined per save copied the whole store), the cells of the rows settled
    #: since, and the frame of those and of the rows after them (``attrs["skipped"]``: the version's malformed rows).
    base: pd.DataFrame
    tail: pd.DataFrame
    recent: tuple[list[str], ...] = ()
    #: The stamp of the version whose read made ``base``: equal for the versions grown from it
    #: (:attr:`StoreParts.base_key`).
    base_key: tuple[int, int, int] | None = None

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """Every row (:func:`read_reviews`), joined when first asked for: a page that asks only for a case's rows
        reads the two parts (:func:`read_review_parts`)."""
        frame = pd.concat([self.base, self.tail], ignore_index=True) if len(self.tail) else self.base.copy(deep=False)
        frame.attrs = {"skipped": list(self.tail.attrs["skipped"])}
        return frame


#: How much of the file before the settled point the next read compares (the last rows: 2-10 of them).
_MARK_BYTES = 4096
#: Rows settled since the base beyond which they join it (:func:`_one_chunk`; the tail stays a few rows).
_MAX_RECENT_ROWS = 256


def _read_cached(store: Path) -> pd.DataFrame:
    """The store's frame for its current version (:func:`_read_version`); the frame of no rows when it does not
    exist."""
    version = _read_version(store)
    return _parsed_frame(store, b"") if version is None else version.frame


def _read_version(store: Path) -> _Version | None:
    """The store's current version, cached per (inode, size, modification time); None: no file. When the file only
    grew since the cached version (same inode, its header and the last 4 KiB before the settled point unchanged),
    only the bytes after that point are parsed and their rows added, so that a save costs the same at 200 rows or
    20,000. The store is append-only; an earlier row changed in place (same inode, not shorter, the last 4 KiB
    before the settled point unchanged) would be seen by a new process, which parses the file whole."""
    key = str(store.absolute())
    try:
        with store.open("rb") as handle:
            status = os.fstat(handle.fileno())
            stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
            with _cache_lock:
                cached = _cache.get(key)
            if cached is not None and cached.stamp == stamp:
                return cached
            version = _extended(store, handle, cached, stamp) if cached is not None else None
            if version is None:
                handle.seek(0)
                version = _whole(store, handle.read(status.st_size), stamp)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReviewStoreError(store, f"cannot read the review store: {exc.strerror or exc}") from exc
    with _cache_lock:
        _cache.pop(key, None)
        _cache[key] = version
        while len(_cache) > _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
    return version


def _whole(store: Path, data: bytes, stamp: tuple[int, int, int]) -> _Version:
    parsed = _parse(store, data)
    _log_skipped(store, parsed.skipped)
    base = _frame(parsed.header, parsed.rows[:parsed.settled_rows])
    base.attrs = {"skipped": []}
    header = data[:data.find(b"\n") + 1]
    return _Version(stamp, header, tuple(parsed.header), parsed.settled, parsed.settled_lines,
                    tuple(parsed.skipped[:parsed.settled_skipped]),
                    data[max(0, parsed.settled - _MARK_BYTES):parsed.settled], base,
                    _tail(base, parsed.header, parsed.rows[parsed.settled_rows:], parsed.skipped), base_key=stamp)


def _tail(base: pd.DataFrame, header: list[str], rows: list[list[str]], skipped: list[str]) -> pd.DataFrame:
    """The frame of ``rows``, the rows after ``base`` (its index goes on from base's), ``skipped`` its malformed
    rows."""
    frame = _frame(header, rows)
    frame.index = pd.RangeIndex(len(base), len(base) + len(rows))
    frame.attrs = {"skipped": list(skipped)}
    return frame


def _extended(store: Path, handle: BinaryIO, cached: _Version, stamp: tuple[int, int, int]) -> _Version | None:
    """The cached version with the rows appended since (None: the file was replaced or rewritten, or not only
    appended to: read it whole)."""
    inode, size, _modified = stamp
    if inode != cached.stamp[0] or not cached.header or cached.settled < len(cached.header) or size < cached.settled:
        return None
    handle.seek(0)
    if handle.read(len(cached.header)) != cached.header:
        return None
    handle.seek(cached.settled - len(cached.mark))
    if handle.read(len(cached.mark)) != cached.mark:
        return None
    tail = handle.read(size - cached.settled)
    parsed = _parse(store, cached.header + tail, line_offset=cached.settled_lines - 1)
    _log_skipped(store, parsed.skipped)
    base, base_key, recent = cached.base, cached.base_key, (*cached.recent, *parsed.rows[:parsed.settled_rows])
    if len(recent) > _MAX_RECENT_ROWS:  # the rows settled since join the base (O(rows) once per 256 rows)
        base = _one_chunk(pd.concat([base, _frame(list(cached.columns), list(recent))], ignore_index=True))
        base_key, recent = stamp, ()
    rows = _tail(base, list(cached.columns), [*recent, *parsed.rows[parsed.settled_rows:]],
                 [*cached.settled_skipped, *parsed.skipped])
    extended = dataclasses.replace(cached, stamp=stamp, base=base, base_key=base_key, tail=rows, recent=recent)
    grown = parsed.settled - len(cached.header)
    if grown <= 0:  # nothing new settled: the same point next time
        return extended
    return dataclasses.replace(
        extended, settled=cached.settled + grown, settled_lines=cached.settled_lines + parsed.settled_lines - 1,
        settled_skipped=(*cached.settled_skipped, *parsed.skipped[:parsed.settled_skipped]),
        mark=(cached.mark + tail[:grown])[-_MARK_BYTES:])


def _one_chunk(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each column's cells in one contiguous array (a joined frame's columns are chunked)."""
    columns = {}
    for name in frame.columns:
        cells = pa.array(frame[name].array)  # the column's Arrow data (a chunked array after a join)
        if isinstance(cells, pa.ChunkedArray):
            cells = cells.combine_chunks()
        columns[name] = pd.array(cells, dtype=frame[name].dtype)
    joined = pd.DataFrame(columns, index=frame.index)
    joined.attrs = {"skipped": []}
    return joined


def _parsed_frame(store: Path, data: bytes) -> pd.DataFrame:
    """The frame of a store's bytes (or its header line and complete rows), ``attrs["skipped"]`` its malformed rows."""
    parsed = _parse(store, data)
    _log_skipped(store, parsed.skipped)
    frame = _frame(parsed.header, parsed.rows)
    frame.attrs["skipped"] = parsed.skipped
    return frame


def _log_skipped(store: Path, skipped: list[str]) -> None:
    if skipped:
        logger.warning("%s: skipped %d malformed row(s): %s", store, len(skipped), "; ".join(skipped))


def _frame(header: list[str], rows: list[list[str]]) -> pd.DataFrame:
    """The frame of parsed rows (see :func:`read_reviews`), cells by the file's own header."""
    columns = [*REVIEW_COLUMNS, *(column for column in header if column not in REVIEW_COLUMNS)]
    by_name = dict(zip(header, zip(*rows))) if rows else {}
    empty = ("",) * len(rows)
    return pd.DataFrame({column: _unguard_all(column, by_name.get(column, empty)) for column in columns},
                        columns=columns, dtype=str)


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
    return _parsed_frame(store, header + complete), start + len(complete)


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
