"""The worklist's tables in the case index (:mod:`ecgreview.review.worklist_sync`): the schema script runs once
per process per index file, and again when the file was replaced or another connection changed its schema."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from ecgreview.record import THRESHOLDS
from ecgreview.review import worklist_sync
from ecgreview.review.worklist import CaseIndex
from ecgreview.review.worklist_query import query_worklist
from ecgreview.review.worklist_sync import sync_listing, sync_readings


@pytest.fixture
def schema_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ``CREATE TABLE IF NOT EXISTS listing`` the module's connections run (one per schema script)."""
    monkeypatch.setattr(worklist_sync, "_schema_made", {})  # as in a new process
    statements: list[str] = []
    real_connect = sqlite3.connect

    def traced(*args, **kwargs):
        connection = real_connect(*args, **kwargs)
        connection.set_trace_callback(statements.append)
        return connection

    monkeypatch.setattr(worklist_sync.sqlite3, "connect", traced)
    return statements


def _script_runs(statements: list[str]) -> int:
    return sum("CREATE TABLE IF NOT EXISTS listing " in statement for statement in statements)


def _page(path: Path) -> int:
    return query_worklist(path, model_sha256="", thresholds=THRESHOLDS).total


def test_the_schema_script_runs_once_per_index_file(tmp_path: Path, schema_runs: list[str]) -> None:
    index = CaseIndex(tmp_path / "index.sqlite")
    sync_listing(index.path)
    sync_readings(index.path, tmp_path / "reviews.csv")
    assert _page(index.path) == 0 and _page(index.path) == 0
    assert _script_runs(schema_runs) == 1
    other = CaseIndex(tmp_path / "other.sqlite")  # another file: its own run
    sync_listing(other.path)
    assert _script_runs(schema_runs) == 2


def test_the_schema_is_made_again_after_another_connection_changed_it(tmp_path: Path,
                                                                      schema_runs: list[str]) -> None:
    index = CaseIndex(tmp_path / "index.sqlite")
    sync_listing(index.path)
    with closing(sqlite3.connect(index.path)) as other, other:  # e.g. another process, or an older version
        other.execute("DROP TABLE opinions")
    assert _page(index.path) == 0  # the table is there again
    assert _script_runs(schema_runs) == 2
    assert _page(index.path) == 0 and _script_runs(schema_runs) == 2


def test_a_replaced_index_file_gets_the_schema(tmp_path: Path, schema_runs: list[str]) -> None:
    index = CaseIndex(tmp_path / "index.sqlite")
    sync_listing(index.path)
    fresh = CaseIndex(tmp_path / "fresh.sqlite")  # the case index alone, no worklist tables yet
    os.replace(fresh.path, index.path)
    assert _page(index.path) == 0
    assert _script_runs(schema_runs) == 2
