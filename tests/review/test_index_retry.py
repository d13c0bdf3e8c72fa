"""A file the index could not read for a reason of its own process (a reader bug, a failed import, memory) is read
again on the next update; a file's own error stays until the file changes (issue found in CI: a failed import of
wfdb left a demo record unlisted for good)."""

from __future__ import annotations

from pathlib import Path

from ecgreview.errors import EcgReadError
from ecgreview.record import THRESHOLDS
from ecgreview.review import parallel_read
from ecgreview.review.parallel_read import is_unexpected_error
from ecgreview.review.worklist import CaseIndex
from tests.io.dicom_fixtures import write_ecg_dicom


def _files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cases"
    folder.mkdir()
    return [write_ecg_dicom(folder, f"case-{number}.dcm", sample_count=1000 + number) for number in range(3)]


def _failing_once(monkeypatch, error: Exception) -> list[str]:
    reads, real = [], parallel_read.read_ecg

    def read(path, *args, **kwargs):
        reads.append(str(path))
        if len(reads) == 1:
            raise error
        return real(path, *args, **kwargs)

    monkeypatch.setattr(parallel_read, "read_ecg", read)
    return reads


def test_an_unexpected_failure_is_read_again_on_the_next_update(tmp_path, monkeypatch):
    paths = _files(tmp_path)
    reads = _failing_once(monkeypatch, ImportError("cannot import name 'Annotation' from partially initialized module"))
    index = CaseIndex(tmp_path / "index.sqlite")
    first = index.update(paths, workers=1)
    assert len(first.failed) == 1 and is_unexpected_error(reads[0], first.failed[0])
    assert len(index.cases(thresholds=THRESHOLDS)) == 3 and len(index.failures()) == 1
    second = index.update(paths, workers=1)  # nothing changed on disk
    assert second.failed == () and reads[3:] == [reads[0]]  # only the failed file, read again
    assert index.failures() == [] and all(not case.error for case in index.cases(thresholds=THRESHOLDS))


def test_a_file_s_own_error_is_not_read_again_until_it_changes(tmp_path, monkeypatch):
    paths = _files(tmp_path)
    reads = _failing_once(monkeypatch, EcgReadError("case-0.dcm", "truncated waveform"))
    index = CaseIndex(tmp_path / "index.sqlite")
    first = index.update(paths, workers=1)
    assert len(first.failed) == 1 and not is_unexpected_error(reads[0], first.failed[0])
    index.update(paths, workers=1)
    assert len(reads) == 3 and len(index.failures()) == 1
