"""The reading room end to end in Chromium: worklist, discordance filter, calipers, keyboard reading with
save and next, a 3-case teaching session as a student, and the CSV afterwards."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.store import read_reviews
from ecgreview.review.teaching import TeachingCase, create_session
from ecgreview.io import list_case_files
from ecgreview.review.worklist import CaseIndex
from tests.browser.conftest import SCREENSHOTS
from tests.browser.reading_helpers import (
    TIMEOUT_MS,
    app_run,
    keys_absent_for_every_class,
    open_worklist,
    settle,
    sign_in,
    wait_for_case,
    wait_for_figures_fitted,
    wait_for_painted_grid,
)
from tests.ui.reading_room_fixtures import build_case_folder

pytestmark = pytest.mark.browser

#: Where a caliper point's pixel lies: find the clickable point nearest ``time_s`` on the "calipers" trace.
_POINT_JS = """([element, time_s]) => {
    const plot = element.querySelector('.js-plotly-plot');
    const trace = plot._fullData.find(d => d.name === 'calipers');
    let best = 0;
    for (let i = 0; i < trace.customdata.length; i++) {
        if (Math.abs(trace.customdata[i][0] - time_s) < Math.abs(trace.customdata[best][0] - time_s)) best = i;
    }
    const xa = plot._fullLayout.xaxis, ya = plot._fullLayout.yaxis, box = plot.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(trace.x[best]), box.top + ya._offset + ya.l2p(trace.y[best])];
}"""


@pytest.fixture(scope="module")
def server_environment(tmp_path_factory, corpus_dir, fixture_weights) -> dict[str, str]:
    cases = build_case_folder(tmp_path_factory.mktemp("reading-room") / "cases", corpus_dir)
    return {"ECGREVIEW_CASES": str(cases), "ECGREVIEW_MODEL": str(fixture_weights)}


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _press(page, key: str, done) -> None:
    """Press ``key`` once and wait for ``done()`` (a Playwright wait): no key press may be lost."""
    settle(page)
    page.keyboard.press(key)
    try:
        done(TIMEOUT_MS)
    except Exception:
        _shot(page, f"failure-key-{key}")
        raise


def _cases(environment: dict[str, str]) -> int:
    """How many cases the module's server lists: the files of its case folder."""
    return len(list_case_files(Path(environment["ECGREVIEW_CASES"])))


def _open_worklist(page, url: str, cases: int) -> None:
    page.set_viewport_size({"width": 1500, "height": 2400})  # Streamlit scrolls inside: a tall window shows all
    open_worklist(page, url, cases=cases)


def _place_caliper(page, time_s: float, placed: str) -> None:
    strip = page.locator('[class*="st-key-calipers-"]')  # shown on demand (Show: Calipers)
    strip.locator(".js-plotly-plot").wait_for(timeout=TIMEOUT_MS)
    strip.scroll_into_view_if_needed()
    wait_for_figures_fitted(page)  # the point is computed from the strip's layout: not while it still resizes
    x, y = page.evaluate(_POINT_JS, [strip.element_handle(), time_s])
    page.mouse.move(x - 20, y - 10)
    page.mouse.move(x, y, steps=4)  # plotly needs the hover before the click: wait until it hovers a point
    page.wait_for_function("plot => (plot._hoverdata || []).length > 0",
                           arg=strip.locator(".js-plotly-plot").element_handle(), timeout=TIMEOUT_MS)
    page.mouse.click(x, y)
    page.get_by_text(re.compile(placed)).wait_for(timeout=TIMEOUT_MS)
    settle(page)


def test_worklist_calipers_keyboard_save_and_next(server, page, server_environment):
    url, home = server
    _open_worklist(page, url, _cases(server_environment))
    _shot(page, "worklist-all")
    with app_run(page):
        page.get_by_text("Discordant only", exact=True).click()
    shown, total = map(int, re.match(r"(\d+) of (\d+) cases", page.get_by_text(
        re.compile(r"^\d+ of \d+ cases")).last.inner_text()).groups())
    assert 0 < shown < total
    _shot(page, "worklist-discordant")
    page.get_by_role("button", name="Open first case").click()
    page.wait_for_url(re.compile(r"case=[0-9a-f]{64}"), timeout=TIMEOUT_MS)
    wait_for_case(page)
    first = re.search(r"case=([0-9a-f]{64})", page.url).group(1)
    assert not page.locator('[class*="st-key-calipers-"]').count()  # calipers are drawn on demand
    with app_run(page):
        page.get_by_role("button", name="Calipers").click()
    _place_caliper(page, 1.0, "1 of 2 points placed")
    _place_caliper(page, 1.8, r"Interval \d+ ms")
    text = page.locator("p", has_text=re.compile(r"Interval \d+ ms")).first.inner_text()
    measured, start_s, end_s = re.search(r"Interval (\d+) ms \(([\d.]+) s → ([\d.]+) s\)", text).groups()
    # Plotly picks a point within a few px of the click: allow 6 px of the strip (its column is half the page now).
    strip = page.locator('[class*="st-key-calipers-"] .js-plotly-plot').first
    seconds_per_px = page.evaluate("""plot => { const xa = plot._fullLayout.xaxis;
        return (xa.range[1] - xa.range[0]) / xa._length / 25; }""", strip.element_handle())
    tolerance_s = max(0.05, 6 * seconds_per_px)
    assert abs(float(start_s) - 1.0) < tolerance_s and abs(float(end_s) - 1.8) < tolerance_s
    assert abs(int(measured) - (float(end_s) - float(start_s)) * 1000) <= 1
    page.get_by_role("button", name="Set as RR").click()
    page.locator('[data-testid="stTable"]').get_by_text(f"{measured} ms").first.wait_for(timeout=TIMEOUT_MS)
    settle(page)
    _shot(page, "review-calipers")
    index = CaseIndex(home / "worklist-index.sqlite")
    assert index.find(first) is not None
    sign_in(page, "Dr Keys")
    keys_absent_for_every_class(page)
    _shot(page, "review-keyboard-filled")
    _press(page, "s", lambda timeout: page.wait_for_url(lambda address: first not in address, timeout=timeout))
    page.get_by_text("Saved review").wait_for(timeout=TIMEOUT_MS)
    wait_for_case(page)  # the next case, drawn
    _shot(page, "review-after-save-and-next")
    rows = read_reviews(server.reviews_path)
    assert len(rows) == 1 and rows.iloc[0]["source_sha256"] == first
    assert rows.iloc[0]["reader"] == "Dr Keys" and rows.iloc[0]["reader_call_AF"] == "absent"
    assert rows.iloc[0]["model_status"] == "unverified"


def test_teaching_session_as_student(server, page, server_environment):
    url, home = server
    _open_worklist(page, url, _cases(server_environment))  # builds the index
    cases = {case.source_name: case for case in CaseIndex(home / "worklist-index.sqlite").cases(thresholds=THRESHOLDS)}
    absent = dict.fromkeys(CLASSES, "absent")
    chosen = [("syn-af.dcm", absent | {"AF": "present"}), ("syn-rbbb.dcm", absent | {"RBBB": "present"}),
              ("syn-normal.dcm", absent)]
    create_session(home / "sessions", "browser session",
                   [TeachingCase(cases[name].source_sha256, name, reference) for name, reference in chosen])
    page.goto(f"{url}/teaching")
    page.get_by_role("heading", name="Teaching").wait_for(timeout=TIMEOUT_MS)
    settle(page)
    sign_in(page, "Student One")
    for number in range(1, 4):
        page.get_by_text(f"Case {number} of 3").wait_for(timeout=TIMEOUT_MS)
        keys_absent_for_every_class(page)
        _press(page, "s", lambda timeout: page.get_by_text("your answer beside the reference").wait_for(
            timeout=timeout))
        settle(page)
        _shot(page, f"teaching-reveal-{number}")
        following = f"Case {number + 1} of 3" if number < 3 else "Session complete"
        page.get_by_role("button", name="Next case").click()  # see the report: N after a reveal was seen lost
        page.get_by_text(following).first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("Session complete — 16 of 18 answers right").wait_for(timeout=TIMEOUT_MS)
    _shot(page, "teaching-score")
    rows = read_reviews(server.reviews_path)
    assert len(rows) == 3 and set(rows["role"]) == {"student"} and set(rows["session_id"]) == {"browser-session"}
    assert set(rows["reading_mode"]) == {"teaching"} and set(rows["opinions_seen"]) == {"false"}
    assert list(rows["source_name"]) == [name for name, _ in chosen]
    page.get_by_text("Teacher", exact=True).click()
    page.get_by_text("Results of browser-session").wait_for(timeout=TIMEOUT_MS)
    page.locator('[data-testid="stDataFrame"]').last.wait_for(timeout=TIMEOUT_MS)
    settle(page)
    wait_for_painted_grid(page.locator('[data-testid="stDataFrame"]').last)
    _shot(page, "teaching-teacher-table")


def test_case_link_opens_review(server, page, server_environment):
    url, home = server
    _open_worklist(page, url, _cases(server_environment))
    sha = next(case.source_sha256 for case in CaseIndex(home / "worklist-index.sqlite").cases(thresholds=THRESHOLDS)
               if case.source_name == "demo.dcm")
    page.goto(f"{url}/?case={sha}")  # the review page is the default page: its address is the root
    page.get_by_text("RITMO SINUSALE").first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("From the worklist: demo.dcm").wait_for(timeout=TIMEOUT_MS)
    _shot(page, "review-case-link")


def test_a_click_on_any_cell_of_a_worklist_row_opens_its_case(server, page, server_environment):
    url, home = server
    _open_worklist(page, url, _cases(server_environment))
    grid = page.locator('[data-testid="stDataFrame"]').last
    box = grid.bounding_box()
    row_px = 35  # glide-data-grid's default row height, the header row included
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + row_px * 1.5)  # a cell of the first row, not its box
    page.wait_for_url(re.compile(r"case=[0-9a-f]{64}"), timeout=TIMEOUT_MS)
    wait_for_case(page)
    opened = re.search(r"case=([0-9a-f]{64})", page.url).group(1)
    first = sorted(CaseIndex(home / "worklist-index.sqlite").cases(thresholds=THRESHOLDS),
                   key=lambda case: (case.source_name, str(case.path)))
    assert opened == next(case.source_sha256 for case in first if not case.error)


def test_the_reader_and_the_mode_survive_every_page_and_a_reload(server, page):
    url, home = server
    page.goto(url)
    name_box = page.get_by_label("Reader", exact=True)
    name_box.wait_for(timeout=TIMEOUT_MS)
    with app_run(page):
        name_box.fill("Dr Kept")
        name_box.press("Enter")
    with app_run(page):
        page.locator(".st-key-reading_mode_widget").get_by_text("blinded", exact=True).click()
    for target in ("Worklist", "Review", "Teaching", "Review"):  # the sidebar's links, as a reader moves
        with app_run(page):
            page.get_by_role("link", name=target).first.click()
        if target != "Teaching":
            assert page.get_by_label("Reader", exact=True).input_value(timeout=TIMEOUT_MS) == "Dr Kept", target
    page.reload()
    page.get_by_label("Reader", exact=True).wait_for(timeout=TIMEOUT_MS)
    settle(page)
    assert page.get_by_label("Reader", exact=True).input_value() == "Dr Kept"
    assert "mode=blinded" in page.url and "reader=Dr" in page.url
    _shot(page, "reader-kept-after-reload")
