"""Acceptance in Chromium with the DEFAULT case folder (the bundled demo cases and pydicom's Mortara ECG):
every case opens from the worklist on one screen, a teaching session from the files' labels, and a
10-case keyboard session in which no key is lost (issue 11)."""

from __future__ import annotations

import re

import pytest

from ecgreview.examples import demo_ecg_path
from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.store import read_reviews
from ecgreview.review.teaching import TeachingCase, create_session, reference_from_labels
from ecgreview.review.worklist import INDEX_FILE, CaseIndex
from ecgreview.review.worklist_query import query_worklist, sync_listing
from tests.browser.conftest import SCREENSHOTS
from tests.browser.reading_helpers import (
    BUNDLED_CASES,
    open_worklist,
    DEVICE_PANEL,
    DNN_PANEL,
    ECG,
    TIMEOUT_MS,
    call_shown_js,
    settle,
    sign_in,
    wait_for_case,
    wait_for_figures_fitted,
)

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1600, "height": 1000}
#: Cases whose screenshots are kept: a WFDB AF case, a WFDB RBBB case, the Mortara DICOM.
SCREENSHOT_CASES = ("A0003.hea", "A0010.hea", demo_ecg_path().name)


@pytest.fixture(scope="module")
def server_environment(fixture_weights) -> dict[str, str]:
    """Fixture weights only: no ECGREVIEW_CASES, so the worklist is the bundled demo set."""
    return {"ECGREVIEW_MODEL": str(fixture_weights)}


def _open_worklist(page, url: str) -> None:
    open_worklist(page, url, cases=BUNDLED_CASES)


def _worklist(server) -> list[tuple[str, str]]:
    """(source_sha256, file name) of every case, in the worklist's default order (by file)."""
    index = CaseIndex(server.home / INDEX_FILE)
    sync_listing(index.path)
    rows = query_worklist(index.path, model_sha256="", thresholds=THRESHOLDS, limit=10_000).rows
    return list(zip(rows["source_sha256"], rows["File"]))


def _current_case(page) -> str:
    return re.search(r"case=([0-9a-f]{64})", page.url).group(1)


def _outside_viewport(page, selectors: dict[str, object]) -> list[str]:
    """Names of the parts whose bounding box is not wholly inside the viewport (no scrolling)."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    outside = []
    for name, locator in selectors.items():
        box = locator.bounding_box()
        if box is None:  # re-mounted by the case's last render (a plotly figure is replaced, not updated): once more
            locator.wait_for(state="visible", timeout=TIMEOUT_MS)
            box = locator.bounding_box()
        if box is None or box["x"] < 0 or box["y"] < 0 or box["x"] + box["width"] > width + 0.5 \
                or box["y"] + box["height"] > height + 0.5:
            outside.append(f"{name} {box}")
    return outside


def _one_screen_parts(page) -> dict[str, object]:
    parts = {"ECG": page.locator(ECG).first, "DNN panel": page.locator(DNN_PANEL).first,
             "Save and next": page.get_by_role("button", name="Save and next")}
    if page.locator(DEVICE_PANEL).count():
        parts["device panel"] = page.locator(DEVICE_PANEL).first
    parts |= {f"call {name}": page.locator(f".st-key-call-{name}").first for name in CLASSES}
    return parts


def test_every_demo_case_opens_from_the_worklist_on_one_screen(server, page):
    url = server.url
    page.set_viewport_size(VIEWPORT)
    _open_worklist(page, url)
    cases = _worklist(server)
    names = [name for _, name in cases]
    assert len(cases) == 21 and demo_ecg_path().name in names and {"A0003.hea", "A0010.hea"} <= set(names)
    page.get_by_role("button", name="Open first case").click()
    problems = []
    for number, (sha, name) in enumerate(cases):
        page.wait_for_url(re.compile(f"case={sha}"), timeout=TIMEOUT_MS)
        wait_for_case(page)
        page.get_by_text(f"File {name}").first.wait_for(timeout=TIMEOUT_MS)
        assert not page.get_by_text("Cannot open this ECG").count(), name
        dnn_text = page.locator(DNN_PANEL).first.inner_text()
        assert re.search(r"\b[01]\.\d{3}\b", dnn_text), f"{name}: no DNN probability in {dnn_text!r}"
        assert page.locator(DEVICE_PANEL).first.get_by_text("Device statements").count(), name
        problems += [f"{name}: {part}" for part in _outside_viewport(page, _one_screen_parts(page))]
        if name in SCREENSHOT_CASES:
            page.screenshot(path=str(SCREENSHOTS / f"demo-{name.split('.')[0]}.png"))
        if name == "A0003.hea":
            page.screenshot(path=str(SCREENSHOTS / "one-screen-1600x1000.png"))
            page.set_viewport_size({"width": 1280, "height": 800})
            settle(page)
            wait_for_figures_fitted(page)
            page.screenshot(path=str(SCREENSHOTS / "one-screen-1280x800.png"))
            page.set_viewport_size(VIEWPORT)
            settle(page)
            wait_for_figures_fitted(page)
        if number + 1 < len(cases):
            page.keyboard.press("n")
    assert not problems, "not on one screen at 1600x1000:\n" + "\n".join(problems)


def test_teaching_session_from_the_demo_labels(server, page):
    url, home = server
    page.set_viewport_size(VIEWPORT)
    _open_worklist(page, url)  # builds the index
    labelled = [case for case in CaseIndex(home / INDEX_FILE).cases(thresholds=THRESHOLDS) if case.reference_labels]
    assert len(labelled) >= 20
    session = create_session(home / "sessions", "demo labels", [
        TeachingCase(case.source_sha256, case.source_name, reference_from_labels(case.reference_labels))
        for case in labelled])
    page.goto(f"{url}/teaching")
    page.get_by_role("heading", name="Teaching").wait_for(timeout=TIMEOUT_MS)
    settle(page)
    sign_in(page, "Student One")
    total = len(session.cases)
    for number, case in enumerate(session.cases, start=1):
        try:
            page.get_by_text(f"Case {number} of {total} · {case.source_name}").wait_for(timeout=TIMEOUT_MS)
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / "failure-demo-teaching.png"))
            raise AssertionError(f"case {number} not shown; page: {page.locator('section.main, [data-testid=stMain]').first.inner_text()[:1500]!r}")
        page.locator(ECG).first.wait_for(state="visible", timeout=TIMEOUT_MS)
        assert not page.get_by_text("Cannot open this ECG").count(), case.source_name
        for name in CLASSES:
            page.locator(f".st-key-call-{name} [role=radio]").first.wait_for(timeout=TIMEOUT_MS)
        settle(page)
        if number == 1:
            page.screenshot(path=str(SCREENSHOTS / "demo-teaching-case.png"))
        page.keyboard.press("1")
        for _ in CLASSES:
            page.keyboard.press("a")
        for name in CLASSES:
            page.wait_for_function(call_shown_js(name, "absent"), timeout=TIMEOUT_MS)
        page.keyboard.press("s")
        try:
            page.get_by_text(f"{case.source_name}: your answer beside the reference").wait_for(timeout=TIMEOUT_MS)
        except Exception:  # say what the page showed instead (a lost key, an error, a run that did not end)
            page.screenshot(path=str(SCREENSHOTS / "failure-demo-teaching-submit.png"))
            keys = page.evaluate("() => { const hub = window.__ecgreviewKeys; return hub ? {seq: hub.seq, "
                                 "applied: hub.applied, log: hub.log.slice(-10), case: hub.case} : null; }")
            saved = read_reviews(server.reviews_path)["source_sha256"].eq(case.source_sha256).sum()
            raise AssertionError(f"no feedback after S on {case.source_name} ({saved} row(s) of it saved); "
                                 f"keys {keys}; runs "
                                 f"{page.evaluate('() => window.__ecgreviewRuns')}; page: "
                                 f"{page.locator('[data-testid=stMain]').first.inner_text()[:1500]!r}")
        settle(page)
        page.get_by_role("button", name="Next case").click()
    page.get_by_text(re.compile(r"Session complete — \d+ of \d+ answers right")).wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(SCREENSHOTS / "demo-teaching-score.png"))
    rows = read_reviews(server.reviews_path)
    assert list(rows["source_sha256"]) == [case.source_sha256 for case in session.cases]
    assert set(rows["role"]) == {"student"} and set(rows["reader"]) == {"Student One"}
    assert set(rows["session_id"]) == {session.session_id}
    for name in CLASSES:
        assert set(rows[f"reader_call_{name}"]) == {"absent"}


def test_ten_case_keyboard_session_through_the_worklist(server, page):
    url = server.url
    page.set_viewport_size(VIEWPORT)
    _open_worklist(page, url)
    cases = _worklist(server)[:10]
    sign_in(page, "Dr Keyboard")
    # O is the shortcut of the "Open first case" button: it works once the browser has drawn the button (its
    # script chunk loads after the page's run has finished; a press before that goes nowhere, as for a reader)
    page.get_by_role("button", name=re.compile("Open first case")).wait_for(timeout=TIMEOUT_MS)
    page.keyboard.press("o")  # opens the first case of the worklist
    sequences = ["PAUPAU", "AAAAAA", "PPPPPP", "UUUUUU", "APUAPU", "PAAAAA", "AAAAAP", "UPAUPA", "AUPAUP", "PUAPUA"]
    calls = {"P": "present", "A": "absent", "U": "uncertain"}
    for number, ((sha, name), keys) in enumerate(zip(cases, sequences)):
        page.wait_for_url(re.compile(f"case={sha}"), timeout=TIMEOUT_MS)
        wait_for_case(page)
        page.get_by_text(f"File {name}").first.wait_for(timeout=TIMEOUT_MS)
        if number == 0:  # identity survives navigation from the worklist to the cases
            assert page.get_by_label("Reader", exact=True).input_value() == "Dr Keyboard"
        # the reading panel of this case is mounted (its key capture reads this case)
        page.wait_for_function(f"() => window.__ecgreviewKeys && window.__ecgreviewKeys.case === '{sha}'",
                               timeout=TIMEOUT_MS)
        page.keyboard.press("1")
        for key in keys:  # fast: no waits between the keys
            page.keyboard.press(key.lower())
        page.keyboard.press("s")  # save and next: the next case of the worklist (there are 21)
        page.wait_for_url(lambda address, sha=sha: sha not in address, timeout=TIMEOUT_MS)
    wait_for_case(page)
    page.get_by_text("Saved review").first.wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_label("Reader", exact=True).input_value() == "Dr Keyboard"
    page.screenshot(path=str(SCREENSHOTS / "demo-keyboard-session-end.png"))
    rows = read_reviews(server.reviews_path)
    assert len(rows) == 10
    assert list(rows["source_sha256"]) == [sha for sha, _ in cases]  # 10 distinct cases, in worklist order
    assert set(rows["reader"]) == {"Dr Keyboard"}
    for (_, row), keys in zip(rows.iterrows(), sequences):
        assert [row[f"reader_call_{name}"] for name in CLASSES] == [calls[key] for key in keys], row["source_name"]
