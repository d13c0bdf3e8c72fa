"""Durable append-only CSV files: the one writer of the review store and of the scoring CSVs.

Both files are data of record that a killed process must never corrupt. This module holds what
they share, written once:

* :func:`append_durably`: append bytes, flush and fsync; a failed write (disk full, an I/O
  error) is truncated back, so the file is as before. A file it creates gets a fixed mode
  (whatever the umask) when asked, and its folder is fsynced so the new name survives a crash.
* :func:`complete_end` / :func:`closing_prefix`: where the last complete CSV record ends (a
  newline outside quotes), and what must precede a new row so that it never merges with a row a
  killed writer left torn.
* :func:`drop_torn_row`: cut a torn last row off (the scoring CSV rescores that ECG).
* :func:`read_header_line` / :func:`header_line`: the header, read or written once.

Each file keeps its own format and policy: the review store keeps a torn row (closed, then
skipped and reported by its reader: a review CSV records what happened), the scoring CSV drops
it. Holding the OS lock is the caller's (``filelock.FileLock`` on ``<file>.lock``).
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ecgreview._files import fsync_directory

__all__ = ["append_durably", "closing_prefix", "complete_end", "csv_lines", "drop_torn_row", "header_line",
           "read_header_line"]

logger = logging.getLogger(__name__)

_BINARY = getattr(os, "O_BINARY", 0)


def header_line(columns: Sequence[str]) -> str:
    """The header row of ``columns``, ending in ``\\n``."""
    return csv_lines([columns])


def csv_lines(rows: Iterable[Sequence[str]]) -> str:
    """``rows`` as CSV text (minimal quoting, ``\\n`` line ends)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def read_header_line(path: Path, *, max_bytes: int = 1 << 16) -> tuple[list[str], int] | None:
    """The first line's column names and its length in bytes; None for a missing or empty file.

    Raises
    ------
    ValueError
        The first ``max_bytes`` hold no complete line, or it is not UTF-8.
    """
    try:
        with path.open("rb") as handle:
            start = handle.read(max_bytes)
    except FileNotFoundError:
        return None
    if not start:
        return None
    end = start.find(b"\n")
    if end < 0:
        raise ValueError("no complete header line (a header cut short?)")
    return next(csv.reader([start[:end].decode("utf-8-sig").rstrip("\r")]), []), end + 1


def complete_end(data: bytes) -> int:
    """The offset just past the last complete record of CSV bytes ``data`` (0 when there is none).

    A record ends at a newline outside quotes; a doubled quote inside a quoted field keeps
    the count of quotes even, so the parity of the quotes before a newline tells which it is.
    """
    end = quotes = position = 0
    while (newline := data.find(b"\n", position)) >= 0:
        quotes += data.count(b'"', position, newline)
        position = newline + 1
        if quotes % 2 == 0:
            end = position
    return end


def closing_prefix(after: bytes) -> bytes:
    """What must precede a new row when ``after`` follows the last complete record of a file.

    Empty when ``after`` is empty; a torn row ending inside a quoted field is closed with
    ``"\\n``, one ending outside quotes with ``\\n``: the torn row stays in the file (as a
    malformed record its reader skips) and never merges with the next.
    """
    if not after or complete_end(after) == len(after):
        return b""
    return b'"\n' if after.count(b'"') % 2 == 1 else b"\n"


def drop_torn_row(path: Path) -> bytes:
    """Cut ``path`` back to its last complete record (a run killed mid-row), fsynced; returns what is kept."""
    data = path.read_bytes()
    end = complete_end(data)
    if end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
        logger.warning("%s: dropped a partial last row (%d bytes) of an interrupted run", path, len(data) - end)
    return data[:end]


def append_durably(path: Path, payload: bytes, *, mode: int | None = None) -> None:
    """Append ``payload`` to ``path`` and fsync; on failure truncate back to the previous size and re-raise.

    Parameters
    ----------
    path : Path
        The file; created when missing (its folder must exist), and then its folder is fsynced.
    payload : bytes
        Whole rows (each ending in ``\\n``).
    mode : int, optional
        Permission bits of a file created here, whatever the umask (e.g. ``0o640``); default:
        ``0o666`` less the umask.

    Raises
    ------
    OSError
        The write or fsync failed (the file is as before, unless even the truncation failed: logged).
    """
    flags = os.O_WRONLY | os.O_APPEND | _BINARY
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
        created = True
    except FileExistsError:
        fd = os.open(path, flags)
        created = False
    try:
        if created and mode is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
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
                logger.error("%s: could not remove a partly written row after a failed write", path)
            raise
    finally:
        os.close(fd)
    if created:
        fsync_directory(path.parent)
