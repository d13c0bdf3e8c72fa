"""Reading the case index's new or changed files in parallel worker processes.

:func:`read_files` reads files for :class:`~ecgreview.review.worklist.CaseIndex` and yields one
:class:`IndexedRead` per file as soon as it is read, in the order the reads finish. Each read
gives the row of the index's ``files`` table (size, mtime, SHA-256, header metadata and the
device's calls as JSON, or why the file could not be read) and, when asked, the file's model
input (``prepare_record``: the same preprocessing ``score`` and the Review page use), so the
parent only has to run the DNN on batches of inputs.

Reading a DICOM is Python-bound (the GIL), so more than one file at a time needs processes. The
pool starts its workers fresh (``forkserver`` on Linux, ``spawn`` elsewhere): the parent may hold
TensorFlow or ONNX Runtime, which must not be forked. At most ``max_in_flight`` files are
submitted at once, so memory stays bounded whatever the folder's size. Below
:data:`PARALLEL_MIN_FILES` files, or with one worker, files are read here, in this process (a
pool's start costs more than reading a few files).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgreview.device.statements import StatementTable, map_statements
from ecgreview.errors import EcgReviewError
from ecgreview.io import read_ecg
from ecgreview.pipeline import prepare_record
from ecgreview.record import EcgRecord, Measurement

__all__ = ["PARALLEL_MIN_FILES", "IndexedRead", "default_workers", "is_unexpected_error", "read_file", "read_files"]

#: Fewer files than this are read in this process (a pool's start costs ~1 s of imports per worker).
PARALLEL_MIN_FILES = 64
#: Files a worker reads per task with model inputs (fewer round trips; a new case is listed one task later).
FILES_PER_TASK = 8
#: Files submitted per worker at a time with model inputs (bounds the inputs held in memory, ~200 kB each).
IN_FLIGHT_PER_WORKER = 2 * FILES_PER_TASK
#: Files per task without model inputs (a result is ~1 kB: the same chunks as a bare parallel read).
METADATA_FILES_PER_TASK = 16
#: Files submitted per worker at a time without model inputs: four tasks, so that a worker never waits for a
#: parent busy committing (or not scheduled on a loaded machine) to hand it the next one.
METADATA_IN_FLIGHT_PER_WORKER = 4 * METADATA_FILES_PER_TASK

#: The statement table of a worker process (set once by the pool's initializer).
_WORKER_TABLE: StatementTable | None = None


@dataclass(frozen=True)
class IndexedRead:
    """One file read for the index.

    Attributes
    ----------
    path : str
        The file, as given.
    size, mtime_ns : int
        Its stat when the read was planned (the index's change key).
    source_sha256 : str
        SHA-256 of the file's bytes; empty when it could not be read.
    metadata : str
        JSON of the header metadata and the device's calls ("{}" when unreadable).
    error : str
        Why the file could not be read (``path: reason``); empty when it was.
    model_input : numpy.ndarray or None
        (4096, 12) float32 in mV at 400 Hz when asked for and the record preprocesses; else None.
    input_error : str
        Why the record could not be brought into the model's format (``name: reason``); empty otherwise.
    """

    path: str
    size: int
    mtime_ns: int
    source_sha256: str = ""
    metadata: str = "{}"
    error: str = ""
    model_input: np.ndarray | None = None
    input_error: str = ""

    def row(self) -> tuple[str, int, int, str, str, str]:
        """The row of the index's ``files`` table."""
        return (self.path, self.size, self.mtime_ns, self.source_sha256, self.metadata, self.error)


def default_workers() -> int:
    """Worker processes by default: one per CPU core."""
    return max(1, os.cpu_count() or 1)


def device_facts(statements: Sequence[str], measurements: Sequence[Sequence[Any]],
                 table: StatementTable) -> dict[str, Any]:
    """The device's calls for ``statements`` mapped with ``table``, and the table's version."""
    interpretation = map_statements(statements, [Measurement(str(n), float(v), str(u)) for n, v, u in measurements],
                                    table=table)
    return {"device_calls": {name: call.strength for name, call in interpretation.calls.items()},
            "table_version": table.version}


def record_metadata(record: EcgRecord, table: StatementTable) -> dict[str, Any]:
    """What the index keeps of a record's header: names, time, device, statements, measurements, labels."""
    measurements = [(m.name, m.value, m.unit) for m in record.measurements]
    return {
        "source_name": record.source_name, "pseudonym": record.pseudonym, "device": record.device,
        "acquisition_time": record.acquisition_time.isoformat(sep=" ") if record.acquisition_time else "",
        "statements": list(record.statements), "measurements": measurements,
        "reference_labels": {name: bool(value) for name, value in record.reference_labels.items()},
        **device_facts(record.statements, measurements, table),
    }


_UNEXPECTED = "unexpected"


def is_unexpected_error(path: str, error: str) -> bool:
    """Whether ``error`` (of :func:`read_file` for ``path``) is a reader bug or a failure of this process (an
    import, memory), not something of the file: the index reads such a file again on its next update, while a
    file's own error (:class:`~ecgreview.errors.EcgReviewError`) stays until the file changes."""
    return error.startswith(f"{path}: {_UNEXPECTED} ")


def read_file(path: str, size: int, mtime_ns: int, *, table: StatementTable,
              with_model_input: bool = False) -> IndexedRead:
    """Read one file for the index; never raises for a bad file (the reason goes in ``error``).

    A reader bug (an exception that is not an :class:`~ecgreview.errors.EcgReviewError`) is reported
    the same way, as ``"path: unexpected <type>: <message>"``, so that one file never stops an index run.
    """
    try:
        record = read_ecg(Path(path))
    except EcgReviewError as exc:
        return IndexedRead(path, size, mtime_ns, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - reported per file, see the docstring
        return IndexedRead(path, size, mtime_ns, error=f"{path}: {_UNEXPECTED} {type(exc).__name__}: {exc}")
    read = IndexedRead(path, size, mtime_ns, record.source_sha256, json.dumps(record_metadata(record, table)))
    if not with_model_input:
        return read
    prepared = prepare_record(record)
    if prepared.model_input is None:
        return IndexedRead(*read.row()[:5], input_error=f"{record.source_name}: {prepared.error}")
    return IndexedRead(*read.row()[:5], model_input=prepared.model_input.astype(np.float32, copy=False))


def _start_worker(table: StatementTable) -> None:
    global _WORKER_TABLE
    _WORKER_TABLE = table


def _read_in_worker(task: Sequence[tuple[str, int, int]], with_model_input: bool) -> list[IndexedRead]:
    assert _WORKER_TABLE is not None, "the pool's initializer sets the table"
    return [read_file(path, size, mtime_ns, table=_WORKER_TABLE, with_model_input=with_model_input)
            for path, size, mtime_ns in task]


def _context() -> multiprocessing.context.BaseContext:
    """Fresh worker processes: never a fork of a parent that may hold TensorFlow or ONNX Runtime.

    On Linux a fork server imports this module (the readers, pydicom, numpy, scipy) once and forks each
    worker from itself, so a pool starts in a fraction of a second instead of each worker importing anew.
    """
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def read_files(work: Sequence[tuple[str, int, int]], *, table: StatementTable, with_model_input: bool = False,
               workers: int | None = None, max_in_flight: int | None = None) -> Iterator[IndexedRead]:
    """Read ``work`` (``(path, size, mtime_ns)`` each) in worker processes; yield each read as it finishes.

    Parameters
    ----------
    work : sequence of (str, int, int)
        The files to read with their stat.
    table : StatementTable
        Maps the device's statements to calls.
    with_model_input : bool
        Also preprocess each record for the model (:attr:`IndexedRead.model_input`).
    workers : int, optional
        Worker processes (default :func:`default_workers`); 1 reads here, in this process.
    max_in_flight : int, optional
        Files submitted at once (default :data:`IN_FLIGHT_PER_WORKER` per worker with model inputs,
        :data:`METADATA_IN_FLIGHT_PER_WORKER` without), in tasks of up to :data:`FILES_PER_TASK` files
        (:data:`METADATA_FILES_PER_TASK` without model inputs).

    Raises
    ------
    ValueError
        ``workers`` or ``max_in_flight`` is below 1.
    """
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1; got {workers}")
    if max_in_flight is None:
        max_in_flight = (IN_FLIGHT_PER_WORKER if with_model_input else METADATA_IN_FLIGHT_PER_WORKER) * workers
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1; got {max_in_flight}")
    if workers == 1 or len(work) < PARALLEL_MIN_FILES:
        for path, size, mtime_ns in work:
            yield read_file(path, size, mtime_ns, table=table, with_model_input=with_model_input)
        return
    yield from _read_in_pool(work, table, with_model_input, min(workers, len(work)), max_in_flight)


def _read_in_pool(work: Sequence[tuple[str, int, int]], table: StatementTable, with_model_input: bool,
                  workers: int, max_in_flight: int) -> Iterator[IndexedRead]:
    files_per_task = FILES_PER_TASK if with_model_input else METADATA_FILES_PER_TASK
    per_task = max(1, min(files_per_task, max_in_flight // workers, len(work) // workers))
    tasks = (work[start:start + per_task] for start in range(0, len(work), per_task))
    pending: set[Future[list[IndexedRead]]] = set()
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_start_worker,
                             initargs=(table,)) as pool:
        try:
            while True:
                for task in tasks:
                    pending.add(pool.submit(_read_in_worker, task, with_model_input))
                    if len(pending) * per_task >= max_in_flight:
                        break
                if not pending:
                    return
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield from future.result()
        finally:
            for future in pending:
                future.cancel()
