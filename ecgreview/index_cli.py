"""``python -m ecgreview index [FOLDER]``: bring the worklist index up to date from the command line.

Indexes the same files the worklist lists (the folder, the uploads kept under the app's
home, the demo ECG with the bundled demo set) into the same index
(``ECGREVIEW_HOME/worklist-index.sqlite``), with the same model the pages use, under the
same lock as the server's background updater (:mod:`ecgreview.index_updater`). Run it after
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
from typing import Any, TextIO

from ecgreview.config import Settings
from ecgreview.worklist import IndexUpdate

__all__ = ["register_cli"]

_BAR_WIDTH = 30
#: Seconds between two progress lines when stderr is not a terminal.
_PLAIN_EVERY_S = 5.0


class _ProgressLine:
    """Progress on ``stream``: a bar redrawn in place on a terminal, else a plain line every few seconds."""

    def __init__(self, stream: TextIO, *, enabled: bool) -> None:
        self.stream, self.enabled = stream, enabled
        self.tty = enabled and stream.isatty()
        self.start_s = time.perf_counter()
        self.last_plain_s = -_PLAIN_EVERY_S

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        elapsed_s = time.perf_counter() - self.start_s
        rate = f"{done / elapsed_s:.1f} files/s" if elapsed_s > 0 else ""
        if self.tty:
            filled = _BAR_WIDTH * done // total if total else _BAR_WIDTH
            print(f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {done}/{total} new or changed files, {rate}",
                  end="", file=self.stream, flush=True)
        elif done == total or elapsed_s - self.last_plain_s >= _PLAIN_EVERY_S:
            self.last_plain_s = elapsed_s
            print(f"indexed {done} of {total} new or changed files ({rate})", file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=self.stream, flush=True)


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
    from ecgreview.model import find_model, load_inference_model

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

    from ecgreview.index_updater import index_lock, update_case_index
    from ecgreview.worklist import CaseIndex

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
    progress = _ProgressLine(sys.stderr, enabled=not args.no_progress)
    start_s = time.perf_counter()
    try:
        update = update_case_index(settings, index=index, model=model, progress=progress)
    finally:
        progress.close()
    for line in summary_lines(update, elapsed_s=time.perf_counter() - start_s):
        print(line)
    return 1 if update.failed else 0


def register_cli(subparsers: Any) -> None:
    """Add the ``index`` subcommand to the CLI's argparse ``subparsers``.

    Exit codes: 0 all files indexed, 1 some files could not be read, 2 bad input.
    """
    from ecgreview.model import BACKENDS

    command = subparsers.add_parser(
        "index", help="bring the worklist index up to date for the case folder (what the pages read)")
    command.add_argument("folder", nargs="?", help="case folder (default: ECGREVIEW_CASES, else the demo cases)")
    command.add_argument("--no-model", action="store_true",
                         help="index metadata only, without DNN probabilities (the pages add them later)")
    command.add_argument("--backend", choices=BACKENDS, default=None, help="default: ECGREVIEW_BACKEND, else auto")
    command.add_argument("--no-progress", action="store_true", help="no progress output")
    command.set_defaults(handler=_index_main)
