"""Keeping the worklist index up to date off the page path: one locked updater per index file.

:func:`update_case_index` brings the :class:`~ecgreview.review.worklist.CaseIndex` up to date
for the case folder of a :class:`~ecgreview.config.Settings` (the same files the pages
list: :func:`~ecgreview.review.worklist.case_paths`) while it holds a file lock next to the index
(``worklist-index.sqlite.lock``). Only one updater writes at a time, whether it is a server
thread or ``python -m ecgreview index``, in this process or another. The updater holding
the lock writes how far it is to a small JSON file beside the index
(``worklist-index.sqlite.progress.json``), which every process can read
(:func:`read_progress`).

:class:`BackgroundIndexer` runs that update on a daemon thread. Pages call
:meth:`BackgroundIndexer.request` (it starts a run when none is running and the last one
is older than ``recheck_s``, and returns at once), read whatever the index holds now, and
show :meth:`BackgroundIndexer.status` until the run has finished.

The SQLite index is in WAL mode: readers see the last committed batch while the updater
writes the next.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from ecgreview.config import Settings
from ecgreview.device.statements import StatementTable
from ecgreview.errors import ConfigError
from ecgreview.io.dicomweb import DicomwebError, sync_dicomweb
from ecgreview.review.worklist import INDEX_FILE, CaseIndex, IndexUpdate, case_paths

if TYPE_CHECKING:
    from ecgreview.model.inference import InferenceModel

__all__ = ["BackgroundIndexer", "IndexProgress", "IndexerStatus", "index_lock", "read_progress",
           "update_case_index"]

#: Seconds after a finished run before :meth:`BackgroundIndexer.request` checks the folder again.
RECHECK_S = 10.0
#: States written to the progress file: listing/stat-ing the folder, reading files, finished, failed.
STATES = ("checking", "indexing", "done", "failed")
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexProgress:
    """How far the updater holding the lock is (or where the last one stopped).

    Attributes
    ----------
    state : {"checking", "indexing", "done", "failed"}
        Listing and comparing the folder with the index; reading new or changed files; finished; stopped
        with ``error``.
    done, total : int
        New or changed files read so far, of ``total`` (0 while checking).
    started_s, finished_s : float
        Unix times of the start and end (``finished_s`` 0 while running).
    pid : int
        The process of the updater.
    reading_started_s, updated_s : float
        Unix times when reading files began and when this progress was written (0 before).
    """

    state: str
    done: int = 0
    total: int = 0
    started_s: float = 0.0
    finished_s: float = 0.0
    pid: int = 0
    error: str = ""
    reading_started_s: float = 0.0
    updated_s: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def files_per_s(self) -> float:
        """Files read per second so far (0 before the first is read)."""
        elapsed_s = self.updated_s - self.reading_started_s
        return self.done / elapsed_s if self.done and self.reading_started_s and elapsed_s > 0 else 0.0

    @property
    def remaining_s(self) -> float | None:
        """Estimated seconds until every file is read, at the rate so far; None before a rate is known."""
        rate = self.files_per_s
        return (self.total - self.done) / rate if rate > 0 else None

    def describe(self) -> str:
        """``"Indexing 120 of 10,000 new or changed ECG files — 84 files/s, about 2 min left"``."""
        if self.state != "indexing" or not self.total:
            return "Checking the case folder for new or changed ECG files…"
        text = f"Indexing {self.done:,} of {self.total:,} new or changed ECG files"
        remaining_s = self.remaining_s
        if remaining_s is None:
            return f"{text}…"
        return f"{text} — {self.files_per_s:.0f} files/s, about {_duration(remaining_s)} left"


def _duration(seconds: float) -> str:
    """``"12 s"``, ``"3 min 5 s"``, ``"1 h 4 min"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@dataclass(frozen=True)
class IndexerStatus:
    """What a page shows: whether an update runs now (here or in another process), how far, the last result."""

    running: bool
    progress: IndexProgress | None
    last_update: IndexUpdate | None = None
    last_error: str = ""


def index_lock(index_path: str | os.PathLike[str]) -> FileLock:
    """The lock that one updater of ``index_path`` holds while it writes (a new object per call)."""
    return FileLock(f"{index_path}.lock")


def _progress_path(index_path: str | os.PathLike[str]) -> Path:
    return Path(f"{index_path}.progress.json")


def read_progress(index_path: str | os.PathLike[str]) -> IndexProgress | None:
    """The progress file of ``index_path``'s updater, or None when there is none (or it cannot be read)."""
    try:
        facts = json.loads(_progress_path(index_path).read_text(encoding="utf-8"))
        return IndexProgress(**facts)
    except (OSError, ValueError, TypeError):
        return None


def _write_progress(index_path: Path, progress: IndexProgress) -> None:
    target = _progress_path(index_path)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(asdict(progress)), encoding="utf-8")
    os.replace(temporary, target)


def update_case_index(
    settings: Settings, *, index: CaseIndex | None = None, model: InferenceModel | None = None,
    table: StatementTable | None = None, progress: Callable[[int, int], None] | None = None,
    lock_timeout_s: float = -1, batch_size: int = 32, workers: int | None = None,
) -> IndexUpdate:
    """Bring the index up to date for the case folder of ``settings``, holding the index's lock.

    Parameters
    ----------
    settings : Settings
        The case folder (``cases_dir``, with uploads and the demo ECG as the worklist lists them) and the
        index in ``home``. With ``dicomweb_url`` the server's new ECG instances are retrieved first
        (:func:`~ecgreview.io.dicomweb.sync_dicomweb`); its failures lead ``IndexUpdate.failed``.
    index : CaseIndex, optional
        The index object to use (default: ``settings.home / INDEX_FILE``).
    model : InferenceModel, optional
        Predict with this model the cases it has not seen.
    progress : callable, optional
        Called as ``progress(done, total)`` with the new or changed files read so far.
    lock_timeout_s : float
        Seconds to wait for another updater of the same index (-1: as long as it takes).
    batch_size : int
        Rows per transaction at most and model inputs per DNN call; readers see the rows as they are committed.
    workers : int, optional
        Processes reading the files (:meth:`CaseIndex.update`; default one per CPU core).

    Raises
    ------
    filelock.Timeout
        Another updater held the lock for longer than ``lock_timeout_s``.
    """
    index = index or CaseIndex.for_settings(settings)
    with index_lock(index.path).acquire(timeout=lock_timeout_s):
        started = time.time()
        _write_progress(index.path, IndexProgress("checking", started_s=started, pid=os.getpid()))

        reported, reading_started = [0], [0.0]

        def report(done: int, total: int) -> None:
            reported[0], now = total, time.time()
            reading_started[0] = reading_started[0] or now
            _write_progress(index.path, IndexProgress("indexing", done, total, started_s=started, pid=os.getpid(),
                                                      reading_started_s=reading_started[0], updated_s=now))
            if progress is not None:
                progress(done, total)

        try:
            source_failures = _sync_dicomweb(settings)
            update = index.update(case_paths(settings), model=model, table=table, prune=True, progress=report,
                                  batch_size=batch_size, workers=workers)
            if source_failures:
                update = dataclasses.replace(update, failed=source_failures + update.failed)
        except Exception as exc:
            _write_progress(index.path, IndexProgress("failed", started_s=started, finished_s=time.time(),
                                                      pid=os.getpid(), error=str(exc)))
            raise
        _write_progress(index.path, IndexProgress("done", reported[0], reported[0], started_s=started, finished_s=time.time(),
                                                  pid=os.getpid()))
        return update


def _sync_dicomweb(settings: Settings) -> tuple[str, ...]:
    """Retrieve the DICOMweb server's new ECG instances into its cache before the update (when one is
    configured); returns its failures, so that an unreachable server leaves the cached cases listed."""
    if not settings.dicomweb_url:
        return ()
    try:
        return sync_dicomweb(settings).failed
    except (DicomwebError, ConfigError) as exc:
        _LOG.warning("%s", exc)
        return (str(exc),)


class BackgroundIndexer:
    """Updates one index on a background thread, at most one run at a time (and one per index across
    processes, through :func:`update_case_index`'s lock).

    Parameters
    ----------
    settings : Settings
        The case folder and the index (``settings.home / INDEX_FILE``).
    recheck_s : float
        :meth:`request` starts a new run only when the last one finished at least this long ago.
    """

    def __init__(self, settings: Settings, *, recheck_s: float = RECHECK_S,
                 table: StatementTable | None = None) -> None:
        self.settings = settings
        self.index_path = settings.home / INDEX_FILE
        self.recheck_s = recheck_s
        self._table = table
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._finished_at: float | None = None
        self._model_sha256: str | None = None
        self._last_update: IndexUpdate | None = None
        self._last_error = ""
        #: Runs started so far (pages compare it to know whether a run began after a given moment).
        self.runs_started = 0

    def request(self, model: InferenceModel | None = None, *, max_age_s: float | None = None) -> bool:
        """Start a run unless one is running or the last finished less than ``max_age_s`` ago (default
        ``recheck_s``) with the same model; returns at once, True when a run was started."""
        max_age_s = self.recheck_s if max_age_s is None else max_age_s
        model_sha256 = model.identity.sha256 if model is not None else None
        with self._guard:
            if self._thread is not None and self._thread.is_alive():
                return False
            fresh = self._finished_at is not None and time.monotonic() - self._finished_at < max_age_s
            if fresh and (model_sha256 is None or model_sha256 == self._model_sha256):
                return False
            self._model_sha256 = model_sha256
            self.runs_started += 1
            self._thread = threading.Thread(target=self._run, args=(model,), daemon=True,
                                            name=f"ecgreview-indexer-{self.index_path}")
            self._thread.start()
            return True

    def _run(self, model: InferenceModel | None) -> None:
        update, error = None, ""
        try:
            update = update_case_index(self.settings, index=CaseIndex(self.index_path), model=model,
                                       table=self._table)
        except Exception as exc:  # a thread has nobody to raise to: keep the reason for the pages
            _LOG.exception("indexing %s failed", self.index_path)
            error = f"{self.index_path}: {exc}"
        with self._guard:
            self._last_update, self._last_error = update, error
            self._finished_at = time.monotonic()

    def running_here(self) -> bool:
        """Whether this object's thread is running (or waiting for another updater's lock)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def status(self) -> IndexerStatus:
        """Whether an update of this index runs now (here, or in another process holding the lock)."""
        progress = read_progress(self.index_path)
        running = self.running_here()
        if not running and progress is not None and not progress.finished:
            running = _held_elsewhere(self.index_path)
        return IndexerStatus(running=running, progress=progress, last_update=self._last_update,
                             last_error=self._last_error)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the current run (if any); True when none is running afterwards."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return not self.running_here()


def _held_elsewhere(index_path: Path) -> bool:
    """Whether another updater holds the lock (a crashed one has released it: the lock dies with its process)."""
    lock = index_lock(index_path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False
