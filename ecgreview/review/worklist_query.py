"""The worklist as SQLite queries: filters, sort and paging done by the index, not by loading every case.

The tables queried here (``listing``, ``readings``, ``reading_summary``, ``dnn_masks``, ``opinions``,
``serial``) are kept in the case index by :mod:`ecgreview.review.worklist_sync`: call its
:func:`~ecgreview.review.worklist_sync.sync_listing`, :func:`~ecgreview.review.worklist_sync.sync_dnn_calls`
and :func:`~ecgreview.review.worklist_sync.sync_readings` before a query (importable from here too). A page
(:func:`query_worklist`), the cases either side of one (:func:`worklist_neighbours`) and the names of
cases (:func:`case_names`) are index lookups, whatever the number of cases. The discordance filter and
sort read ``opinions`` (:func:`ecgreview.review.consensus.calls_disagree` as bit arithmetic); the
disagreement sort reads ``serial`` (each row says why: :func:`ecgreview.review.serial.disagreement_reason`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecgreview.record import CLASSES
from ecgreview.review.serial import disagreement_reason
from ecgreview.review.worklist_sync import (  # the sync functions: importable from here too
    _calls_key,
    _connect,
    _refresh_opinions,
    sync_dnn_calls,
    sync_listing,
    sync_readings,
)

__all__ = ["SORT_KEYS", "WorklistFilters", "WorklistPage", "query_worklist", "sync_dnn_calls", "sync_listing",
           "sync_readings", "worklist_neighbours", "case_names"]

#: Sort keys, by display column.
SORT_KEYS: dict[str, str] = {"file": "File", "acquired": "Acquired", "pseudonym": "Pseudonym",
                             "discordance": "Discordant classes", "reviews": "Reviews",
                             "disagreement": "Disagreement"}


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


def _names(mask: int | None) -> list[str]:
    return [name for index, name in enumerate(CLASSES) if mask is not None and mask >> index & 1]


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
            f"r.present, r.absent, s.new_mask, s.resolved_mask, s.prior_acquired, s.disagreement_rank, "
            f"s.device_new_mask, s.device_resolved_mask "
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
    negative, present, absent, new, resolved, prior_acquired, rank, device_new, device_resolved = row[12:]
    reason = disagreement_reason(discordant_mask=disc or 0, dnn_mask=dnn, device_positive=positive,
                                 device_negative=negative, readers_present=present or 0, readers_absent=absent or 0,
                                 new_mask=new or 0, resolved_mask=resolved or 0, prior_acquired=prior_acquired or "",
                                 device_new_mask=device_new or 0, device_resolved_mask=device_resolved or 0)
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
