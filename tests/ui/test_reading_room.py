"""The reading room in AppTest: worklist, keyboard buttons, save and next, blinded mode, calipers,
adjudication, and a teaching session."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgreview.record import CLASSES
from ecgreview.review.store import Review, append_review, read_reviews
from ecgreview.review.teaching import TeachingCase, create_session
from ecgreview.ui import state
from tests.ui.reading_room_fixtures import (
    home_with_case_folder,
    open_page,
    press_setter,
    shown_calls,
    write_fixture_weights,
)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    return home_with_case_folder(tmp_path, monkeypatch)


def _ok(app):
    assert not app.exception, app.exception
    return app


def _click(app, label: str):
    next(button for button in app.button if button.label == label).click()
    return _ok(app.run())


def _rows(app):
    return app.dataframe[0].value


def _read_all_absent(app, reader: str = "Dr Keys"):
    app.text_input(key=state.READER_NAME_WIDGET).input(reader)
    _ok(app.run())
    app.button(key="cursor-0").click()  # key 1: the first class
    _ok(app.run())
    for _ in CLASSES:  # the A key's button: absent for the class at the cursor, then the next class
        press_setter(app, "absent")
    assert shown_calls(app) == ["absent"] * len(CLASSES)
    return app


def test_worklist_with_dnn_filters_and_opens_a_case(home, tmp_path, monkeypatch):
    monkeypatch.setenv("ECGREVIEW_MODEL", str(write_fixture_weights(tmp_path / "fixture.hdf5")))
    app = _ok(open_page("worklist"))
    rows = _rows(app)
    assert set(rows["File"]) == {"demo.dcm", "syn-af.dcm", "syn-rbbb.dcm", "syn-normal.dcm"}
    assert rows.set_index("File").loc["syn-af.dcm", "Device calls"] == "AF"
    assert any("unverified" in warning.value for warning in app.warning)
    app.toggle(key="filter-discordant").set_value(True)
    rows = _rows(_ok(app.run()))
    assert len(rows) and rows["Discordant"].all()
    first = rows.iloc[0]["source_sha256"]
    assert app.session_state[state.WORKLIST_ORDER] == list(rows["source_sha256"])
    _click(app, "Open first case")
    assert app.query_params["case"] == first
    assert any("**Pseudonym**" in markdown.value for markdown in app.markdown)  # the review page shows the case


def test_keyboard_buttons_save_and_next(home):
    app = _ok(open_page("worklist"))
    order = app.session_state[state.WORKLIST_ORDER]
    _click(app, "Open first case")
    _read_all_absent(app)
    _click(app, "Save and next")
    assert app.query_params["case"] == order[1]
    row = read_reviews(home / "reviews.csv").iloc[0]
    assert row["source_sha256"] == order[0] and row["reader_call_AF"] == "absent"
    assert row["reading_mode"] == "adjudication" and row["opinions_seen"] == "true"
    assert shown_calls(app) == [None] * len(CLASSES)  # a fresh form
    _click(app, "Previous case")
    assert app.query_params["case"] == order[0]
    app = _ok(open_page("worklist"))
    app.toggle(key="filter-mine").set_value(True)
    app.text_input(key=state.READER_NAME_WIDGET).input("Dr Keys")
    assert order[0] not in set(_rows(_ok(app.run()))["source_sha256"])


def test_blinded_reading_hides_opinions_until_saved(home):
    app = _ok(open_page("worklist"))
    sha = app.session_state[state.WORKLIST_ORDER][0]
    app = _ok(open_page("review", query={"case": sha}))
    app.segmented_control(key=state.READING_MODE_WIDGET).set_value("blinded")
    _ok(app.run())
    assert any("Blinded reading" in caption.value for caption in app.caption)
    assert not any("Device statements" in markdown.value for markdown in app.markdown)
    _read_all_absent(app)
    _click(app, "Save review")
    row = read_reviews(home / "reviews.csv").iloc[0]
    assert row["reading_mode"] == "blinded" and row["opinions_seen"] == "false"
    assert any("Device statements" in markdown.value for markdown in app.markdown)  # revealed
    app = _ok(open_page("worklist"))  # the mode is kept per session: a new session starts in adjudication
    assert "DNN calls" in _rows(app).columns


def test_calipers_measure_and_compare_with_device(home):
    app = _ok(open_page("worklist"))
    demo = _rows(app).set_index("File").loc["demo.dcm", "source_sha256"]
    app = _ok(open_page("review", query={"case": demo}))
    assert not any("Interval" in markdown.value for markdown in app.markdown)  # calipers are shown on demand
    app.session_state[state.CALIPER_POINTS] = {demo: [1.0, 1.8]}
    app.pills(key=state.VIEW_EXTRAS).set_value(["Single lead · calipers"])
    _ok(app.run())
    assert any("Interval 800 ms" in markdown.value for markdown in app.markdown)
    _click(app, "Set as RR")
    table = app.table[0].value
    assert table.loc["RR", "Calipers"] == "800 ms" and table.loc["RR", "Device"] == "982 ms"
    assert table.loc["Heart rate", "Calipers"] == "75 bpm"
    app.session_state[state.CALIPER_POINTS] = {demo: [2.0, 2.4]}
    _click(_ok(app.run()), "Set as QT")
    table = app.table[0].value
    assert table.loc["QTc Bazett", "Calipers"] == "447 ms" and table.loc["QTc Fridericia", "Calipers"] == "431 ms"


def test_disagreeing_readers_and_adjudication(home):
    app = _ok(open_page("worklist"))
    sha = app.session_state[state.WORKLIST_ORDER][0]
    ids = []
    for reader, call in (("Dr A", "present"), ("Dr B", "absent")):
        review = Review.create(reader=reader, reader_calls=dict.fromkeys(CLASSES, "absent") | {"AF": call},
                               source_sha256=sha, opinions_seen=True)
        ids.append(append_review(home / "reviews.csv", review).review_id)
    app = _ok(open_page("review", query={"case": sha}))
    assert any("2 readers** · disagree on AF" in markdown.value for markdown in app.markdown)
    app.checkbox(key=f"{state.ADJUDICATE}-0").check()
    _read_all_absent(_ok(app.run()), reader="Dr Chief")
    _click(app, "Save review")
    assert any("consensus (adjudicator)" in success.value for success in app.success)
    row = read_reviews(home / "reviews.csv").iloc[-1]
    assert row["role"] == "adjudicator" and row["resolves_review_ids"] == ";".join(ids)


def test_unknown_case_link(home):
    app = _ok(open_page("review", query={"case": "0" * 64}))
    assert any("is not in the case folder" in error.value for error in app.error)


def test_teaching_session_student_and_teacher(home):
    app = _ok(open_page("worklist"))
    rows = _rows(app).set_index("File")
    names = ["syn-af.dcm", "syn-rbbb.dcm", "syn-normal.dcm"]
    absent = dict.fromkeys(CLASSES, "absent")
    references = [absent | {"AF": "present"}, absent | {"RBBB": "present"}, absent]
    cases = [TeachingCase(rows.loc[name, "source_sha256"], name, ref) for name, ref in zip(names, references)]
    create_session(home / "sessions", "week 1", cases)
    app = _ok(open_page("teaching"))
    app.text_input(key=state.READER_NAME_WIDGET).input("Student One")
    _ok(app.run())
    for number in range(3):
        assert any(f"Case {number + 1} of 3" in header.value for header in app.subheader)
        assert not any("Device statements" in markdown.value for markdown in app.markdown)
        _read_all_absent(app, reader="Student One")
        _click(app, "Submit answer")
        marks = app.dataframe[0].value.set_index("Class")["Mark"]
        assert marks["SB"] == "✓ right"
        assert marks["AF"] == ("✗ wrong" if number == 0 else "✓ right")
        _click(app, "Next case")
    assert any("4 of 6" not in header.value and "16 of 18 answers right" in header.value for header in app.subheader)
    rows = read_reviews(home / "reviews.csv")
    assert set(rows["role"]) == {"student"} and set(rows["session_id"]) == {"week-1"}
    assert set(rows["reading_mode"]) == {"teaching"} and set(rows["opinions_seen"]) == {"false"}
    app.segmented_control(key=state.TEACHING_ROLE).set_value("Teacher")
    table = _ok(app.run()).dataframe[0].value.set_index("student")
    assert table.loc["Student One", "answered"] == 3 and table.loc["Student One", "AF"] == pytest.approx(2 / 3)
