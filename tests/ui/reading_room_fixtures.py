"""A case folder with DNN/device discordance, fixture weights, and an AppTest router that opens any page first."""

from __future__ import annotations

import shutil
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ecgreview.examples import demo_ecg_path
from tests.io.dicom_fixtures import write_ecg_dicom

ENV_VARIABLES = ("ECGREVIEW_MODEL", "ECGREVIEW_MODELS_DIR", "ECGREVIEW_REVIEWS", "ECGREVIEW_CASES", "ECGREVIEW_CONFIG")

_ROUTER = """
import streamlit as st
from ecgreview.ui.pages import review, teaching, worklist
pages = {"review": review.render, "worklist": worklist.render, "teaching": teaching.render}
st.navigation([st.Page(render, title=name.title(), url_path=name, default=name == %r)
               for name, render in pages.items()]).run()
"""


def build_case_folder(folder: Path, corpus_dir: Path | None = None) -> Path:
    """The demo ECG, the shared corpus DICOMs (when given), and synthetic DICOMs with different statements."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_ecg_path(), folder / "demo.dcm")
    if corpus_dir is not None:
        for path in sorted((corpus_dir / "dicom").glob("*.dcm")):
            if path.read_bytes() != demo_ecg_path().read_bytes():
                shutil.copy(path, folder / path.name)
    write_ecg_dicom(folder, "syn-af.dcm", statements=("ATRIAL FIBRILLATION", "ABNORMAL ECG"))
    write_ecg_dicom(folder, "syn-rbbb.dcm", statements=("SINUS RHYTHM", "RIGHT BUNDLE BRANCH BLOCK"))
    write_ecg_dicom(folder, "syn-normal.dcm", statements=("SINUS RHYTHM", "NORMAL ECG"))
    return folder


def write_fixture_weights(path: Path, seed: int = 3) -> Path:
    """Random (unverified) weights in the released layout."""
    from ecgreview.model.network import build_model
    from tests.model_fixtures import random_weights, weight_specs_from_keras, write_keras224_hdf5

    specs = weight_specs_from_keras(build_model())
    return write_keras224_hdf5(path, specs, random_weights(specs, seed=seed))


def open_page(page: str, *, query: dict[str, str] | None = None, finish_indexing: bool = True) -> AppTest:
    """Run the app with ``page`` as its first page (AppTest cannot switch to callable pages); by default, when
    the page started an index update in the background, wait for it and run the page again (as its refresh does)."""
    app = AppTest.from_string(_ROUTER % page, default_timeout=180)
    app.query_params.update(query or {})
    return run_after_indexing(app) if finish_indexing else app.run()


def run_after_indexing(app: AppTest, timeout_s: float = 120) -> AppTest:
    """Run the page; if that started an index update, wait for it to finish and run the page again."""
    from ecgreview.config import Settings
    from ecgreview.ui import indexing

    background = indexing.indexer(Settings.from_env())
    started = background.runs_started
    app.run()
    if background.runs_started == started:
        return app
    assert background.wait(timeout_s), f"indexing {background.index_path} took over {timeout_s} s"
    return app.run()


def shown_calls(app: AppTest) -> list:
    """The reader's call each class's segmented control shows, in class order (None: not answered)."""
    from ecgreview.record import CLASSES

    controls = {control.label: control.value for control in app.segmented_control if control.label in CLASSES}
    assert list(controls) == list(CLASSES), f"call controls shown: {list(controls)}"
    return [controls[name] for name in CLASSES]


def click_calls(app: AppTest, calls: dict[str, str]) -> AppTest:
    """Click the reader's call for each class of ``calls`` on its segmented control (as with the mouse)."""
    for control in app.segmented_control:
        if control.label in calls:
            control.set_value(calls[control.label])
    app.run()
    assert not app.exception, app.exception
    return app


def press_setter(app: AppTest, call: str) -> AppTest:
    """Press the button that sets the class at the cursor to ``call`` and moves on (what the P/A/U keys do)."""
    app.button(key=f"set-call-{call}").click()
    app.run()
    assert not app.exception, app.exception
    return app


def home_with_case_folder(tmp_path: Path, monkeypatch) -> Path:
    """A fresh ``ECGREVIEW_HOME`` with the generated case folder as ``ECGREVIEW_CASES`` (other settings unset)."""
    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_CASES", str(build_case_folder(tmp_path / "cases")))
    return tmp_path / "home"
