"""The review page driven by Streamlit's AppTest: load the demo, record a review, check the CSV."""

from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest

from ecgreview.record import CLASSES
from ecgreview.review.store import read_reviews
from tests.conftest import REPO
from tests.ui.reading_room_fixtures import click_calls, shown_calls

APP = str(REPO / "app.py")


def _open() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception, app.exception
    return app


def _answer(app: AppTest, *, reader: str, calls: dict[str, str], comment: str = "") -> AppTest:
    app.text_input(key="reader_name_widget").input(reader)
    click_calls(app, calls)
    if comment:
        app.text_area[0].input(comment)
    next(button for button in app.button if button.label == "Save review").click()
    app.run()
    assert not app.exception, app.exception
    return app


def test_demo_ecg_opens_with_header_and_no_identifying_data(home):
    app = _open()
    markdown = " ".join(element.value for element in app.markdown)
    assert "**Pseudonym** 642341" in markdown  # PatientID of the pseudonymized demo file
    assert "**Sampling** 1000 Hz" in markdown and "**Duration** 10\\.0 s" in markdown  # values are escaped
    assert "**Device** Mortara" in markdown
    assert "RITMO SINUSALE" in markdown
    assert "No DNN weights installed" in " ".join(w.value for w in app.warning)
    assert any("model install" in markdown.value for markdown in app.markdown)  # in the "how to add them" popover
    everything = repr(app)
    assert "PatientName" not in everything and "BirthDate" not in everything
    # No answer is pre-filled.
    assert shown_calls(app) == [None] * len(CLASSES)


def test_review_is_saved_to_csv_without_model(home):
    app = _open()
    calls = dict.fromkeys(CLASSES, "absent") | {"SB": "uncertain"}
    app = _answer(app, reader="=Dr Test", calls=calls, comment="@check")
    assert any("Saved review" in success.value and "waveform" in success.value for success in app.success)
    rows = read_reviews(home / "reviews.csv")
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["reader"] == "=Dr Test" and row["comment"] == "@check"
    assert row["model_status"] == "none" and row["dnn_prob_AF"] == ""
    assert row["reader_call_SB"] == "uncertain" and row["reader_call_AF"] == "absent"
    assert "RITMO SINUSALE" in row["device_statements"]
    assert row["phi_audit"].startswith("PHI audit: ") and "patient name" in row["phi_audit"]
    assert "642341" not in row["phi_audit"]  # categories, never values
    raw = (home / "reviews.csv").read_text(encoding="utf-8")
    assert ",'=Dr Test," in raw  # stored so a spreadsheet shows text, not a formula
    # The form is cleared for the next reading, and the earlier review is listed.
    assert shown_calls(app) == [None] * len(CLASSES)
    assert any(len(frame.value) == 1 and "reader" in frame.value.columns for frame in app.dataframe)


def test_incomplete_review_is_refused_and_nothing_written(home):
    app = _open()
    app = _answer(app, reader="Dr Test", calls={"AF": "present"})
    assert any("answer every class" in error.value for error in app.error)
    assert not (home / "reviews.csv").exists()


def test_review_with_unverified_fixture_weights(home, tmp_path, monkeypatch):
    from ecgreview.model.network import build_model
    from tests.model_fixtures import random_weights, weight_specs_from_keras, write_keras224_hdf5

    specs = weight_specs_from_keras(build_model())
    weights = write_keras224_hdf5(tmp_path / "fixture.hdf5", specs, random_weights(specs, seed=3))
    monkeypatch.setenv("ECGREVIEW_MODEL", str(weights))
    app = _open()
    assert any("unverified" in warning.value for warning in app.warning)
    app = _answer(app, reader="Dr Test", calls=dict.fromkeys(CLASSES, "absent"))
    row = read_reviews(home / "reviews.csv").iloc[0]
    assert row["model_status"] == "unverified" and row["model_name"] == "fixture.hdf5"
    probabilities = np.array([float(row[f"dnn_prob_{name}"]) for name in CLASSES])
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert row["provenance"].startswith("{") and "tensorflow" in row["provenance"]


def test_unwritable_review_store_keeps_the_answers(home, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the review folder should be")
    monkeypatch.setenv("ECGREVIEW_REVIEWS", str(blocker / "reviews.csv"))
    app = _open()
    app = _answer(app, reader="Dr Test", calls=dict.fromkeys(CLASSES, "absent"), comment="keep me")
    assert any(error.value.startswith(r"Not saved — reviews\.csv\: ") and "still in the form" in error.value
               for error in app.error), [error.value for error in app.error]
    assert shown_calls(app) == ["absent"] * len(CLASSES)
    assert app.text_area[0].value == "keep me"


_ANALYSE_SCRIPT = """
from ecgreview.config import Settings
from ecgreview.review.case import CaseSource
from ecgreview.ui import case_panels
case_panels.analyse(Settings.from_env(), CaseSource.from_path({header!r}), None)
"""


def test_read_errors_quoting_file_content_are_shown_as_text(home, tmp_path):
    """A header whose ADC gain is a Markdown image: the error quotes it as text, never as an image."""
    (tmp_path / "x.hea").write_text("x 1 500 5000\nx.dat 16 ![p](https:evil.example)/mV 16 0 0 0 0 I\n")
    (tmp_path / "x.dat").write_bytes(bytes(10_000))
    script = tmp_path / "analyse.py"
    script.write_text(_ANALYSE_SCRIPT.format(header=str(tmp_path / "x.hea")), encoding="utf-8")
    app = AppTest.from_file(str(script), default_timeout=60).run()
    assert not app.exception, app.exception
    errors = [error.value for error in app.error]
    assert len(errors) == 1 and errors[0].startswith("Cannot open this ECG — "), errors
    assert r"\!\[p\]\(https\:evil\.example\)" in errors[0] and "![p](" not in errors[0], errors


def test_earlier_reviews_list_no_teaching_answers(home):
    from ecgreview.examples import demo_ecg_path
    from ecgreview.review.store import Review, append_review
    from ecgreview.io import read_ecg

    sha = read_ecg(demo_ecg_path()).source_sha256
    answers = dict.fromkeys(CLASSES, "absent")
    for reader, role, mode in (("Student S", "student", "teaching"), ("Student T", "student", "blinded"),
                               ("Dr Earlier", "reader", "adjudication")):
        append_review(home / "reviews.csv", Review.create(reader=reader, role=role, reading_mode=mode,
                                                          reader_calls=answers, source_sha256=sha,
                                                          opinions_seen=mode == "adjudication"))
    app = _open()
    assert any("Earlier reviews of this case (1)" in header.value for header in app.subheader)
    listed = next(frame.value for frame in app.dataframe if "reader" in frame.value.columns)
    assert list(listed["reader"]) == ["Dr Earlier"]
