"""``python -m ecgreview export SHA256 (--reader NAME | --consensus)``: a reading as DICOM SR and FHIR.

Writes ``<sha12>-reading.sr.dcm`` / ``<sha12>-consensus.sr.dcm`` and the matching ``.fhir.json``
into ``--output`` (default: the current folder), each checked by reading it back
(:mod:`ecgreview.review.export`). A case that came from the DICOMweb server
(``ECGREVIEW_DICOMWEB_URL``) has its SR stored back there (STOW-RS) unless ``--no-send``.
The case is named by its SHA-256 (the worklist's ``source_sha256``; a unique prefix of 8 or
more hex digits will do).

Exit codes: 0 written (and stored), 2 bad input (no such case or reading, no consensus yet,
an SR of a case that is not DICOM, the server refused the SR).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecgreview.config import Settings

__all__ = ["register"]

_HEX = re.compile(r"^[0-9a-f]{8,64}$")


def _full_sha256(settings: Settings, text: str) -> str:
    """The one indexed SHA-256 starting with ``text``."""
    from ecgreview.review.export import ExportError
    from ecgreview.review.worklist import CaseIndex

    prefix = text.strip().lower()
    if not _HEX.match(prefix):
        raise ExportError(None, f"the case must be its SHA-256 (8 to 64 hex digits); got {text!r}")
    cases = CaseIndex.for_settings(settings).cases(thresholds=settings.thresholds)
    matches = sorted({case.source_sha256 for case in cases if case.source_sha256.startswith(prefix)})
    if len(matches) != 1:
        reason = "no indexed case" if not matches else f"{len(matches)} indexed cases"
        raise ExportError(None, f"{reason} with SHA-256 {prefix}… (python -m ecgreview index; give more digits)")
    return matches[0]


def _export(args: argparse.Namespace) -> int:
    from ecgreview.config import Settings
    from ecgreview.review.export import export_reading

    settings = Settings.from_env()
    sha = _full_sha256(settings, args.case)
    formats = tuple(args.formats.split(",")) if args.formats else ("sr", "fhir")
    try:
        files = export_reading(settings, sha, folder=Path(args.output), reader=None if args.consensus else args.reader,
                               formats=formats, send=not args.no_send)
    except ValueError as exc:
        print(f"--format: {exc}", file=sys.stderr)
        return 2
    for path in (files.sr_path, files.fhir_path):
        if path is not None:
            print(f"wrote {path}")
    if files.stored_uids:
        from ecgreview.io.dicomweb import server_label

        print(f"stored the SR in {server_label(settings)} (SOP Instance UID {', '.join(files.stored_uids)})")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``export`` to the CLI's subcommands."""
    export = commands.add_parser(
        "export", help="export a saved reading (or a case's consensus) as a DICOM SR and a FHIR DiagnosticReport; "
                       "a case from the DICOMweb server gets its SR stored there")
    export.add_argument("case", help="the case's SHA-256 (or a unique prefix of 8+ hex digits), as in the worklist")
    who = export.add_mutually_exclusive_group(required=True)
    who.add_argument("--reader", help="export this reader's latest clinical reading of the case")
    who.add_argument("--consensus", action="store_true",
                     help="export the case's consensus (readers' majority, the adjudicator overriding)")
    export.add_argument("--output", default=".", help="folder for the files (default: the current folder)")
    export.add_argument("--format", dest="formats", metavar="sr,fhir",
                        help="what to write: sr, fhir or sr,fhir (default both)")
    export.add_argument("--no-send", action="store_true",
                        help="do not store the SR on the DICOMweb server the case came from")
    export.set_defaults(handler=_export)
