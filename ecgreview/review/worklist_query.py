"""The worklist as SQLite queries: filters, sort and paging done by the index, not by loading every case.

The case index (:class:`ecgreview.review.worklist.CaseIndex`) keeps the files; this module keeps,
in the same SQLite file, what a worklist row needs, so that a page of rows and the totals cost the
same at 1,000 and at 100,000 cases:

* ``listing``: one row per indexed file (file name, pseudonym, acquisition time, device, and the
  device's calls as bit masks, one bit per class in :data:`~ecgreview.record.CLASSES` order). SQL
  triggers on the index's ``files`` table mark changed files; :func:`sync_listing` re-derives only
  those.
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

* ``serial`` (:mod:`ecgreview.review.worklist_serial`): each case's prior ECG (same pseudonym), the DNN's
  new and resolved calls against it, and the disagreement count (discordant classes plus those changes)
  that the ``disagreement`` sort and ``disagreement_only`` filter use; each row says why
  (:func:`ecgreview.review.serial.disagreement_reason`).

Discordance is :func:`ecgreview.review.consensus.calls_disagree` (a ``present`` and an ``absent``
opinion on one class among the DNN, the device and the readers), written as bit arithmetic:
``(positive & negative)`` where ``positive`` ORs the opinions' present bits and ``negative`` their
absent bits; the tests check it against :func:`calls_disagree` on random opinions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecgreview.device.statement_table import NEGATIVE_STRENGTHS, POSITIVE_STRENGTHS
from ecgreview.record import CLASSES, dnn_calls
from ecgreview.review.protocol import latest_readings
from ecgreview.review.serial import disagreement_reason
from ecgreview.review.store import StoreStamp, read_review_tail, read_reviews
from ecgreview.review.worklist_serial import SERIAL_SCHEMA, refresh_serial

__all__ = ["SORT_KEYS", "WorklistFilters", "WorklistPage", "query_worklist", "sync_dnn_calls", "sync_listing",
           "sync_readings", "worklist_neighbours", "case_names"]

_ALL = (1 << len(CLASSES)) - 1
#: Sort keys, by display column.
SORT_KEYS: dict[str, str] = {"file": "File", "acquired": "Acquired", "pseudonym": "Pseudonym",
                             "discordance": "Discordant classes", "reviews": "Reviews",
                             "disagreement": "Disagreement"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS listing (path TEXT PRIMARY KEY, source_sha256 TEXT, first_of_content INTEGER,
    file TEXT, pseudonym TEXT, acquired TEXT, device TEXT, has_statements INTEGER,
    device_positive INTEGER, device_negative INTEGER, device_possible INTEGER);
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


@dataclass(frozen=True)
class WorklistFilters:
    """Worklist filters: discordant only, not yet reviewed by me, a class anyone calls present, a reviewer,
    disagreement only (discordant, or the DNN changed a call since the prior ECG)."""

    discordant_only: bool = False
    unreviewed_by_me: bool = False
    class_name: str | None = None
    reviewer: str | None = None
    disagreement_only: bool = False


@dataclass(frozen=True)
class WorklistPage:
    """One page of worklist rows, the number of cases matching the filters, and all cases indexed.

    ``order`` is every matching case (SHA-256) in the page's sort order, for next/previous.
    """

    rows: pd.DataFrame
    matching: int
    total: int
    order: tuple[str, ...]


@contextmanager
def _connect(index_path: str | Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(index_path, timeout=30)) as connection, connection:
        connection.executescript(_SCHEMA + SERIAL_SCHEMA)
        yield connection


def _mask(bits: Sequence[bool]) -> int:
    return sum(1 << index for index, bit in enumerate(bits) if bit)


def _names(mask: int | None) -> list[str]:
    return [name for index, name in enumerate(CLASSES) if mask is not None and mask >> index & 1]


def _listing_row(path: str, sha256: str, metadata: str) -> tuple:
    facts = json.loads(metadata or "{}")
    calls = facts.get("device_calls", {})
    has_statements = bool(facts.get("statements"))
    strengths = [calls.get(name, "") if has_statements else "" for name in CLASSES]
    return (path, sha256, 0, facts.get("source_name", Path(path).name), facts.get("pseudonym", ""),
            facts.get("acquisition_time", ""), facts.get("device", ""), int(has_statements),
            _mask([s in POSITIVE_STRENGTHS for s in strengths]), _mask([s in NEGATIVE_STRENGTHS for s in strengths]),
            _mask([s == "possible" for s in strengths]))


def sync_listing(index_path: str | Path) -> int:
    """Re-derive the listing rows of files the index added, changed or removed since the last call.

    Returns the number of files re-derived (all of them the first time on an older index).
    """
    with _connect(index_path) as connection:
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
        connection.executemany("INSERT INTO listing VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [_listing_row(*row) for row in rows])
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


def _store_end(path: Path, size: int) -> int:
    """The end of the last complete row among the first ``size`` bytes of the store (a row still being
    written has no line end yet)."""
    with path.open("rb") as handle:
        handle.seek(max(0, size - 65536))
        data = handle.read(size - max(0, size - 65536))
    newline = data.rfind(b"\n")
    return size if newline == len(data) - 1 else max(0, size - len(data) + newline + 1)


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
            end = 0 if stamp is None else _store_end(store, stamp.size)
            connection.execute("DELETE FROM readings")
            if stamp is not None:
                _upsert_readings(connection, read_reviews(store))
            _summarise(connection)
            connection.execute("DELETE FROM worklist_meta WHERE name = 'opinions'")  # all computed again
        connection.execute("INSERT OR REPLACE INTO worklist_meta VALUES ('reviews', ?)", (json.dumps(
            {"inode": stamp.inode if stamp else 0, "end": end}),))
        return True


def _popcount(expression: str) -> str:
    return "(" + " + ".join(f"(({expression}) >> {index} & 1)" for index in range(len(CLASSES))) + ")"


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


#: Sort key → (column, tie-breaker): each pair is an index of its own, so a page is read in index order.
_ORDER = {"file": ("l.file", "l.path"), "acquired": ("l.acquired", "l.path"), "pseudonym": ("l.pseudonym", "l.path"),
          "discordance": ("o.discordant_count", "o.source_sha256"), "reviews": ("COALESCE(r.readers, '')", "l.path"),
          "disagreement": ("s.disagreement_rank", "s.source_sha256")}


def _where(filters: WorklistFilters, reader: str) -> tuple[str, list]:
    """The filters as a condition on ``opinions o`` alone (it holds one row per content, as the worklist)."""
    clauses, parameters = ["1"], []
    if filters.discordant_only:
        clauses.append("o.discordant != 0")
    if filters.disagreement_only:
        clauses.append("o.source_sha256 IN (SELECT source_sha256 FROM serial WHERE disagreement_rank < 0)")
    if filters.unreviewed_by_me and reader:
        clauses.append("NOT EXISTS (SELECT 1 FROM readings m WHERE m.source_sha256 = o.source_sha256 "
                       "AND m.reader = ?)")
        parameters.append(reader)
    if filters.class_name is not None:
        clauses.append(f"(o.positive >> {CLASSES.index(filters.class_name)} & 1) = 1")
    if filters.reviewer:
        clauses.append("EXISTS (SELECT 1 FROM readings m WHERE m.source_sha256 = o.source_sha256 AND m.reader = ?)")
        parameters.append(filters.reviewer)
    return " AND ".join(clauses), parameters


def _check(filters: WorklistFilters, sort_by: str) -> None:
    if sort_by not in SORT_KEYS:
        raise ValueError(f"sort_by must be one of {', '.join(SORT_KEYS)}; got {sort_by!r}")
    if filters.class_name is not None and filters.class_name not in CLASSES:
        raise ValueError(f"class_name must be one of {', '.join(CLASSES)} or None; got {filters.class_name!r}")


#: Sort by a listing column: read the listing in its index order; by discordance: the opinions in theirs;
#: by disagreement: the serial table in its own.
_FROM_LISTING = ("FROM listing l CROSS JOIN opinions o ON o.source_sha256 = l.source_sha256 "
                 "LEFT JOIN reading_summary r ON r.source_sha256 = l.source_sha256 "
                 "LEFT JOIN serial s ON s.source_sha256 = l.source_sha256")
_FROM_OPINIONS = ("FROM opinions o CROSS JOIN listing l ON l.source_sha256 = o.source_sha256 "
                  "AND l.first_of_content = 1 LEFT JOIN reading_summary r ON r.source_sha256 = o.source_sha256 "
                  "LEFT JOIN serial s ON s.source_sha256 = o.source_sha256")
_FROM_SERIAL = ("FROM serial s CROSS JOIN opinions o ON o.source_sha256 = s.source_sha256 "
                "CROSS JOIN listing l ON l.source_sha256 = s.source_sha256 AND l.first_of_content = 1 "
                "LEFT JOIN reading_summary r ON r.source_sha256 = s.source_sha256")
_FROM = {"discordance": _FROM_OPINIONS, "disagreement": _FROM_SERIAL}


def query_worklist(
    index_path: str | Path, *, model_sha256: str, thresholds: Sequence[float], reader: str = "",
    filters: WorklistFilters = WorklistFilters(), sort_by: str = "file", descending: bool = False,
    offset: int = 0, limit: int = 200, with_order: bool = False,
) -> WorklistPage:
    """One page of the worklist: metadata, DNN, device and review status, and discordance per case.

    Call :func:`sync_listing`, :func:`sync_dnn_calls` and :func:`sync_readings` first (each does
    nothing when nothing changed).

    Parameters
    ----------
    model_sha256 : str
        The weights whose calls are shown (empty: no DNN column values).
    thresholds : sequence of float
        The site's thresholds (``Settings.thresholds``).
    reader : str
        The current reader, for "Reviewed by me" and ``filters.unreviewed_by_me``.
    sort_by : {"file", "acquired", "pseudonym", "discordance", "reviews", "disagreement"}
        Sort key (ties in file path order; by discordance and disagreement, in SHA-256 order).
        ``disagreement`` ascending puts the most disagreement first (discordant classes plus the
        DNN's changes against the prior ECG).
    offset, limit : int
        The page: rows ``offset`` to ``offset + limit - 1`` of the sorted, filtered cases.
    with_order : bool
        Also list every matching case in order (``WorklistPage.order``; costs a pass over them).

    Returns
    -------
    WorklistPage
        ``rows`` with columns ``source_sha256``, File, Pseudonym, Acquired, Device, DNN calls,
        Device calls, Reviews, Reviewed by me, Discordant, Discordant classes, Disagreement (count),
        Reason (:func:`~ecgreview.review.serial.disagreement_reason`), Prior (its acquisition time).
    """
    _check(filters, sort_by)
    if offset < 0 or limit < 1:
        raise ValueError(f"offset must be >= 0 and limit >= 1; got {offset}, {limit}")
    key = _calls_key(model_sha256, thresholds)
    where, parameters = _where(filters, reader.strip())
    column, tie = _ORDER[sort_by]
    order = f"{column} DESC, {tie} DESC" if descending else f"{column}, {tie}"
    with _connect(index_path) as connection:
        total = _refresh_opinions(connection, key)
        matching = total if where == "1" else connection.execute(
            f"SELECT COUNT(*) FROM opinions o WHERE {where}", parameters).fetchone()[0]
        joins = _FROM.get(sort_by, _FROM_LISTING)
        hashes = tuple(row[0] for row in connection.execute(
            f"SELECT l.source_sha256 {joins} WHERE {where} ORDER BY {order}", parameters)) if with_order else ()
        rows = connection.execute(
            f"SELECT l.source_sha256, l.file, l.pseudonym, l.acquired, l.device, l.has_statements, "
            f"l.device_positive, l.device_possible, (SELECT mask FROM dnn_masks d WHERE d.calls_key = ? "
            f"AND d.source_sha256 = l.source_sha256), r.readers, r.adjudicated, o.discordant, l.device_negative, "
            f"r.present, r.absent, s.new_mask, s.resolved_mask, s.prior_acquired, s.disagreement_rank "
            f"{joins} WHERE {where} AND l.first_of_content = 1 ORDER BY {order} LIMIT ? OFFSET ?",
            [key, *parameters, limit, offset]).fetchall()
    return WorklistPage(pd.DataFrame([_row(row, reader.strip()) for row in rows], columns=_COLUMNS),
                        matching, total, hashes)


def worklist_neighbours(
    index_path: str | Path, source_sha256: str, *, model_sha256: str, thresholds: Sequence[float], reader: str = "",
    filters: WorklistFilters = WorklistFilters(), sort_by: str = "file", descending: bool = False,
) -> tuple[str | None, str | None]:
    """The cases before and after ``source_sha256`` in the worklist's order (filters and sort as in
    :func:`query_worklist`): two index lookups, whatever the number of cases. A case not in the list
    gives no previous case and the first case as the next."""
    _check(filters, sort_by)
    key = _calls_key(model_sha256, thresholds)
    where, parameters = _where(filters, reader.strip())
    column, tie = _ORDER[sort_by]
    joins = _FROM.get(sort_by, _FROM_LISTING)
    forward, backward = (f"{column} DESC, {tie} DESC", f"{column}, {tie}") if descending else \
        (f"{column}, {tie}", f"{column} DESC, {tie} DESC")
    with _connect(index_path) as connection:
        _refresh_opinions(connection, key)
        current = connection.execute(f"SELECT {column}, {tie} {joins} WHERE {where} AND l.source_sha256 = ? "
                                     "AND l.first_of_content = 1", [*parameters, source_sha256]).fetchone()
        if current is None:
            first = connection.execute(f"SELECT l.source_sha256 {joins} WHERE {where} AND l.first_of_content = 1 "
                                       f"ORDER BY {forward} LIMIT 1", parameters).fetchone()
            return None, first[0] if first else None

        def step(order: str, after: bool) -> str | None:
            compare = ">" if after != descending else "<"
            found = connection.execute(
                f"SELECT l.source_sha256 {joins} WHERE {where} AND l.first_of_content = 1 "
                f"AND ({column}, {tie}) {compare} (?, ?) ORDER BY {order} LIMIT 1", [*parameters, *current]).fetchone()
            return found[0] if found else None

        return step(backward, after=False), step(forward, after=True)


def case_names(index_path: str | Path, hashes: Sequence[str]) -> dict[str, str]:
    """The file name of each listed case of ``hashes`` (by SHA-256; cases not listed are left out)."""
    names: dict[str, str] = {}
    with _connect(index_path) as connection:
        for start in range(0, len(hashes), 500):
            chunk = list(hashes[start:start + 500])
            names |= dict(connection.execute(
                f"SELECT source_sha256, file FROM listing WHERE first_of_content = 1 AND source_sha256 IN "
                f"({','.join('?' * len(chunk))})", chunk).fetchall())
    return names


_COLUMNS = ["source_sha256", "File", "Pseudonym", "Acquired", "Device", "DNN calls", "Device calls", "Reviews",
            "Reviewed by me", "Discordant", "Discordant classes", "Disagreement", "Reason", "Prior"]


def _row(row: tuple, reader: str) -> dict:
    sha, file, pseudonym, acquired, device, has_statements, positive, possible, dnn, readers, adjudicated = row[:11]
    disc = row[11]
    negative, present, absent, new, resolved, prior_acquired, rank = row[12:]
    reason = disagreement_reason(discordant_mask=disc or 0, dnn_mask=dnn, device_positive=positive,
                                 device_negative=negative, readers_present=present or 0, readers_absent=absent or 0,
                                 new_mask=new or 0, resolved_mask=resolved or 0, prior_acquired=prior_acquired or "")
    names = json.loads(readers) if readers else []
    device_calls = [f"{name} (possible)" if possible >> index & 1 else name
                    for index, name in enumerate(CLASSES) if positive >> index & 1]
    return {"source_sha256": sha, "File": file, "Pseudonym": pseudonym, "Acquired": acquired, "Device": device,
            "DNN calls": "—" if dnn is None else (", ".join(_names(dnn)) or "none"),
            "Device calls": (", ".join(device_calls) or "none") if has_statements else "n/a",
            "Reviews": ", ".join(names) + (" · adjudicated" if adjudicated else ""),
            "Reviewed by me": bool(reader) and reader in names,
            "Discordant": bool(disc), "Discordant classes": ", ".join(_names(disc)),
            "Disagreement": -(rank or 0), "Reason": reason, "Prior": prior_acquired or ""}
