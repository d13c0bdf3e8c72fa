"""The one formula guard for every CSV the project writes (ecgreview.security.spreadsheet)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from ecgreview.cli.evaluate import evaluate_main
from ecgreview.record import CLASSES
from ecgreview.review import store as reviews
from ecgreview.review.store import NUMERIC_COLUMNS, Review, append_review
from ecgreview.security.spreadsheet import (
    FORMULA_PREFIXES,
    csv_text,
    guard_frame,
    guard_row,
    guard_text,
    guard_value,
    unguard_row,
    unguard_text,
    write_csv,
)

HYPERLINK = '=HYPERLINK("http://evil.example/login","Open the case")'
DDE = "=cmd|' /C calc'!A0"
FORMULAS = (HYPERLINK, DDE, "=2+3", "+1", "-1", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "\uff1d1+1", "\uff0b1")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_gets_a_leading_apostrophe(text: str) -> None:
    assert guard_text(text) == "'" + text
    assert unguard_text(guard_text(text)) == text


@pytest.mark.parametrize("text", ["Sinus rhythm", "", "1dAVb", "a=b", "Dr O'Neil", " =1"])
def test_plain_text_is_left_alone(text: str) -> None:
    assert guard_text(text) == text


def test_apostrophe_is_doubled_so_unguarding_is_exact() -> None:
    assert guard_text("'quoted") == "''quoted"
    for text in ("'quoted", "''", "'=1", *FORMULAS, "plain"):
        assert unguard_text(guard_text(text)) == text


def test_numbers_stay_numbers_and_numeric_columns_keep_number_strings() -> None:
    assert guard_value(-0.25) == -0.25 and guard_value(np.float32(-1.5)) == np.float32(-1.5)
    assert guard_value(-3) == -3 and guard_value(None) is None and np.isnan(guard_value(float("nan")))
    assert guard_value("-0.25", numeric=True) == "-0.25"
    assert guard_value("1e-05", numeric=True) == "1e-05"
    assert guard_value("-0.25") == "'-0.25"  # a text column: a formula to a spreadsheet
    assert guard_value("=1+1", numeric=True) == "'=1+1"  # not a number, whatever the column
    assert guard_value("-inf", numeric=True) == "'-inf"


def test_review_store_cells_follow_this_guard(tmp_path: Path) -> None:
    """The store's rule is this guard (a drop-in: the store may switch to guard_text / unguard_text)."""
    path = tmp_path / "reviews.csv"
    for number, comment in enumerate((*FORMULAS[:6], "'quoted", "plain", "-- abnormal --")):
        append_review(path, Review.create(
            reader="Dr A", reader_calls=dict.fromkeys(CLASSES, "absent"), opinions_seen=False, comment=comment,
            source_sha256=hashlib.sha256(str(number).encode()).hexdigest(), probabilities=[0.5] * len(CLASSES)))
        with path.open(encoding="utf-8", newline="") as handle:
            row = list(csv.DictReader(handle))[-1]
        assert row["comment"] == guard_text(comment)
        assert all(row[column] == guard_value(row[column], numeric=True) for column in NUMERIC_COLUMNS)
    assert list(reviews.read_reviews(path)["comment"])[-3:] == ["'quoted", "plain", "-- abnormal --"]


def test_rows_round_trip_through_guard_and_unguard() -> None:
    row = {"source_path": "-x.dcm", "error": "=2+3", "prob_AF": "-0.5", "pseudonym": "'P1"}
    guarded = guard_row(row, numeric_columns={"prob_AF"})
    assert guarded == {"source_path": "'-x.dcm", "error": "'=2+3", "prob_AF": "-0.5", "pseudonym": "''P1"}
    assert unguard_row(guarded) == row


def test_frame_text_index_and_headers_are_guarded_numbers_are_not() -> None:
    frame = pd.DataFrame({"reader": [HYPERLINK, "Dr B"], "kappa": [-0.25, 0.5], "cases": [3, 4],
                          "note": ["-1", None]}, index=pd.Index(["=x", "y"], name="@i"))
    guarded = guard_frame(frame)
    assert list(guarded["reader"]) == ["'" + HYPERLINK, "Dr B"]
    assert list(guarded["kappa"]) == [-0.25, 0.5] and list(guarded["cases"]) == [3, 4]
    assert guarded["note"].iloc[0] == "'-1" and pd.isna(guarded["note"].iloc[1])
    assert list(guarded.index) == ["'=x", "y"] and guarded.index.name == "'@i"
    assert list(frame["reader"]) == [HYPERLINK, "Dr B"]  # the input is not modified
    cells = list(csv.reader(io.StringIO(csv_text(frame, index=True))))
    assert cells[0] == ["'@i", "reader", "kappa", "cases", "note"]
    assert cells[1] == ["'=x", "'" + HYPERLINK, "-0.25", "3", "'-1"]


def test_multi_index_labels_are_guarded() -> None:
    index = pd.MultiIndex.from_tuples([("AF", "=evil")], names=["class", "source"])
    frame = pd.DataFrame({"value": [1.0]}, index=index)
    assert list(csv.reader(io.StringIO(csv_text(frame, index=True))))[1] == ["AF", "'=evil", "1.0"]


def test_rows_are_written_with_their_columns(tmp_path: Path) -> None:
    path = write_csv([{"statement": "=2+3", "cases": 2}, {"statement": "Sinus", "cases": -1}], tmp_path / "r.csv")
    assert path.read_text(encoding="utf-8") == "statement,cases\n'=2+3,2\nSinus,-1\n"
    assert write_csv([], tmp_path / "e.csv", columns=["a"]).read_text(encoding="utf-8") == "a\n"


# -- end to end: evaluate --out ---------------------------------------------------------------------------------------

_START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _hostile_reviews(path: Path) -> Path:
    """Two readers whose names, pseudonyms, file names, comments and statements hold formulas."""
    readers = (HYPERLINK, DDE)
    minute = 0
    for index in range(6):
        for number, reader in enumerate(readers):
            minute += 1
            af = "present" if (index + number) % 3 == 0 else "absent"  # readers disagree: kappa and discordance
            append_review(path, Review.create(
                reader=reader, reader_calls=dict.fromkeys(CLASSES, "absent") | {"AF": af},
                source_sha256=hashlib.sha256(f"case {index}".encode()).hexdigest(),
                case_pseudonym=("=2+3", "+1", "-1", "@SUM(A1)", "\t=1", "P6")[index],
                source_name=f"=HYPERLINK(\"http://evil.example/{index}\").dcm", opinions_seen=True,
                probabilities=dict.fromkeys(CLASSES, 0.01) | {"AF": 0.9 if index % 2 else 0.05},
                device_calls=dict.fromkeys(CLASSES, "absent"), comment="=2+3",
                device_statements=["=cmd|' /C calc'!A0", "-- unmapped statement --", "@SUM(1,2)"],
                saved_at_utc=_START + timedelta(minutes=minute)))
    return path


def _formula_cells(path: Path) -> list[str]:
    """Cells that a spreadsheet would run: starting with a formula character and not a plain number."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(cell)]


def test_evaluate_out_writes_no_formula_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(go.Figure, "write_image", lambda figure, path, **options: Path(path).write_bytes(b"-"))
    store = _hostile_reviews(tmp_path / "reviews.csv")
    out_dir = tmp_path / "out"
    assert evaluate_main([store], out_dir=out_dir, out=io.StringIO()) == 0
    written = {path.name: path for path in out_dir.glob("*.csv")}
    assert {"kappa.csv", "discordant.csv", "unmapped_statements.csv", "table1.csv"} <= set(written)
    for path in written.values():
        assert _formula_cells(path) == [], path.name
    kappa = written["kappa.csv"].read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in kappa and "'=cmd|" in kappa  # the readers are there, guarded
    assert "'=cmd|" in written["unmapped_statements.csv"].read_text(encoding="utf-8")
    discordant = written["discordant.csv"].read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in discordant and "'+1" in discordant
    assert not pd.read_csv(written["kappa.csv"])["kappa"].isna().all()  # numbers stay numbers
