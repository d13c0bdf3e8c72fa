"""Two-step reading in AppTest: unaided (DNN and device hidden), then aided (shown, calls filled in); study cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecgreview.record import CLASSES
from ecgreview.review.modes import TWO_STEP
from ecgreview.review.store import read_reviews
from ecgreview.ui import state
from tests.ui.reading_room_fixtures import (
    ENV_VARIABLES,
    build_case_folder,
    click_calls,
    open_page,
    press_setter,
    shown_calls,
    write_fixture_weights,
)

_PROBABILITY = re.compile(r"\b[01]\.\d{3}\b")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_CASES", str(build_case_folder(tmp_path / "cases")))
    monkeypatch.setenv("ECGREVIEW_MODEL", str(write_fixture_weights(tmp_path / "fixture.hdf5")))
    return tmp_path / "home"


def _ok(app):
    assert not app.exception, app.exception
    return app


def _texts(app) -> str:
    return "\n".join(element.value for element in [*app.markdown, *app.caption])


def _opinions_shown(app) -> bool:
    dnn = [markdown.value for markdown in app.markdown if _PROBABILITY.search(markdown.value)]
    return bool(dnn) or any("Device statements" in markdown.value for markdown in app.markdown)


def _two_step_case(home, reader: str, sha: str):
    app = _ok(open_page("review", query={"case": sha}))
    app.text_input(key=state.READER_NAME_WIDGET).input(reader)
    app.segmented_control(key=state.READING_MODE_WIDGET).set_value(TWO_STEP)
    return _ok(app.run())


def _confidence(app, value: int):
    next(control for control in app.segmented_control if control.label.startswith("Confidence")).set_value(value)
    return _ok(app.run())


def test_two_step_hides_opinions_until_the_unaided_save_and_writes_both_rows(home):
    order = _ok(open_page("worklist")).session_state[state.WORKLIST_ORDER]
    app = _two_step_case(home, "Dr Two", order[0])
    assert "Step 1 of 2, unaided" in _texts(app)
    assert not _opinions_shown(app), "DNN or device shown before the unaided save"
    assert [m.value for m in app.markdown].count(":gray[hidden]") == 2 * len(CLASSES)
    app.button(key="cursor-0").click()
    _ok(app.run())
    for _ in CLASSES:  # the A key's button, once per class
        press_setter(app, "absent")
    app.button(key="save-and-next").click()  # S without a confidence: refused, nothing saved
    _ok(app.run())
    assert any("choose your confidence" in error.value for error in app.error)
    assert not (home / "reviews.csv").exists()
    _confidence(app, 2)
    app.button(key="save-and-next").click()  # S: saves the unaided row and shows the DNN, on the same case
    _ok(app.run())
    assert app.query_params["case"] == order[0]
    assert "Step 2 of 2, aided" in _texts(app) and _opinions_shown(app)
    assert shown_calls(app) == ["absent"] * len(CLASSES)  # the unaided calls, filled in
    click_calls(app, {"AF": "present"})
    _confidence(app, 4)
    app.button(key="save-and-next").click()
    _ok(app.run())
    assert app.query_params["case"] == order[1]  # the next case of the worklist
    rows = read_reviews(home / "reviews.csv")
    unaided, aided = rows.iloc[0], rows.iloc[1]
    assert list(rows["reading_mode"]) == ["unaided", "aided"]
    assert list(rows["opinions_seen"]) == ["false", "true"]
    assert unaided["resolves_review_ids"] == "" and aided["resolves_review_ids"] == unaided["review_id"]
    assert (unaided["confidence"], aided["confidence"]) == ("2", "4")
    assert float(unaided["reading_time_s"]) >= 0 and float(aided["reading_time_s"]) >= 0
    assert unaided["reader_call_AF"] == "absent" and aided["reader_call_AF"] == "present"
    assert set(rows["source_sha256"]) == {order[0]} and set(rows["role"]) == {"reader"}
    assert set(rows["session_id"]) == {""}


def test_a_new_session_resumes_at_the_aided_step(home):
    order = _ok(open_page("worklist")).session_state[state.WORKLIST_ORDER]
    app = _two_step_case(home, "Dr Resume", order[0])
    click_calls(app, dict.fromkeys(CLASSES, "uncertain"))
    _confidence(app, 1)
    app.button(key="save-review").click()
    _ok(app.run())
    unaided_id = read_reviews(home / "reviews.csv").iloc[0]["review_id"]
    again = _two_step_case(home, "Dr Resume", order[0])  # a reload: a fresh session
    assert "Step 2 of 2, aided" in _texts(again) and _opinions_shown(again)
    assert shown_calls(again) == ["uncertain"] * len(CLASSES)
    other = _two_step_case(home, "Dr Other", order[0])  # another reader starts at step 1
    assert "Step 1 of 2, unaided" in _texts(other) and not _opinions_shown(other)
    _confidence(again, 3)
    again.button(key="save-review").click()
    _ok(again.run())
    assert "Two-step reading saved" in _texts(again)
    assert again.button(key="save-review").disabled and again.button(key="save-and-next").disabled
    rows = read_reviews(home / "reviews.csv")
    assert list(rows["reading_mode"]) == ["unaided", "aided"] and rows.iloc[1]["resolves_review_ids"] == unaided_id


def test_other_modes_are_unchanged_by_two_step(home):
    order = _ok(open_page("worklist")).session_state[state.WORKLIST_ORDER]
    app = _ok(open_page("review", query={"case": order[0]}))
    assert "Step 1 of 2" not in _texts(app) and _opinions_shown(app)
    assert not any(control.label.startswith("Confidence") for control in app.segmented_control)


def _study(home, reader: str, *, crossover: bool = False):
    from ecgreview.config import Settings
    from ecgreview.study.design import create_design, save_design, studies_dir

    order = _ok(open_page("worklist")).session_state[state.WORKLIST_ORDER]
    design = create_design("pilot", order[:3], [reader, "Dr Else"], seed=5, crossover=crossover)
    save_design(design, studies_dir(Settings.from_env()))
    return design


def _worklist_as(reader: str):
    app = _ok(open_page("worklist"))
    app.text_input(key=state.READER_NAME_WIDGET).input(reader)
    return _ok(app.run())


def test_a_two_step_study_from_the_worklist_in_the_reader_s_own_order(home):
    design = _study(home, "Dr Study")
    app = _worklist_as("Dr Study")
    assert "**Your study pilot** (two-step) · **0 / 3 done**" in _texts(app)
    study_table = app.dataframe[0].value
    assert list(study_table["source_sha256"]) == list(design.order("Dr Study"))
    assert set(study_table["Mode"]) == {"two-step"} and set(study_table["Status"]) == {"to read"}
    next(button for button in app.button if button.label.startswith("Open next study case")).click()
    app = _ok(app.run())
    first, second = design.order("Dr Study")[:2]
    assert app.query_params["case"] == first
    assert "case 1 of 3" in _texts(app) and "Step 1 of 2, unaided" in _texts(app)  # the design's mode
    assert not _opinions_shown(app)
    click_calls(app, dict.fromkeys(CLASSES, "absent"))
    _confidence(app, 3)
    app.button(key="save-and-next").click()
    app = _ok(app.run())
    assert app.query_params["case"] == first and "Step 2 of 2, aided" in _texts(app)
    _confidence(app, 5)
    app.button(key="save-and-next").click()
    app = _ok(app.run())
    assert app.query_params["case"] == second  # S goes on in the study's order
    rows = read_reviews(home / "reviews.csv")
    assert list(rows["reading_mode"]) == ["unaided", "aided"] and set(rows["session_id"]) == {"study:pilot:1"}
    assert _worklist_as("Dr Study").dataframe[0].value["Status"].tolist() == ["done", "to read", "to read"]
    assert "1 / 3 done" in _texts(_worklist_as("Dr Study"))
    assert "Your study" not in _texts(_worklist_as("Dr Nobody"))


def test_a_crossover_study_case_is_read_in_the_mode_the_design_assigns(home):
    design = _study(home, "Dr Cross", crossover=True)
    first = design.schedule["Dr Cross"][0]
    app = _worklist_as("Dr Cross")
    assert "session 1: 0 / 3" in _texts(app) and "session 2: 0 / 3" in _texts(app)
    next(button for button in app.button if button.label.startswith("Open next study case")).click()
    app = _ok(app.run())
    assert app.query_params["case"] == first.case_id
    assert _opinions_shown(app) == (first.mode == "aided")
    click_calls(app, dict.fromkeys(CLASSES, "absent"))
    _confidence(app, 4)
    app.button(key="save-review").click()
    app = _ok(app.run())
    row = read_reviews(home / "reviews.csv").iloc[0]
    assert row["reading_mode"] == first.mode and row["resolves_review_ids"] == ""
    assert row["opinions_seen"] == ("true" if first.mode == "aided" else "false")
    assert _opinions_shown(app) == (first.mode == "aided")  # an unaided case stays unaided after its save


def test_a_coordinator_creates_a_study_from_the_worklist(home):
    from ecgreview.config import Settings
    from ecgreview.study.design import load_design, studies_dir

    app = _worklist_as("Dr Coordinator")  # name mode: every role
    order = app.session_state[state.WORKLIST_ORDER]
    app.text_input(key="study-id").input("ui-study")
    app.checkbox(key="study-all-cases").check()
    app.text_area(key="study-readers").input("Dr A\nDr B")
    app.number_input(key="study-seed").set_value(11)
    next(button for button in app.button if button.label == "Create study").click()
    app = _ok(app.run())
    created = r"Created study ui\-study: 4 cases, 2 readers, seed 11"  # escaped Markdown
    assert any(created in success.value for success in app.success), [element.value for element in app.error]
    design = load_design("ui-study", studies_dir(Settings.from_env()))
    assert set(design.case_ids) == set(order) and design.readers == ("Dr A", "Dr B") and design.seed == 11
    assert design.plan is not None and design.plan.primary_classes == CLASSES  # the form freezes a plan
    assert design.plan.reference_standard == "consensus" and design.plan.frozen_at_utc


@pytest.fixture
def home_without_weights(tmp_path, monkeypatch) -> Path:
    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_CASES", str(build_case_folder(tmp_path / "cases")))
    monkeypatch.setenv("ECGREVIEW_MODELS_DIR", str(tmp_path / "no-models"))
    return tmp_path / "home"


def test_without_weights_two_step_is_not_offered_and_says_why(home_without_weights):
    order = _ok(open_page("worklist")).session_state[state.WORKLIST_ORDER]
    app = _ok(open_page("review", query={"case": order[0]}))
    control = app.segmented_control(key=state.READING_MODE_WIDGET)
    assert TWO_STEP not in control.options and "two-step" not in control.options
    assert any("Two-step reading is not offered: no DNN weights are installed" in c.value for c in app.caption)


def test_a_two_step_study_case_without_weights_cannot_be_saved_as_aided(home_without_weights):
    design = _study(home_without_weights, "Dr Study")
    app = _worklist_as("Dr Study")
    next(button for button in app.button if button.label.startswith("Open next study case")).click()
    app = _ok(app.run())
    assert app.query_params["case"] == design.order("Dr Study")[0]
    assert "Two-step reading is not available" in _texts(app) and "needs the DNN" in _texts(app)
    assert app.button(key="save-review").disabled and app.button(key="save-and-next").disabled
    assert not (home_without_weights / "reviews.csv").exists()
