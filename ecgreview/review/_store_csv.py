"""Low-level I/O of the review CSV: strict decoding, header checks, O(1) locked append, migration.

Schema-free: the caller (:mod:`ecgreview.review.store`, which owns ``REVIEW_COLUMNS`` and the
formula guard) passes the expected columns. See that module's docstring for the guarantees.

The file's own header says which columns it holds, and cells are read by name: a file
with fewer columns (an older schema) or more (a newer one) reads whole. An append writes
the row in the file's column order; when the file lacks a column of the row, the file is
first rewritten with the full header (:func:`_migrate`, once, under the lock, after a
byte-exact backup).

An append reads only the header line and the end of the file: every row this module
writes ends with its provenance cell quoted, ``…}"\\n``, a sequence that can only close a
row (inside a quoted field a quote is doubled, and an opening quote follows a comma). The
text after the last such end is all a partial-row repair needs to look at; only when the
tail holds none (rows of older writers with an empty, unquoted provenance) is the whole
file scanned, as before.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from ecgreview._durable_csv import append_durably, closing_prefix, header_line
from ecgreview._files import write_atomically
from ecgreview.errors import ReviewStoreError

# Log under the public module's name, as before the split.
logger = logging.getLogger("ecgreview.review.store")

#: Columns a file must hold to be taken for a review store (whatever its schema version).
CORE_COLUMNS: tuple[str, ...] = ("review_id", "saved_at_utc", "reader", "source_sha256")
#: Permission bits of a new store, its backups: owner read/write, group read (never world).
STORE_MODE = 0o640
_ROW_END = b'}"\n'
_TAIL_BYTES = 1 << 18  # 256 KiB: many rows of a normal store
_MAX_HEADER_BYTES = 1 << 16


def _is_uuid(value: object) -> bool:
    try:
        return str(uuid.UUID(str(value))) == value
    except ValueError:
        return False


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def _csv_line(cells: Sequence[str]) -> str:
    """One CSV row ending in ``\\n``; the last cell is always quoted (the row-end marker ``"\\n``)."""
    # QUOTE_MINIMAL leaves a bare "\r" unquoted under lineterminator "\n"; quote such a row fully.
    bare_return = any("\r" in cell for cell in cells)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL if bare_return else csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(cells[:-1])
    head = buffer.getvalue()[:-1]
    return (head + "," if len(cells) > 1 else "") + _quoted(cells[-1]) + "\n" if cells else "\n"


def _decode(store: Path, data: bytes, *, first_line: int = 1) -> str:
    """``data`` as UTF-8 (a leading BOM dropped); a clear error naming the line otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ReviewStoreError(store, (
            f"line {line}, byte {column}: not UTF-8 (byte 0x{data[exc.start]:02x}); the file was probably re-saved "
            "in another encoding (e.g. Windows-1252 by a spreadsheet). Nothing was read or written: re-save it as "
            "UTF-8 (CSV UTF-8) or restore the last good copy")) from exc


def _decode_complete(store: Path, data: bytes, *, first_line: int = 1) -> tuple[str, int]:
    """As :func:`_decode`, and how many bytes of ``data`` the text holds: a last character cut short at the very
    end (a save still being written, or cut short by a crash) is left out with the partial row it ends, which is
    then skipped as such, instead of making the whole store unreadable."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8"), len(data)
    except UnicodeDecodeError as exc:
        if bom + exc.end == len(data) and exc.reason == "unexpected end of data":
            return _decode(store, data[:bom + exc.start], first_line=first_line), bom + exc.start
    return _decode(store, data, first_line=first_line), len(data)  # raises: which line is not UTF-8


def _header_problem(found: Sequence[str]) -> str | None:
    """Why ``found`` is not the header of a review store, or None."""
    repeated = sorted({name for name in found if list(found).count(name) > 1})
    missing = [name for name in CORE_COLUMNS if name not in found]
    if repeated or missing or any(not name for name in found):
        parts = ([f"missing columns {', '.join(missing)}"] if missing else []) + (
            [f"repeated columns {', '.join(repeated)}"] if repeated else []) + (
            ["an empty column name"] if any(not name for name in found) else [])
        return "not a review store header: " + "; ".join(parts)
    return None


def _read_header(store: Path, handle: io.BufferedReader) -> tuple[list[str], int]:
    """The header's column names and its length in bytes (first line only, bounded).

    Raises ReviewStoreError if it is not a review store's header.
    """
    handle.seek(0)
    start = handle.read(_MAX_HEADER_BYTES)
    end = start.find(b"\n")
    if end < 0:
        raise ReviewStoreError(store, "line 1: no complete header line (a header cut short?); nothing was written")
    header = next(csv.reader([_decode(store, start[:end]).rstrip("\r")]), [])
    problem = _header_problem(header)
    if problem:
        raise ReviewStoreError(store, f"{problem}; nothing was written")
    return header, end + 1


def _repair_prefix(store: Path, handle: io.BufferedReader, size: int, header_bytes: int) -> bytes:
    """What must precede a new row so that it never merges with a partial last row.

    Reads the last :data:`_TAIL_BYTES` of the file; only when they hold no row end
    (``}"\\n``) and the file is longer, the whole body after the header.
    """
    start = max(header_bytes, size - _TAIL_BYTES)
    handle.seek(start)
    tail = handle.read(size - start)
    unfinished = _unfinished_character(tail)
    if unfinished:  # a save cut short inside a character: its first bytes would make the store not UTF-8
        _cut_back(store, size - unfinished)
        tail, size = tail[:-unfinished], size - unfinished
    _check_utf8(store, tail, start, cut=start > header_bytes)
    if tail.endswith(_ROW_END) or not tail:
        return b""
    marker = tail.rfind(_ROW_END)
    if marker >= 0:
        after = tail[marker + len(_ROW_END):]
    elif start > header_bytes:  # no row end in the tail: scan the body from the header on
        handle.seek(header_bytes)
        after = handle.read(size - header_bytes)
    else:
        after = tail
    return closing_prefix(after)


def _unfinished_character(data: bytes) -> int:
    """How many bytes at the end of ``data`` begin a UTF-8 character they do not finish (0 to 3)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: the character began further back
            continue
        length = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
        return back if length > back else 0
    return 0


def _cut_back(store: Path, size: int) -> None:
    """Cut the store back to ``size`` bytes, fsynced: only the first bytes of a character a save cut short left
    (the partial row itself stays, closed by the next row's prefix, and is skipped as such when read)."""
    with store.open("r+b") as handle:
        dropped = os.fstat(handle.fileno()).st_size - size
        handle.truncate(size)
        handle.flush()
        os.fsync(handle.fileno())
    logger.warning("%s: dropped %d byte(s) of a character a cut-short save left unfinished", store, dropped)


def _check_utf8(store: Path, data: bytes, offset: int, *, cut: bool) -> None:
    """Refuse to append to a store whose end is not UTF-8 (re-saved in another encoding)."""
    skip = 0
    while cut and skip < 3 and skip < len(data) and 0x80 <= data[skip] <= 0xBF:
        skip += 1  # the window may start inside a multi-byte character
    try:
        data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReviewStoreError(store, (
            f"byte offset {offset + skip + exc.start}: not UTF-8 (byte 0x{data[skip + exc.start]:02x}); the file was "
            "probably re-saved in another encoding (e.g. Windows-1252 by a spreadsheet); nothing was written: "
            "re-save it as UTF-8 (CSV UTF-8) or restore the last good copy")) from exc


def _append_locked(store: Path, cells: Mapping[str, str], columns: Sequence[str]) -> None:
    """Append one row (``cells`` by column name, formula-guarded); the caller holds the lock.

    A new or empty file gets the header ``columns``. An existing file keeps its header:
    the row is written in its column order (columns this version does not know stay
    empty); when it lacks one of ``columns``, it is migrated first.
    """
    try:
        handle = store.open("rb")
    except FileNotFoundError:
        handle = None
    if handle is None or os.fstat(handle.fileno()).st_size == 0:
        if handle is not None:
            handle.close()
        _write_durably(store, (header_line(columns) + _csv_line([cells[c] for c in columns])).encode("utf-8"))
        return
    with handle:
        header, header_bytes = _read_header(store, handle)
        missing = [column for column in columns if column not in header]
    if missing:
        _migrate(store, header, columns)
    with store.open("rb") as handle:
        header, header_bytes = _read_header(store, handle)
        prefix = _repair_prefix(store, handle, os.fstat(handle.fileno()).st_size, header_bytes)
    line = _csv_line([cells.get(column, "") for column in header]).encode("utf-8")
    _write_durably(store, prefix + line)


def _write_durably(store: Path, payload: bytes) -> None:
    """Append ``payload`` durably (:func:`ecgreview._durable_csv.append_durably`); a new store gets :data:`STORE_MODE`."""
    append_durably(store, payload, mode=STORE_MODE)


def _records(text: str) -> list[tuple[int, str, list[str] | None, str, int]]:
    """Every record after the header: (first line number, raw text, cells or None, csv error, last line number)."""
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(iter(lines[1:]))
    records: list[tuple[int, str, list[str] | None, str, int]] = []
    done = 1
    while True:
        try:
            cells: list[str] | None = next(reader)
            error = ""
        except StopIteration:
            return records
        except csv.Error as exc:
            cells, error = None, str(exc)
        end = 1 + reader.line_num
        records.append((done + 1, "".join(lines[done:end]), cells, error, end))
        done = end


class Parsed(NamedTuple):
    """What :func:`_parse` read: the header, the well-formed rows (cells as stored, guards kept) and ``"line N:
    reason"`` per malformed row; and how far the text is *settled*: up to the end of the last well-formed row
    that ends its line (the header's line when there is none). Rows are only ever appended, so a reader that
    has parsed those bytes need only parse what follows them next time (a partial row after them may still be
    completed or cut back: it is read again)."""

    header: list[str]
    rows: list[list[str]]
    skipped: list[str]
    #: Bytes of the data up to the end of the settled text (0: not even the header ends its line).
    settled: int
    #: Lines in those bytes (the header's included).
    settled_lines: int
    #: How many of ``skipped`` lie in those bytes.
    settled_skipped: int
    #: How many of ``rows`` lie in those bytes (all but a last row that does not end its line).
    settled_rows: int


def _parse(store: Path, data: bytes, *, line_offset: int = 0) -> Parsed:
    """Parse a store's bytes, or its header line followed by the bytes after a settled point (``line_offset``:
    the lines between the two, added to every line number reported).

    Raises
    ------
    ReviewStoreError
        Not UTF-8 (naming the line), or a header that is not a review store's.
    """
    text, used = _decode_complete(store, data, first_line=1 + line_offset)
    first_line = text.split("\n", 1)[0]
    header = next(csv.reader(io.StringIO(first_line.rstrip("\r"))), None)
    if header is None:
        return Parsed([], [], [], 0, 0, 0, 0)
    problem = _header_problem(header)
    if problem:
        raise ReviewStoreError(store, problem)
    rows: list[list[str]] = []
    skipped: list[str] = []
    position = len(first_line) + 1  # characters read so far (past the header's line end, when it has one)
    settled, settled_lines, settled_skipped, settled_rows = (position, 1, 0, 0) if len(text) >= position else (0, 0, 0, 0)
    for line, raw, cells, error, last_line in _records(text):
        position += len(raw)
        if cells is None:
            skipped.append(f"line {line + line_offset}: unparseable row ({error})")
        elif cells:  # a blank line holds no review
            problem = _row_problem(cells, header)
            if problem:
                skipped.append(f"line {line + line_offset}: {problem}")
            else:
                rows.append(cells)
                if raw.endswith("\n"):
                    settled, settled_lines, settled_skipped, settled_rows = position, last_line, len(skipped), len(rows)
    if not settled:
        return Parsed(header, rows, skipped, 0, 0, 0, 0)
    settled_bytes = used - len(text[settled:].encode("utf-8"))  # a BOM is in the data, not in the text
    return Parsed(header, rows, skipped, settled_bytes, settled_lines, settled_skipped, settled_rows)


def _row_problem(cells: list[str], header: Sequence[str]) -> str | None:
    if len(cells) != len(header):
        return f"{len(cells)} fields instead of {len(header)} (a partial row of an interrupted save?)"
    review_id = cells[header.index("review_id")]
    if not _is_uuid(review_id):
        return f"review_id {review_id[:40]!r} is not a UUID"
    if "provenance" not in header:
        return None
    try:
        complete = isinstance(json.loads(cells[header.index("provenance")]), dict)
    except ValueError:
        complete = False
    return None if complete else "provenance is not a complete JSON object (a row cut short?)"


def _migrate(store: Path, header: Sequence[str], columns: Sequence[str]) -> list[str]:
    """Rewrite the store with ``columns`` (plus its unknown columns) after a byte-exact backup.

    Well-formed rows are written cell for cell by name (new columns empty); malformed
    records are kept as they were, character for character. The backup is
    ``<name>.before-<new columns>-<UTC time>.bak`` beside the store. Returns the new header.
    """
    data = store.read_bytes()
    text = _decode(store, data)
    new_header = [*columns, *(column for column in header if column not in columns)]
    added = [column for column in columns if column not in header]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    backup = store.with_name(f"{store.name}.before-schema-upgrade-{stamp}.bak")
    write_atomically(backup, data, mode=STORE_MODE)
    parts = [header_line(new_header)]
    for _line, raw, cells, _error, _last in _records(text):
        if cells and not _row_problem(cells, header):
            named = dict(zip(header, cells))
            parts.append(_csv_line([named.get(column, "") for column in new_header]))
        else:
            parts.append(raw)
    mode = os.stat(store).st_mode & 0o777
    write_atomically(store, "".join(parts).encode("utf-8"), mode=mode)
    logger.warning("%s: upgraded to the current review columns (added %s); the previous file is kept as %s",
                   store, ", ".join(added), backup.name)
    return new_header
