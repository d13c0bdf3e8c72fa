"""``python -m ecgreview predict FILE...``: the DNN probabilities of ECG files."""

from __future__ import annotations

import argparse
import sys

from ecgreview.config import Settings


def _predict(args: argparse.Namespace) -> int:
    from ecgreview.io import read_ecg
    from ecgreview.model.network import load_model
    from ecgreview.model.serving import find_model
    from ecgreview.review.case import analyse_case

    path = find_model(Settings.from_env())
    if path is None:
        print("no model weights installed; run: python -m ecgreview model install", file=sys.stderr)
        return 2
    model = load_model(path)
    print(f"model: {model.identity.label}")
    for file in args.files:
        analysis = analyse_case(read_ecg(file), model)
        print(f"{file}: " + "  ".join(f"{name} {p:.4f}{'*' if call else ''}" for name, p, call in analysis.dnn_rows()))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``predict`` to the CLI's subcommands."""
    predict = commands.add_parser("predict", help="print the DNN probabilities of ECG files")
    predict.add_argument("files", nargs="+")
    predict.set_defaults(handler=_predict)
