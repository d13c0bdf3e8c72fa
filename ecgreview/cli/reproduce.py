"""``python -m ecgreview reproduce-paper`` and ``compare-predictions``: methods reproducibility."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from ecgreview.cli._output import print_failure
from ecgreview.errors import EcgReviewError
from ecgreview.study.compare import compare_predictions
from ecgreview.study.reproduce import BUNDLED_RIBEIRO_DIR, reproduce_paper


def _reproduce_paper(args: argparse.Namespace) -> int:
    return reproduce_paper_main(Path(args.ribeiro_dir) if args.ribeiro_dir else None)


def _compare_predictions(args: argparse.Namespace) -> int:
    return compare_predictions_main(Path(args.reference), Path(args.other), out_dir=Path(args.out) if args.out else None)


def reproduce_paper_main(ribeiro_dir: Path | None = None, *, out: TextIO | None = None) -> int:
    """CLI body of ``reproduce-paper``.

    Parameters
    ----------
    ribeiro_dir : path or None
        The reference data; None uses the bundled copy (:data:`BUNDLED_RIBEIRO_DIR`).
    out : text stream
        Where the report goes.

    Returns
    -------
    int
        0 reproduced, 1 differences, 2 bad input (``path: reason`` on stderr).
    """
    out = out or sys.stdout
    try:
        reproduction = reproduce_paper(BUNDLED_RIBEIRO_DIR if ribeiro_dir is None else ribeiro_dir)
    except EcgReviewError as exc:
        return print_failure(exc)
    out.write(reproduction.format_text())
    return 0 if reproduction.ok else 1


def compare_predictions_main(
    reference: Path, other: Path, *, out_dir: Path | None = None, out: TextIO | None = None
) -> int:
    """CLI body of ``compare-predictions``: print the report, optionally write files.

    With ``out_dir``, writes ``comparison.txt``, ``comparison.csv`` and
    ``comparison.html`` (plotly, with plotly.js embedded so it opens offline).

    Returns
    -------
    int
        0 when no call flips, 1 when some do, 2 on bad input (``path: reason`` on stderr).
    """
    out = out or sys.stdout
    try:
        comparison = compare_predictions(reference, other)
        text = comparison.format_text()
        out.write(text)
        if out_dir is not None:
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "comparison.txt").write_text(text, encoding="utf-8")
            comparison.to_csv(out_dir / "comparison.csv")
            comparison.figure().write_html(out_dir / "comparison.html", include_plotlyjs=True)
            out.write(f"Wrote {out_dir / 'comparison.txt'}, comparison.csv, comparison.html\n")
    except (EcgReviewError, OSError) as exc:
        return print_failure(exc, fallback=out_dir)
    return 1 if comparison.n_flips else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``reproduce-paper`` and ``compare-predictions`` to the CLI's subcommands."""
    reproduce = commands.add_parser("reproduce-paper", help="recompute the paper's tables from its published annotations and predictions")
    reproduce.add_argument("ribeiro_dir", nargs="?", help="folder with annotations/, dnn_predicts/, tables/ (default: the bundled copy)")
    reproduce.set_defaults(handler=_reproduce_paper)

    compare = commands.add_parser("compare-predictions", help="methods reproducibility: compare two prediction files (npy, csv, batch CSV)")
    compare.add_argument("reference")
    compare.add_argument("other")
    compare.add_argument("--out", help="folder for the text report, CSV and HTML figure")
    compare.set_defaults(handler=_compare_predictions)
