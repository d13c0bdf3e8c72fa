"""``python -m ecgreview index``: a folder of synthetic records into the worklist index, progress, summary, exit codes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from ecgreview.cli import main
from ecgreview.cli._output import ProgressBar
from ecgreview.record import THRESHOLDS
from ecgreview.review.index_updater import index_lock, read_progress
from ecgreview.review.worklist import INDEX_FILE, CaseIndex
from tests.io.dicom_fixtures import write_ecg_dicom

ENV_VARIABLES = ("ECGREVIEW_MODEL", "ECGREVIEW_MODELS_DIR", "ECGREVIEW_REVIEWS", "ECGREVIEW_CASES", "ECGREVIEW_CONFIG",
                 "ECGREVIEW_BACKEND")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def cases(tmp_path) -> Path:
    folder = tmp_path / "cases"
    folder.mkdir()
    write_ecg_dicom(folder, "af.dcm", statements=("ATRIAL FIBRILLATION",))
    write_ecg_dicom(folder, "sinus.dcm", statements=("SINUS RHYTHM", "NORMAL ECG"))
    (folder / "nested").mkdir()
    write_ecg_dicom(folder / "nested", "silent.dcm", statements=())
    return folder


def _summary(out: str) -> str:
    return next(line for line in out.splitlines() if " new, " in line)


def test_index_folder_then_incremental_then_removed(home, cases, capsys):
    assert main(["index", str(cases), "--no-model"]) == 0
    captured = capsys.readouterr()
    assert _summary(captured.out).startswith("3 new, 0 changed, 0 unchanged, 0 removed, 0 failed")
    assert f"indexing {cases} into {home / INDEX_FILE} without a model" in captured.err
    assert "3/3 new or changed files indexed" in captured.err  # stderr is not a terminal: plain lines
    assert "\r" not in captured.err
    indexed = CaseIndex(home / INDEX_FILE).cases(thresholds=THRESHOLDS)
    assert {case.source_name for case in indexed} == {"af.dcm", "sinus.dcm", "silent.dcm"}
    assert next(case for case in indexed if case.source_name == "af.dcm").device_calls["AF"] == "definite"
    assert read_progress(home / INDEX_FILE).state == "done"

    assert main(["index", str(cases), "--no-model"]) == 0
    assert _summary(capsys.readouterr().out).startswith("0 new, 0 changed, 3 unchanged, 0 removed, 0 failed")

    write_ecg_dicom(cases, "new.dcm", statements=("SINUS BRADYCARDIA",))
    changed = cases / "sinus.dcm"
    changed.write_bytes(changed.read_bytes() + b"\0\0")
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    (cases / "nested" / "silent.dcm").unlink()
    assert main(["index", str(cases), "--no-model", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert _summary(captured.out).startswith("1 new, 1 changed, 1 unchanged, 1 removed, 0 failed")
    assert "indexed" not in captured.err


def test_unreadable_files_exit_1_with_reasons(home, cases, capsys):
    (cases / "broken.dcm").write_bytes(b"DICM is not at offset 128 here")
    assert main(["index", str(cases), "--no-model"]) == 1
    out = capsys.readouterr().out
    assert _summary(out).startswith("4 new, 0 changed, 0 unchanged, 0 removed, 1 failed")  # read, and failed
    failure = next(line for line in out.splitlines() if line.startswith("failed: "))
    assert "broken.dcm: " in failure and len(failure) > len("failed: broken.dcm: ")
    assert main(["index", str(cases), "--no-model"]) == 0  # known and unchanged: not read (or reported) again
    assert _summary(capsys.readouterr().out).startswith("0 new, 0 changed, 4 unchanged")


def test_default_folder_and_model_are_the_configured_ones(home, cases, monkeypatch, capsys):
    monkeypatch.setenv("ECGREVIEW_CASES", str(cases))
    monkeypatch.setenv("ECGREVIEW_MODELS_DIR", str(home / "no-models"))
    assert main(["index"]) == 0
    captured = capsys.readouterr()
    assert "no model weights installed: indexing without DNN probabilities" in captured.err
    assert f"indexing {cases} into" in captured.err
    assert _summary(captured.out).startswith("3 new")


@pytest.mark.parametrize("make, reason", [(lambda path: None, "no such folder"),
                                          (lambda path: path.write_text("x"), "not a folder")])
def test_bad_folder_exits_2_naming_it(home, tmp_path, capsys, make, reason):
    folder = tmp_path / "where" / "cases-typo"
    folder.parent.mkdir()
    make(folder)
    assert main(["index", str(folder), "--no-model"]) == 2
    assert capsys.readouterr().err.startswith(f"{folder}: {reason}")
    assert not (tmp_path / "home" / INDEX_FILE).exists()


def test_configured_folder_missing_exits_2(home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ECGREVIEW_CASES", str(tmp_path / "gone"))
    assert main(["index", "--no-model"]) == 2
    assert f"{tmp_path / 'gone'}: no such folder" in capsys.readouterr().err


def test_waits_for_another_indexer(home, cases, capsys):
    home.mkdir()
    lock = index_lock(home / INDEX_FILE)
    lock.acquire()
    try:
        import threading

        results: list[int] = []
        worker = threading.Thread(target=lambda: results.append(main(["index", str(cases), "--no-model"])))
        worker.start()
        worker.join(1.0)
        assert worker.is_alive() and not results  # blocked on the lock
    finally:
        lock.release()
    worker.join(60)
    assert results == [0]
    assert "waiting for another indexer of" in capsys.readouterr().err


def test_progress_on_a_terminal_is_a_bar_redrawn_in_place():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = ProgressBar(stream=stream)
    progress(16, 32, "files")
    progress(32, 32, "files")
    progress.close()
    text = stream.getvalue()
    assert text.count("\r[") == 2 and "[" + "#" * 15 + "." * 15 + "] 16/32" in text and "] 32/32" in text
    assert text.endswith("\n")
