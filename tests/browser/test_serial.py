"""Serial comparison in Chromium (issue #24 items 1-2): a CONSTRUCTED pair of one pseudonym (two real demo
recordings written as DICOM with two acquisition times: tests/review/serial_fixtures.py) shows the prior on the
same paper with the change tables; the worklist's disagreement sort opens the most disagreeing case first."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing

import pytest

from ecgreview.io import read_ecg
from ecgreview.record import THRESHOLDS
from ecgreview.review.worklist_query import query_worklist
from tests.browser.conftest import SCREENSHOTS
from tests.browser.reading_helpers import TIMEOUT_MS, app_run, settle, wait_for_case
from tests.io.dicom_fixtures import write_ecg_dicom
from tests.review.serial_fixtures import write_serial_pair

pytestmark = pytest.mark.browser

_PRIOR_PAPER = ".st-key-serial-prior-paper .js-plotly-plot"


@pytest.fixture(scope="module")
def pair_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serial") / "cases"
    prior, current = write_serial_pair(folder)
    write_ecg_dicom(folder, "syn-af.dcm", statements=("ATRIAL FIBRILLATION",))  # another patient, device AF
    write_ecg_dicom(folder, "syn-sinus.dcm", statements=("SINUS RHYTHM", "NORMAL ECG"))
    return folder, prior, current


@pytest.fixture(scope="module")
def server_environment(pair_folder, fixture_weights) -> dict[str, str]:
    return {"ECGREVIEW_CASES": str(pair_folder[0]), "ECGREVIEW_MODEL": str(fixture_weights)}


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _open_worklist(page, url: str) -> None:
    page.set_viewport_size({"width": 1500, "height": 1600})
    page.goto(f"{url}/worklist")
    page.get_by_role("heading", name="Worklist").wait_for(timeout=TIMEOUT_MS)
    page.get_by_text(re.compile(r"^4 of 4 cases")).wait_for(timeout=TIMEOUT_MS)  # indexed and predicted
    settle(page)


def test_the_prior_is_shown_beside_the_current_with_the_change_table(server, page, pair_folder):
    url, _ = server
    _, prior, current = pair_folder
    _open_worklist(page, url)  # the index lists the pair
    page.set_viewport_size({"width": 1500, "height": 2600})
    page.goto(f"{url}/?case={read_ecg(current).source_sha256}")
    wait_for_case(page)
    panel = page.locator(".st-key-serial-panel")
    panel.get_by_text("Prior ECGs").wait_for(timeout=TIMEOUT_MS)
    panel.get_by_text("New LBBB (device)").wait_for(timeout=TIMEOUT_MS)  # the headline
    assert page.locator(_PRIOR_PAPER).count() == 0  # drawn on request only
    with app_run(page):
        panel.get_by_text("Show prior ECG").click()
    page.locator(_PRIOR_PAPER).wait_for(state="visible", timeout=TIMEOUT_MS)
    settle(page)
    panel.get_by_text(re.compile(r"Prior ECG · acquired 2019-03-02 10:15 · pair-2019-prior\.dcm")).wait_for()
    current_box = page.locator(".st-key-ecg-paper").first.bounding_box()  # the papers' boxes
    prior_box = page.locator(".st-key-serial-prior-paper").bounding_box()
    assert abs(current_box["width"] - prior_box["width"]) < 2  # the same paper, the same scale: stacked
    assert abs(current_box["x"] - prior_box["x"]) < 2 and prior_box["y"] > current_box["y"]
    panel.scroll_into_view_if_needed()
    _shot(page, "serial-stacked")
    with app_run(page):
        panel.get_by_text("Side by side").click()
    page.locator(".st-key-serial-current-paper .js-plotly-plot").wait_for(state="visible", timeout=TIMEOUT_MS)
    settle(page)
    left = page.locator(".st-key-serial-current-paper").bounding_box()
    right = page.locator(".st-key-serial-prior-paper").bounding_box()
    assert abs(left["width"] - right["width"]) < 2 and abs(left["y"] - right["y"]) < 2 and right["x"] > left["x"]
    panel.scroll_into_view_if_needed()
    _shot(page, "serial-side-by-side")


def _expected_first(home) -> dict:
    """The first row of the disagreement sort, from the library on the server's own index."""
    index_path = home / "worklist-index.sqlite"
    with closing(sqlite3.connect(index_path)) as connection:
        (model_sha256,), = connection.execute("SELECT DISTINCT model_sha256 FROM predictions").fetchall()
    rows = query_worklist(index_path, model_sha256=model_sha256, thresholds=THRESHOLDS, sort_by="disagreement").rows
    return rows.iloc[0].to_dict()


def test_the_disagreement_sort_opens_the_most_disagreeing_case_first(server, page):
    url, home = server
    _open_worklist(page, url)
    with app_run(page):
        page.get_by_label("Sort by").click()
        page.get_by_role("option", name="disagreement").click()
    settle(page)
    _shot(page, "serial-worklist-disagreement")
    first = _expected_first(home)
    assert "DNN" in first["Reason"] and "device" in first["Reason"], first  # a DNN/device disagreement leads
    assert first["Disagreement"] >= 1
    page.get_by_role("button", name="Open first case").click()  # the first row of the sorted list
    page.wait_for_url(re.compile(r"case=[0-9a-f]{64}"), timeout=TIMEOUT_MS)
    assert re.search(r"case=([0-9a-f]{64})", page.url).group(1) == first["source_sha256"]
    wait_for_case(page)


def test_key_v_shows_and_hides_the_prior(server, page, pair_folder):
    url, _ = server
    _, _, current = pair_folder
    _open_worklist(page, url)
    page.set_viewport_size({"width": 1500, "height": 2600})
    page.goto(f"{url}/?case={read_ecg(current).source_sha256}")
    wait_for_case(page)
    page.locator(".st-key-serial-panel").get_by_text("Prior ECGs").wait_for(timeout=TIMEOUT_MS)
    assert page.locator(_PRIOR_PAPER).count() == 0  # drawn on request only
    page.evaluate("document.activeElement && document.activeElement.blur()")  # no text box has the focus
    with app_run(page):
        page.keyboard.press("v")
    page.locator(_PRIOR_PAPER).wait_for(state="visible", timeout=TIMEOUT_MS)
    assert page.get_by_role("switch", name="Show prior ECG").is_checked()  # the toggle follows the key
    with app_run(page):
        page.keyboard.press("v")
    page.locator(_PRIOR_PAPER).wait_for(state="detached", timeout=TIMEOUT_MS)
