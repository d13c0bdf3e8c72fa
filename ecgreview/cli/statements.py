"""``python -m ecgreview statements PATH...``: device statements, their counts, the unmapped ones, and per
file the statements read as negated or as history."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecgreview.errors import EcgReviewError


def _statements(args: argparse.Namespace) -> int:
    from ecgreview.device.statements import (
        count_statements,
        is_rhythm_or_conduction,
        load_statement_table,
        map_statements,
    )
    from ecgreview.io import list_case_files, read_ecg

    table = load_statement_table(args.table)
    files: list[Path] = []
    for given in map(Path, args.paths):
        if not given.exists():
            print(f"{given}: no such file or folder", file=sys.stderr)
            return 2
        files.extend(list_case_files(given) if given.is_dir() else [given])
    statement_lists, readings, silent, unreadable = [], [], 0, 0
    for file in files:
        try:
            record = read_ecg(file)
        except EcgReviewError as exc:
            unreadable += 1
            print(f"skipped {exc}", file=sys.stderr)
            continue
        statement_lists.append(record.statements)
        interpretation = map_statements(record.statements, record.measurements, table=table)
        silent += not interpretation.available
        readings += [(file.name, text, "negated") for text in interpretation.negated]
        readings += [(file.name, text, "history") for text in interpretation.historical]
    rows = count_statements(statement_lists, table=table)
    print(f"{len(statement_lists)} ECGs read, {unreadable} skipped; statement table {table.version}")
    print(f"{silent} ECGs carry no statements: the device's calls are not available (never 'absent')")
    print(f"{'count':>6}  {'maps to':<24}  statement")
    for statement, count, mapped_to in rows:
        print(f"{count:>6}  {mapped_to:<24}  {statement}")
    unmapped = [row for row in rows if row[2] == "unmapped"]
    rhythm = [row for row in unmapped if is_rhythm_or_conduction(row[0])]
    print(f"{len(rows)} distinct statements, {len(unmapped)} unmapped: {len(rhythm)} rhythm/conduction, "
          f"{len(unmapped) - len(rhythm)} other (for the site's table)")
    for statement, count, _ in rhythm:
        print(f"unmapped rhythm/conduction statement ({count}x): {statement}")
    _print_readings(readings)
    return 1 if unmapped else 0


def _print_readings(readings: list[tuple[str, str, str]]) -> None:
    """Per file, each statement read as negated or as history (no call on this ECG, or no longer present)."""
    if not readings:
        print("No statement was read as negated or as history.")
        return
    print(f"{len(readings)} statements read as negated or as history (file: statement: reading):")
    for name, statement, reading in sorted(readings):
        print(f"{name}: {statement}: {reading}")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``statements`` to the CLI's subcommands."""
    statements = commands.add_parser(
        "statements", help="count the device statements in ECG files and folders, which are unmapped, and which "
                           "were read as negated or as history")
    statements.add_argument("paths", nargs="+", help="ECG files or folders (searched recursively)")
    statements.add_argument("--table", help="statement mapping CSV (default: the bundled table)")
    statements.set_defaults(handler=_statements)
