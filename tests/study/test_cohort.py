"""The cohort study: Table 1 of the pilot, reference choices, kappa, discordant cases, Figure 1, CLI."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import os
import shutil
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from ecgreview.cli.evaluate import evaluate_main
from ecgreview.cli.evaluate import register as register_cli
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.store import REVIEW_COLUMNS, Review, append_review
from ecgreview.study.cohort import load_cohort
from ecgreview.study.cohort_report import (
    cohort_table,
    discordant_cases,
    format_table,
    inter_reader_kappa,
    probability_figure,
    unmapped_statements,
)

_START = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


def case_sha256(index: int) -> str:
    """The SHA-256 standing in for case ``index``'s ECG file."""
    return hashlib.sha256(f"synthetic case {index}".encode()).hexdigest()


def add_review(path: Path, index: int, *, reader: str = "Dr A", calls: Mapping[str, str] | None = None,
               probabilities: Mapping[str, float] | None = None, device: Mapping[str, str] | None = None,
               statements: Sequence[str] = ("Sinus rhythm",), role: str = "reader", minute: int = 0) -> None:
    """Append one review of case ``index``: every class absent unless ``calls`` says otherwise."""
    append_review(path, Review.create(
        reader=reader, role=role, reader_calls=dict.fromkeys(CLASSES, "absent") | dict(calls or {}),
        source_sha256=case_sha256(index), case_pseudonym=f"P{index:03d}", source_name=f"ecg{index:03d}.dcm",
        opinions_seen=True, probabilities=dict.fromkeys(CLASSES, 0.01) | dict(probabilities or {}),
        device_calls=dict.fromkeys(CLASSES, "absent") | dict(device or {}), device_statements=statements,
        saved_at_utc=_START + timedelta(minutes=minute)))


def write_pilot(path: Path, readers: Sequence[str] = ("Dr A", "Dr B")) -> Path:
    """40 cases whose counts are the pilot's Table 1 (readers agree, so consensus = each reader).

    LBBB: cases 0-9 (device misses case 9). AF: cases 10-28 (DNN misses 27 and 28 with
    p = 0.2, and calls case 30 with p = 0.6). Probabilities spread around 0.9 and 0.02.
    """
    minute = 0
    for index in range(40):
        lbbb, af = index < 10, 10 <= index < 29
        spread = (index % 7) / 100
        probabilities = {"LBBB": 0.85 + spread if lbbb else 0.01 + spread / 10,
                         "AF": {27: 0.2, 28: 0.25, 30: 0.6}.get(index, 0.88 + spread if af else 0.02 + spread)}
        device_lbbb = lbbb and index != 9
        device = {"LBBB": "definite" if device_lbbb else "absent", "AF": "definite" if af else "absent"}
        statements = ["Left bundle branch block"] if device_lbbb else ["Atrial fibrillation"] if af else ["Sinus rhythm"]
        calls = {"LBBB": "present" if lbbb else "absent", "AF": "present" if af else "absent"}
        for reader in readers:
            minute += 1
            add_review(path, index, reader=reader, calls=calls, probabilities=probabilities, device=device,
                       statements=statements, minute=minute)
    return path


@pytest.fixture
def pilot_csv(tmp_path: Path) -> Path:
    return write_pilot(tmp_path / "reviews.csv")


@pytest.fixture
def no_static_export(monkeypatch):
    """Skip kaleido (seconds per image) where a test is not about the PNG/SVG."""
    def fake_write_image(figure, path, **options):
        Path(path).write_bytes(b"stand-in")
    monkeypatch.setattr(go.Figure, "write_image", fake_write_image)


def test_pilot_table_1_counts_and_scores(pilot_csv):
    table = cohort_table(load_cohort(pilot_csv))
    built_in_lbbb, dnn_af = table.loc[("LBBB", "Built-in")], table.loc[("AF", "DNN")]
    assert (built_in_lbbb["positives"], built_in_lbbb["false_positives"], built_in_lbbb["false_negatives"]) == (10, 0, 1)
    assert round(built_in_lbbb["f1"], 3) == 0.947
    assert (dnn_af["positives"], dnn_af["false_positives"], dnn_af["false_negatives"]) == (19, 1, 2)
    assert round(dnn_af["f1"], 3) == 0.919
    assert table.loc[("LBBB", "DNN"), "f1"] == 1.0 and table.loc[("AF", "Built-in"), "f1"] == 1.0
    assert table.loc[("SB", "DNN"), "undefined"] == "precision, sensitivity, f1"
    assert np.isnan(table.loc[("SB", "DNN"), "f1"])


def test_pilot_table_1_printed(pilot_csv):
    text = format_table(cohort_table(load_cohort(pilot_csv)))
    lines = text.splitlines()
    assert lines[2] == "Class    |    n    P   FP   FN     F1   Sens   Spec   Prec |    n    P   FP   FN     F1   Sens   Spec   Prec"
    assert "LBBB     |   40   10    0    1  0.947  0.900  1.000  1.000 |   40   10    0    0  1.000  1.000  1.000  1.000" in lines
    assert "AF       |   40   19    0    0  1.000  1.000  1.000  1.000 |   40   19    1    2  0.919  0.895  0.952  0.944" in lines
    assert "SB       |   40    0    0    0    n/a    n/a  1.000    n/a |   40    0    0    0    n/a    n/a  1.000    n/a" in lines
    assert lines[-1] == ("n/a = undefined (zero denominator): precision, sensitivity, f1 for 1dAVb Built-in, "
                         "1dAVb DNN, RBBB Built-in, RBBB DNN, SB Built-in, SB DNN, ST Built-in, ST DNN")


def test_cli_prints_table_and_writes_outputs(pilot_csv, tmp_path, capsys, no_static_export):
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["evaluate", str(pilot_csv), "--out", str(tmp_path / "out")])
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert "Table 1. Reference: reader consensus (2 readers, 0 adjudicated cases); 40 cases" in printed
    assert "LBBB     |   40   10    0    1  0.947" in printed
    names = {path.name for path in (tmp_path / "out").iterdir()}
    assert names == {"table1.txt", "table1.csv", "kappa.csv", "fleiss_kappa.csv", "discordant.csv",
                     "unmapped_statements.csv", "figure1.html", "figure1.png", "figure1.svg"}
    assert "plotly.js" in (tmp_path / "out" / "figure1.html").read_text(encoding="utf-8")[:5000] or \
        len((tmp_path / "out" / "figure1.html").read_bytes()) > 1_000_000  # plotly.js embedded: opens offline


@pytest.mark.parametrize("make, reason", [
    (lambda tmp: tmp / "missing.csv", "missing.csv: no such file"),
    (lambda tmp: _header_only(tmp / "empty.csv"), "empty.csv: no reviews to evaluate"),
    (lambda tmp: _bad_header(tmp / "bad.csv"), "bad.csv: not a review store header: missing columns review_id"),
])
def test_cli_bad_input_exits_2_with_path_and_reason(tmp_path, capsys, make, reason):
    assert evaluate_main([make(tmp_path)], out_dir=tmp_path / "out", out=io.StringIO()) == 2
    assert reason in capsys.readouterr().err


def test_cli_bad_reference_exits_2(pilot_csv, tmp_path, capsys):
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient,AF\nx,1\n", encoding="utf-8")
    assert evaluate_main([pilot_csv], reference=clinical, out_dir=tmp_path / "out", out=io.StringIO()) == 2
    assert "clinical.csv: missing one of source_sha256, case_pseudonym" in capsys.readouterr().err
    assert evaluate_main([pilot_csv], reference="reader:Nobody", out_dir=tmp_path / "o", out=io.StringIO()) == 2
    assert "reader 'Nobody' has no reviews; readers: Dr A, Dr B" in capsys.readouterr().err


def test_failed_static_export_is_reported_and_html_still_written(pilot_csv, tmp_path, capsys, monkeypatch):
    def broken(figure, path, **options):
        raise RuntimeError("no Chrome found")
    monkeypatch.setattr(go.Figure, "write_image", broken)
    assert evaluate_main([pilot_csv], out_dir=tmp_path / "out", out=io.StringIO()) == 1
    assert "figure1.png/.svg not written (RuntimeError: no Chrome found)" in capsys.readouterr().err
    assert (tmp_path / "out" / "figure1.html").is_file() and not (tmp_path / "out" / "figure1.png").exists()


def _static_export_available() -> bool:
    browser = os.environ.get("BROWSER_PATH") or any(shutil.which(name) for name in (
        "chromium", "chromium-browser", "google-chrome", "chrome"))
    return importlib.util.find_spec("kaleido") is not None and bool(browser)


@pytest.mark.skipif(not _static_export_available() and os.environ.get("CI") != "true",
                    reason="PNG/SVG export needs kaleido and Chrome/Chromium (required under CI)")
def test_static_export_writes_png_and_svg(tmp_path):
    csv = tmp_path / "reviews.csv"
    for index in range(4):
        add_review(csv, index, calls={"AF": "present" if index < 2 else "absent"}, probabilities={"AF": 0.2 * index})
    assert evaluate_main([csv], out_dir=tmp_path / "out", out=io.StringIO()) == 0
    assert (tmp_path / "out" / "figure1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "out" / "figure1.svg").read_bytes()[:500]


def _header_only(path: Path) -> Path:
    path.write_text(",".join(REVIEW_COLUMNS) + "\n", encoding="utf-8")
    return path


def _bad_header(path: Path) -> Path:
    path.write_text("reader,AF\nx,1\n", encoding="utf-8")
    return path


def test_empty_csv_gives_an_empty_cohort_with_undefined_scores(tmp_path):
    cohort = load_cohort(_header_only(tmp_path / "empty.csv"))
    assert cohort.cases.empty and cohort.readers == ()
    table = cohort_table(cohort)
    assert (table["cases"] == 0).all() and table["f1"].isna().all()
    assert inter_reader_kappa(cohort).empty and discordant_cases(cohort).empty and unmapped_statements(cohort).empty
    assert len(probability_figure(cohort).layout.shapes) == len(CLASSES)


def test_one_reader_uncertain_calls_are_left_out_and_counted(tmp_path):
    csv = tmp_path / "reviews.csv"
    add_review(csv, 0, calls={"AF": "present"}, probabilities={"AF": 0.9}, device={"AF": "definite"})
    add_review(csv, 1, calls={"AF": "uncertain"}, probabilities={"AF": 0.9}, device={"AF": "definite"})
    add_review(csv, 2, probabilities={"AF": 0.05})
    cohort = load_cohort(csv)
    assert cohort.readers == ("Dr A",) and inter_reader_kappa(cohort).empty
    assert cohort.reference_label == "reader consensus (1 reader, 0 adjudicated cases)"
    assert "AF: no reference for 1 of 3 cases (uncertain 1)" in cohort.notes
    row = cohort_table(cohort).loc[("AF", "DNN")]
    assert (row["cases"], row["positives"], row["false_positives"]) == (2, 1, 0)


def test_consensus_majority_ties_and_adjudicator_override(tmp_path):
    csv = tmp_path / "reviews.csv"
    votes = {0: ("present", "present", "absent"), 1: ("present", "absent", "uncertain"),
             2: ("present", "uncertain", "uncertain"), 3: ("present", "absent", "uncertain")}
    for index, calls in votes.items():
        for number, call in enumerate(calls):
            add_review(csv, index, reader=f"R{number}", calls={"AF": call}, minute=10 * index + number)
    add_review(csv, 3, reader="Chief", role="adjudicator", calls={"AF": "absent"}, minute=99)
    add_review(csv, 0, reader="R1", calls={"AF": "absent"}, minute=100)  # a correction: the latest row wins
    status = load_cohort(csv).reference_status["AF"]
    assert list(status) == ["absent", "tie", "uncertain", "absent"]
    assert "adjudicated" in load_cohort(csv).reference_label


def test_missing_device_statements_are_left_out_of_built_in(tmp_path):
    csv = tmp_path / "reviews.csv"
    add_review(csv, 0, calls={"AF": "present"}, probabilities={"AF": 0.9}, device={"AF": "definite"},
               statements=["Atrial fibrillation"])
    add_review(csv, 1, calls={"AF": "present"}, probabilities={"AF": 0.9}, statements=[])
    cohort = load_cohort(csv)
    assert "Built-in: no device statements for 1 of 2 cases (left out of Built-in)" in cohort.notes
    table = cohort_table(cohort)
    assert table.loc[("AF", "Built-in"), "cases"] == 1 and table.loc[("AF", "Built-in"), "no_call"] == 1
    assert table.loc[("AF", "DNN"), "cases"] == 2
    assert discordant_cases(cohort).empty  # the missing device call is no disagreement


def test_possible_device_statements_count_as_positive_by_default(tmp_path):
    csv = tmp_path / "reviews.csv"
    add_review(csv, 0, calls={"AF": "present"}, device={"AF": "possible"}, statements=["Possible", "Atrial fibrillation"])
    assert cohort_table(load_cohort(csv)).loc[("AF", "Built-in"), "true_positives"] == 1
    strict = load_cohort(csv, possible_counts_as_positive=False)
    assert cohort_table(strict).loc[("AF", "Built-in"), "false_negatives"] == 1


def test_unmapped_statements_are_reported(tmp_path):
    csv = tmp_path / "reviews.csv"
    add_review(csv, 0, statements=["Sinus rhythm", "Zorglub pattern 42"])
    add_review(csv, 1, statements=["Zorglub pattern 42"])
    add_review(csv, 2, statements=["Sinus rhythm"])
    unmapped = unmapped_statements(load_cohort(csv))
    assert unmapped.to_dict("records") == [{"statement": "Zorglub pattern 42", "cases": 2,
                                            "first_case_sha256": case_sha256(0)}]


def test_reference_from_a_chosen_reader(tmp_path):
    csv = tmp_path / "reviews.csv"
    for index in range(4):
        add_review(csv, index, reader="Dr A", calls={"AF": "present" if index < 2 else "absent"},
                   probabilities={"AF": 0.9 if index < 2 else 0.05}, minute=index)
        add_review(csv, index, reader="Dr B", calls={"AF": "present" if index < 3 else "absent"},
                   probabilities={"AF": 0.9 if index < 2 else 0.05}, minute=10 + index)
    assert cohort_table(load_cohort(csv, reference="reader:Dr A")).loc[("AF", "DNN"), "f1"] == 1.0
    by_b = load_cohort(csv, reference="reader:Dr B")
    assert by_b.reference_label == "reader Dr B"
    assert cohort_table(by_b).loc[("AF", "DNN"), "false_negatives"] == 1
    with pytest.raises(ValueError, match="reference must be 'consensus'"):
        load_cohort(csv, reference="majority")


def test_reference_from_a_clinical_diagnosis_csv(pilot_csv, tmp_path):
    by_sha = tmp_path / "clinical.csv"
    rows = [f"{case_sha256(i).upper()}," + ",".join("1" if c == "AF" and i < 29 else "0" for c in CLASSES)
            for i in range(39)]  # all AF positives 0-28; case 39 missing
    by_sha.write_text("source_sha256," + ",".join(CLASSES) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    cohort = load_cohort(pilot_csv, reference=by_sha)
    assert cohort.reference_label == "clinical diagnosis (clinical.csv)"
    assert cohort.reference_status.loc[case_sha256(39), "AF"] == "not in reference"
    row = cohort_table(cohort).loc[("AF", "DNN")]
    assert (row["cases"], row["positives"], row["false_negatives"]) == (39, 29, 12)
    by_pseudonym = tmp_path / "by_pseudonym.csv"
    by_pseudonym.write_text("case_pseudonym," + ",".join(CLASSES) + "\nP010,0,0,0,0,1,\nP011,0,0,0,0,x,0\n")
    with pytest.raises(EcgReviewError, match=r"case_pseudonym 'P011', column AF: expected 0, 1 or blank, got 'x'"):
        load_cohort(pilot_csv, reference=by_pseudonym)
    by_pseudonym.write_text("case_pseudonym," + ",".join(CLASSES) + "\nP010,0,0,0,0,1,\n")
    status = load_cohort(pilot_csv, reference=by_pseudonym).reference_status
    assert status.loc[case_sha256(10), "AF"] == "present" and status.loc[case_sha256(10), "ST"] == "blank"


def test_kappa_of_two_readers(tmp_path):
    csv = tmp_path / "reviews.csv"
    first = ["present", "present", "absent", "absent", "absent", "uncertain"]
    second = ["present", "absent", "absent", "absent", "present", "absent"]
    for index, (a, b) in enumerate(zip(first, second)):
        add_review(csv, index, reader="Dr A", calls={"AF": a}, minute=index)
        add_review(csv, index, reader="Dr B", calls={"AF": b}, minute=10 + index)
    add_review(csv, 9, reader="Dr A", minute=50)  # read by one reader only: not in the pair
    kappa = inter_reader_kappa(load_cohort(csv)).set_index("class")
    af = kappa.loc["AF"]
    # 5 cases decided by both: observed 3/5; rates 2/5 and 2/5: chance 0.16 + 0.36 = 0.52
    assert (af["reader_a"], af["reader_b"], af["cases"]) == ("Dr A", "Dr B", 5)
    assert af["observed_agreement"] == pytest.approx(0.6) and af["kappa"] == pytest.approx((0.6 - 0.52) / 0.48)
    assert kappa.loc["SB", "undefined"] == "chance agreement is 1 (one label throughout)"


def test_discordant_cases_of_the_pilot(pilot_csv):
    discordant = discordant_cases(load_cohort(pilot_csv))
    found = {(row.case_pseudonym, row["class"], row.wrong) for _, row in discordant.iterrows()}
    assert found == {("P009", "LBBB", "Built-in"), ("P027", "AF", "DNN"), ("P028", "AF", "DNN"), ("P030", "AF", "DNN")}
    row = discordant[discordant["case_pseudonym"] == "P030"].iloc[0]
    assert (row["dnn_call"], row["device_call"], row["reference"]) == ("present", "absent", "absent")
    assert row["dnn_probability"] == pytest.approx(0.6)
    assert row["link"] == f"./?case={case_sha256(30)}"


def test_published_dnn_column(pilot_csv, tmp_path):
    published = tmp_path / "published.csv"
    lines = [f"{case_sha256(i)}," + ",".join("0.9" if c == "AF" and 10 <= i < 29 else "0.0" for c in CLASSES)
             for i in range(40)]
    published.write_text("source_sha256," + ",".join(f"prob_{c}" for c in CLASSES) + "\n" + "\n".join(lines) + "\n")
    table = cohort_table(load_cohort(pilot_csv), published=published)
    assert table.loc[("AF", "published DNN"), "f1"] == 1.0
    assert table.loc[("LBBB", "published DNN"), "false_negatives"] == 10
    assert "published DNN" in format_table(table).splitlines()[1]
    headerless = tmp_path / "published.npy"
    np.save(headerless, np.zeros((40, 6)))
    with pytest.raises(EcgReviewError, match="needs a source_sha256 or case_pseudonym column"):
        cohort_table(load_cohort(pilot_csv), published=headerless)


def test_figure_has_a_threshold_line_per_class(pilot_csv):
    figure = probability_figure(load_cohort(pilot_csv))
    lines = [shape for shape in figure.layout.shapes if shape.line.dash == "dot"]
    assert [shape.y0 for shape in lines] == list(THRESHOLDS)
    assert {shape.xref for shape in lines} == {"x domain", *(f"x{i} domain" for i in range(2, 7))}
    af_present = next(trace for trace in figure.data if trace.xaxis == "x5" and trace.name == "reference present")
    assert len(af_present.y) == 19
