"""The Worklist page's DICOMweb line (AppTest, against a real Orthanc; skips without one): when the last full
search ran, and the button that asks the background updater for a full search, which finds an old study
imported late that the incremental searches miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgreview.config import Settings
from ecgreview.io.dicomweb import dicomweb_cache, store_datasets
from ecgreview.io.dicomweb_state import full_search_request, read_state
from ecgreview.ui import dicomweb_panel, indexing
from tests.io.test_dicomweb import ecg_with_uids
from tests.orthanc_fixture import OrthancServer, orthanc  # noqa: F401  (the module's Orthanc)
from tests.ui.reading_room_fixtures import ENV_VARIABLES, open_page, run_after_indexing


@pytest.fixture
def home(orthanc: OrthancServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    """An app home with no case folder of its own and the server as its DICOMweb source, holding one ECG of a
    recent study (the incremental searches' mark)."""
    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "cases").mkdir()
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_CASES", str(tmp_path / "cases"))
    for name, value in orthanc.environment().items():
        monkeypatch.setenv(name, value)
    recent = ecg_with_uids()
    recent.StudyDate = "20240310"
    store_datasets(Settings.from_env(), [recent])
    return tmp_path / "home"


def _line(app) -> str:
    return next(caption.value for caption in app.caption if "DICOMweb server" in caption.value)


def test_the_full_search_button_runs_a_full_search_in_the_background(home, monkeypatch):
    settings = Settings.from_env()
    app = open_page("worklist")  # the first sync: a full search
    assert not app.exception, app.exception
    first = read_state(dicomweb_cache(settings))
    assert first is not None and first.full_search_utc and first.study_date_mark >= "20240310"
    assert "last full search " in _line(app) and "asked for" not in _line(app)
    archived = ecg_with_uids()  # an old study imported late: before the incremental searches' dates
    archived.StudyDate = "19990101"
    store_datasets(settings, [archived])
    cached = dicomweb_cache(settings) / archived.StudyInstanceUID / archived.SeriesInstanceUID / \
        f"{archived.SOPInstanceUID}.dcm"
    asked: list[float | None] = []
    real_request = indexing.request_update

    def spy(settings, model=None, *, max_age_s=None):
        asked.append(max_age_s)
        return real_request(settings, model, max_age_s=max_age_s)

    monkeypatch.setattr(dicomweb_panel.indexing, "request_update", spy)
    app.button(key="dicomweb-full-search").click()
    run_after_indexing(app)  # the click's run returns; the update runs in the background, then the page again
    assert not app.exception, app.exception
    assert 0 in asked  # the button asked the background updater for an update now
    assert cached.is_file() and full_search_request(dicomweb_cache(settings)) == ""  # found, and answered
    later = read_state(dicomweb_cache(settings))
    assert later is not None and later.full_search_utc > first.full_search_utc
    assert f"{archived.SOPInstanceUID}.dcm" in set(app.dataframe[0].value["File"])
    assert "asked for" not in _line(app) and not app.button(key="dicomweb-full-search").disabled


def test_no_line_without_a_dicomweb_server(tmp_path, monkeypatch):
    for variable in (*ENV_VARIABLES, "ECGREVIEW_DICOMWEB_URL"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "cases").mkdir()
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_CASES", str(tmp_path / "cases"))
    app = open_page("worklist")
    assert not app.exception, app.exception
    assert not [caption for caption in app.caption if "DICOMweb server" in caption.value]
    assert not [button for button in app.button if button.key == "dicomweb-full-search"]
