"""Worklist index benchmark: first index, one new file, no change, on a folder of ``--files`` ECGs.

Usage: ``.venv/bin/python bench/bench_index.py [--files 10000] [--with-model]``

Writes ``--files`` small synthetic 12-lead DICOMs (the test suite's
``tests/io/dicom_fixtures.py`` writer: 1,000 samples at 500 Hz with a median beat, each
with its own SOP Instance UID, so every file has its own SHA-256) into a temporary
folder, 1,000 per subfolder, and times the same call the server's background updater
and ``python -m ecgreview index`` make (:func:`ecgreview.review.index_updater.update_case_index`,
under the index lock, with the progress file):

(a) the first index of the whole folder;
(b) an incremental update after adding one new file;
(c) an update when nothing changed;
(d) what a page does on every rerun instead: bring the worklist tables up to date and query the
    worklist rows.

Baselines measured in the same run: a bare ``os.walk`` + ``stat`` of the folder, and
reading one file (median of 20 reads; with ``--with-model`` plus 1/32 of a batch of 32
through the DNN). (a) is given as a ratio to ``files x`` one read, (b)-(d) as ratios to
the bare walk. Without ``--with-model`` no model is used (the index stores no
probabilities; the pages add them later); ``--with-model`` uses random fixture weights in
the released layout (``tests/ui/reading_room_fixtures.write_fixture_weights``) through
the configured backend. Nothing is kept. Always exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecgreview.config import Settings  # noqa: E402
from ecgreview.io import read_ecg  # noqa: E402
from ecgreview.review.index_updater import update_case_index  # noqa: E402
from ecgreview.review.worklist import CaseIndex  # noqa: E402
from ecgreview.review.worklist_query import (  # noqa: E402
    query_worklist,
    sync_dnn_calls,
    sync_listing,
    sync_readings,
)
from tests.io.dicom_fixtures import build_ecg_dataset, write_dataset  # noqa: E402

_UID_BASE = "1.2.826.0.1.3680043.8.498.4242"
_PER_FOLDER = 1000


def write_folder(folder: Path, count: int, *, start: int = 0) -> list[Path]:
    """``count`` synthetic DICOMs, written from one template with a unique SOP Instance UID each."""
    dataset = build_ecg_dataset(sample_count=1000)
    dataset.SOPInstanceUID = f"{_UID_BASE}{0:08d}"
    template = folder / "template.dcm.tmp"
    write_dataset(dataset, template)
    data = template.read_bytes()
    template.unlink()
    marker = f"{_UID_BASE}{0:08d}".encode()
    assert data.count(marker) == 2, "the UID is in the dataset and its file meta"
    paths = []
    for number in range(start, start + count):
        path = folder / f"batch-{number // _PER_FOLDER:03d}" / f"ecg-{number:06d}.dcm"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data.replace(marker, f"{_UID_BASE}{number:08d}".encode()))
        paths.append(path)
    return paths


def bare_walk_s(folder: Path) -> float:
    start = time.perf_counter()
    for root, _, names in os.walk(folder):
        for name in names:
            os.stat(os.path.join(root, name))
    return time.perf_counter() - start


def read_one_s(path: Path, model: object | None) -> float:
    """Median time to read one file (+ its share of a batch of 32 through the model)."""
    times = []
    for _ in range(20):
        start = time.perf_counter()
        read_ecg(path)
        times.append(time.perf_counter() - start)
    per_file = statistics.median(times)
    if model is not None:
        import numpy as np

        from ecgreview.preprocess import preprocess_ecg

        batch = np.stack([preprocess_ecg(read_ecg(path))] * 32)
        model.predict_probabilities(batch)  # warm-up
        start = time.perf_counter()
        model.predict_probabilities(batch)
        per_file += (time.perf_counter() - start) / 32
    return per_file


def _timed(call):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10000, help="ECG files in the folder (default 10000)")
    parser.add_argument("--with-model", action="store_true", help="predict with fixture weights (slower)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-index-") as temporary:
        root = Path(temporary)
        folder = root / "cases"
        folder.mkdir()
        write_s, paths = _timed(lambda: write_folder(folder, args.files))
        settings = Settings(home=root / "home", models_dir=root / "models", reviews_path=root / "reviews.csv",
                            cases_dir=folder)
        model = None
        if args.with_model:
            from ecgreview.model.serving import load_inference_model
            from tests.ui.reading_room_fixtures import write_fixture_weights

            model = load_inference_model(write_fixture_weights(root / "fixture.hdf5"),
                                         backend=Settings.from_env().backend)
        walk_s = statistics.median(bare_walk_s(folder) for _ in range(3))
        one_s = read_one_s(paths[0], model)
        first_s, first = _timed(lambda: update_case_index(settings, model=model))
        write_folder(folder, 1, start=args.files)
        one_more_s, added = _timed(lambda: update_case_index(settings, model=model))
        unchanged_s, unchanged = _timed(lambda: update_case_index(settings, model=model))
        index = CaseIndex.for_settings(settings)
        model_sha256 = model.identity.sha256 if model else ""

        def worklist_page():
            sync_listing(index.path)
            sync_dnn_calls(index.path, model_sha256=model_sha256, thresholds=settings.thresholds)
            sync_readings(index.path, settings.reviews_path)
            return query_worklist(index.path, model_sha256=model_sha256, thresholds=settings.thresholds,
                                  limit=args.files + 1).rows

        page_s, rows = _timed(worklist_page)
        assert first.new == args.files and not first.failed, first
        assert added.new == 1 and unchanged.read == 0 and len(rows) == args.files + 1, (added, unchanged)
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"files: {args.files} synthetic DICOMs (written in {write_s:.1f} s); "
              f"model: {model.provenance.get('backend') + ' fixture weights' if model else 'none'}")
        print(f"machine: {os.cpu_count()} CPUs, load average {load}; Python {sys.version.split()[0]}")
        print(f"baselines: bare os.walk + stat {walk_s:.3f} s; read one file{' + predict' if model else ''} "
              f"{one_s * 1000:.2f} ms (x {args.files} = {one_s * args.files:.1f} s)\n")
        print(f"{'measure':<44} {'time s':>8}  {'ratio':>9}  to")
        figures = [
            ("(a) first index of the whole folder", first_s, first_s / (one_s * args.files), "files x read one"),
            ("(b) update after adding one file", one_more_s, one_more_s / walk_s, "bare walk"),
            ("(c) update, nothing changed", unchanged_s, unchanged_s / walk_s, "bare walk"),
            ("(d) page read: syncs + the worklist query", page_s, page_s / walk_s, "bare walk"),
        ]
        for name, seconds, ratio, baseline in figures:
            print(f"{name:<44} {seconds:>8.2f}  {ratio:>8.2f}x  {baseline}")
        print(f"\n(a) ran at {args.files / first_s:.0f} files/s; (b) is {one_more_s / first_s:.1%} of (a).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
