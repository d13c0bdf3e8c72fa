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


def test_the_cohort_page_shows_the_added_value_study(reviews, tmp_path):
    _write_study(reviews)
    app = _open(tmp_path)
    assert [h.value for h in app.header] == ["Added value: unaided vs aided reading"]
    pooled = app.dataframe[3].value.set_index(["class", "reader"])
    assert set(pooled.index.get_level_values("reader")) == {"all readers"}
    assert (pooled.loc[("AF", "all readers"), "sens unaided"], pooled.loc[("AF", "all readers"), "sens aided"]) \
        == ("0.750", "1.000")
    changes = app.dataframe[4].value.set_index(["class", "reader"])
    assert tuple(changes.loc[("AF", "all readers"), ["changed", "helpful", "automation_bias"]]) == (2, 2, 0)
    timing = app.dataframe[5].value.set_index(["reader", "measure"])
    assert timing.loc[("all readers", "reading_time_s"), "mean_difference"] == -30.0
    assert timing.loc[("all readers", "confidence"), ["unaided_mean", "aided_mean"]].tolist() == [2.0, 4.0]
    alone = app.dataframe[6].value.set_index(["class", "source"])
    assert alone.loc[("AF", "DNN"), "sens"].startswith("1.000")
    assert len(app.get("plotly_chart")) == 2  # Figure 1 and the ROC / precision-recall figure
    points = app.dataframe[7].value
    assert points.loc["AF", "paper_threshold"] == pytest.approx(0.39)
    markdown = "\n".join(element.value for element in app.markdown)
    assert r"\=ben" in markdown  # a reader name from the file is escaped
    app.selectbox(key="evaluate_added_value_reader").set_value("ana")
    app = app.run()
    assert not app.exception, app.exception
    ana = app.dataframe[3].value.set_index("class").loc["AF"]
    assert (ana["reader"], ana["sens unaided"], ana["sens aided"]) == ("ana", "0.500", "1.000")
    assert ana["sens Δ [CI]"].startswith("+0.500 [")
    assert tuple(app.dataframe[4].value.set_index("class").loc["AF", ["changed", "helpful"]]) == (2, 2)


def test_no_study_rows_no_added_value_section(reviews, tmp_path):
    from tests.study.test_cohort import write_pilot

    write_pilot(reviews)
    app = _open(tmp_path)
    assert not app.header and len(app.get("plotly_chart")) == 1
