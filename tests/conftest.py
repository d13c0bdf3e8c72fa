"""Shared test fixtures and the order of the suite.

``shared_dir`` is the project's ``../shared`` folder (real ECGs, the Ribeiro
reference data). A user's clone does not have it: tests that need it skip with a
clear reason. CI always has it, and there (``CI=true``) its absence is a failure.

Every test runs without the caller's ``ECGREVIEW_*`` settings (:func:`isolated_env`), so
a developer's own home, model or review store never reaches a test. ``ECGREVIEW_SHARED``
(where ``../shared`` is, read by the tests only, never by the library) is kept.

``fixture_weights`` is one HDF5 file of random weights in the released layout per test
session, shared by the ``pytest-xdist`` workers of a run.

Under ``pytest-xdist`` (``test.sh``: ``-n auto --dist loadgroup --no-loadscope-reorder``) each
module is one unit of work, except the browser tests, which form one unit that one worker
runs in order (a server and a Chromium per module, never two apps at once). The browser
unit and the modules with slow tests are handed out first, so that no long test starts last.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The one variable of the ``ECGREVIEW_`` prefix that :func:`isolated_env` keeps: the tests' own pointer to ../shared.
SHARED_VARIABLE = "ECGREVIEW_SHARED"
#: Seed of the session's fixture weights (the browser tests' discordance filter expects some discordant cases).
FIXTURE_WEIGHTS_SEED = 3
#: The xdist group of every browser test: one worker runs them one after another.
BROWSER_GROUP = "browser"


def _shared_root() -> Path:
    return Path(os.environ.get(SHARED_VARIABLE, REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear every ``ECGREVIEW_*`` variable of the caller for the test (restored after it)."""
    for variable in [name for name in os.environ if name.startswith("ECGREVIEW_") and name != SHARED_VARIABLE]:
        monkeypatch.delenv(variable)


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


@pytest.fixture(scope="session")
def fixture_weights(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """``fixture-weights.hdf5``: random (unverified) weights in the released layout, seed 3; one file per run.

    The xdist workers of one run share it (written once, under a file lock, in the run's
    temporary folder). Treat it as read-only: a test that edits weights, or checks files
    written beside them (the ONNX cache), makes its own copy. It is loaded once as the app
    loads it, so the ONNX conversion is cached beside it (when ONNX Runtime is installed) and
    no server's first page converts the model again.
    """
    from filelock import FileLock

    from ecgreview.model.serving import load_inference_model
    from tests.model_fixtures import write_released_layout_weights

    run_folder = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # an xdist worker: its base folder sits in the run's folder
        run_folder = run_folder.parent
    path = run_folder / "shared-weights" / "fixture-weights.hdf5"
    path.parent.mkdir(exist_ok=True)
    with FileLock(str(path.parent / "write.lock")):
        if not path.exists():
            written = write_released_layout_weights(path.with_suffix(".partial"), seed=FIXTURE_WEIGHTS_SEED)
            written.replace(path)
            load_inference_model(path)  # backend "auto", as the app: converts and caches when ONNX is there
    return path


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put every test in an xdist group: the browser tests in one, every other test with its module.

    Under ``-n`` the items are also ordered so that the browser group, then the modules of the slow
    tests, are handed out first (``test.sh`` passes ``--no-loadscope-reorder`` to keep this order).
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = BROWSER_GROUP if item.get_closest_marker("browser") is not None else item.nodeid.split("::", 1)[0]
            item.add_marker(pytest.mark.xdist_group(group))
    if hasattr(config, "workerinput") or getattr(config.option, "numprocesses", None):
        slow_modules = {item.nodeid.split("::", 1)[0] for item in items if item.get_closest_marker("slow") is not None}
        items.sort(key=lambda item: (item.get_closest_marker("browser") is None,
                                     item.nodeid.split("::", 1)[0] not in slow_modules))
