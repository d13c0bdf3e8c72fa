"""Two app processes on one host (two ports, as behind a proxy with sticky sessions) share one ECGREVIEW_HOME:
saves from both land in the one review store, and each worklist sees the other's readers.

The review store is appended under its file lock, the case index is SQLite in WAL mode with one updater
at a time (its file lock), so nothing else is needed to run several processes (README, "Running several
app processes").
"""

from __future__ import annotations

import pytest

from ecgreview.record import CLASSES
from ecgreview.review.store import read_reviews
from tests.browser.conftest import serving
from tests.browser.reading_helpers import DNN_PANEL, TIMEOUT_MS, app_run, call_option, call_shown_js, settle
from tests.browser.app_runs import RUN_TRACKER_JS

pytestmark = pytest.mark.browser

READERS = ("Dr Port One", "Dr Port Two")


def _save_demo_review(page, url: str, reader: str) -> None:
    page.goto(url)  # the Review page with the demo ECG
    page.locator(DNN_PANEL).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    settle(page)
    box = page.get_by_label("Reader", exact=True)
    box.fill(reader)
    with app_run(page):
        box.press("Enter")
    for name in CLASSES:
        with app_run(page):
            call_option(page, name, "absent").click()
        page.wait_for_function(call_shown_js(name, "absent"), timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Save review").click()
    page.get_by_text("Saved review").first.wait_for(timeout=TIMEOUT_MS)


def _worklist_offers_reviewers(page, url: str, readers: tuple[str, ...]) -> None:
    """Wait until the worklist's Reviewer filter offers every one of ``readers`` (the readers of the review
    store, as this server reads it)."""
    page.goto(f"{url}/worklist")
    page.get_by_text(" cases").first.wait_for(timeout=TIMEOUT_MS)
    settle(page)
    page.get_by_label("Reviewer").click()
    for reader in readers:
        page.get_by_role("option", name=reader).wait_for(timeout=TIMEOUT_MS)
    page.keyboard.press("Escape")


def test_two_processes_share_the_store_and_see_each_others_saves(tmp_path, browser):
    home = tmp_path / "shared-home"
    environment = {"ECGREVIEW_HOME": str(home)}
    with serving(tmp_path / "one", environment) as one, serving(tmp_path / "two", environment) as two:
        assert one.port != two.port and one.pid != two.pid
        contexts = [browser.new_context(viewport={"width": 1500, "height": 1000}) for _ in range(2)]
        try:
            pages = []
            for context in contexts:
                context.add_init_script(RUN_TRACKER_JS)
                pages.append(context.new_page())
            for page, server, reader in zip(pages, (one, two), READERS):
                _save_demo_review(page, server.url, reader)
            rows = read_reviews(home / "reviews.csv")
            assert sorted(rows["reader"]) == sorted(READERS)  # one store, both saves, nothing lost
            assert rows["review_id"].is_unique
            for page, server in zip(pages, (one, two)):
                _worklist_offers_reviewers(page, server.url, READERS)
        finally:
            for context in contexts:
                context.close()
    assert "Traceback" not in one.log() + two.log()
