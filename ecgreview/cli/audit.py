"""``python -m ecgreview audit PATH...`` and ``deidentify SRC DST``: PHI audit (names, never values) and de-identified copies."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from ecgreview.errors import EcgReviewError
from ecgreview.security.phi import audit_file
from ecgreview.security.phi.dicom import deidentify_dicom


def _expand(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """Files to audit (folders searched recursively) and the problems (missing, empty folders)."""
    from ecgreview.io import list_case_files

    files: list[Path] = []
    problems: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = list_case_files(path)
            files.extend(found)
            if not found:
                problems.append(f"{path}: no ECG files found")
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    return files, problems


def audit_main(paths: Sequence[str | os.PathLike[str]], *, out: TextIO = sys.stdout) -> int:
    """Audit files and folders, print one block per file; values are never printed.

    Returns
    -------
    int
        0 all clean, 1 findings, 2 a path was missing or a file unreadable.
    """
    files, problems = _expand(paths)
    for problem in problems:
        print(problem, file=out)
    code = 2 if problems else 0
    for path in files:
        try:
            audit = audit_file(path)
        except EcgReviewError as exc:
            print(f"{path}: unreadable: {exc.reason}", file=out)
            code = 2
            continue
        print(f"{path}: {audit.summary()}", file=out)
        for finding in audit.findings:
            print(f"  {finding}", file=out)
        if audit.findings and code == 0:
            code = 1
    return code


def _deidentify_main(args: argparse.Namespace) -> int:
    src, dst = Path(args.src), Path(args.dst)
    sources = [(src, dst)] if not src.is_dir() else [
        (path, dst / path.relative_to(src)) for path in _expand([src])[0]]
    salt = secrets.token_bytes(32)  # one salt per run: UIDs stay consistent across the run's files
    code = 0
    for source, target in sources:
        audit = deidentify_dicom(source, target, pseudonym=args.pseudonym, salt=salt)
        print(f"{target}: {audit.summary()}")
        for finding in audit.findings:
            print(f"  {finding}")
        code = max(code, 1 if audit.findings else 0)
    return code


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``audit PATH...`` and ``deidentify SRC DST`` subcommands to the ecgreview CLI."""
    audit = subparsers.add_parser("audit", help="list PHI in DICOM (PS3.15 Basic Profile) and XML ECG files; "
                                                "values never shown")
    audit.add_argument("paths", nargs="+", metavar="PATH", help="DICOM or XML files, or folders (searched recursively)")
    audit.set_defaults(handler=lambda args: audit_main(args.paths))
    deidentify = subparsers.add_parser("deidentify", help="write a de-identified copy (file or folder) and audit it")
    deidentify.add_argument("src", metavar="SRC", help="DICOM file or folder")
    deidentify.add_argument("dst", metavar="DST", help="destination file or folder")
    deidentify.add_argument("--pseudonym", help="PatientID of the copy (default: salted hash of the source's)")
    deidentify.set_defaults(handler=_deidentify_main)
