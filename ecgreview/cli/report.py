"""``python -m ecgreview report FILE --out report.pdf``: the printable one-page report of a reading."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecgreview.config import Settings
from ecgreview.errors import ReviewStoreError


def _report(args: argparse.Namespace) -> int:
    from ecgreview.io import read_ecg
    from ecgreview.report import report_reading, write_reading_report
    from ecgreview.review.case import analyse_case
    from ecgreview.review.store import read_reviews

    settings = Settings.from_env()
    store = Path(args.reviews) if args.reviews else settings.reviews_path
    if args.reviews and not store.is_file():
        raise ReviewStoreError(store, "no such review store (give the CSV the app writes, or leave out --reviews)")
    record = read_ecg(args.file)
    reading = report_reading(read_reviews(store), record.source_sha256, reader=args.reader)
    if args.reader and reading is None:
        print(f"{args.file}: {args.reader} has no clinical reading of this ECG in {store}", file=sys.stderr)
        return 2
    model = None
    if reading is None and not args.no_dnn:  # a reading prints the DNN's output as the reader saw it
        from ecgreview.model.serving import find_model, load_inference_model

        weights = find_model(settings)
        model = None if weights is None else load_inference_model(weights, backend=settings.backend)
    analysis = analyse_case(record, model, thresholds=settings.thresholds)
    written = write_reading_report(args.out, analysis, reading, page_size=args.page)
    said = (f"the reading of {reading.reader} saved {reading.saved_at_utc:%Y-%m-%d %H:%M} UTC" if reading else
            f"no reading in {store}")
    print(f"wrote {written} ({args.page} landscape; {said})")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``report`` to the CLI's subcommands."""
    report = commands.add_parser(
        "report", help="the printable one-page PDF of a reading: the ECG at true scale, the device, the DNN, "
                       "the reader")
    report.add_argument("file", help="the ECG file (DICOM, WFDB .hea, XML, SCP)")
    report.add_argument("--out", required=True, help="the PDF to write")
    report.add_argument("--reviews", help="review store to take the reading from (default: the configured one, "
                                          "ECGREVIEW_REVIEWS)")
    report.add_argument("--reader", help="print this reader's latest reading (default: the adjudicator's, "
                                         "else the latest saved)")
    report.add_argument("--page", choices=("A4", "Letter"), default="A4", help="page size, landscape (default A4)")
    report.add_argument("--no-dnn", action="store_true",
                        help="without a reading, leave the DNN out instead of running the installed weights")
    report.set_defaults(handler=_report)
