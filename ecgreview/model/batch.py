"""Batch scoring: every ECG of a folder (or list of files) through the DNN, into one CSV.

``score_ecgs`` reads and preprocesses files on a small thread pool while the model
predicts the previous chunk; each chunk of ``batch_size`` files is predicted as one
batch and its rows are appended to the output CSV, flushed and fsynced. The output
is resumable: an ECG whose ``source_sha256`` is already in it is skipped. Files that
cannot be read or preprocessed go to a separate errors CSV (``source_path, error``).

``engine="dask"`` runs the same chunks on a Dask cluster (``pip install -r
requirements-cluster.txt``); workers must see the same files and the weights at the
same paths. Rows are written in input order by the client, so both engines write
the same file.
"""

from __future__ import annotations

import csv
import io
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecgreview._durable_csv import append_durably, csv_lines, drop_torn_row, header_line, read_header_line
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES, dnn_calls
from ecgreview.security.spreadsheet import guard_row, guard_text, unguard_row

__all__ = ["ERROR_COLUMNS", "SCORE_COLUMNS", "ScoreSummary", "list_score_inputs", "score_ecgs"]

#: Provenance columns of every row, from the model's provenance.
PROVENANCE_COLUMNS: tuple[str, ...] = ("model_name", "model_sha256", "model_git_blob_sha1", "model_status",
                                       "framework", "backend", "python_version", "app_version", "git_commit")
#: Columns of the scoring CSV, in order (``prob_<class>`` as read by :mod:`ecgreview.study.compare`).
SCORE_COLUMNS: tuple[str, ...] = (
    ("source_name", "source_path", "source_sha256", "pseudonym", "acquisition_time")
    + tuple(f"prob_{name}" for name in CLASSES) + tuple(f"call_{name}" for name in CLASSES) + ("thresholds",)
    + PROVENANCE_COLUMNS
)
#: Scoring columns written as numbers; every other cell is formula-guarded (ecgreview.security.spreadsheet).
_NUMERIC_COLUMNS = frozenset(column for column in SCORE_COLUMNS if column.startswith(("prob_", "call_", "thresholds")))
#: Columns of the errors CSV.
ERROR_COLUMNS: tuple[str, ...] = ("source_path", "error")

#: Suffixes scored when a folder is given (besides files that look like DICOM by content).
ENGINES = ("local", "dask")
_READER_THREADS = 2


@dataclass(frozen=True)
class ScoreSummary:
    """What one scoring run did.

    Attributes
    ----------
    files, scored, skipped, failed : int
        Input files; rows appended; ECGs already in the output (or repeated in the
        input); files that could not be read or preprocessed (listed in ``errors_csv``).
    elapsed_s : float
        Wall time of the run in seconds.
    """

    files: int
    scored: int
    skipped: int
    failed: int
    elapsed_s: float
    out_csv: Path
    errors_csv: Path

    @property
    def ecgs_per_s(self) -> float:
        """Scored ECGs per second of wall time."""
        return self.scored / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class _Prepared:
    """One input file after reading and preprocessing: the model input or the error."""

    source_path: str
    metadata: dict[str, str] = field(default_factory=dict)
    signal: np.ndarray | None = None
    error: str = ""


@dataclass
class _ChunkResult:
    """Rows of one chunk (in input order) and its errors (``source_path``, reason)."""

    rows: list[dict[str, str]]
    errors: list[tuple[str, str]]


def list_score_inputs(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[tuple[Path, str]]:
    """The files to score and the ``source_path`` to record for each.

    A folder gives its ECG files (:func:`~ecgreview.io.list_case_files`: DICOM, WFDB
    headers, XML, zip), recursively and sorted, each recorded relative to the folder; a file
    is taken as given (and recorded as given), whatever its content.
    """
    from ecgreview.io import list_case_files

    items: list[tuple[Path, str]] = []
    for given in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        path = Path(given)
        if not path.is_dir():
            items.append((path, os.fspath(given)))
            continue
        items.extend((file, file.relative_to(path).as_posix()) for file in list_case_files(path))
    return items


def _prepare(path: Path, source_path: str, padding: str = "centre") -> _Prepared:
    """Read and preprocess one file (:func:`ecgreview.pipeline.prepare_file`); an unreadable file gives its error."""
    from ecgreview.pipeline import prepare_file

    prepared = prepare_file(path, padding=padding)  # type: ignore[arg-type]
    record = prepared.record
    if record is None or prepared.model_input is None:
        return _Prepared(source_path, error=prepared.error)
    acquired = record.acquisition_time.isoformat() if record.acquisition_time else ""
    metadata = {"source_name": record.source_name, "source_path": source_path, "source_sha256": record.source_sha256,
                "pseudonym": record.pseudonym, "acquisition_time": acquired}
    return _Prepared(source_path, metadata, prepared.model_input)


#: Provenance column -> key of the model's provenance.
_PROVENANCE_KEYS = {"model_name": "model_file", "model_sha256": "sha256", "model_git_blob_sha1": "git_blob_sha1",
                    "model_status": "status", "framework": "framework", "backend": "backend",
                    "python_version": "python", "app_version": "app_version", "git_commit": "git_commit"}


def _provenance_values(model: Any) -> dict[str, str]:
    return {column: str(model.provenance.get(key, "")) for column, key in _PROVENANCE_KEYS.items()}


def _predict_chunk(model: Any, prepared: Sequence[_Prepared], done: frozenset[str] | set[str]) -> _ChunkResult:
    """Predict the readable, not yet scored ECGs of one chunk as one batch."""
    errors = [(item.source_path, item.error) for item in prepared if item.signal is None]
    todo = [item for item in prepared if item.signal is not None and item.metadata["source_sha256"] not in done]
    if not todo:
        return _ChunkResult([], errors)
    from ecgreview.pipeline import predict_inputs

    probabilities = predict_inputs(model, [item.signal for item in todo if item.signal is not None])
    common = _provenance_values(model)
    rows = []
    for item, row_probabilities in zip(todo, probabilities):
        row = dict(item.metadata)
        row.update({f"prob_{name}": repr(float(p)) for name, p in zip(CLASSES, row_probabilities)})
        row.update(common)
        rows.append(row)
    return _ChunkResult(rows, errors)


def _with_calls(row: dict[str, str], thresholds: Sequence[float]) -> dict[str, str]:
    """A scored row with its DNN calls (:func:`~ecgreview.record.dnn_calls`) and the thresholds they used."""
    calls = dnn_calls([float(row[f"prob_{name}"]) for name in CLASSES], thresholds)
    return row | {f"call_{name}": str(int(call)) for name, call in zip(CLASSES, calls)} | {
        "thresholds": ";".join(repr(float(value)) for value in thresholds)}


def _local_results(model: Any, chunks: Sequence[Sequence[tuple[Path, str]]], done: frozenset[str],
                   padding: str = "centre") -> Iterator[_ChunkResult]:
    """Chunk results in order; the next chunk is read on threads while this one is predicted."""
    with ThreadPoolExecutor(max_workers=_READER_THREADS, thread_name_prefix="ecgreview-read") as pool:
        pending = [[pool.submit(_prepare, path, name, padding) for path, name in chunk] for chunk in chunks[:2]]
        for index in range(len(chunks)):
            if index + 2 < len(chunks):
                pending.append([pool.submit(_prepare, path, name, padding) for path, name in chunks[index + 2]])
            yield _predict_chunk(model, [future.result() for future in pending[index]], done)
            pending[index] = []


#: Models loaded on a Dask worker, by (backend, weights path, SHA-256): loaded once per worker process.
_WORKER_MODELS: dict[tuple[str, str, str], Any] = {}
_WORKER_LOCK = threading.Lock()


def _model_spec(model: Any) -> tuple[str, str, str]:
    return model.backend_name, os.fspath(model.path), model.identity.sha256


def _worker_model(spec: tuple[str, str, str]) -> Any:
    """The model of ``spec`` in this worker process, loaded on first use and checked against the client's."""
    from ecgreview.errors import ModelError

    with _WORKER_LOCK:
        if spec not in _WORKER_MODELS:
            backend, path, sha256 = spec
            from ecgreview.model.serving import load_inference_model

            model = load_inference_model(path, backend=backend)
            if model.identity.sha256 != sha256:
                raise ModelError(path, f"the weights on this worker (SHA-256 {model.identity.sha256}) differ "
                                       f"from the client's ({sha256})")
            _WORKER_MODELS[spec] = model
        return _WORKER_MODELS[spec]


def _score_chunk_on_worker(spec: tuple[str, str, str], chunk: list[tuple[Path, str]],
                           done: frozenset[str], padding: str = "centre") -> _ChunkResult:
    """One chunk on a Dask worker: read, preprocess and predict it with the worker's model."""
    model = _worker_model(spec)
    return _predict_chunk(model, [_prepare(path, name, padding) for path, name in chunk], done)


def _dask_results(model: Any, chunks: Sequence[Sequence[tuple[Path, str]]], done: frozenset[str],
                  scheduler_address: str | None, padding: str = "centre") -> Iterator[_ChunkResult]:
    """Chunk results in input order, computed on a Dask cluster (a new local one without an address)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise EcgReviewError(None, "engine 'dask' needs dask.distributed: "
                                   "pip install -r requirements-cluster.txt") from exc
    cluster = LocalCluster(threads_per_worker=1, processes=True) if scheduler_address is None else None
    try:
        with Client(cluster if cluster is not None else scheduler_address) as client:
            shared_done = client.scatter([done], broadcast=True)[0]
            spec = _model_spec(model)
            futures = [client.submit(_score_chunk_on_worker, spec, list(chunk), shared_done, padding, pure=False)
                       for chunk in chunks]
            for index, future in enumerate(futures):
                yield future.result()
                futures[index] = None  # release the result on the cluster
    finally:
        if cluster is not None:
            cluster.close()


def _open_table(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    """Open an append-only CSV (:mod:`ecgreview._durable_csv`): the header written once, a torn last row dropped.

    Returns its rows so far (formula guards removed). A file with another header is refused, untouched.
    """
    try:
        found = read_header_line(path)
    except ValueError:  # no complete first line: a run killed while writing the header, or another file
        found = ([], 0)
        if header_line(columns).encode("utf-8").startswith(path.read_bytes()):
            drop_torn_row(path)  # no complete record: emptied, the header is written again
            found = None
    if found is not None and tuple(found[0]) != tuple(columns):
        raise EcgReviewError(path, f"not a scoring file of this version: header {found[0]}, "
                                   f"expected {list(columns)}; choose another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    if found is None:
        append_durably(path, header_line(columns).encode("utf-8"))
        return []
    text = drop_torn_row(path).decode("utf-8-sig")
    return [unguard_row(row) for row in csv.DictReader(io.StringIO(text))]  # cells were guarded when written


class _Progress:
    """Reports chunk progress to an optional callback ``(files_done, files_total, scored, failed)``."""

    def __init__(self, total: int, report: Callable[[int, int, int, int], None] | None) -> None:
        self.total, self.report = total, report

    def update(self, done: int, scored: int, failed: int) -> None:
        if self.report is not None:
            self.report(done, self.total, scored, failed)


def _write_results(results: Iterable[_ChunkResult], chunk_sizes: list[int], out: Path, errors: Path,
                   done: set[str], known_errors: set[tuple[str, str]],
                   progress: _Progress, thresholds: Sequence[float]) -> tuple[int, int, int]:
    """Append each chunk's new rows and new errors, fsynced per chunk; returns (scored, skipped, failed)."""
    scored = skipped = failed = files = 0
    for result, size in zip(results, chunk_sizes):
        new_rows = []
        for row in result.rows:
            if row["source_sha256"] not in done:
                done.add(row["source_sha256"])
                new_rows.append(_with_calls(row, thresholds))
        guarded = (guard_row(row, numeric_columns=_NUMERIC_COLUMNS) for row in new_rows)
        _append_rows(out, [[row.get(column, "") for column in SCORE_COLUMNS] for row in guarded])
        _append_rows(errors, [[guard_text(cell) for cell in error]
                              for error in sorted(set(result.errors) - known_errors, key=result.errors.index)])
        known_errors.update(result.errors)
        files += size
        scored, failed = scored + len(new_rows), failed + len(result.errors)
        skipped += size - len(new_rows) - len(result.errors)
        progress.update(files, scored, failed)
    return scored, skipped, failed


def _append_rows(path: Path, rows: list[list[str]]) -> None:
    if rows:
        append_durably(path, csv_lines(rows).encode("utf-8"))


def score_ecgs(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, model: Any, out_csv: str | os.PathLike[str],
    errors_csv: str | os.PathLike[str] | None = None, batch_size: int = 32,
    progress: Callable[[int, int, int, int], None] | None = None,
    thresholds: Sequence[float], engine: str = "local", scheduler_address: str | None = None,
    padding: str = "centre",
) -> ScoreSummary:
    """Score every ECG of ``paths`` into ``out_csv`` (appending; ECGs already there are skipped).

    Parameters
    ----------
    paths : path or sequence of paths
        Folders (their DICOM and WFDB files, recursively) and/or files.
    model : InferenceModel
        The loaded DNN (``ecgreview.model.network.load_model`` or ``ecgreview.model.onnx_backend.load_onnx_model``).
    out_csv : path
        The scoring CSV, :data:`SCORE_COLUMNS`; created, or appended to.
    errors_csv : path, optional
        Files that failed, :data:`ERROR_COLUMNS`; default ``<out stem>.errors.csv`` beside ``out_csv``.
    batch_size : int
        Files per chunk; the readable ones of a chunk are predicted as one batch.
    thresholds : sequence of float
        The site's decision thresholds (``Settings.thresholds``), in ``CLASSES`` order: the
        ``call_<class>`` columns are ``p > threshold``, and each row records them.
    progress : callable, optional
        Called after each chunk with ``(files_done, files_total, scored, failed)`` (the CLI draws
        its progress bar from it); the library itself never prints.
    engine : {"local", "dask"}
        Score in this process, or on a Dask cluster.
    scheduler_address : str, optional
        The Dask scheduler (``tcp://host:8786``); default: a new local cluster of this machine's cores.
    padding : {"centre", "end"}
        Zero padding to 4096 samples (:func:`~ecgreview.preprocess.fit_length`); the output
        does not record it, so keep one padding per output file.

    Returns
    -------
    ScoreSummary

    Raises
    ------
    ValueError
        ``engine`` or ``batch_size`` is invalid.
    EcgReviewError
        The output exists with another header.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    from ecgreview.preprocess import PADDING_MODES

    if padding not in PADDING_MODES:
        raise ValueError(f"padding must be one of {', '.join(PADDING_MODES)}, got {padding!r}")
    if len(thresholds) != len(CLASSES):
        raise ValueError(f"thresholds must have {len(CLASSES)} values in CLASSES order; got {len(thresholds)}")
    started = time.perf_counter()
    out_csv = Path(out_csv)
    errors_path = Path(errors_csv) if errors_csv is not None else out_csv.with_name(f"{out_csv.stem}.errors.csv")
    items = list_score_inputs(paths)
    chunks = [items[start:start + batch_size] for start in range(0, len(items), batch_size)]
    previous_rows = _open_table(out_csv, SCORE_COLUMNS)
    previous_errors = _open_table(errors_path, ERROR_COLUMNS)
    done = {row["source_sha256"] for row in previous_rows}
    if engine == "dask":
        results: Iterable[_ChunkResult] = _dask_results(model, chunks, frozenset(done), scheduler_address, padding)
    else:
        results = _local_results(model, chunks, frozenset(done), padding)
    known_errors = {(row["source_path"], row["error"]) for row in previous_errors}
    scored, skipped, failed = _write_results(results, [len(chunk) for chunk in chunks], out_csv, errors_path, done,
                                             known_errors, _Progress(len(items), progress), thresholds)
    return ScoreSummary(len(items), scored, skipped, failed, time.perf_counter() - started, out_csv, errors_path)
