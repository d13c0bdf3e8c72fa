"""Issue #21 items 5, 6, 8 in Chromium: two uploads are two cases, named by the files the user chose; at
1280 x 800 the ECG, the six calls and Save are on one screen; the live agree/disagree mark beside each call
(never while the DNN is hidden); a format without a PHI audit says so once. Screenshots (1280 x 800 and
1600 x 1000) go to artifacts/screenshots/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ecgreview.examples import demo_ecg_path
from ecgreview.record import CLASSES
from tests.browser.conftest import SCREENSHOTS
from tests.browser.reading_helpers import (
    DNN_PANEL,
    TEXT_WHOLE_JS,
    TIMEOUT_MS,
    app_run,
    call_option,
    call_shown_js,
    settle,
    wait_for_case,
)

pytestmark = pytest.mark.browser

DEMO_CASES = Path(__file__).parents[2] / "ecgreview" / "data" / "demo_cases"
#: The review page's ECG, as a box on screen (whatever draws the paper inside it).
ECG_BOX = ".st-key-ecg-trace"


@pytest.fixture(scope="module")
def server_environment(fixture_weights) -> dict[str, str]:
    """Fixture weights, so that the DNN column and the agreement marks are shown."""
    return {"ECGREVIEW_MODEL": str(fixture_weights)}


@pytest.fixture
def screen(browser, request):
    """A page of a fresh browser context at the size the test is parametrised with (width, height)."""
    from tests.browser.app_runs import RUN_TRACKER_JS

    width, height = request.param
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(RUN_TRACKER_JS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _in_view(page, selector: str, *, width: int, height: int) -> dict:
    """The element's box; fails unless it lies wholly inside the viewport with the page not scrolled."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    assert page.evaluate("() => window.scrollY") == 0
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= width + 0.5 and box["y"] + box["height"] <= height + 0.5, (selector, box)
    return box


@pytest.mark.parametrize("screen", [(1280, 800), (1600, 1000)], indirect=True, ids=["1280x800", "1600x1000"])
def test_ecg_calls_and_save_on_one_screen(server, screen):
    width, height = screen.viewport_size["width"], screen.viewport_size["height"]
    screen.goto(server.url)
    wait_for_case(screen)
    boxes = {"ECG": _in_view(screen, ECG_BOX, width=width, height=height)}
    for name in CLASSES:
        boxes[name] = _in_view(screen, f".st-key-call-{name}", width=width, height=height)
        options = screen.locator(f".st-key-call-{name} [role=radio]")
        tops = {round(options.nth(index).bounding_box()["y"]) for index in range(options.count())}
        assert options.count() == 3 and len(tops) == 1, (name, tops)  # present, absent, uncertain: one line
    boxes["Save"] = _in_view(screen, ".st-key-save-review button", width=width, height=height)
    for label in ("Previous case", "Next case", "View:"):  # navigation and the View label whole
        button = screen.get_by_role("button").filter(has_text=label).first
        assert button.evaluate(TEXT_WHOLE_JS), label
    assert screen.locator(DNN_PANEL).first.evaluate(TEXT_WHOLE_JS)  # headers, probabilities, calls: whole
    screen.screenshot(path=str(SCREENSHOTS / f"reading-surface-{width}x{height}.png"))


@pytest.mark.parametrize("screen", [(1280, 800)], indirect=True, ids=["1280x800"])
def test_live_mark_beside_each_call(server, screen):
    screen.goto(server.url)
    wait_for_case(screen)
    expected = {}
    for name, call in zip(CLASSES, ("present", "absent", "uncertain", "present", "absent", "present")):
        dnn_text = screen.locator(f"{DNN_PANEL} [data-testid=stHorizontalBlock]").filter(
            has=screen.locator(f".st-key-call-{name}")).locator("[data-testid=stColumn]").nth(1).inner_text()
        dnn_present = "›" in dnn_text  # "p › threshold" when the DNN calls the class present, "p ≤ t" else
        assert dnn_present or "≤" in dnn_text, dnn_text
        assert screen.locator(f".st-key-agreement-{name}").inner_text().strip() == ""  # no call yet: no mark
        with app_run(screen):
            call_option(screen, name, call).click()
        screen.wait_for_function(call_shown_js(name, call), timeout=TIMEOUT_MS)
        expected[name] = "" if call == "uncertain" else ("✓" if (call == "present") == dnn_present else "✗")
        settle(screen)
        assert screen.locator(f".st-key-agreement-{name}").inner_text().strip() == expected[name], name
    assert set(expected.values()) - {""}, expected  # the calls made at least one mark
    screen.screenshot(path=str(SCREENSHOTS / "reading-surface-live-marks-1280x800.png"))


def test_no_mark_while_the_dnn_is_hidden(server, page):
    page.goto(server.url)
    wait_for_case(page)
    with app_run(page):
        page.locator(".st-key-reading_mode_widget").get_by_text("blinded", exact=True).click()
    page.get_by_text("Blinded reading").first.wait_for(timeout=TIMEOUT_MS)
    for name in CLASSES:
        with app_run(page):
            call_option(page, name, "present").click()
        page.wait_for_function(call_shown_js(name, "present"), timeout=TIMEOUT_MS)
    settle(page)
    assert all(page.locator(f".st-key-agreement-{name}").inner_text().strip() == "" for name in CLASSES)
    assert not page.get_by_text("✓").count() and not page.get_by_text("✗").count()


def test_two_uploads_are_two_cases_named_as_chosen(server, page, tmp_path):
    chosen = tmp_path / "bed 4 rest.dcm"
    shutil.copyfile(demo_ecg_path(), chosen)
    files = [chosen, DEMO_CASES / "A0003.hea", DEMO_CASES / "A0003.mat"]
    page.goto(server.url)
    wait_for_case(page)
    with app_run(page):
        page.get_by_text("Upload", exact=True).click()
    with app_run(page):
        page.locator('input[type="file"]').set_input_files([str(path) for path in files])
    picker = page.get_by_label("Uploaded case (2 cases)")
    picker.wait_for(timeout=TIMEOUT_MS)
    wait_for_case(page)
    page.get_by_text("File bed_4_rest.dcm").first.wait_for(timeout=TIMEOUT_MS)
    assert not page.get_by_text("upload-", exact=False).count()  # no internal id on screen
    picker.scroll_into_view_if_needed()
    picker.click()
    picker.fill("A0003")  # the picker filters its options by what is typed
    with app_run(page):
        picker.press("Enter")
    wait_for_case(page)
    page.get_by_text("File A0003.hea").first.wait_for(timeout=TIMEOUT_MS)
    # WFDB has no PHI audit: said once, in the file line, not as a warning badge
    assert page.get_by_text("not available for this format").count() == 1
    assert not page.locator("[data-testid=stBadge]").filter(has_text="PHI audit").count()
    page.screenshot(path=str(SCREENSHOTS / "reading-surface-two-uploads.png"), full_page=True)


@pytest.mark.parametrize("screen", [(1280, 800)], indirect=True, ids=["1280x800"])
def test_worklist_filter_labels_whole(server, screen):
    screen.goto(f"{server.url}/worklist")
    screen.get_by_text("Descending", exact=True).first.wait_for(timeout=TIMEOUT_MS)
    settle(screen)
    for label in ("Discordant only", "Disagreement only", "Not reviewed by me", "Descending", "Sort by"):
        holder = screen.locator("label").filter(has_text=label).first
        assert holder.evaluate(TEXT_WHOLE_JS), label
    screen.screenshot(path=str(SCREENSHOTS / "reading-surface-worklist-1280x800.png"))
