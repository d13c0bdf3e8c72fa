"""``python -m ecgreview index [FOLDER]``: bring the worklist index up to date from the command line.

Indexes the same files the worklist lists (the folder, the uploads kept under the app's
home, the demo ECG with the bundled demo set) into the same index
(``ECGREVIEW_HOME/worklist-index.sqlite``), with the same model the pages use, under the
same lock as the server's background updater (:mod:`ecgreview.review.index_updater`). Run it after
copying a large batch of ECGs into the case folder, so that the server's pages find them
indexed. The index holds one case folder: rows of files outside it are removed, as the
server does.

Exit codes: 0 all files indexed, 1 some files could not be read (listed), 2 bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from ecgreview.cli._arguments import positive_int
from ecgreview.cli._output import ProgressBar
from ecgreview.config import Settings
from ecgreview.review.worklist import IndexUpdate

__all__ = ["register", "summary_lines"]

def _settings_for(folder: str | None) -> Settings:
    """The configured settings, with ``folder`` as the case folder when given (ConfigError if it is not one)."""
    from ecgreview.errors import ConfigError

    settings = Settings.from_env()
    cases_dir = Path(folder) if folder is not None else settings.cases_dir
    if cases_dir is None or not cases_dir.is_dir():
        reason = "no such folder" if cases_dir is None or not cases_dir.exists() else "not a folder"
        raise ConfigError(None, f"{cases_dir}: {reason}; give the case folder to index (default: ECGREVIEW_CASES)")
    return dataclasses.replace(settings, cases_dir=cases_dir)


def _load_model(settings: Settings, args: argparse.Namespace) -> Any:
    """The model the pages would use (the best installed weights), or None with ``--no-model`` or none installed."""
    from ecgreview.model.serving import find_model, load_inference_model

    if args.no_model:
        return None
    path = find_model(settings)
    if path is None:
        print("no model weights installed: indexing without DNN probabilities "
              "(python -m ecgreview model install)", file=sys.stderr)
        return None
    return load_inference_model(path, backend=args.backend or settings.backend)


def summary_lines(update: IndexUpdate, *, elapsed_s: float) -> list[str]:
    """The run's summary: new, changed, unchanged, removed, predicted, then each failure (``path: reason``)."""
    lines = [f"{update.new} new, {update.changed} changed, {update.unchanged} unchanged, {update.removed} removed, "
             f"{len(update.failed)} failed; {update.predicted} DNN prediction(s) added in {elapsed_s:.1f} s"]
    lines += [f"failed: {failure}" for failure in update.failed]
    return lines


def _index_main(args: argparse.Namespace) -> int:
    from filelock import Timeout

    from ecgreview.review.index_updater import index_lock, read_progress, update_case_index
    from ecgreview.review.worklist import CaseIndex

    settings = _settings_for(args.folder)
    model = _load_model(settings, args)
    index = CaseIndex.for_settings(settings)
    try:
        with index_lock(index.path).acquire(timeout=0):
            pass
    except Timeout:
        print(f"waiting for another indexer of {index.path} to finish…", file=sys.stderr, flush=True)
    print(f"indexing {settings.cases_dir} into {index.path}"
          + (f" with {model.identity.label}" if model is not None else " without a model"), file=sys.stderr)
    bar = ProgressBar(enabled=not args.no_progress)

    def progress(done: int, total: int) -> None:
        shown = read_progress(index.path)  # what the pages show: rate and time left
        remaining_s = shown.remaining_s if shown is not None else None
        bar(done, total, "new or changed files indexed" + (
            f", {shown.files_per_s:.1f} files/s, about {remaining_s:.0f} s left"
            if shown is not None and remaining_s is not None else ""))

    start_s = time.perf_counter()
    try:
        update = update_case_index(settings, index=index, model=model, progress=progress, workers=args.workers)
    finally:
        bar.close()
    for line in summary_lines(update, elapsed_s=time.perf_counter() - start_s):
        print(line)
    return 1 if update.failed else 0


def register(subparsers: Any) -> None:
    """Add the ``index`` subcommand to the CLI's argparse ``subparsers``.

    Exit codes: 0 all files indexed, 1 some files could not be read, 2 bad input.
    """
    from ecgreview.model.serving import BACKENDS

    command = subparsers.add_parser(
        "index", help="bring the worklist index up to date for the case folder (what the pages read)")
    command.add_argument("folder", nargs="?", help="case folder (default: ECGREVIEW_CASES, else the demo cases)")
    command.add_argument("--no-model", action="store_true",
                         help="index metadata only, without DNN probabilities (the pages add them later)")
    command.add_argument("--backend", choices=BACKENDS, default=None, help="default: ECGREVIEW_BACKEND, else auto")
    command.add_argument("--no-progress", action="store_true", help="no progress output")
    command.add_argument("--workers", type=positive_int, default=None,
                         help="processes reading files (default: one per CPU core; 1 reads in this process)")
    command.set_defaults(handler=_index_main)
