"""The server's warm-up fills the very caches the pages read: after it, opening its cases computes nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ecgreview.config import Settings
from ecgreview.examples import demo_ecg_path
from ecgreview.record import CLASSES
from ecgreview.review import _store_read, readings
from ecgreview.review.case import CaseSource
from ecgreview.review.index_updater import update_case_index
from ecgreview.review.store import Review, append_review
from ecgreview.review.worklist import INDEX_FILE, CaseIndex
from ecgreview.ui import resources
from tests.ui.reading_room_fixtures import home_with_case_folder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    home_with_case_folder(tmp_path, monkeypatch)
    settings = Settings.from_env()
    update_case_index(settings)  # indexed by an earlier run of the server
    resources.case_cache().clear()
    return settings


def test_warm_up_opens_the_cases_the_pages_open_first(settings, monkeypatch):
    warm = resources.warm_up(settings, cases=2)
    assert warm.cases_opened == 3 and warm.model == "no model" and not warm.problems  # demo + 2 by file
    assert re.fullmatch(r"ecgreview ready in \d+\.\d s \(no model; 3 case\(s\) opened; index [a-z ]+\)",
                        warm.log_line())

    def not_again(*args, **kwargs):
        raise AssertionError("a warmed case was analysed again")

    monkeypatch.setattr(resources, "analyse_case", not_again)
    first_two = sorted(case.path for case in CaseIndex(settings.home / INDEX_FILE).cases(thresholds=settings.thresholds))[:2]
    for path in (demo_ecg_path(), *first_two):
        analysis = resources.open_case(CaseSource.from_path(path), None, thresholds=settings.thresholds)
        assert analysis.record.source_name == path.name
    with pytest.raises(AssertionError, match="analysed again"):  # a case it did not open is computed
        third = sorted(case.path for case in CaseIndex(settings.home / INDEX_FILE).cases(
            thresholds=settings.thresholds))[2]
        resources.open_case(CaseSource.from_path(third), None, thresholds=settings.thresholds)


def test_warm_up_reads_the_review_store_so_that_the_first_reader_does_not(settings, monkeypatch):
    for reader in ("Dr A", "Dr B"):
        append_review(settings.reviews_path, Review.create(reader=reader, reader_calls=dict.fromkeys(CLASSES, "absent"),
                                                           source_sha256="a" * 64, opinions_seen=True))
    resources.warm_up(settings, cases=1)

    def parsed_again(*args, **kwargs):
        raise AssertionError("the store was parsed again")

    monkeypatch.setattr(_store_read, "_parse", parsed_again)
    assert list(readings.case_readings(settings.reviews_path, "a" * 64)["reader"]) == ["Dr A", "Dr B"]


def test_warm_up_names_what_it_could_not_warm(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("ECGREVIEW_MODEL", str(tmp_path / "missing.hdf5"))
    warm = resources.warm_up(Settings.from_env(), cases=1)
    assert warm.model == "no model" and warm.cases_opened == 2
    assert len(warm.problems) == 1 and "missing.hdf5" in warm.problems[0]
    assert "; not warmed: the model: " in warm.log_line()


_FIRST_RUN_COSTS = """
import gc
import sys
from ecgreview.ui import warm_start
from streamlit import delta_generator
assert "streamlit.emojis" not in sys.modules and not delta_generator._use_warning_has_been_displayed
warm_start._warm_up()
print("emoji pattern compiled:", "streamlit.emojis" in sys.modules)
print("streamlit-run check done:", delta_generator._use_warning_has_been_displayed)
print("heap frozen:", gc.get_freeze_count() > 100_000)
"""


def test_warm_up_pays_streamlits_once_per_process_costs_before_the_first_reader(tmp_path):
    """Streamlit's first element of a process inspects every loaded module (0.3-1 s) and its first page config
    compiles the emoji pattern (30 ms): in a fresh server both happen in the warm-up, not in a reader's run; then
    what the start left alive is frozen out of the full garbage collections a reader's run would pay for."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ECGREVIEW_")}
    environment |= {"ECGREVIEW_HOME": str(tmp_path / "home"), "ECGREVIEW_CASES": str(tmp_path / "cases")}
    (tmp_path / "cases").mkdir()
    done = subprocess.run([sys.executable, "-c", _FIRST_RUN_COSTS], cwd=REPO, env=environment, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "emoji pattern compiled: True" in done.stdout and "streamlit-run check done: True" in done.stdout
    assert "heap frozen: True" in done.stdout
