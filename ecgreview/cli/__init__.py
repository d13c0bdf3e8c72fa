"""Command-line interface: ``python -m ecgreview SUBCOMMAND``.

Exit codes: 0 ok, 1 findings (differences, failed checks), 2 bad input.
Errors print as ``path: reason`` on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ecgreview import __version__
from ecgreview.cli import (
    audit,
    evaluate,
    export,
    index,
    model,
    mrmc,
    padding,
    predict,
    report,
    reproduce,
    score,
    statements,
    study,
    users,
)
from ecgreview.errors import EcgReviewError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ecgreview", description="ecgreview: 12-lead ECG review beside the Ribeiro et al. 2020 DNN")
    parser.add_argument("--version", action="version", version=f"ecgreview {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    for command in (model, users, predict, statements, reproduce, score, index, evaluate, audit, study, padding, mrmc,
                    report, export):
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except EcgReviewError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
