"""wfdb is imported only through ecgreview._wfdb.wfdb_module, under one lock: two threads importing parts of wfdb
for the first time at once saw a partially initialised module (the server's warm-up detecting R peaks while the
index read a WFDB record; the index then kept a demo record as unreadable)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from ecgreview._wfdb import wfdb_module

PACKAGE = Path(__file__).parents[1] / "ecgreview"


def test_no_module_imports_wfdb_but_the_one_import():
    direct = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_wfdb.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            direct += [f"{path.relative_to(PACKAGE)}:{node.lineno}" for name in names
                       if name == "wfdb" or name.startswith("wfdb.")]
    assert direct == [], f"import wfdb through ecgreview._wfdb.wfdb_module: {direct}"


def test_wfdb_module_refuses_other_modules():
    with pytest.raises(ValueError, match="name must be 'wfdb'"):
        wfdb_module("os")


_RACE = """
import threading
from ecgreview._beats import r_peaks
from ecgreview.examples import DEMO_CASES_DIR
from ecgreview.io import read_ecg
import numpy as np
barrier, errors = threading.Barrier(2), []
def detect():
    barrier.wait()
    try:
        r_peaks(np.sin(np.linspace(0, 60, 5000)), 500.0)
    except Exception as exc:
        errors.append(repr(exc))
def read():
    barrier.wait()
    try:
        read_ecg(sorted(DEMO_CASES_DIR.glob("*.hea"))[0])
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=detect), threading.Thread(target=read)]
[thread.start() for thread in threads]
[thread.join() for thread in threads]
assert not errors, errors
"""


def test_two_threads_importing_wfdb_at_once_both_succeed():
    for _ in range(3):  # a fresh interpreter each time: the first import is the one that raced
        result = subprocess.run([sys.executable, "-c", _RACE], capture_output=True, text=True, timeout=120,
                                cwd=Path(__file__).parents[1])
        assert result.returncode == 0, result.stderr[-2000:]
