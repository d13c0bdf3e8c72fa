"""``evaluate --added-value`` and ``study create|show|list`` through ``python -m ecgreview``."""

from __future__ import annotations

import csv
import json
import re

import pandas as pd
import pytest

from ecgreview.cli import main
from ecgreview.examples import DEMO_CASES_DIR
from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.store import REVIEW_COLUMNS, read_reviews
from tests.study.study_fixtures import AF_POSITIVE, CASES, DNN_AF_PRESENT, study_reviews


def _write_store(path) -> None:
    """The generated study as a review CSV with the current header (columns it lacks are left empty)."""
    frame = study_reviews()
    for index, case in enumerate(CASES):
        chosen = frame["source_sha256"] == case
        for name in CLASSES:
            frame.loc[chosen, f"dnn_prob_{name}"] = ("0.9" if index in DNN_AF_PRESENT else "0.1") if name == "AF" \
                else "0.01"
        frame.loc[chosen, "thresholds"] = ";".join(map(repr, THRESHOLDS))
    frame["provenance"] = "{}"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, REVIEW_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(frame.fillna("").to_dict("records"))


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "reviews.csv"
    _write_store(path)
    clinical = tmp_path / "clinical.csv"
    pd.DataFrame({"source_sha256": CASES, **{name: [int(name == "AF" and i in AF_POSITIVE) for i in range(len(CASES))]
                                            for name in CLASSES}}).to_csv(clinical, index=False)
    assert len(read_reviews(path)) == 40
    return path, clinical


def test_evaluate_added_value_prints_and_writes(store, tmp_path, capsys):
    reviews, clinical = store
    out = tmp_path / "out"
    code = main(["evaluate", str(reviews), "--reference", str(clinical), "--out", str(out), "--added-value",
                 "--resamples", "200", "--target-sensitivity", "0.75"])
    text = capsys.readouterr().out
    assert code in (0, 1)  # 1 only when the PNG export of Figure 1 is unavailable here
    assert re.search(r"^AF  unaided sens 0\.750 spec 0\.917 .* \| aided sens 0\.750 spec 0\.917 ", text, re.M)
    assert "AF  DNN sens 0.750" in text
    for name in ("added_value.csv", "changes.csv", "operating_points.csv", "roc.html", "added_value.txt"):
        assert (out / name).is_file(), name
    changes = pd.read_csv(out / "changes.csv").set_index(["class", "reader"])
    assert changes.loc[("AF", "all readers"), ["helpful", "automation_bias"]].tolist() == [2, 2]
    points = pd.read_csv(out / "operating_points.csv").set_index("class")
    # AF p: positives 0.9, 0.9, 0.9, 0.1; negatives 0.9, 0.1 x5 -> (3 x (0.5 + 5) + 5 x 0.5) / 24
    assert points.loc["AF", "auc"] == pytest.approx(19 / 24)
    assert points.loc["AF", "paper_sensitivity"] == 0.75


def test_evaluate_added_value_without_study_rows_is_a_clear_error(tmp_path, capsys):
    reviews = tmp_path / "reviews.csv"
    _write_store(reviews)
    frame = read_reviews(reviews)
    frame["reading_mode"] = "blinded"
    with reviews.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream, lineterminator="\n").writerows([REVIEW_COLUMNS, *frame.to_numpy().tolist()])
    code = main(["evaluate", str(reviews), "--out", str(tmp_path / "out"), "--added-value"])
    assert code == 2
    assert "added value: no reader has both an unaided and an aided reading" in capsys.readouterr().err


def test_study_create_show_list(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    listing = tmp_path / "cases.txt"
    listing.write_text("# study cases\n" + "\n".join(CASES[:4]) + "\n")
    assert main(["study", "create", "pilot", "--cases", str(listing), "--reader", "ana", "--reader", "ben",
                 "--seed", "9", "--crossover", "--washout-days", "7"]) == 0
    saved = tmp_path / "home" / "studies" / "pilot.json"
    assert json.loads(saved.read_text())["seed"] == 9
    assert "created study pilot: 4 cases, 2 readers, crossover, wash-out 7 days, seed 9" in capsys.readouterr().out
    reviews = tmp_path / "reviews.csv"
    assert main(["study", "show", "pilot", "--reviews", str(reviews), "--orders"]) == 0
    shown = capsys.readouterr().out
    assert "'ana': session 1 0/4, session 2 0/4; next " in shown and "session 2: " in shown
    assert main(["study", "list"]) == 0 and capsys.readouterr().out == "pilot\n"
    assert main(["study", "create", "pilot", "--cases", str(listing), "--reader", "ana"]) == 2
    assert "exists already" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("not-a-hash\n")
    assert main(["study", "create", "other", "--cases", str(bad), "--reader", "ana"]) == 2
    assert "bad.txt: entry 1: expected a source_sha256" in capsys.readouterr().err


def test_study_cases_from_a_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    assert main(["study", "create", "demo", "--cases", str(DEMO_CASES_DIR), "--reader", "ana", "--seed", "1"]) == 0
    assert "20 cases, 1 readers, two-step" in capsys.readouterr().out


def test_library_entry_points_for_the_cohort_page(store):
    import plotly.graph_objects as go

    from ecgreview.study.report import load_added_value, study_operating_points, study_roc_figure

    reviews, clinical = store
    cohort, result = load_added_value(reviews, reference=clinical, n_resamples=20)
    assert result.cases == CASES and result.readers == ("ana", "ben") and result.notes == ()
    assert study_operating_points(cohort, result).loc["AF", "auc"] == pytest.approx(19 / 24)
    assert isinstance(study_roc_figure(cohort, result), go.Figure)
    _, consensus = load_added_value(reviews, n_resamples=20)
    assert any("favours aided reading" in note for note in consensus.notes)


def test_evaluate_added_value_prints_or_hillis_first_and_names_every_method(store, tmp_path, capsys):
    reviews, clinical = store
    assert main(["evaluate", str(reviews), "--reference", str(clinical), "--out", str(tmp_path / "out"),
                 "--added-value", "--resamples", "200"]) in (0, 1)
    text = capsys.readouterr().out
    primary = text.index("Primary analysis: aided - unaided by OR–Hillis over the 2 readers and 10 cases")
    assert primary < text.index("Secondary: diff = aided - unaided [95% CI, percentile bootstrap over readers and cases")
    assert "[95% CI, OR–Hillis (random readers, random cases), jackknife covariance over cases; t on Hillis (2007) df]" \
        in text
    assert re.search(r"^  AF     sensitivity +4/6 +0\.750 \[", text, re.M)
    assert "No pre-specified analysis plan: every result below is exploratory." in text
    assert "Fleiss' kappa: not computed (2 readers; it needs three or more)" in text
    mrmc = pd.read_csv(tmp_path / "out" / "mrmc.csv").set_index(["class", "figure_of_merit"])
    assert mrmc.loc[("AF", "sensitivity"), "difference"] == pytest.approx(0.0)
    assert mrmc.loc[("RBBB", "sensitivity"), "not_computed"].startswith("OR–Hillis not computed: 0 positive")
    for name in ("flow.csv", "reader_flow.csv", "provenance.csv", "mrmc_readers.csv"):
        assert (tmp_path / "out" / name).is_file(), name


def _plan_study(tmp_path, monkeypatch) -> tuple[object, str]:
    from tests.study.generated_study import write_generated_study

    home = tmp_path / "home"
    monkeypatch.setenv("ECGREVIEW_HOME", str(home))
    return write_generated_study(home, readers=3, cases=30, seed=4), str(home / "studies")


def test_evaluate_with_a_study_uses_its_plan_and_labels_other_choices(tmp_path, monkeypatch, capsys):
    study, _ = _plan_study(tmp_path, monkeypatch)
    out = tmp_path / "out"
    code = main(["evaluate", str(study.reviews), "--out", str(out), "--added-value", "--study", "generated",
                 "--reference", str(study.clinical), "--uncertain-as", "exclude", "--resamples", "100"])
    captured = capsys.readouterr()
    assert code in (0, 1)
    assert "note: the plan of study generated fixes the bootstrap (2000 resamples, seed 0)" in captured.err
    assert "Added value: unaided vs aided reading - pre-specified analysis." in captured.out
    assert ("Added value: unaided vs aided reading - sensitivity analysis: 'uncertain' left out (the reader-case "
            "pair, per class) instead of counted as absent.") in captured.out
    assert re.search(r"^\* AF     sensitivity ", captured.out, re.M)  # the plan's primary endpoints are starred
    assert (out / "sensitivity_1_mrmc.csv").is_file()
    assert main(["evaluate", str(study.reviews), "--out", str(out), "--added-value", "--study", "generated"]) == 2
    assert "the plan's reference standard is a clinical-diagnosis CSV (generated discharge diagnosis)" \
        in capsys.readouterr().err


def test_study_create_records_a_plan_that_reading_freezes(tmp_path, monkeypatch, capsys):
    study, folder = _plan_study(tmp_path, monkeypatch)
    listing = tmp_path / "cases.txt"
    listing.write_text("\n".join(CASES[:4]) + "\n")
    assert main(["study", "create", "planned", "--cases", str(listing), "--reader", "ana", "--reader", "ben",
                 "--primary-class", "AF", "--primary-class", "ST", "--figure-of-merit", "sensitivity",
                 "--reference-standard", "reader:cardiologist", "--uncertain-as", "exclude", "--seed", "1"]) == 0
    shown = capsys.readouterr().out
    assert "Primary endpoints (aided − unaided): AF sensitivity, ST sensitivity;" in shown
    plan = json.loads((tmp_path / "home" / "studies" / "planned.json").read_text())["plan"]
    assert (plan["primary_classes"], plan["uncertain_as"], plan["reference_standard"]) == (
        ["AF", "ST"], "exclude", "reader:cardiologist")
    assert main(["study", "create", "bare", "--cases", str(listing), "--reader", "ana", "--no-plan"]) == 0
    assert "analysis plan: none (every analysis of this study will be exploratory)" in capsys.readouterr().out
    assert main(["study", "create", "bad", "--cases", str(listing), "--reader", "ana", "--confidence", "1.5"]) == 2
    assert "analysis plan: confidence must be a number in [0.5, 1)" in capsys.readouterr().err
    assert main(["study", "plan", "planned", "--reviews", str(study.reviews), "--primary-class", "LBBB"]) == 0
    assert "study planned: analysis plan recorded" in capsys.readouterr().out
    assert main(["study", "plan", "generated", "--reviews", str(study.reviews), "--primary-class", "LBBB"]) == 2
    assert "generated.json: study 'generated' has 180 reading(s) already" in capsys.readouterr().err


def test_study_report_writes_html_and_pdf(tmp_path, monkeypatch, capsys):
    study, _ = _plan_study(tmp_path, monkeypatch)
    out = tmp_path / "report"
    assert main(["study", "report", "generated", "--reviews", str(study.reviews), "--reference",
                 str(study.clinical), "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out / "study_report.html"), str(out / "study_report.pdf")]
    assert "Primary analysis: OR–Hillis" in (out / "study_report.html").read_text(encoding="utf-8")
    assert main(["study", "report", "generated", "--reviews", str(study.reviews), "--out", str(out)]) == 2
    assert "study generated: the plan's reference standard is a clinical-diagnosis CSV" in capsys.readouterr().err
