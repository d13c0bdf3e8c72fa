"""The cohort page parses the review store once per version of it, whatever reference it shows (issue #20)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecgreview.study import cohort as cohort_module
from tests.study.test_cohort import add_review
from tests.ui.test_evaluate_page import _open, reviews  # noqa: F401  (the page's fixture and opener)


def test_the_page_builds_the_cohort_once_per_store_version(reviews: Path, tmp_path: Path,  # noqa: F811
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    add_review(reviews, 0, reader="Dr A", calls={"AF": "present"}, probabilities={"AF": 0.9})
    add_review(reviews, 0, reader="Dr B", calls={"AF": "present"}, probabilities={"AF": 0.9}, minute=1)
    builds: list[int] = []
    real = cohort_module._read_all

    def counted(*args: Any, **kwargs: Any) -> Any:
        builds.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cohort_module, "_read_all", counted)
    app = _open(tmp_path)
    assert len(builds) == 1
    app.radio(key="evaluate_reference_kind").set_value("One reader").run()  # consensus, then the reader's
    assert not app.exception, app.exception
    assert "reader Dr A" in app.markdown[0].value and len(builds) == 1
    add_review(reviews, 1, reader="Dr A", minute=2)
    app.run()
    assert "**Cases:** 2" in app.markdown[0].value and len(builds) == 2
