"""The worklist's tables in the case index (:mod:`ecgreview.review.worklist_sync`): the schema script runs once
per process per index file, and again when the file was replaced or another connection changed its schema; the
serial comparison's link keys follow the configured rule, and an index made before them is upgraded in place."""

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
from tests.review.serial_fixtures import WFDB_PAIR_RULE, write_serial_pair, write_wfdb_pair


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


# -- the serial comparison's link keys: the configured rule, its change, and an index made before them -------------


@pytest.fixture
def serial_index(tmp_path: Path) -> CaseIndex:
    """An index of the constructed DICOM pair (one PatientID) and the constructed WFDB pair (record names
    PT01_2019 and PT01_2024; tests/review/serial_fixtures.py)."""
    folder = tmp_path / "cases"
    paths = [*write_serial_pair(folder), *write_wfdb_pair(folder)]
    index = CaseIndex(tmp_path / "index.sqlite")
    index.update(paths, workers=1)
    return index


def _priors(path: Path) -> dict[str, str]:
    rows = query_worklist(path, model_sha256="", thresholds=THRESHOLDS).rows
    return dict(zip(rows["File"], rows["Prior"]))


def test_the_linking_rule_decides_which_wfdb_records_have_a_prior(serial_index: CaseIndex) -> None:
    sync_listing(serial_index.path, link_rule=WFDB_PAIR_RULE)
    priors = _priors(serial_index.path)
    assert priors["PT01_2024.hea"].startswith("2019-03-02") and priors["PT01_2019.hea"] == ""  # the WFDB prior
    assert priors["pair-2024-current.dcm"].startswith("2019-03-02")  # the DICOM pair still links by PatientID
    sync_listing(serial_index.path, link_rule="patient-id")  # another rule: every key and prior again
    priors = _priors(serial_index.path)
    assert priors["PT01_2024.hea"] == "" and priors["pair-2024-current.dcm"].startswith("2019-03-02")
    sync_listing(serial_index.path)  # no rule given: the index keeps the one its keys were made by
    assert _priors(serial_index.path)["PT01_2024.hea"] == ""
    with pytest.raises(ValueError, match="rule must be"):
        sync_listing(serial_index.path, link_rule="record-name")


def test_an_index_made_before_link_keys_is_upgraded_in_place(serial_index: CaseIndex) -> None:
    sync_listing(serial_index.path)
    assert _priors(serial_index.path)["pair-2024-current.dcm"].startswith("2019-03-02")
    with closing(sqlite3.connect(serial_index.path)) as connection, connection:  # the listing as it was made before
        connection.execute("DROP INDEX listing_by_link_time")
        connection.execute("ALTER TABLE listing DROP COLUMN link_key")
        connection.execute("CREATE INDEX listing_by_pseudonym_time ON listing (pseudonym, acquired, source_sha256)")
        connection.execute("DELETE FROM worklist_meta WHERE name = 'link_rule'")
        before = connection.execute("SELECT * FROM listing ORDER BY path").fetchall()
        readings_meta = connection.execute("SELECT * FROM worklist_meta ORDER BY name").fetchall()
    assert before and readings_meta
    assert sync_listing(serial_index.path, link_rule=WFDB_PAIR_RULE) == 0  # nothing re-read: the files did not change
    with closing(sqlite3.connect(serial_index.path)) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(listing)")]
        after = connection.execute(f"SELECT {', '.join(columns[:-1])} FROM listing ORDER BY path").fetchall()
        keys = dict(connection.execute("SELECT file, link_key FROM listing"))
        indexes = {row[1] for row in connection.execute("PRAGMA index_list(listing)")}
    assert columns[-1] == "link_key" and after == before  # every row kept as it was, with its key added
    assert keys["PT01_2019.hea"] == keys["PT01_2024.hea"] != "" and keys["pair-2019-prior.dcm"] != ""
    assert "listing_by_link_time" in indexes and "listing_by_pseudonym_time" not in indexes
    assert _priors(serial_index.path)["PT01_2024.hea"].startswith("2019-03-02")
