"""How the index's parallel read hands out files: task sizes with and without model inputs, files in flight."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ecgreview.device.statements import load_statement_table
from ecgreview.review import parallel_read
from ecgreview.review.parallel_read import read_files
from tests.io.dicom_fixtures import write_ecg_dicom

FILES = 40


class RecordingPool(ThreadPoolExecutor):
    """Stands in for the process pool (threads, same calls): records each task's size and the files in flight."""

    task_sizes: list[int] = []
    most_in_flight = 0

    def __init__(self, max_workers: int, mp_context: Any = None, initializer: Any = None,
                 initargs: tuple[Any, ...] = ()) -> None:
        super().__init__(max_workers=max_workers, initializer=initializer, initargs=initargs)
        self._guard = threading.Lock()
        self._in_flight = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        task = args[0]
        with self._guard:
            self._in_flight += len(task)
            RecordingPool.task_sizes.append(len(task))
            RecordingPool.most_in_flight = max(RecordingPool.most_in_flight, self._in_flight)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(lambda _: self._finished(len(task)))
        return future

    def _finished(self, files: int) -> None:
        with self._guard:
            self._in_flight -= files


@pytest.fixture
def work(tmp_path) -> list[tuple[str, int, int]]:
    for number in range(FILES):
        write_ecg_dicom(tmp_path, f"case-{number:02d}.dcm", sample_count=1000 + number)
    paths = sorted(tmp_path.glob("*.dcm"))
    return [(str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in paths]


@pytest.fixture
def pool(monkeypatch) -> type[RecordingPool]:
    monkeypatch.setattr(parallel_read, "ProcessPoolExecutor", RecordingPool)
    monkeypatch.setattr(parallel_read, "PARALLEL_MIN_FILES", 2)
    RecordingPool.task_sizes, RecordingPool.most_in_flight = [], 0
    return RecordingPool


def test_without_model_inputs_tasks_are_as_large_as_a_bare_parallel_read(work, pool):
    reads = list(read_files(work, table=load_statement_table(), workers=2))
    assert sorted(read.path for read in reads) == [path for path, _, _ in work]
    assert not any(read.error for read in reads)
    size = parallel_read.METADATA_FILES_PER_TASK
    assert pool.task_sizes == [size] * (FILES // size) + ([FILES % size] if FILES % size else [])
    assert pool.most_in_flight > parallel_read.IN_FLIGHT_PER_WORKER  # more than the model path keeps in flight


def test_with_model_inputs_tasks_stay_small(work, pool):
    reads = list(read_files(work, table=load_statement_table(), workers=2, with_model_input=True))
    assert len(reads) == FILES and all(read.model_input is not None for read in reads)
    assert set(pool.task_sizes) == {parallel_read.FILES_PER_TASK}
    assert pool.most_in_flight <= parallel_read.IN_FLIGHT_PER_WORKER * 2


@pytest.mark.parametrize("with_model_input", [False, True])
def test_files_in_flight_never_exceed_max_in_flight(work, pool, with_model_input):
    reads = list(read_files(work, table=load_statement_table(), workers=2, max_in_flight=10,
                            with_model_input=with_model_input))
    assert len(reads) == FILES
    assert pool.most_in_flight <= 10 and max(pool.task_sizes) <= 5
