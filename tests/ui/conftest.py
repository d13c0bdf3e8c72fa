"""Fixtures of the UI tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    for variable in ("ECGREVIEW_MODEL", "ECGREVIEW_MODELS_DIR", "ECGREVIEW_REVIEWS", "ECGREVIEW_CASES",
                     "ECGREVIEW_CONFIG", "ECGREVIEW_AUTH", "ECGREVIEW_USERS", "ECGREVIEW_BACKEND"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
