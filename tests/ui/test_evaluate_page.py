"""The cohort-study page driven by Streamlit's AppTest over review CSVs built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ecgreview.review.store import REVIEW_COLUMNS
from ecgreview.ui.text import escape_markdown
from tests.study.test_cohort import add_review, case_sha256, write_pilot

_SCRIPT = "from ecgreview.ui.pages import evaluate\nevaluate.render()\n"


@pytest.fixture
def reviews(tmp_path, monkeypatch) -> Path:
    for variable in ("ECGREVIEW_MODEL", "ECGREVIEW_MODELS_DIR", "ECGREVIEW_CASES", "ECGREVIEW_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_REVIEWS", str(tmp_path / "reviews.csv"))
    return tmp_path / "reviews.csv"


def _open(tmp_path: Path) -> AppTest:
    script = tmp_path / "page.py"
    script.write_text(_SCRIPT, encoding="utf-8")
    app = AppTest.from_file(str(script), default_timeout=60).run()
    assert not app.exception, app.exception
    return app


def test_no_store_yet_says_how_to_get_reviews(reviews, tmp_path):
    app = _open(tmp_path)
    assert any("No reviews yet" in info.value for info in app.info)


def test_empty_csv_gives_a_clear_message(reviews, tmp_path):
    reviews.write_text(",".join(REVIEW_COLUMNS) + "\n", encoding="utf-8")
    app = _open(tmp_path)
    assert any("hold no reviews yet" in info.value for info in app.info)
    assert not app.dataframe


def test_pilot_cohort_shows_table_figure_kappa_and_discordant_links(reviews, tmp_path):
    write_pilot(reviews)
    app = _open(tmp_path)
    reference = escape_markdown("reader consensus (2 readers, 0 adjudicated cases)")  # file text is escaped
    assert f"**Reference:** {reference} · **Cases:** 40" in app.markdown[0].value
    table = app.dataframe[0].value
    assert tuple(table.loc[("LBBB", "Built-in"), ["Positives", "False positives", "False negatives"]]) == (10, 0, 1)
    assert table.loc[("AF", "DNN"), "F1"] == "0.919"  # a column with an empty cell is text ("—" there)
    assert "None" not in table.astype(str).to_numpy() and (table == "—").any().any()
    assert not any("_" in str(column) for column in table.columns)  # headers in words (issue #21 polish)
    assert len(app.get("plotly_chart")) == 1
    kappa = app.dataframe[1].value
    assert set(kappa["Kappa"]) - {"—"} == {"1.000"}
    discordant = app.dataframe[2].value
    assert f"./?case={case_sha256(30)}" in set(discordant["Link"])
    assert [h.value for h in app.subheader if h.value.startswith("Discordant")] == ["Discordant cases (4 ECGs, 4 classes)"]


def test_one_reader_reference_and_unmapped_statements(reviews, tmp_path):
    add_review(reviews, 0, reader="Dr A", calls={"AF": "present"}, probabilities={"AF": 0.9},
               statements=["Zorglub pattern 42"])
    add_review(reviews, 1, reader="Dr A", probabilities={"AF": 0.1})
    app = _open(tmp_path)
    assert any("One reader: no inter-reader kappa" in info.value for info in app.info)
    assert "Unmapped device statements (1)" in [h.value for h in app.subheader]
    app.radio(key="evaluate_reference_kind").set_value("One reader").run()
    assert not app.exception, app.exception
    assert app.selectbox(key="evaluate_reference_reader").value == "Dr A"
    assert f"**Reference:** {escape_markdown('reader Dr A')}" in app.markdown[0].value


def test_bad_store_shows_the_error(reviews, tmp_path):
    reviews.write_text("reader,AF\nx,1\n", encoding="utf-8")
    app = _open(tmp_path)
    assert any(escape_markdown("not a review store header: missing columns review_id") in error.value
               for error in app.error), [error.value for error in app.error]


def _rewrite(store: Path, *, blank_dnn: bool) -> None:
    """Blank the DNN (a store read without model weights, written before aided readings needed it), or make
    every reader call absent (no positive case by consensus)."""
    import pandas as pd

    frame = pd.read_csv(store, dtype=str, keep_default_na=False)
    prefixes = ("dnn_prob_", "dnn_call_", "agreement_") if blank_dnn else ("reader_call_",)
    for column in frame.columns:
        if column.startswith(prefixes):
            frame[column] = "" if blank_dnn else "absent"
    if blank_dnn:
        frame[["model_status", "model_sha256", "model_name"]] = ["none", "", ""]
    frame.to_csv(store, index=False)


@pytest.mark.parametrize(("options", "says"), [
    ({"readers": 1}, ["One reader: no inter-reader kappa", "one reader; the analysis needs 2 or more",
                      "1 reader: Fleiss' kappa needs three or more"]),
    ({"positives": False}, []),
    ({"with_dnn": False}, ["Added value not analysed — no reader has both an unaided and an aided reading",
                           "aided reading needs the DNN's output"]),
    ({"blank_dnn": True}, ["No DNN probabilities on these cases"]),
])
def test_every_panel_renders_or_says_why_for_any_store(reviews, tmp_path, options, says):
    from ecgreview.study.plan import AnalysisPlan
    from tests.study.generated_study import write_generated_study

    blank = options.pop("blank_dnn", False)
    write_generated_study(tmp_path / "home", readers=options.pop("readers", 3), cases=24, seed=11, reviews=reviews,
                          plan=AnalysisPlan(("AF",)), **options)
    if blank or options.get("positives") is False:
        _rewrite(reviews, blank_dnn=blank)
    app = _open(tmp_path)
    assert not app.error, [error.value for error in app.error]
    shown = "\n".join(element.value for kind in ("info", "warning", "success") for element in app.get(kind))
    shown = shown.replace("\\", "")
    for words in says:
        assert words in shown, (words, shown)
    subheaders = [header.value for header in app.subheader]
    assert {"Table 1", "Figure 1", "Inter-reader agreement (kappa)"} <= set(subheaders)
    if options.get("with_dnn") is not False:
        assert "Primary analysis: OR–Hillis per class" in subheaders and len(app.get("plotly_chart")) == 2
    if options.get("positives") is False:
        mrmc = next(frame.value for frame in app.dataframe if "aided df" in frame.value.columns)
        assert mrmc["unaided [CI]"].str.startswith("OR–Hillis not computed: 0 positive").all()
