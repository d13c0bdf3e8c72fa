"""End to end in Chromium: open the demo ECG, record a review, check the CSV; a broken upload."""

from __future__ import annotations

import hashlib

import pytest

from ecgreview.record import CLASSES
from ecgreview.review.store import read_reviews
from ecgreview.review.uploads import upload_file_name
from tests.browser.conftest import SCREENSHOTS
from tests.browser.reading_helpers import app_run, call_option, call_shown_js, wait_for_case

pytestmark = pytest.mark.browser


def _wait_for_app(page, url: str) -> None:
    page.goto(url)  # the review page is the default page, at the root
    wait_for_case(page)


def test_demo_review_saved_in_browser(server, page):
    url = server.url
    _wait_for_app(page, url)
    page.get_by_text("RITMO SINUSALE").first.wait_for(timeout=60_000)  # statements render after the trace
    page.screenshot(path=str(SCREENSHOTS / "review-top.png"))
    page.get_by_label("Reader", exact=True).fill("Dr Browser")
    with app_run(page):
        page.get_by_label("Reader", exact=True).press("Enter")
    for name in CLASSES:  # click each call with the mouse
        call = "absent" if name != "AF" else "uncertain"
        with app_run(page):
            call_option(page, name, call).click()
        page.wait_for_function(call_shown_js(name, call), timeout=30_000)
    page.get_by_label("Comment", exact=True).fill("browser test")
    page.screenshot(path=str(SCREENSHOTS / "review-filled.png"), full_page=True)
    page.get_by_role("button", name="Save review").click()
    page.get_by_text("Saved review").wait_for(timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "review-saved.png"), full_page=True)
    rows = read_reviews(server.reviews_path)
    assert len(rows) == 1
    assert rows.iloc[0]["reader"] == "Dr Browser" and rows.iloc[0]["reader_call_AF"] == "uncertain"
    assert rows.iloc[0]["comment"] == "browser test"


def test_broken_upload_shows_which_file_and_why(server, page, corpus_dir):
    url, _ = server
    _wait_for_app(page, url)
    page.get_by_text("Upload", exact=True).click()
    broken = next((corpus_dir / "dicom" / "broken").glob("*.dcm"))
    page.locator('input[type="file"]').set_input_files(str(broken))
    # The message names the file the user chose (issue #21 item 5), not the upload's internal id.
    internal_name = f"upload-{hashlib.sha256(broken.read_bytes()).hexdigest()[:12]}.dcm"
    error = page.get_by_text(f"Cannot open this ECG — {upload_file_name(broken.name)}:")
    error.wait_for(timeout=30_000)
    assert internal_name not in error.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "broken-upload.png"), full_page=True)
    # The app carries on: the demo can be opened again.
    page.get_by_text("Demo ECG", exact=True).click()
    page.get_by_text("RITMO SINUSALE").first.wait_for(timeout=30_000)
