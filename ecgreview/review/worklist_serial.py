"""The worklist's serial columns in SQL: each case's prior ECG, the DNN's changes against it, and the
disagreement count the worklist sorts and filters by.

A part of :mod:`ecgreview.review.worklist_query` (same SQLite file, same ``listing``, ``dnn_masks`` and
``opinions`` tables), kept in a module of its own. Per case (one row per content) the ``serial`` table holds:

* ``prior_sha256``, ``prior_acquired``: the newest prior ECG of the case's patient, by the linking rule of
  :func:`ecgreview.review.serial.prior_cases` (same non-empty link key, other content, acquired strictly
  earlier; ties in acquisition time broken by SHA-256, as there); the tests check the SQL against it. The
  key is the listing's ``link_key`` column, :func:`ecgreview.review.serial.link_key` under the configured
  rule, computed when the listing is synced (:func:`ecgreview.review.worklist_sync.sync_listing`).
* ``new_mask``, ``resolved_mask``: the DNN's calls now against the prior's
  (:func:`ecgreview.review.serial.change_masks`); 0 without a DNN output for both.
* ``device_new_mask``, ``device_resolved_mask``: the device's calls now against the prior's (the statement
  mapper's: ``possible`` counts, a negated or historical statement gives no call); 0 unless both ECGs carry
  statements.
* ``disagreement_rank``: minus :func:`ecgreview.review.serial.disagreement_count` (the discordant classes
  between DNN, device and readers, the one discordance rule kept in ``opinions``, plus the classes the DNN
  or the device changed): ascending order puts the most disagreement first.

The table follows ``opinions``: it is rebuilt whole when the opinions are, and otherwise only for the
changed cases, the cases of their link keys and the cases whose prior changed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

from ecgreview.record import CLASSES

__all__ = ["SERIAL_SCHEMA", "ListedCase", "listed_cases_of", "refresh_serial"]

SERIAL_SCHEMA = """
CREATE INDEX IF NOT EXISTS listing_by_link_time ON listing (link_key, acquired, source_sha256);
CREATE TABLE IF NOT EXISTS serial (source_sha256 TEXT PRIMARY KEY, prior_sha256 TEXT, prior_acquired TEXT,
    new_mask INTEGER, resolved_mask INTEGER, disagreement_rank INTEGER, device_new_mask INTEGER,
    device_resolved_mask INTEGER);
CREATE INDEX IF NOT EXISTS serial_by_disagreement ON serial (disagreement_rank, source_sha256);
CREATE INDEX IF NOT EXISTS serial_by_prior ON serial (prior_sha256);
"""


def _popcount(expression: str) -> str:
    return "(" + " + ".join(f"(({expression}) >> {index} & 1)" for index in range(len(CLASSES))) + ")"


_PRIOR = ("(SELECT q.rowid FROM listing q WHERE l.link_key != '' AND l.acquired != '' AND q.link_key = l.link_key "
          "AND q.first_of_content = 1 AND q.acquired != '' AND q.acquired < l.acquired "
          "AND q.source_sha256 != l.source_sha256 ORDER BY q.acquired DESC, q.source_sha256 DESC LIMIT 1)")
_BOTH = "d.mask IS NOT NULL AND pd.mask IS NOT NULL"
_NEW = f"(CASE WHEN {_BOTH} THEN d.mask & ~pd.mask ELSE 0 END)"
_RESOLVED = f"(CASE WHEN {_BOTH} THEN pd.mask & ~d.mask ELSE 0 END)"
#: The device's calls (``device_positive``: definite or possible) where both ECGs carry statements.
_DEVICE_BOTH = "l.has_statements = 1 AND p.has_statements = 1"
_DEVICE_NEW = f"(CASE WHEN {_DEVICE_BOTH} THEN l.device_positive & ~p.device_positive ELSE 0 END)"
_DEVICE_RESOLVED = f"(CASE WHEN {_DEVICE_BOTH} THEN p.device_positive & ~l.device_positive ELSE 0 END)"
_ROWS = (f"SELECT o.source_sha256, p.source_sha256, COALESCE(p.acquired, ''), {_NEW}, {_RESOLVED}, "
         f"-(o.discordant_count + {_popcount(f'{_NEW} | {_RESOLVED} | {_DEVICE_NEW} | {_DEVICE_RESOLVED}')}), "
         f"{_DEVICE_NEW}, {_DEVICE_RESOLVED} "
         "FROM opinions o CROSS JOIN listing l ON l.source_sha256 = o.source_sha256 AND l.first_of_content = 1 "
         f"LEFT JOIN listing p ON p.rowid = {_PRIOR} "
         "LEFT JOIN dnn_masks d ON d.source_sha256 = l.source_sha256 AND d.calls_key = ? "
         "LEFT JOIN dnn_masks pd ON pd.source_sha256 = p.source_sha256 AND pd.calls_key = ?")
#: The cases whose serial row may change when the cases in ``opinions_dirty`` did.
_AFFECTED = ("SELECT source_sha256 FROM opinions_dirty UNION SELECT a.source_sha256 FROM listing a WHERE a.link_key "
             "IN (SELECT b.link_key FROM listing b WHERE b.link_key != '' AND b.source_sha256 IN "
             "(SELECT source_sha256 FROM opinions_dirty)) UNION SELECT source_sha256 FROM serial WHERE prior_sha256 IN "
             "(SELECT source_sha256 FROM opinions_dirty)")


def refresh_serial(connection: sqlite3.Connection, key: str, *, everything: bool) -> None:
    """Bring ``serial`` up to date for the DNN calls ``key`` after ``opinions`` (before ``opinions_dirty``
    is cleared): all cases when ``everything`` (the opinions were rebuilt) or the table was made for
    another key, else the cases the changed ones affect."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(serial)")}
    if "device_new_mask" not in columns:  # an index made before the device's changes counted: rebuilt
        connection.execute("DROP TABLE IF EXISTS serial")
        for statement in filter(str.strip, SERIAL_SCHEMA.split(";")):  # in the caller's transaction
            connection.execute(statement)
        everything = True
    known = connection.execute("SELECT value FROM worklist_meta WHERE name = 'serial'").fetchone()
    if everything or known is None or known[0] != key:
        connection.execute("DELETE FROM serial")
        connection.execute(f"INSERT INTO serial {_ROWS}", (key, key))
        connection.execute("INSERT OR REPLACE INTO worklist_meta VALUES ('serial', ?)", (key,))
        return
    if connection.execute("SELECT 1 FROM opinions_dirty LIMIT 1").fetchone() is None:
        return
    affected = [row[0] for row in connection.execute(_AFFECTED)]
    for start in range(0, len(affected), 500):
        chunk = affected[start:start + 500]
        marks = ",".join("?" * len(chunk))
        connection.execute(f"DELETE FROM serial WHERE source_sha256 IN ({marks})", chunk)
        connection.execute(f"INSERT OR REPLACE INTO serial {_ROWS} WHERE o.source_sha256 IN ({marks})",
                           (key, key, *chunk))


class ListedCase(NamedTuple):
    """One listed case of a link key (what :func:`ecgreview.review.serial.prior_cases` links)."""

    source_sha256: str
    path: Path
    source_name: str
    pseudonym: str
    acquisition_time: str


def listed_cases_of(index_path: str | Path, link_keys: Sequence[str]) -> list[ListedCase]:
    """The listed cases (one per content) of ``link_keys`` (:func:`ecgreview.review.serial.link_key`), oldest
    first: an index lookup per key.

    Call :func:`ecgreview.review.worklist_query.sync_listing` first, with the linking rule the keys were made by.
    """
    wanted = sorted({key for key in link_keys if key})
    if not wanted:
        return []
    with closing(sqlite3.connect(index_path, timeout=30)) as connection:
        rows = connection.execute(
            f"SELECT source_sha256, path, file, pseudonym, acquired FROM listing WHERE first_of_content = 1 "
            f"AND link_key IN ({','.join('?' * len(wanted))}) ORDER BY acquired, source_sha256", wanted).fetchall()
    return [ListedCase(sha, Path(path), file, pseudonym, acquired) for sha, path, file, pseudonym, acquired in rows]
