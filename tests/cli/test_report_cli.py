"""``python -m ecgreview report FILE --out report.pdf [--reviews REVIEWS.csv]``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecgreview.cli import main
from ecgreview.examples import DEMO_CASES_DIR
from ecgreview.io import read_ecg
from ecgreview.record import CLASSES
from ecgreview.review.store import Review, append_review

CASE = Path(DEMO_CASES_DIR) / "Q0050.hea"  # 15 s: the report prints its first 10 s


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_MODELS_DIR", str(tmp_path / "no-models"))  # no DNN weights: nothing to load
    return tmp_path / "home"


def _store(tmp_path: Path) -> Path:
    store = tmp_path / "reviews.csv"
    record = read_ecg(CASE)
    append_review(store, Review.create(
        reader="Dr Cli", reader_calls={name: "absent" for name in CLASSES}, source_sha256=record.source_sha256,
        opinions_seen=True, comment="printed from the command line"))
    return store


def _is_pdf(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-32:]


def test_report_of_a_reading(home, tmp_path, capsys):
    out = tmp_path / "report.pdf"
    code = main(["report", str(CASE), "--out", str(out), "--reviews", str(_store(tmp_path)), "--page", "Letter"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert _is_pdf(out)
    said = r"wrote .*report\.pdf \(Letter landscape; the reading of Dr Cli saved \d{4}-\d\d-\d\d"
    assert re.search(said, captured.out)
    assert b"/MediaBox [ 0 0 792 612 ]" in out.read_bytes()


def test_report_without_a_reading_uses_the_configured_store(home, tmp_path, capsys):
    out = tmp_path / "unread.pdf"
    assert main(["report", str(CASE), "--out", str(out)]) == 0
    assert f"no reading in {home / 'reviews.csv'}" in capsys.readouterr().out
    assert _is_pdf(out) and b"/MediaBox [ 0 0 841.88976" in out.read_bytes()  # A4: 297 x 210 mm in points


def test_report_refuses_a_missing_store_an_unknown_reader_and_a_bad_file(home, tmp_path, capsys):
    out = tmp_path / "report.pdf"
    assert main(["report", str(CASE), "--out", str(out), "--reviews", str(tmp_path / "absent.csv")]) == 2
    assert "absent.csv: no such review store" in capsys.readouterr().err
    store = str(_store(tmp_path))
    assert main(["report", str(CASE), "--out", str(out), "--reviews", store, "--reader", "Dr Nobody"]) == 2
    assert "Dr Nobody has no clinical reading of this ECG" in capsys.readouterr().err
    broken = tmp_path / "broken.hea"
    broken.write_text("not a header\n")
    assert main(["report", str(broken), "--out", str(out)]) == 2
    assert "broken.hea" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["report", str(CASE), "--out", str(out), "--page", "A3"])
