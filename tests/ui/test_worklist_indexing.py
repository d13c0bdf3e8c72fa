"""The worklist and teaching pages never index inline: they show the update's progress, then the cases."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

import ecgreview.review.parallel_read
from ecgreview.config import Settings
from ecgreview.io import read_ecg
from ecgreview.ui import indexing, state
from tests.ui.reading_room_fixtures import home_with_case_folder, open_page, run_after_indexing

CASE_FILES = {"demo.dcm", "syn-af.dcm", "syn-rbbb.dcm", "syn-normal.dcm"}


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    return home_with_case_folder(tmp_path, monkeypatch)


@pytest.fixture
def gate(monkeypatch):
    """Every file read by the indexer waits for ``gate.opened`` (the page must not); ``gate.reading`` is set
    when the first read has begun."""
    gate = SimpleNamespace(opened=threading.Event(), reading=threading.Event())

    def gated_read(path):
        gate.reading.set()
        assert gate.opened.wait(60), "the test never opened the gate"
        return read_ecg(path)

    monkeypatch.setattr(ecgreview.review.parallel_read, "read_ecg", gated_read)  # the index reads files there
    yield gate
    gate.opened.set()


def _captions(app) -> str:
    return "\n".join(caption.value for caption in app.caption)


def test_worklist_shows_progress_while_indexing_then_the_cases(home, gate):
    app = open_page("worklist", finish_indexing=False)  # would time out if the page waited for the gated reads
    assert not app.exception, app.exception
    background = indexing.indexer(Settings.from_env())
    assert background.running_here()
    assert "0 cases indexed so far" in _captions(app) and app.dataframe[0].value.empty
    assert gate.reading.wait(30)
    app.run(timeout=30)  # another rerun while the update waits on its first file: again at once
    assert "0 cases indexed so far" in _captions(app) and background.running_here()
    assert [bar.proto.text for bar in app.get("progress")] == ["Indexing 0 of 4 new or changed ECG files…"]
    gate.opened.set()
    assert background.wait(60)
    app.run()
    assert not app.exception, app.exception
    rows = app.dataframe[0].value
    assert set(rows["File"]) == CASE_FILES
    assert "4 of 4 cases" in _captions(app) and "so far" not in _captions(app)
    assert app.session_state[state.WORKLIST_ORDER] == list(rows["source_sha256"])


def test_worklist_lists_unreadable_files_from_the_index(home):
    (Path(Settings.from_env().cases_dir) / "broken.dcm").write_bytes(b"not a dicom file")
    app = open_page("worklist")
    assert not app.exception, app.exception
    assert set(app.dataframe[0].value["File"]) == CASE_FILES
    assert any(expander.label == "1 file(s) could not be read" for expander in app.expander)
    assert "4 of 4 cases" in _captions(app)  # the unreadable file is listed apart, not as a case


def test_teaching_page_lists_the_cases_after_indexing(home):
    app = open_page("teaching")
    assert not app.exception, app.exception
    app.segmented_control(key=state.TEACHING_ROLE).set_value("Teacher")
    app = run_after_indexing(app)
    assert not app.exception, app.exception
    options = app.multiselect(key="teaching-new-cases").options
    assert {option.split(" · ")[0] for option in options} == CASE_FILES
