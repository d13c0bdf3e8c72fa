"""``python -m ecgreview study create|show|list``: reader-study designs (:mod:`ecgreview.study.design`).

Exit codes: 0 ok, 2 bad input (``path: reason`` on stderr).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from ecgreview.cli._arguments import non_negative_int
from ecgreview.errors import ConfigError, EcgReviewError

__all__ = ["read_case_ids", "register"]

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_MAX_LIST_BYTES = 16 * 1024 * 1024


def read_case_ids(path: str | Path) -> list[str]:
    """Case ids (``source_sha256``) from a folder of ECGs, or a CSV/text file listing them.

    A folder: every ECG file in it (read to get its SHA-256; unreadable files are an
    error). A ``.csv`` file: its ``source_sha256`` column. Any other file: one id a line
    (blank lines and ``#`` comments skipped).

    Raises
    ------
    EcgReviewError
        Missing, unreadable, or a value that is not 64 hex digits.
    """
    source = Path(path)
    if source.is_dir():
        from ecgreview.io import list_case_files, read_ecg

        return list(dict.fromkeys(read_ecg(file).source_sha256 for file in list_case_files(source)))
    try:
        if source.stat().st_size > _MAX_LIST_BYTES:
            raise EcgReviewError(source, f"case list is larger than {_MAX_LIST_BYTES // 2**20} MiB")
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise EcgReviewError(source, "no such file or folder") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise EcgReviewError(source, f"cannot read the case list: {exc}") from exc
    if source.suffix.lower() == ".csv":
        import io

        import pandas as pd

        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        if "source_sha256" not in table.columns:
            raise EcgReviewError(source, f"needs a source_sha256 column; columns are {', '.join(table.columns)}")
        values = [value.strip() for value in table["source_sha256"]]
    else:
        values = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for number, value in enumerate(values, start=1):
        if not _SHA256.fullmatch(value):
            raise EcgReviewError(source, f"entry {number}: expected a source_sha256 (64 hex digits), got {value[:70]!r}")
    return list(dict.fromkeys(value.lower() for value in values))


def _folder(args: argparse.Namespace) -> Path:
    from ecgreview.config import Settings
    from ecgreview.study.design import studies_dir

    return Path(args.studies_dir) if args.studies_dir else studies_dir(Settings.from_env())


def _create(args: argparse.Namespace) -> int:
    from ecgreview.study.design import create_design, save_design

    cases = read_case_ids(args.cases)
    try:
        design = create_design(args.study_id, cases, args.reader, seed=args.seed, crossover=args.crossover,
                               washout_days=args.washout_days)
    except ValueError as exc:
        raise ConfigError(None, str(exc)) from exc
    path = save_design(design, _folder(args))
    layout = f"crossover, wash-out {design.washout_days} days" if design.crossover else "two-step (unaided, then aided)"
    print(f"created study {design.study_id}: {len(design.case_ids)} cases, {len(design.readers)} readers, {layout}, "
          f"seed {design.seed}\n{path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from ecgreview.config import Settings
    from ecgreview.review.store import read_reviews
    from ecgreview.study.design import load_design
    from ecgreview.study.progress import progress

    design = load_design(args.study_id, _folder(args))
    reviews = read_reviews(Path(args.reviews) if args.reviews else Settings.from_env().reviews_path)
    layout = f"crossover, wash-out {design.washout_days} days" if design.crossover else "two-step"
    print(f"study {design.study_id}: {len(design.case_ids)} cases, {len(design.readers)} readers, {layout}, "
          f"seed {design.seed}, created {design.created_at_utc}")
    for reader in design.readers:
        state = progress(design, reviews, reader)
        sessions = ", ".join(f"session {s.session} {s.done}/{s.total}" for s in state.sessions)
        if state.finished:
            upcoming = "finished"
        elif state.next_case_id:
            upcoming = f"next {state.next_case_id[:12]}… ({state.next_step})"
        else:
            upcoming = f"session 2 opens {state.waiting_until_utc:%Y-%m-%d %H:%M} UTC" if state.waiting_until_utc \
                else "waiting"
        print(f"  {reader!r}: {sessions}; {upcoming}")
        if args.orders:
            for session in design.sessions:
                print(f"    session {session}: " + " ".join(case[:12] for case in design.order(reader, session)))
    return 0


def _list(args: argparse.Namespace) -> int:
    from ecgreview.study.design import list_designs

    for study_id in list_designs(_folder(args)):
        print(study_id)
    return 0


def register(subparsers: Any) -> None:
    """Add ``study create|show|list`` to the CLI."""
    study = subparsers.add_parser("study", help="reader-study designs: cases, readers, seeded orders, crossover")
    commands = study.add_subparsers(dest="study_command", required=True)
    create = commands.add_parser("create", help="draw each reader's case order and save the design")
    create.add_argument("study_id", help="lowercase letters, digits, - and _")
    create.add_argument("--cases", required=True, help="folder of ECGs, a CSV with source_sha256, or a text file "
                                                       "of one source_sha256 a line")
    create.add_argument("--reader", action="append", required=True, help="reader name (repeat for each reader)")
    create.add_argument("--seed", type=non_negative_int, help="random seed (default: drawn and recorded)")
    create.add_argument("--crossover", action="store_true",
                        help="half the cases aided, half unaided in session 1, swapped in session 2")
    create.add_argument("--washout-days", type=non_negative_int, default=14, help="days between the sessions (default 14)")
    create.set_defaults(handler=_create)
    show = commands.add_parser("show", help="a design and each reader's progress")
    show.add_argument("study_id")
    show.add_argument("--reviews", help="review CSV (default: the configured store)")
    show.add_argument("--orders", action="store_true", help="print every reader's case order")
    show.set_defaults(handler=_show)
    listing = commands.add_parser("list", help="saved study ids")
    listing.set_defaults(handler=_list)
    for parser in (create, show, listing):
        parser.add_argument("--studies-dir", help="folder of designs (default: $ECGREVIEW_HOME/studies)")
