"""``python -m ecgreview statements PATH...``: device statements, their counts and the unmapped ones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecgreview.errors import EcgReviewError


def _statements(args: argparse.Namespace) -> int:
    from ecgreview.device.statements import count_statements, is_rhythm_or_conduction, load_statement_table
    from ecgreview.io import list_case_files, read_ecg

    table = load_statement_table(args.table)
    files: list[Path] = []
    for given in map(Path, args.paths):
        if not given.exists():
            print(f"{given}: no such file or folder", file=sys.stderr)
            return 2
        files.extend(list_case_files(given) if given.is_dir() else [given])
    statement_lists, unreadable = [], 0
    for file in files:
        try:
            statement_lists.append(read_ecg(file).statements)
        except EcgReviewError as exc:
            unreadable += 1
            print(f"skipped {exc}", file=sys.stderr)
    rows = count_statements(statement_lists, table=table)
    print(f"{len(statement_lists)} ECGs read, {unreadable} skipped; statement table {table.version}")
    print(f"{'count':>6}  {'maps to':<24}  statement")
    for statement, count, mapped_to in rows:
        print(f"{count:>6}  {mapped_to:<24}  {statement}")
    unmapped = [row for row in rows if row[2] == "unmapped"]
    rhythm = [row for row in unmapped if is_rhythm_or_conduction(row[0])]
    print(f"{len(rows)} distinct statements, {len(unmapped)} unmapped: {len(rhythm)} rhythm/conduction, "
          f"{len(unmapped) - len(rhythm)} other (for the site's table)")
    for statement, count, _ in rhythm:
        print(f"unmapped rhythm/conduction statement ({count}x): {statement}")
    return 1 if unmapped else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``statements`` to the CLI's subcommands."""
    statements = commands.add_parser("statements", help="count the device statements in ECG files and folders, and which are unmapped")
    statements.add_argument("paths", nargs="+", help="ECG files or folders (searched recursively)")
    statements.add_argument("--table", help="statement mapping CSV (default: the bundled table)")
    statements.set_defaults(handler=_statements)
