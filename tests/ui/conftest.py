"""Fixtures of the UI tests (every ``ECGREVIEW_*`` variable is already cleared: ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh ``ECGREVIEW_HOME`` in ``tmp_path`` (the folder is not created)."""
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
