"""The added-value study on the cohort page (AppTest): unaided vs aided table, changes, confidence and
time, the DNN and the device alone, and the ROC / precision-recall figure."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ecgreview.record import CLASSES
from ecgreview.review.store import Review, append_review
from tests.study.test_cohort import case_sha256

_SCRIPT = "from ecgreview.ui.pages import evaluate\nevaluate.render()\n"
#: AF on cases 0-3 (the DNN calls it there too); ana misses cases 2 and 3 unaided, not aided; ben never misses.
_AF_PRESENT, _ANA_UNAIDED_MISSES = {0, 1, 2, 3}, {2, 3}


@pytest.fixture
def reviews(tmp_path, monkeypatch) -> Path:
    for variable in ("ECGREVIEW_MODEL", "ECGREVIEW_MODELS_DIR", "ECGREVIEW_CASES", "ECGREVIEW_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_REVIEWS", str(tmp_path / "reviews.csv"))
    return tmp_path / "reviews.csv"


def _write_study(store: Path, cases: int = 8) -> None:
    for reader in ("ana", "=ben"):  # a formula-like name: shown as text, guarded in CSVs
        for index in range(cases):
            probabilities = [0.01] * len(CLASSES)
            probabilities[CLASSES.index("AF")] = 0.9 if index in _AF_PRESENT else 0.01
            common = {"reader": reader, "source_sha256": case_sha256(index), "source_name": f"case{index}.dcm",
                      "probabilities": probabilities, "model_status": "unverified"}
            af = "present" if index in _AF_PRESENT else "absent"
            missed = reader == "ana" and index in _ANA_UNAIDED_MISSES
            unaided = append_review(store, Review.create(
                reader_calls=dict.fromkeys(CLASSES, "absent") | {"AF": "absent" if missed else af},
                opinions_seen=False, reading_mode="unaided", confidence=2, reading_time_s=40.0, **common))
            append_review(store, Review.create(
                reader_calls=dict.fromkeys(CLASSES, "absent") | {"AF": af}, opinions_seen=True, reading_mode="aided",
                resolves_review_ids=[unaided.review_id], confidence=4, reading_time_s=10.0, **common))


def _open(tmp_path: Path) -> AppTest:
    script = tmp_path / "page.py"
    script.write_text(_SCRIPT, encoding="utf-8")
    app = AppTest.from_file(str(script), default_timeout=120).run()
    assert not app.exception, app.exception
    return app


def _frame(app: AppTest, *columns: str):
    """The first dataframe on the page with these columns."""
    return next(frame.value for frame in app.dataframe if set(columns) <= set(frame.value.columns))


def test_the_cohort_page_shows_the_added_value_study(reviews, tmp_path):
    _write_study(reviews)
    app = _open(tmp_path)
    assert [h.value for h in app.header] == ["Added value: unaided vs aided reading"]
    assert any("No pre-specified analysis plan" in info.value for info in app.info)
    # primary: OR–Hillis per class; ana 2/4 unaided and 4/4 aided, =ben 4/4 both: reader averages 0.75 and 1
    mrmc = _frame(app, "aided − unaided [CI]", "aided df").set_index(["class", "figure of merit"])
    af = mrmc.loc[("AF", "sensitivity")]
    assert af["unaided [CI]"].startswith("0.750 [") and af["aided [CI]"].startswith("1.000 [")
    assert af["aided − unaided [CI]"].startswith("+0.250 [") and af["endpoint"] == "exploratory"
    assert mrmc.loc[("RBBB", "sensitivity"), "unaided [CI]"].startswith("OR–Hillis not computed: 0 positive")
    captions = "\n".join(caption.value for caption in app.caption).replace("\\", "")  # Markdown escapes removed
    assert "95% CI, OR–Hillis (random readers, random cases), jackknife covariance over cases; t on Hillis (2007) df" \
        in captions and "df: denominator degrees of freedom" in captions
    assert "percentile bootstrap over readers and cases (per reader: over cases), 2000 resamples, seed 0 " \
           "(secondary)" in captions
    pooled = _frame(app, "sens unaided", "sens Δ [CI]").set_index(["class", "reader"])
    assert set(pooled.index.get_level_values("reader")) == {"all readers"}
    assert (pooled.loc[("AF", "all readers"), "sens unaided"], pooled.loc[("AF", "all readers"), "sens aided"]) \
        == ("0.750", "1.000")
    changes = _frame(app, "helpful", "automation_bias").set_index(["class", "reader"])
    assert tuple(changes.loc[("AF", "all readers"), ["changed", "helpful", "automation_bias"]]) == (2, 2, 0)
    timing = _frame(app, "measure", "mean_difference").set_index(["reader", "measure"])
    assert timing.loc[("all readers", "reading_time_s"), "mean_difference"] == -30.0
    assert timing.loc[("all readers", "confidence"), ["unaided_mean", "aided_mean"]].tolist() == [2.0, 4.0]
    alone = _frame(app, "source", "sensitivity [CI]").set_index(["class", "source"])
    assert alone.loc[("AF", "DNN"), "sensitivity [CI]"].startswith("1.000")
    assert len(app.get("plotly_chart")) == 2  # Figure 1 and the ROC / precision-recall figure
    assert _frame(app, "paper_threshold").loc["AF", "paper_threshold"] == pytest.approx(0.39)
    assert any("Fleiss' kappa needs three or more" in info.value for info in app.info)
    labels = [button.proto.label for button in app.get("download_button")]
    assert {"Study report (HTML)", "Study report (PDF)", "OR–Hillis (CSV)"} <= set(labels)
    markdown = "\n".join(element.value for element in app.markdown)
    assert r"\=ben" in markdown  # a reader name from the file is escaped
    app.selectbox(key="evaluate_added_value_reader").set_value("ana")
    app = app.run()
    assert not app.exception, app.exception
    per_reader = _frame(app, "reader", "aided − unaided [CI]", "p")
    assert set(per_reader["reader"]) == {"ana"}
    ana = _frame(app, "sens unaided", "sens Δ [CI]").set_index("class").loc["AF"]
    assert (ana["reader"], ana["sens unaided"], ana["sens aided"]) == ("ana", "0.500", "1.000")
    assert ana["sens Δ [CI]"].startswith("+0.500 [")
    assert tuple(_frame(app, "helpful", "automation_bias").set_index("class").loc["AF", ["changed", "helpful"]]) \
        == (2, 2)


def test_a_study_is_analysed_as_its_plan_says(reviews, tmp_path):
    from ecgreview.study.plan import AnalysisPlan
    from tests.study.generated_study import write_generated_study

    write_generated_study(tmp_path / "home", readers=3, cases=30, seed=6, reviews=reviews,
                          plan=AnalysisPlan(("AF",), uncertain_as="absent"))
    app = _open(tmp_path)
    assert [success.value for success in app.success][0].startswith("Pre-specified analysis of study generated")
    mrmc = _frame(app, "aided − unaided [CI]", "aided df").set_index(["class", "figure of merit"])
    assert mrmc["endpoint"].tolist().count("primary") == 2 and mrmc.loc[("AF", "specificity"), "endpoint"] == "primary"
    assert all(text.split(" [")[0].replace(".", "").replace("+", "").replace("-", "").isdigit()
               for text in mrmc["aided − unaided [CI]"])  # 3 readers x 30 cases: every class computed here
    kappa = _frame(app, "unaided kappa [CI]", "aided kappa [CI]")
    assert list(kappa["class"]) == list(CLASSES)
    assert not [expander for expander in app.expander if expander.label.startswith("Sensitivity analysis")]
    app.radio(key="evaluate_uncertain_as").set_value("exclude")
    app = app.run()
    assert not app.exception, app.exception
    assert [expander.label.replace("\\", "") for expander in app.expander
            if expander.label.startswith("Sensitivity analysis")] == [
        "Sensitivity analysis (not the pre-specified one): 'uncertain' left out (the reader-case pair, per class) "
        "instead of counted as absent"]
    # the pre-specified table is first and unchanged; the other choice is beside it, not in its place
    after = _frame(app, "aided − unaided [CI]", "aided df").set_index(["class", "figure of merit"])
    assert after.equals(mrmc)


def test_no_study_rows_no_added_value_section(reviews, tmp_path):
    from tests.study.test_cohort import write_pilot

    write_pilot(reviews)
    app = _open(tmp_path)
    assert not app.header and len(app.get("plotly_chart")) == 1
