"""Shared test fixtures.

``shared_dir`` is the project's ``../shared`` folder (real ECGs, the Ribeiro
reference data). A user's clone does not have it: tests that need it skip with a
clear reason. CI always has it, and there (``CI=true``) its absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_root() -> Path:
    return Path(os.environ.get("ECGREVIEW_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    root = _shared_root()
    if not root.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{root} is missing; CI must run with ../shared beside the clone")
        pytest.skip(f"{root} not found: tests on the shared ECG corpus and Ribeiro data need ../shared")
    return root


@pytest.fixture(scope="session")
def ribeiro_dir(shared_dir: Path) -> Path:
    return shared_dir / "ribeiro"


@pytest.fixture(scope="session")
def corpus_dir(shared_dir: Path) -> Path:
    return shared_dir / "ecg-corpus"
