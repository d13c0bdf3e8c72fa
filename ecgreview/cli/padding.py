"""``python -m ecgreview padding-report FOLDER``: how many DNN calls flip between centre and end padding."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ecgreview.cli._arguments import positive_int
from ecgreview.errors import EcgReviewError
from ecgreview.study.padding import format_padding_report, padding_report


def _main(args: argparse.Namespace) -> int:
    from ecgreview.cli.score import load_model_for_command

    for given in args.inputs:
        if not Path(given).exists():
            raise EcgReviewError(given, "no such file or folder")
    report = padding_report(args.inputs, model=load_model_for_command(args), batch_size=args.batch_size)
    sys.stdout.write(format_padding_report(report))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        from ecgreview.study._export import write_table

        write_table(report.flips, args.out)
        print(f"flipped calls: {args.out}")
    return 1 if len(report.flips) else 0


def register(subparsers: Any) -> None:
    """Add ``padding-report`` (exit 0 no flips, 1 flips found, 2 bad input)."""
    from ecgreview.model.serving import BACKENDS

    parser = subparsers.add_parser("padding-report", help="how many DNN calls flip between centre (upstream) and "
                                                          "end (pilot) zero padding on a folder of ECGs")
    parser.add_argument("inputs", nargs="+", help="folders (searched recursively) and/or ECG files")
    parser.add_argument("--out", help="CSV of the flipped calls (source_path, class, probabilities, calls)")
    parser.add_argument("--model", help="weights file (default: the configured or installed one)")
    parser.add_argument("--backend", choices=BACKENDS, default=None, help="as for score")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="ECGs per model call (default 32)")
    parser.set_defaults(handler=_main)
