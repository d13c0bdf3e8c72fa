"""Load: 20 concurrent review sessions (Streamlit AppTest in threads) each save one review.

The work is in ``bench/load_sessions.py`` (also runnable on its own); this test runs
it with ``ECGREVIEW_HOME`` in ``tmp_path`` and checks that no session failed and that
exactly one row per session was written. Latencies are printed (``-s``), not asserted:
they depend on the machine.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from ecgreview.review.store import read_reviews
from tests.conftest import REPO

SESSIONS = 20


def _bench_module(monkeypatch: pytest.MonkeyPatch):
    """``bench/load_sessions.py`` as an importable module (spawned workers import it by name)."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    return importlib.import_module("load_sessions")


@pytest.mark.slow
def test_twenty_concurrent_sessions_each_save_one_review(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("ECGREVIEW_MODEL", "ECGREVIEW_MODELS_DIR", "ECGREVIEW_REVIEWS", "ECGREVIEW_CASES",
                     "ECGREVIEW_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    report = _bench_module(monkeypatch).run_sessions(SESSIONS, tmp_path / "home", mode="processes")
    print("\n" + report.text())
    assert report.errors == []
    assert report.rows_written == SESSIONS
    frame = read_reviews(tmp_path / "home" / "reviews.csv", strict=True)
    assert sorted(frame["reader"]) == [f"Load Reader {number:02d}" for number in range(SESSIONS)]
    assert frame["review_id"].is_unique
