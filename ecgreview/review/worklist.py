"""The case index: a persistent, incremental index of the case folder (the worklist's source).

:class:`CaseIndex` is an SQLite file in ``Settings.home``. Each ECG file is keyed by
its path and ``(size, mtime)``; only new or changed files are read. A row holds the
file's SHA-256, header metadata (pseudonym, time, device, statements, measurements,
reference labels) and the device's calls; DNN probabilities are stored per model
SHA-256, so a new model re-reads only for prediction. The worklist's rows, filters and sort
are queries on the same SQLite file (:mod:`ecgreview.review.worklist_query`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecgreview.config import Settings
from ecgreview.device.statements import StatementTable, load_statement_table
from ecgreview.examples import DEMO_CASES_DIR, demo_ecg_path
from ecgreview.io import list_case_files
from ecgreview.io.dicomweb import dicomweb_cache
from ecgreview.pipeline import predict_inputs
from ecgreview.record import CLASSES, dnn_calls
from ecgreview.review.parallel_read import device_facts, is_unexpected_error, read_files
from ecgreview.review.uploads import UPLOADS_DIR, save_upload

if TYPE_CHECKING:
    from ecgreview.model.inference import InferenceModel

__all__ = [
    "CaseIndex", "IndexUpdate", "IndexedCase", "case_paths", "neighbours", "save_upload",
]

INDEX_FILE = "worklist-index.sqlite"
#: Seconds after which rows read so far are committed even when fewer than a batch have arrived.
COMMIT_INTERVAL_S = 0.5
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,
    source_sha256 TEXT, metadata TEXT, error TEXT);
CREATE TABLE IF NOT EXISTS predictions (source_sha256 TEXT, model_sha256 TEXT, probabilities TEXT,
    PRIMARY KEY (source_sha256, model_sha256));
CREATE INDEX IF NOT EXISTS files_by_sha ON files (source_sha256);
"""


@dataclass(frozen=True)
class IndexedCase:
    """One indexed ECG file: header metadata, device calls and (optionally) DNN probabilities."""

    path: Path
    source_sha256: str
    source_name: str
    pseudonym: str = ""
    acquisition_time: str = ""
    device: str = ""
    statements: tuple[str, ...] = ()
    device_calls: dict[str, str] = field(default_factory=dict)
    reference_labels: dict[str, bool] = field(default_factory=dict)
    probabilities: tuple[float, ...] | None = None
    error: str = ""
    #: The site's decision thresholds (``Settings.thresholds``) the DNN calls use.
    thresholds: tuple[float, ...] = field(kw_only=True)

    @property
    def dnn_calls(self) -> dict[str, bool] | None:
        """``p > threshold`` per class (:func:`~ecgreview.record.dnn_calls`); None without probabilities."""
        if self.probabilities is None:
            return None
        return dict(zip(CLASSES, (bool(call) for call in dnn_calls(self.probabilities, self.thresholds))))


@dataclass(frozen=True)
class IndexUpdate:
    """What :meth:`CaseIndex.update` did: files read (``changed`` of them known before, the rest new),
    unchanged, predicted, removed, and failures (``path: reason``)."""

    read: int
    unchanged: int
    predicted: int
    removed: int
    failed: tuple[str, ...]
    changed: int = 0

    @property
    def new(self) -> int:
        """Files read that were not in the index before."""
        return self.read - self.changed


class CaseIndex:
    """The worklist's index in an SQLite file (safe to share between sessions and processes).

    Parameters
    ----------
    path : path-like
        The SQLite file; created with its folder.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._create()

    def _create(self, *, attempts: int = 50, delay_s: float = 0.1) -> None:
        """Switch the file to WAL (kept in the file) and create the tables, retrying while another
        connection creates them: SQLite answers a journal-mode change it cannot make now with
        "database is locked" at once, without waiting for its busy timeout."""
        for attempt in range(attempts):
            try:
                with closing(sqlite3.connect(self.path, timeout=30)) as connection:
                    connection.execute("PRAGMA journal_mode=WAL")
                    with connection:
                        connection.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                time.sleep(delay_s)

    @classmethod
    def for_settings(cls, settings: Settings) -> "CaseIndex":
        """The index in ``settings.home``."""
        return cls(settings.home / INDEX_FILE)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one transaction (committed, or rolled back on an error), closed after it."""
        with closing(sqlite3.connect(self.path, timeout=30)) as connection, connection:
            yield connection

    @contextmanager
    def _writer(self) -> Iterator[sqlite3.Connection]:
        """One connection for a whole read-and-store pass, each batch committed in its own transaction.

        Opening and closing a connection per batch made every close checkpoint the WAL into the file (the
        last connection to close does) and every commit wait for an fsync. ``synchronous=NORMAL`` (WAL mode)
        keeps the file consistent on a crash but lets the last commits before a power loss be lost: the
        index is rebuilt from the files, and a row that was not kept is read again by the next update.
        """
        with closing(sqlite3.connect(self.path, timeout=30)) as connection:
            connection.execute("PRAGMA synchronous=NORMAL")
            yield connection

    def update(
        self, paths: Sequence[Path], *, model: InferenceModel | None = None, table: StatementTable | None = None,
        prune: bool = False, progress: Callable[[int, int], None] | None = None, batch_size: int = 32,
        workers: int | None = None,
    ) -> IndexUpdate:
        """Bring the index up to date for ``paths``, reading only new or changed files.

        Parameters
        ----------
        paths : sequence of Path
            The case files (e.g. :func:`case_paths`).
        model : InferenceModel, optional
            Cases without probabilities from this model's SHA-256 are read and predicted.
        prune : bool
            Remove index rows for files not in ``paths``.
        progress : callable, optional
            Called as ``progress(done, total)`` once the files to read are known, then after each commit.
        batch_size : int
            Rows per transaction and model inputs per DNN call.
        workers : int, optional
            Processes reading files (default: one per CPU core; 1 reads in this process). A few files are
            always read here (:data:`~ecgreview.review.parallel_read.PARALLEL_MIN_FILES`).

        Raises
        ------
        ValueError
            ``batch_size`` or ``workers`` is below 1.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1; got {batch_size}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1; got {workers}")
        table = table or load_statement_table()
        with self._connect() as connection:
            known = {row[0]: row[1:] for row in connection.execute(
                "SELECT path, size, mtime_ns, source_sha256, metadata, error FROM files")}
            predicted = set() if model is None else {row[0] for row in connection.execute(
                "SELECT source_sha256 FROM predictions WHERE model_sha256 = ?", (model.identity.sha256,))}
            stale, need_prediction, failed = [], [], []
            for path in map(str, paths):
                try:
                    stat = Path(path).stat()
                except OSError as exc:
                    failed.append(f"{path}: {exc.strerror or exc}")
                    continue
                row = known.get(path)
                if (row is None or (row[0], row[1]) != (stat.st_size, stat.st_mtime_ns)
                        or is_unexpected_error(path, row[4] or "")):  # not the file's fault: read it again
                    stale.append((path, stat.st_size, stat.st_mtime_ns))
                elif row[2] and model is not None and row[2] not in predicted:
                    need_prediction.append((path, stat.st_size, stat.st_mtime_ns))
                elif row[2]:
                    self._remap_if_outdated(connection, path, row[3], table)
            removed = 0
            if prune:
                gone = set(known) - set(map(str, paths))
                connection.executemany("DELETE FROM files WHERE path = ?", [(path,) for path in gone])
                removed = len(gone)
        work = stale + need_prediction
        not_found = len(failed)
        if progress is not None and work:
            progress(0, len(work))
        count = self._read_and_store(work, model, table, failed, progress, batch_size=batch_size, workers=workers)
        return IndexUpdate(read=len(stale), unchanged=len(paths) - len(work) - not_found,
                           predicted=count, removed=removed, failed=tuple(failed),
                           changed=sum(1 for path, _, _ in stale if path in known))

    def _remap_if_outdated(self, connection: sqlite3.Connection, path: str, metadata: str, table: StatementTable) -> None:
        facts = json.loads(metadata)
        if facts.get("table_version") == table.version:
            return
        facts |= device_facts(facts["statements"], facts["measurements"], table)
        connection.execute("UPDATE files SET metadata = ? WHERE path = ?", (json.dumps(facts), path))

    def _read_and_store(self, work: Sequence[tuple[str, int, int]], model: InferenceModel | None,
                        table: StatementTable, failed: list[str], progress: Callable[[int, int], None] | None, *,
                        batch_size: int, workers: int | None) -> int:
        """Read ``work`` in parallel (:func:`~ecgreview.review.parallel_read.read_files`) and store each row in a
        short transaction once ``batch_size`` rows have arrived or :data:`COMMIT_INTERVAL_S` has passed (a new case
        is listed at once); model inputs are predicted in batches of ``batch_size`` through the same path as
        ``score`` (:func:`~ecgreview.pipeline.predict_inputs`), one batch at a time on a thread of this process
        while the next files are collected. Returns the number of predictions stored."""
        rows: list[tuple[str, int, int, str, str, str]] = []
        inputs: list[tuple[str, np.ndarray]] = []
        predictions: list[tuple[str, str, str]] = []  # predicted, stored with the next rows
        predicted, done, last_commit = 0, 0, time.monotonic()
        in_flight = 2 * batch_size if model is not None else None  # workers read on while a batch is predicted
        with self._writer() as connection, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecgreview-index-predict") as predictor:
            running: Future[list[tuple[str, str, str]]] | None = None
            for read in read_files(work, table=table, with_model_input=model is not None, workers=workers,
                                   max_in_flight=in_flight):
                rows.append(read.row())
                failed.extend(error for error in (read.error, read.input_error) if error)
                if read.model_input is not None:
                    inputs.append((read.source_sha256, read.model_input))
                done += 1
                if model is not None and len(inputs) >= batch_size:
                    predictions += running.result() if running is not None else []  # one batch at a time
                    running, inputs = predictor.submit(self._predict, inputs, model), []
                elif running is not None and running.done():
                    predictions, running = predictions + running.result(), None
                if len(rows) >= batch_size or time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                    predicted += _store(connection, rows, predictions)
                    rows, predictions, last_commit = [], [], time.monotonic()
                    if progress is not None:
                        progress(done, len(work))
            predictions += running.result() if running is not None else []
            if model is not None and inputs:
                predictions += self._predict(inputs, model)
            read_since_report = bool(rows)  # not only predictions
            predicted += _store(connection, rows, predictions)
        if progress is not None and read_since_report:
            progress(done, len(work))
        return predicted

    @staticmethod
    def _predict(inputs: list[tuple[str, np.ndarray]], model: InferenceModel) -> list[tuple[str, str, str]]:
        """Rows of the predictions table for ``(source_sha256, model_input)`` pairs, in one model call."""
        probabilities = predict_inputs(model, [model_input for _, model_input in inputs])
        return [(sha256, model.identity.sha256, json.dumps([float(p) for p in row]))
                for (sha256, _), row in zip(inputs, probabilities)]

    def cases(self, paths: Iterable[Path] | None = None, *, thresholds: Sequence[float],
              model_sha256: str = "") -> list[IndexedCase]:
        """Indexed cases (only ``paths`` when given, in their order), with ``model_sha256``'s probabilities
        and the DNN calls they make at the site's ``thresholds`` (``Settings.thresholds``)."""
        thresholds = tuple(float(value) for value in thresholds)
        if len(thresholds) != len(CLASSES):
            raise ValueError(f"thresholds must have {len(CLASSES)} values in CLASSES order; got {len(thresholds)}")
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT f.path, f.source_sha256, f.metadata, f.error, p.probabilities FROM files f "
                "LEFT JOIN predictions p ON p.source_sha256 = f.source_sha256 AND p.model_sha256 = ? "
                "ORDER BY f.path", (model_sha256,)).fetchall()
        by_path = {row[0]: _indexed_case(*row, thresholds=thresholds) for row in rows}
        if paths is None:
            return list(by_path.values())
        return [by_path[str(path)] for path in paths if str(path) in by_path]

    def failures(self) -> list[str]:
        """Why each indexed file that could not be read was not (``path: reason``), by path."""
        with self._connect() as connection:
            return [row[0] for row in connection.execute("SELECT error FROM files WHERE error != '' ORDER BY path")]

    def find(self, source_sha256: str) -> Path | None:
        """The path of an indexed file with this SHA-256 that still exists, or None."""
        with self._connect() as connection:
            rows = connection.execute("SELECT path FROM files WHERE source_sha256 = ?",
                                      (source_sha256.strip().lower(),)).fetchall()
        return next((Path(row[0]) for row in rows if Path(row[0]).is_file()), None)


def _store(connection: sqlite3.Connection, rows: list[tuple[str, int, int, str, str, str]],
           predictions: list[tuple[str, str, str]]) -> int:
    """Store files rows and predictions in one short transaction on ``connection``; the number of predictions."""
    if rows or predictions:
        with connection:
            connection.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
            connection.executemany("INSERT OR REPLACE INTO predictions VALUES (?, ?, ?)", predictions)
    return len(predictions)


def _indexed_case(path: str, sha256: str, metadata: str, error: str, probabilities: str | None, *,
                  thresholds: tuple[float, ...]) -> IndexedCase:
    facts = json.loads(metadata or "{}")
    values = json.loads(probabilities) if probabilities else None
    return IndexedCase(
        path=Path(path), source_sha256=sha256, source_name=facts.get("source_name", Path(path).name),
        pseudonym=facts.get("pseudonym", ""), acquisition_time=facts.get("acquisition_time", ""),
        device=facts.get("device", ""), statements=tuple(facts.get("statements", ())),
        device_calls=facts.get("device_calls", {}), reference_labels=facts.get("reference_labels", {}),
        probabilities=tuple(values) if values else None, error=error or "", thresholds=thresholds,
    )


def case_paths(settings: Settings) -> list[Path]:
    """The worklist's files: the case folder and uploaded cases, with the Mortara demo ECG when the
    folder is the bundled demo set (or none is set), and the instances retrieved from the DICOMweb
    server when one is configured (:func:`ecgreview.io.dicomweb.sync_dicomweb` fills that cache)."""
    paths = list_case_files(settings.cases_dir) + list_case_files(settings.home / UPLOADS_DIR)
    if settings.dicomweb_url:
        paths += list_case_files(dicomweb_cache(settings))
    return [demo_ecg_path(), *paths] if settings.cases_dir in (None, DEMO_CASES_DIR) else paths


def neighbours(order: Sequence[str], current: str) -> tuple[str | None, str | None]:
    """The previous and next case of ``current`` in ``order`` (None at the ends or when absent)."""
    if current not in order:
        return None, (order[0] if order else None)
    position = list(order).index(current)
    return (order[position - 1] if position else None), (order[position + 1] if position + 1 < len(order) else None)
