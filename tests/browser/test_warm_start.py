"""Warm start: the server loads the model, the statement table and the index's first cases before it serves
(``app.py``'s lifespan, :func:`ecgreview.ui.resources.warm_up`), says so in its log, and the first case opens.

The time of the first open is printed (``-s``), not asserted: the <= 2 s target is a benchmark figure
(bench/README.md), not a unit test's.
"""

from __future__ import annotations

import re
import time

import pytest

from ecgreview.config import Settings
from ecgreview.record import THRESHOLDS
from ecgreview.review.index_updater import update_case_index
from ecgreview.review.worklist import INDEX_FILE, CaseIndex
from tests.browser.conftest import serving
from tests.browser.reading_helpers import DEVICE_PANEL, DNN_PANEL, TIMEOUT_MS, settle
from tests.ui.reading_room_fixtures import build_case_folder

pytestmark = pytest.mark.browser

_READY = re.compile(r"ecgreview ready in (?P<seconds>[0-9.]+) s \((?P<model>[^;]+); (?P<cases>\d+) case\(s\) opened; "
                    r"(?P<index>index [a-z ]+)\)")


def test_the_server_is_warm_before_the_first_case_opens(tmp_path, fixture_weights, page):
    cases = build_case_folder(tmp_path / "cases")
    home = tmp_path / "server" / "home"  # serving() runs the server in tmp_path / "server"
    settings = Settings(home=home, models_dir=tmp_path / "models", reviews_path=home / "reviews.csv", cases_dir=cases)
    update_case_index(settings)  # indexed by an earlier run of the server (a restart)
    first = CaseIndex(home / INDEX_FILE).cases(thresholds=THRESHOLDS)[0]
    environment = {"ECGREVIEW_CASES": str(cases), "ECGREVIEW_MODEL": str(fixture_weights)}
    with serving(tmp_path / "server", environment) as server:
        ready = _READY.search(server.log())  # the health check answers only after the warm-up
        assert ready is not None, server.log()
        assert ready["model"] != "no model" and "not warmed" not in server.log()
        assert int(ready["cases"]) >= 2  # the demo ECG and the worklist's first cases
        start = time.perf_counter()
        page.goto(f"{server.url}/review?case={first.source_sha256}")
        for part in (".st-key-ecg-trace", DNN_PANEL, DEVICE_PANEL):  # however the ECG itself is drawn
            page.locator(part).first.wait_for(state="visible", timeout=TIMEOUT_MS)
        settle(page)
        opened_s = time.perf_counter() - start
        page.get_by_text(f"From the worklist: {first.source_name}").first.wait_for(timeout=TIMEOUT_MS)
    print(f"\nserver warm in {float(ready['seconds']):.1f} s; first case opened in {opened_s:.2f} s after the "
          f"ready line (target <= 2 s: a benchmark figure, not asserted)")
