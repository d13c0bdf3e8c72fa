"""Issue #21 items 6, 8 and polish without a browser: the live agree/disagree marks (the one agreement rule,
none without a DNN output), the weights popover's command, and no always-empty Device column in the worklist."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ecgreview.record import CLASSES, THRESHOLDS, dnn_calls
from ecgreview.review.store import dnn_agreement
from ecgreview.ui import page_setup
from ecgreview.ui.decision_panel import agreement_marks
from tests.ui.reading_room_fixtures import home_with_case_folder, open_page


def test_marks_follow_the_agreement_rule_for_random_calls():
    rng = np.random.default_rng(21)
    for _ in range(20):
        probabilities = rng.uniform(0, 1, len(CLASSES))
        present = tuple(bool(call) for call in dnn_calls(probabilities, THRESHOLDS))
        calls = {name: rng.choice(["present", "absent", "uncertain", None]) for name in CLASSES}
        marks = agreement_marks(SimpleNamespace(dnn_calls=present), calls)  # type: ignore[arg-type]
        words = dnn_agreement(calls, {name: "present" if call else "absent" for name, call in zip(CLASSES, present)})
        for name in CLASSES:
            symbol = {"agree": "✓", "disagree": "✗", "": ""}[words[name]]
            assert (symbol in marks[name]) and (bool(marks[name]) == bool(symbol)), (name, calls[name], marks)


def test_no_mark_without_a_dnn_output():
    marks = agreement_marks(SimpleNamespace(dnn_calls=None), dict.fromkeys(CLASSES, "present"))  # type: ignore[arg-type]
    assert set(marks.values()) == {""}


def test_weights_popover_gives_the_command_a_start_sh_user_runs():
    commands = [line for line in page_setup.INSTALL_HELP.splitlines() if "-m ecgreview" in line]
    assert commands and all(line.startswith(".venv/bin/python -m ecgreview model install") for line in commands)


def test_worklist_leaves_out_a_device_column_no_case_fills(tmp_path, monkeypatch):
    home_with_case_folder(tmp_path, monkeypatch)
    cases = tmp_path / "cases"
    app = open_page("worklist")
    assert not app.exception, app.exception
    assert "Device" in list(app.dataframe[0].proto.column_order)  # the demo DICOM names its device
    shutil.rmtree(cases)
    cases.mkdir()
    for name in ("A0003", "A0010"):  # WFDB records name no device
        for suffix in (".hea", ".mat"):
            source = Path(__file__).parents[2] / "ecgreview" / "data" / "demo_cases" / f"{name}{suffix}"
            shutil.copy(source, cases / source.name)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home-2"))
    app = open_page("worklist")
    assert not app.exception, app.exception
    order = list(app.dataframe[0].proto.column_order)
    assert "Device calls" in order and "Device" not in order and set(app.dataframe[0].value["File"]) == {
        "A0003.hea", "A0010.hea"}


def test_teaching_picker_names_an_upload_by_the_file_name_chosen(tmp_path, monkeypatch):
    import hashlib

    from ecgreview.config import Settings
    from ecgreview.review import uploads
    from ecgreview.review.uploads import save_upload
    from ecgreview.ui import state
    from tests.io.dicom_fixtures import write_ecg_dicom
    from tests.ui.reading_room_fixtures import run_after_indexing

    home_with_case_folder(tmp_path, monkeypatch)
    data = write_ecg_dicom(tmp_path, "elsewhere.dcm", statements=("SINUS BRADYCARDIA",)).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    monkeypatch.setattr(uploads, "_upload_without_phi", lambda settings, data, name: data)  # as for a clean file
    kept = save_upload(Settings.from_env(), data, "C:\\ward 4\\bed 4 (rest).dcm", sha)  # name mode: listed
    assert kept.name == f"{sha[:12]}-bed_4_rest_.dcm"
    app = open_page("teaching")
    app.segmented_control(key=state.TEACHING_ROLE).set_value("Teacher")
    app = run_after_indexing(app)
    assert not app.exception, app.exception
    options = app.multiselect(key="teaching-new-cases").options
    assert any(option.startswith(f"{sha[:12]}-bed_4_rest_.dcm") for option in options), options
    assert not any("upload-" in option for option in options)
