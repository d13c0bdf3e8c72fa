"""The scoring CSVs' open step on the one durable writer (issue #20): header once, torn row dropped, other files untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgreview._durable_csv import csv_lines, header_line
from ecgreview.errors import EcgReviewError
from ecgreview.model.batch import ERROR_COLUMNS, _open_table


def test_a_new_file_gets_its_header_and_a_torn_header_is_written_again(tmp_path: Path) -> None:
    new, torn = tmp_path / "new" / "errors.csv", tmp_path / "torn.csv"
    assert _open_table(new, ERROR_COLUMNS) == [] and new.read_text() == "source_path,error\n"
    torn.write_bytes(b"source_pa")  # a run killed while writing the header
    assert _open_table(torn, ERROR_COLUMNS) == [] and torn.read_text() == "source_path,error\n"


def test_a_torn_row_is_dropped_and_the_rows_before_it_kept(tmp_path: Path) -> None:
    path = tmp_path / "errors.csv"
    complete = header_line(ERROR_COLUMNS) + csv_lines([["a.dcm", "'=not a formula"], ["b.dcm", "two\nlines"]])
    path.write_text(complete + 'c.dcm,"cut sho', encoding="utf-8")
    rows = _open_table(path, ERROR_COLUMNS)
    assert rows == [{"source_path": "a.dcm", "error": "=not a formula"}, {"source_path": "b.dcm", "error": "two\nlines"}]
    assert path.read_text(encoding="utf-8") == complete


@pytest.mark.parametrize("content", [b"a,b\n1,2\n", b"a,b"])
def test_another_file_is_refused_and_left_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.csv"
    path.write_bytes(content)
    with pytest.raises(EcgReviewError, match="other.csv: not a scoring file of this version"):
        _open_table(path, ERROR_COLUMNS)
    assert path.read_bytes() == content
