"""The server's warm-up fills the very caches the pages read: after it, opening its cases computes nothing."""

from __future__ import annotations

import re

import pytest

from ecgreview.config import Settings
from ecgreview.examples import demo_ecg_path
from ecgreview.review.case import CaseSource
from ecgreview.review.index_updater import update_case_index
from ecgreview.review.worklist import INDEX_FILE, CaseIndex
from ecgreview.ui import resources
from tests.ui.reading_room_fixtures import home_with_case_folder


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


def test_warm_up_names_what_it_could_not_warm(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("ECGREVIEW_MODEL", str(tmp_path / "missing.hdf5"))
    warm = resources.warm_up(Settings.from_env(), cases=1)
    assert warm.model == "no model" and warm.cases_opened == 2
    assert len(warm.problems) == 1 and "missing.hdf5" in warm.problems[0]
    assert "; not warmed: the model: " in warm.log_line()
