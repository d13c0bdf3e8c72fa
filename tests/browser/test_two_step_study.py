"""Acceptance in Chromium on the BUNDLED demo cases (issue 15): a reader runs a 5-case two-step study created
with the library, the DNN and the device hidden until each unaided save; then the cohort page shows the
added-value study."""

from __future__ import annotations

import re

import pytest

from ecgreview.record import THRESHOLDS
from ecgreview.review.store import read_reviews
from ecgreview.review.worklist import INDEX_FILE, CaseIndex
from ecgreview.study.design import create_design, save_design
from tests.browser.conftest import SCREENSHOTS
from tests.browser.reading_helpers import (
    BUNDLED_CASES,
    DEVICE_PANEL,
    DNN_PANEL,
    TIMEOUT_MS,
    call_shown_js,
    keys_absent_for_every_class,
    open_worklist,
    settle,
    sign_in,
    wait_for_case,
)

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1600, "height": 1000}
READER = "Dr Study"
_PROBABILITY = re.compile(r"\b[01]\.\d{3}\b")
_ALL_HIDDEN_JS = """selector => {
  const panel = document.querySelector(selector);
  const text = panel ? panel.innerText : "";
  return (text.match(/\\bhidden\\b/g) || []).length >= 12 && !/\\b[01]\\.\\d{3}\\b/.test(text);
}"""


@pytest.fixture(scope="module")
def server_environment(fixture_weights) -> dict[str, str]:
    """Fixture weights only: the case folder is the bundled demo set."""
    return {"ECGREVIEW_MODEL": str(fixture_weights)}


def _confidence(page, value: int) -> None:
    page.locator(".st-key-confidence [role=radio]").filter(has_text=str(value)).first.click()
    page.wait_for_function("v => [...document.querySelectorAll('.st-key-confidence [role=radio][aria-checked=true]')]"
                           ".some(o => o.innerText.trim() === v)", arg=str(value), timeout=TIMEOUT_MS)
    settle(page)


def _unaided_step(page, sha: str, screenshot: bool) -> None:
    wait_for_case(page, opinions=False)
    page.get_by_text("Step 1 of 2, unaided").first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => window.__ecgreviewKeys && window.__ecgreviewKeys.case === '{sha}'",
                           timeout=TIMEOUT_MS)
    # the previous case's elements fade out while this one is drawn; then every DNN and device cell says hidden
    page.wait_for_function(_ALL_HIDDEN_JS, arg=DNN_PANEL, timeout=TIMEOUT_MS)
    dnn = page.locator(DNN_PANEL).first.inner_text()
    assert dnn.count("hidden") >= 12 and not _PROBABILITY.search(dnn), f"DNN shown before the unaided save: {dnn!r}"
    assert page.locator(DEVICE_PANEL).count() == 0 and not page.get_by_text("Device statements").count()
    keys_absent_for_every_class(page)
    _confidence(page, 2)
    if screenshot:
        page.screenshot(path=str(SCREENSHOTS / "two-step-unaided.png"))
    page.keyboard.press("s")  # saves the unaided reading and shows the DNN and the device


def _aided_step(page, number: int, screenshot: bool) -> None:
    page.get_by_text("Step 2 of 2, aided").first.wait_for(timeout=TIMEOUT_MS)
    page.locator(DEVICE_PANEL).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    settle(page)
    assert _PROBABILITY.search(page.locator(DNN_PANEL).first.inner_text())
    page.wait_for_function(call_shown_js("AF", "absent"), timeout=TIMEOUT_MS)  # the unaided calls, filled in
    if number < 2:  # AF present after seeing the DNN on the first two cases
        page.keyboard.press("5")
        page.keyboard.press("p")
        page.wait_for_function(call_shown_js("AF", "present"), timeout=TIMEOUT_MS)
        # the server applied both keys: it draws the class cursor on the next class (ST)
        page.locator(".st-key-cursor-5 [data-testid=stBaseButton-primary]").first.wait_for(timeout=TIMEOUT_MS)
    _confidence(page, 4)
    if screenshot:
        page.screenshot(path=str(SCREENSHOTS / "two-step-aided.png"))
    page.keyboard.press("s")  # saves the aided reading and opens the next study case


def _wait_until_scrolled_to(page, selector: str) -> None:
    """Wait until the element's top is in the viewport and the page has painted twice since (no fixed sleep)."""
    page.wait_for_function("""selector => {
        const top = document.querySelector(selector).getBoundingClientRect().top;
        return top >= 0 && top < window.innerHeight;
    }""", arg=selector, timeout=TIMEOUT_MS)
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def test_a_five_case_two_step_study_then_the_cohort_page(server, page):
    url, home = server
    page.set_viewport_size(VIEWPORT)
    open_worklist(page, url, cases=BUNDLED_CASES)  # the index is built
    cases = [case.source_sha256 for case in CaseIndex(home / INDEX_FILE).cases(thresholds=THRESHOLDS) if not case.error][:5]
    design = create_design("demo-study", cases, [READER], seed=7)
    save_design(design, home / "studies")
    order = design.order(READER)
    page.reload()
    page.get_by_text(re.compile(r"\d+ of \d+ cases")).first.wait_for(timeout=TIMEOUT_MS)
    sign_in(page, READER)
    page.get_by_text("0 / 5 done").first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name=re.compile("Open next study case")).click()
    for number, sha in enumerate(order):
        page.wait_for_url(re.compile(f"case={sha}"), timeout=TIMEOUT_MS)
        _unaided_step(page, sha, screenshot=number == 0)
        _aided_step(page, number, screenshot=number == 0)
        if number + 1 < len(order):
            page.wait_for_url(lambda address, sha=sha: sha not in address, timeout=TIMEOUT_MS)
    page.get_by_text("Study session complete").first.wait_for(timeout=TIMEOUT_MS)  # the last case: no next one
    rows = read_reviews(server.reviews_path)
    assert len(rows) == 10
    assert list(rows["source_sha256"]) == [sha for sha in order for _ in range(2)]  # the reader's seeded order
    assert list(rows["reading_mode"]) == ["unaided", "aided"] * 5
    assert list(rows["opinions_seen"]) == ["false", "true"] * 5
    assert list(rows["confidence"]) == ["2", "4"] * 5
    assert list(rows["resolves_review_ids"][1::2]) == list(rows["review_id"][0::2])
    assert set(rows["session_id"]) == {"study:demo-study:1"} and set(rows["reader"]) == {READER}
    assert all(float(seconds) > 0 for seconds in rows["reading_time_s"])
    assert list(rows["reader_call_AF"][1::2]) == ["present", "present", "absent", "absent", "absent"]
    page.goto(f"{url}/worklist")  # a new page: a new session, so the name is typed again
    page.get_by_text(re.compile(r"\d+ of \d+ cases")).first.wait_for(timeout=TIMEOUT_MS)
    sign_in(page, READER)
    page.get_by_text("5 / 5 done").first.wait_for(timeout=TIMEOUT_MS)
    page.goto(f"{url}/evaluate")
    heading = page.get_by_role("heading", name="Added value: unaided vs aided reading")
    heading.wait_for(timeout=TIMEOUT_MS)
    for part in ("added-value-scores", "added-value-changes"):
        page.locator(f".st-key-{part} [data-testid=stDataFrame]").first.wait_for(timeout=TIMEOUT_MS)
    page.locator(".st-key-added-value-roc .js-plotly-plot").first.wait_for(timeout=TIMEOUT_MS)
    settle(page)
    heading.scroll_into_view_if_needed()
    page.evaluate("() => document.querySelector('#added-value').scrollIntoView()")
    _wait_until_scrolled_to(page, "#added-value")
    page.screenshot(path=str(SCREENSHOTS / "cohort-added-value.png"))
    page.locator(".st-key-added-value-roc").scroll_into_view_if_needed()
    _wait_until_scrolled_to(page, ".st-key-added-value-roc")
    page.screenshot(path=str(SCREENSHOTS / "cohort-added-value-roc.png"))
