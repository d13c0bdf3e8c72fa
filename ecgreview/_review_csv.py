"""Low-level I/O of the review CSV: line encoding, header and row checks, durable locked append.

Schema-free: the caller (:mod:`ecgreview.reviews`, which owns ``REVIEW_COLUMNS`` and the
formula guard) passes the expected columns. See that module's docstring for the guarantees.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from ecgreview.errors import ReviewStoreError

# Log under the public module's name, as before the split.
logger = logging.getLogger("ecgreview.reviews")


def _is_uuid(value: object) -> bool:
    try:
        return str(uuid.UUID(str(value))) == value
    except ValueError:
        return False


def _csv_line(cells: Sequence[str]) -> str:
    # QUOTE_MINIMAL leaves a bare "\r" unquoted under lineterminator "\n"; quote such a row fully.
    quoting = csv.QUOTE_ALL if any("\r" in cell for cell in cells) else csv.QUOTE_MINIMAL
    buffer = io.StringIO()
    csv.writer(buffer, quoting=quoting, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _header_problem(found: Sequence[str], columns: Sequence[str]) -> str | None:
    if tuple(found) == tuple(columns):
        return None
    missing = [column for column in columns if column not in found]
    extra = [column for column in found if column not in columns]
    parts = ([f"missing columns {', '.join(missing)}"] if missing else []) + (
        [f"unexpected columns {', '.join(extra)}"] if extra else [])
    return "header does not match REVIEW_COLUMNS: " + ("; ".join(parts) or "columns out of order or repeated")


def _append_locked(store: Path, line: bytes, columns: Sequence[str]) -> None:
    """Check the header, end any partial last row, and write ``line``; the caller holds the lock."""
    try:
        existing = store.read_bytes()
    except FileNotFoundError:
        existing = b""
    if existing:
        header = next(csv.reader([existing.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")]), [])
        problem = _header_problem(header, columns)
        if problem:
            raise ReviewStoreError(store, f"{problem}; nothing was written")
        # An odd number of quote characters means a partial row ends inside a quoted field: close it.
        open_quote = existing.count(b'"') % 2 == 1
        prefix = '"\n' if open_quote else ("" if existing.endswith(b"\n") else "\n")
    else:
        prefix = _csv_line(columns)
    _write_durably(store, prefix.encode("utf-8") + line)
    if not existing:
        _fsync_directory(store.parent)


def _write_durably(store: Path, payload: bytes) -> None:
    """Append ``payload`` and fsync; on failure truncate back to the previous size and re-raise."""
    fd = os.open(store, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, start)
                os.fsync(fd)
            except OSError:
                logger.error("%s: could not remove a partly written row after a failed save", store)
            raise
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    if os.name == "nt":  # Windows cannot open a directory for fsync
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(store: Path, data: bytes, columns: Sequence[str]) -> tuple[list[list[str]], list[str]]:
    """Well-formed rows (cells as stored, formula guards kept) and ``"line N: reason"`` for each malformed one."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline=""))
    header = next(reader, None)
    if header is None:
        return [], []
    problem = _header_problem(header, columns)
    if problem:
        raise ReviewStoreError(store, problem)
    rows: list[list[str]] = []
    skipped: list[str] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return rows, skipped
        except csv.Error as exc:
            skipped.append(f"line {reader.line_num}: unparseable row ({exc})")
            continue
        if not cells:
            continue  # a blank line holds no review
        problem = _row_problem(cells, columns)
        if problem:
            skipped.append(f"line {reader.line_num}: {problem}")
        else:
            rows.append(cells)


def _row_problem(cells: list[str], columns: Sequence[str]) -> str | None:
    if len(cells) != len(columns):
        return f"{len(cells)} fields instead of {len(columns)} (a partial row of an interrupted save?)"
    if not _is_uuid(cells[0]):
        return f"review_id {cells[0][:40]!r} is not a UUID"
    try:
        complete = isinstance(json.loads(cells[-1]), dict)
    except ValueError:
        complete = False
    return None if complete else "provenance is not a complete JSON object (a row cut short?)"
