"""The one durable append-only CSV writer (issue #20): record ends, torn rows, fsynced appends that undo a failure."""

from __future__ import annotations

import csv
import errno
import io
import os
import stat
from pathlib import Path

import pytest

from ecgreview._durable_csv import (
    append_durably,
    closing_prefix,
    complete_end,
    csv_lines,
    drop_torn_row,
    header_line,
    read_header_line,
)

ROWS = [["a", "plain"], ["b", 'quoted "word", and\na second line'], ["c", ""]]


def test_complete_end_is_the_end_of_the_last_whole_record() -> None:
    data = (header_line(["id", "text"]) + csv_lines(ROWS)).encode()
    assert complete_end(data) == len(data)
    whole = [len((header_line(["id", "text"]) + csv_lines(ROWS[:count])).encode()) for count in range(4)]
    for cut in range(len(data)):
        assert complete_end(data[:cut]) == max(end for end in [0, *whole] if end <= cut)


@pytest.mark.parametrize(("after", "prefix"), [
    (b"", b""), (b"x,done\n", b""), (b'x,"open field', b'"\n'), (b'x,"open\nfield\n', b'"\n'), (b"x,cut", b"\n"),
])
def test_closing_prefix_ends_a_torn_row_without_merging(after: bytes, prefix: bytes) -> None:
    assert closing_prefix(after) == prefix
    records = list(csv.reader(io.StringIO((after + prefix + b"next,row\n").decode())))
    assert records[-1] == ["next", "row"]


def test_drop_torn_row_keeps_every_complete_record(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    complete = (header_line(["id", "text"]) + csv_lines(ROWS)).encode()
    path.write_bytes(complete + b'd,"killed while writ')
    assert drop_torn_row(path) == complete and path.read_bytes() == complete
    assert drop_torn_row(path) == complete  # nothing torn: nothing changes


def test_append_creates_with_the_mode_asked_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "store.csv"
    old = os.umask(0o000)
    try:
        append_durably(path, header_line(["id", "text"]).encode(), mode=0o640)
    finally:
        os.umask(old)
    append_durably(path, csv_lines(ROWS).encode())
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert read_header_line(path) == (["id", "text"], len("id,text\n"))
    assert list(csv.reader(io.StringIO(path.read_text()))) == [["id", "text"], *ROWS]
    assert read_header_line(tmp_path / "missing.csv") is None


def test_a_failed_fsync_leaves_the_file_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.csv"
    append_durably(path, header_line(["id", "text"]).encode())
    before = path.read_bytes()
    real = os.fsync
    calls: list[int] = []

    def full_disk(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        append_durably(path, csv_lines(ROWS).encode())
    assert path.read_bytes() == before and len(calls) == 2  # the truncation back was fsynced too


def test_a_header_cut_short_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.csv"
    path.write_bytes(b"id,te")
    with pytest.raises(ValueError, match="no complete header line"):
        read_header_line(path)
