"""The worklist's tables in the case index, kept in step with the files, the predictions and the review store.

The case index (:class:`ecgreview.review.worklist.CaseIndex`) keeps the files; this module keeps,
in the same SQLite file, what a worklist row needs, so that a page of rows
(:mod:`ecgreview.review.worklist_query`) and the totals cost the same at 1,000 and at 100,000 cases:

* ``listing``: one row per indexed file (file name, pseudonym, acquisition time, device, the
  device's calls as bit masks, one bit per class in :data:`~ecgreview.record.CLASSES` order, and the
  serial comparison's ``link_key``, :func:`ecgreview.review.serial.link_key` under the linking rule
  :func:`sync_listing` was given, kept in ``worklist_meta``: another rule recomputes every key). SQL
  triggers on the index's ``files`` table mark changed files; :func:`sync_listing` re-derives only
  those. An index made before ``link_key`` existed gains the column (nothing else changes) and its keys.
* ``readings`` and ``reading_summary``: each reader's latest clinical reading per case
  (:func:`ecgreview.review.protocol.latest_readings`, the one rule) as masks of ``present`` and
  ``absent`` calls. :func:`sync_readings` follows the append-only review store: it reads only the
  rows appended since its last call (whoever saved them), and the whole store only when it is new
  or was replaced.
* ``dnn_masks``: the DNN calls (:func:`ecgreview.record.dnn_calls`, the one rule) per case for one
  model and the site's thresholds, computed once per prediction (:func:`sync_dnn_calls`).
* ``opinions``: per case, the opinions' present and absent bits and the discordant classes, for the
  DNN calls last asked for; kept up to date case by case as files, predictions and readings change
  (a change of model or thresholds recomputes them once), so that the discordance filter and sort
  are index lookups.
* ``serial`` (:mod:`ecgreview.review.worklist_serial`): each case's prior ECG and the disagreement
  count, refreshed with ``opinions``.

Discordance is :func:`ecgreview.review.consensus.calls_disagree` (a ``present`` and an ``absent``
opinion on one class among the DNN, the device and the readers), written as bit arithmetic:
``(positive & negative)`` where ``positive`` ORs the opinions' present bits and ``negative`` their
absent bits; the tests check it against :func:`calls_disagree` on random opinions.

The schema script (``CREATE ... IF NOT EXISTS``) runs once per process per index file: again only
when the file was replaced (another inode) or its schema changed since (SQLite's schema cookie,
``PRAGMA schema_version``); it creates only what is missing, so processes sharing the file may all run it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import pandas as pd

from ecgreview.device.statement_table import NEGATIVE_STRENGTHS, POSITIVE_STRENGTHS
from ecgreview.record import CLASSES, dnn_calls
from ecgreview.review.protocol import latest_readings
from ecgreview.review.serial_link import DEFAULT_LINK_RULE, link_key, parse_link_rule
from ecgreview.review.store import StoreStamp, read_review_tail
from ecgreview.review.worklist_serial import SERIAL_SCHEMA, _popcount, refresh_serial

__all__ = ["sync_dnn_calls", "sync_listing", "sync_readings"]

_ALL = (1 << len(CLASSES)) - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS listing (path TEXT PRIMARY KEY, source_sha256 TEXT, first_of_content INTEGER,
    file TEXT, pseudonym TEXT, acquired TEXT, device TEXT, has_statements INTEGER,
    device_positive INTEGER, device_negative INTEGER, device_possible INTEGER, link_key TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS listing_by_file ON listing (first_of_content, file, path);
CREATE INDEX IF NOT EXISTS listing_by_acquired ON listing (first_of_content, acquired, path);
CREATE INDEX IF NOT EXISTS listing_by_pseudonym ON listing (first_of_content, pseudonym, path);
CREATE INDEX IF NOT EXISTS listing_by_sha ON listing (source_sha256, first_of_content);
CREATE TABLE IF NOT EXISTS listing_dirty (path TEXT PRIMARY KEY);
CREATE TRIGGER IF NOT EXISTS files_inserted AFTER INSERT ON files
    BEGIN INSERT OR IGNORE INTO listing_dirty VALUES (NEW.path); END;
CREATE TRIGGER IF NOT EXISTS files_updated AFTER UPDATE ON files
    BEGIN INSERT OR IGNORE INTO listing_dirty VALUES (NEW.path); END;
CREATE TRIGGER IF NOT EXISTS files_deleted AFTER DELETE ON files
    BEGIN INSERT OR IGNORE INTO listing_dirty VALUES (OLD.path); END;
CREATE TABLE IF NOT EXISTS readings (source_sha256 TEXT, reader TEXT, role TEXT, present INTEGER, absent INTEGER,
    PRIMARY KEY (source_sha256, reader));
CREATE INDEX IF NOT EXISTS readings_by_reader ON readings (reader, source_sha256);
CREATE TABLE IF NOT EXISTS reading_summary (source_sha256 TEXT PRIMARY KEY, readers TEXT, adjudicated INTEGER,
    present INTEGER, absent INTEGER);
CREATE TABLE IF NOT EXISTS dnn_masks (calls_key TEXT, source_sha256 TEXT, mask INTEGER,
    PRIMARY KEY (calls_key, source_sha256));
CREATE TABLE IF NOT EXISTS opinions (source_sha256 TEXT PRIMARY KEY, positive INTEGER, negative INTEGER,
    discordant INTEGER, discordant_count INTEGER);
CREATE INDEX IF NOT EXISTS opinions_by_discordance ON opinions (discordant_count, source_sha256);
CREATE INDEX IF NOT EXISTS opinions_discordant ON opinions (discordant_count, source_sha256) WHERE discordant != 0;
CREATE TABLE IF NOT EXISTS opinions_dirty (source_sha256 TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS worklist_meta (name TEXT PRIMARY KEY, value TEXT);
"""


#: Index file (device, inode) -> its schema cookie once this process ran the schema script in it.
_schema_made: dict[tuple[int, int], int] = {}


@contextmanager
def _connect(index_path: str | Path) -> Iterator[sqlite3.Connection]:
    """A connection for one transaction (committed, or rolled back on an error), closed after it; the
    worklist's tables exist in it."""
    with closing(sqlite3.connect(index_path, timeout=30)) as connection, connection:
        _make_schema(connection, index_path)
        yield connection


def _make_schema(connection: sqlite3.Connection, index_path: str | Path) -> None:
    """Run the schema script unless this process ran it in this file (same inode) and no schema change
    came since (another process dropping or adding a table changes the cookie)."""
    cookie = connection.execute("PRAGMA schema_version").fetchone()[0]  # opens (creates) the file
    try:
        status = os.stat(index_path)
    except OSError:  # not a plain file (":memory:", or gone already): no key to remember it by
        _run_schema(connection)
        return
    key = (status.st_dev, status.st_ino)
    if _schema_made.get(key) == cookie:
        return
    _run_schema(connection)
    _schema_made[key] = connection.execute("PRAGMA schema_version").fetchone()[0]


def _run_schema(connection: sqlite3.Connection) -> None:
    """The schema script, with the listing's ``link_key`` added to an index made before it (the serial
    schema indexes that column)."""
    connection.executescript(_SCHEMA)
    if "link_key" not in {row[1] for row in connection.execute("PRAGMA table_info(listing)")}:
        try:
            connection.execute("ALTER TABLE listing ADD COLUMN link_key TEXT NOT NULL DEFAULT ''")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise
        connection.execute("DROP INDEX IF EXISTS listing_by_pseudonym_time")  # the serial SQL's, before link_key
        connection.execute("DELETE FROM worklist_meta WHERE name = 'link_rule'")  # every key computed next sync
        connection.commit()
    connection.executescript(SERIAL_SCHEMA)


def _mask(bits: Sequence[bool]) -> int:
    return sum(1 << index for index, bit in enumerate(bits) if bit)


_LISTING_COLUMNS = ("path, source_sha256, first_of_content, file, pseudonym, acquired, device, has_statements, "
                    "device_positive, device_negative, device_possible, link_key")


def _listing_row(path: str, sha256: str, metadata: str, *, rule: str) -> tuple:
    facts = json.loads(metadata or "{}")
    calls = facts.get("device_calls", {})
    has_statements = bool(facts.get("statements"))
    strengths = [calls.get(name, "") if has_statements else "" for name in CLASSES]
    source_name, pseudonym = facts.get("source_name", Path(path).name), facts.get("pseudonym", "")
    return (path, sha256, 0, source_name, pseudonym,
            facts.get("acquisition_time", ""), facts.get("device", ""), int(has_statements),
            _mask([s in POSITIVE_STRENGTHS for s in strengths]), _mask([s in NEGATIVE_STRENGTHS for s in strengths]),
            _mask([s == "possible" for s in strengths]), link_key(pseudonym, source_name, rule))


def _link_rule(connection: sqlite3.Connection, link_rule: str | None) -> str:
    """The linking rule of this sync (``link_rule``, or the index's when None); when it is not the one the
    listing's keys were made by, every key is computed again and ``serial`` rebuilt at its next refresh."""
    stored = connection.execute("SELECT value FROM worklist_meta WHERE name = 'link_rule'").fetchone()
    rule = link_rule if link_rule is not None else (stored[0] if stored else DEFAULT_LINK_RULE)
    parse_link_rule(rule)  # ValueError before anything changes
    if stored is None or stored[0] != rule:
        keys = [(link_key(pseudonym, file, rule), path) for path, file, pseudonym in connection.execute(
            "SELECT path, file, pseudonym FROM listing")]
        connection.executemany("UPDATE listing SET link_key = ? WHERE path = ?", keys)
        connection.execute("INSERT OR REPLACE INTO worklist_meta VALUES ('link_rule', ?)", (rule,))
        connection.execute("DELETE FROM worklist_meta WHERE name = 'serial'")  # every prior found again
    return rule


def sync_listing(index_path: str | Path, *, link_rule: str | None = None) -> int:
    """Re-derive the listing rows of files the index added, changed or removed since the last call.

    Parameters
    ----------
    index_path : str or Path
        The case index.
    link_rule : str, optional
        The serial comparison's linking rule (``Settings.serial_link``,
        :func:`ecgreview.review.serial.parse_link_rule`); None: the rule the index's keys were made by
        (``patient-id`` on a new index). Another rule than before recomputes every row's ``link_key``.

    Returns
    -------
    int
        The number of files re-derived (all of them the first time on an older index).

    Raises
    ------
    ValueError
        ``link_rule`` is not a linking rule.
    """
    with _connect(index_path) as connection:
        rule = _link_rule(connection, link_rule)
        if connection.execute("SELECT value FROM worklist_meta WHERE name = 'listing'").fetchone() is None:
            connection.execute("INSERT OR IGNORE INTO listing_dirty SELECT path FROM files")
            connection.execute("INSERT INTO worklist_meta VALUES ('listing', '1')")
        dirty = [row[0] for row in connection.execute("SELECT path FROM listing_dirty")]
        if not dirty:
            return 0
        placeholders = ",".join("?" * len(dirty))
        touched = {row[0] for row in connection.execute(
            f"SELECT source_sha256 FROM listing WHERE path IN ({placeholders})", dirty)}
        connection.execute(f"DELETE FROM listing WHERE path IN ({placeholders})", dirty)
        rows = connection.execute(f"SELECT path, source_sha256, metadata FROM files WHERE path IN ({placeholders}) "
                                  "AND error = '' AND source_sha256 != ''", dirty).fetchall()
        connection.executemany(f"INSERT INTO listing ({_LISTING_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                               [_listing_row(*row, rule=rule) for row in rows])
        touched |= {row[1] for row in rows}
        connection.executemany(  # one row per content, at its first path
            "UPDATE listing SET first_of_content = (path = (SELECT MIN(path) FROM listing AS other "
            "WHERE other.source_sha256 = listing.source_sha256)) WHERE source_sha256 = ?",
            [(sha,) for sha in touched])
        connection.execute(f"DELETE FROM listing_dirty WHERE path IN ({placeholders})", dirty)
        _mark(connection, touched)
        return len(dirty)


def _mark(connection: sqlite3.Connection, hashes: Iterable[str]) -> None:
    """The opinions of these cases must be computed again."""
    connection.executemany("INSERT OR IGNORE INTO opinions_dirty VALUES (?)", [(sha,) for sha in hashes])


def _calls_key(model_sha256: str, thresholds: Sequence[float]) -> str:
    return f"{model_sha256}:{';'.join(repr(float(value)) for value in thresholds)}"


def sync_dnn_calls(index_path: str | Path, *, model_sha256: str, thresholds: Sequence[float]) -> int:
    """Compute the DNN call masks of the predictions of ``model_sha256`` made since the last call at
    ``thresholds`` (the index replaces a prediction with a new row, so the rowid is a high-water mark)."""
    if not model_sha256:
        return 0
    key = _calls_key(model_sha256, thresholds)
    with _connect(index_path) as connection:
        mark = connection.execute("SELECT value FROM worklist_meta WHERE name = ?", (f"dnn:{key}",)).fetchone()
        rows = connection.execute(
            "SELECT rowid, source_sha256, probabilities FROM predictions WHERE model_sha256 = ? AND rowid > ?",
            (model_sha256, int(mark[0]) if mark else 0)).fetchall()
        if not rows:
            return 0
        masks = [(key, sha, _mask(list(dnn_calls(json.loads(values), thresholds)))) for _, sha, values in rows]
        connection.executemany("INSERT OR REPLACE INTO dnn_masks VALUES (?, ?, ?)", masks)
        connection.execute("INSERT OR REPLACE INTO worklist_meta VALUES (?, ?)",
                           (f"dnn:{key}", str(max(row[0] for row in rows))))
        _mark(connection, (row[1] for row in rows))
        return len(masks)


def _reading_row(row: pd.Series) -> tuple:
    calls = [row[f"reader_call_{name}"] for name in CLASSES]
    return (row["source_sha256"], row["reader"], row["role"], _mask([call == "present" for call in calls]),
            _mask([call == "absent" for call in calls]))


def _summarise(connection: sqlite3.Connection, hashes: Sequence[str] | None = None) -> None:
    """Rebuild ``reading_summary`` (of ``hashes``, or all) from ``readings``; readers in save order."""
    where = f"WHERE source_sha256 IN ({','.join('?' * len(hashes))})" if hashes is not None else ""
    parameters = list(hashes or ())
    connection.execute(f"DELETE FROM reading_summary {where}", parameters)
    summary: dict[str, list] = {}
    for sha, reader, role, present, absent in connection.execute(
            f"SELECT source_sha256, reader, role, present, absent FROM readings {where} ORDER BY rowid", parameters):
        entry = summary.setdefault(sha, [[], 0, 0, 0])
        entry[0].append(reader)
        entry[1] |= role == "adjudicator"
        entry[2] |= present  # every clinical reading is an opinion, the adjudicator's too
        entry[3] |= absent
    connection.executemany("INSERT INTO reading_summary VALUES (?, ?, ?, ?, ?)",
                           [(sha, json.dumps(readers), int(adjudicated), present, absent)
                            for sha, (readers, adjudicated, present, absent) in summary.items()])


def _upsert_readings(connection: sqlite3.Connection, rows: pd.DataFrame) -> set[str]:
    """Each reader's latest clinical reading among ``rows`` (store rows in save order) replaces their earlier one."""
    readings = latest_readings(rows)
    for _, reading in readings.iterrows():
        connection.execute("DELETE FROM readings WHERE source_sha256 = ? AND reader = ?",
                           (reading["source_sha256"], reading["reader"]))
        connection.execute("INSERT INTO readings VALUES (?, ?, ?, ?, ?)", _reading_row(reading))
    return set(readings["source_sha256"])


def sync_readings(index_path: str | Path, reviews_path: str | Path) -> bool:
    """Follow the review store: read the rows appended since the last call (the store is append-only), or
    the whole store when it is new, replaced (a schema upgrade) or gone; True when anything changed."""
    store = Path(reviews_path)
    stamp = StoreStamp.of(store)
    with _connect(index_path) as connection:
        row = connection.execute("SELECT value FROM worklist_meta WHERE name = 'reviews'").fetchone()
        known = json.loads(row[0]) if row else None
        if stamp is not None and known and known["inode"] == stamp.inode and known["end"] <= stamp.size:
            if known["end"] == stamp.size:
                return False
            rows, end = read_review_tail(store, start=known["end"])
            if end == known["end"]:
                return False  # a row still being written
            touched = _upsert_readings(connection, rows)
            _summarise(connection, sorted(touched))
            _mark(connection, touched)
        elif stamp is None and known == {"inode": 0, "end": 0}:
            return False
        else:
            end = 0
            connection.execute("DELETE FROM readings")
            if stamp is not None:
                rows, end = read_review_tail(store, start=0)  # every complete row, and where they end
                _upsert_readings(connection, rows)
            _summarise(connection)
            connection.execute("DELETE FROM worklist_meta WHERE name = 'opinions'")  # all computed again
        connection.execute("INSERT OR REPLACE INTO worklist_meta VALUES ('reviews', ?)", (json.dumps(
            {"inode": stamp.inode if stamp else 0, "end": end}),))
        return True


#: Per case, the opinions' present and absent bits; the DNN counts only where it has a probability.
_POSITIVE = "(COALESCE(d.mask, 0) | l.device_positive | COALESCE(r.present, 0))"
_NEGATIVE = (f"(CASE WHEN d.mask IS NULL THEN 0 ELSE ~d.mask & {_ALL} END | l.device_negative "
             "| COALESCE(r.absent, 0))")
_OPINIONS = (f"SELECT l.source_sha256, {_POSITIVE}, {_NEGATIVE}, {_POSITIVE} & {_NEGATIVE}, "
             f"{_popcount(f'{_POSITIVE} & {_NEGATIVE}')} FROM listing l "
             "LEFT JOIN dnn_masks d ON d.source_sha256 = l.source_sha256 AND d.calls_key = ? "
             "LEFT JOIN reading_summary r ON r.source_sha256 = l.source_sha256 WHERE l.first_of_content = 1")


def _refresh_opinions(connection: sqlite3.Connection, key: str) -> int:
    """Bring ``opinions`` up to date for the DNN calls ``key`` (the changed cases, or all after a change of
    key); returns the number of cases, counted again only when something changed."""
    known = connection.execute("SELECT value FROM worklist_meta WHERE name = 'opinions'").fetchone()
    everything = known is None or known[0] != key
    if everything:
        connection.execute("DELETE FROM opinions")
        connection.execute(f"INSERT INTO opinions {_OPINIONS}", (key,))
        connection.execute("INSERT OR REPLACE INTO worklist_meta VALUES ('opinions', ?)", (key,))
    elif connection.execute("SELECT 1 FROM opinions_dirty LIMIT 1").fetchone():
        changed = "(SELECT source_sha256 FROM opinions_dirty)"
        connection.execute(f"DELETE FROM opinions WHERE source_sha256 IN {changed}")
        connection.execute(f"INSERT OR REPLACE INTO opinions {_OPINIONS} AND l.source_sha256 IN {changed}", (key,))
    else:
        counted = connection.execute("SELECT value FROM worklist_meta WHERE name = 'cases'").fetchone()
        if counted is not None:
            refresh_serial(connection, key, everything=False)  # made once on an index that had none
            return int(counted[0])
    refresh_serial(connection, key, everything=everything)
    connection.execute("DELETE FROM opinions_dirty")
    total = connection.execute("SELECT COUNT(*) FROM opinions").fetchone()[0]  # one row per content
    connection.execute("INSERT OR REPLACE INTO worklist_meta VALUES ('cases', ?)", (str(total),))
    return int(total)
