"""Command-line interface: ``python -m ecgreview SUBCOMMAND``.

Exit codes: 0 ok, 1 findings (differences, failed checks), 2 bad input.
Errors print as ``path: reason`` on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ecgreview import __version__
from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError


def _model_status(args: argparse.Namespace) -> int:
    from ecgreview.model import find_model, identify_weights

    path = find_model(Settings.from_env())
    if path is None:
        if not args.quiet:
            print("no model weights installed; run: python -m ecgreview model install [model.zip|model.hdf5|URL]")
        return 1
    if not args.quiet:
        identity = identify_weights(path)
        print(f"{path}\n  {identity.label}\n  sha256 {identity.sha256}\n  git blob sha1 {identity.git_blob_sha1}")
    return 0


def _model_install(args: argparse.Namespace) -> int:
    from ecgreview.weights import ZENODO_MODEL_URL, install_weights

    settings = Settings.from_env()
    models_dir = Path(args.models_dir) if args.models_dir else settings.models_dir
    installed = install_weights(args.source or ZENODO_MODEL_URL, models_dir, allow_unverified=args.allow_unverified)
    print(f"installed {installed}")
    backend = Settings.from_env().backend
    if backend != "tensorflow":
        from ecgreview.model import load_inference_model

        print("preparing the serving backend (one-off conversion for ONNX Runtime)…")
        model = load_inference_model(installed, backend=backend)
        print(f"ready: {model.provenance['backend']}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ecgreview.case import analyse_case
    from ecgreview.io import read_ecg
    from ecgreview.model import find_model, load_model

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


def _statements(args: argparse.Namespace) -> int:
    from ecgreview.io import list_case_files, read_ecg
    from ecgreview.statements import count_statements, is_rhythm_or_conduction, load_statement_table

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


def _users_add(args: argparse.Namespace) -> int:
    import getpass

    from ecgreview.auth import add_user

    settings = Settings.from_env()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass(f"Password for {args.name}: ")
    user = add_user(settings.users_path, args.name, password, args.role, replace=args.replace)
    print(f"{'updated' if args.replace else 'added'} {user.name} ({', '.join(sorted(user.roles))}) in {settings.users_path}")
    return 0


def _reproduce_paper(args: argparse.Namespace) -> int:
    from ecgreview.reproduce import reproduce_paper_main

    return reproduce_paper_main(Path(args.ribeiro_dir) if args.ribeiro_dir else None)


def _compare_predictions(args: argparse.Namespace) -> int:
    from ecgreview.reproduce import compare_predictions_main

    return compare_predictions_main(Path(args.reference), Path(args.other), out_dir=Path(args.out) if args.out else None)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ecgreview", description="ecgreview: 12-lead ECG review beside the Ribeiro et al. 2020 DNN")
    parser.add_argument("--version", action="version", version=f"ecgreview {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    model = commands.add_parser("model", help="install and inspect model weights").add_subparsers(dest="model_command", required=True)
    install = model.add_parser("install", help="install weights from model.zip, model.hdf5 or a URL (default: the Zenodo release)")
    install.add_argument("source", nargs="?", help="local model.zip / model.hdf5, or an http(s) URL")
    install.add_argument("--models-dir", help="install here instead of the configured models folder")
    install.add_argument("--allow-unverified", action="store_true",
                         help="install a model.hdf5 that is not the published release (shown as unverified)")
    install.set_defaults(handler=_model_install)
    status = model.add_parser("status", help="which weights the app would use, and whether they are verified")
    status.add_argument("--quiet", action="store_true", help="print nothing; exit 0 when weights are installed")
    status.set_defaults(handler=_model_status)

    users = commands.add_parser("users", help="the local user file (ECGREVIEW_AUTH=local)").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="add a user, or reset one with --replace (password asked, or read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", action="append", required=True, help="reader, adjudicator, teacher, student or admin (repeatable)")
    add.add_argument("--replace", action="store_true", help="reset an existing user's password and roles")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(handler=_users_add)

    predict = commands.add_parser("predict", help="print the DNN probabilities of ECG files")
    predict.add_argument("files", nargs="+")
    predict.set_defaults(handler=_predict)

    statements = commands.add_parser("statements", help="count the device statements in ECG files and folders, and which are unmapped")
    statements.add_argument("paths", nargs="+", help="ECG files or folders (searched recursively)")
    statements.add_argument("--table", help="statement mapping CSV (default: the bundled table)")
    statements.set_defaults(handler=_statements)

    reproduce = commands.add_parser("reproduce-paper", help="recompute the paper's tables from its published annotations and predictions")
    reproduce.add_argument("ribeiro_dir", nargs="?", help="folder with annotations/, dnn_predicts/, tables/ (default: the bundled copy)")
    reproduce.set_defaults(handler=_reproduce_paper)

    compare = commands.add_parser("compare-predictions", help="methods reproducibility: compare two prediction files (npy, csv, batch CSV)")
    compare.add_argument("reference")
    compare.add_argument("other")
    compare.add_argument("--out", help="folder for the text report, CSV and HTML figure")
    compare.set_defaults(handler=_compare_predictions)

    from ecgreview.audit import register_cli as register_audit
    from ecgreview.cohort_report import register_cli as register_evaluate
    from ecgreview.score import register_cli as register_score
    from ecgreview.study.cli import register_cli as register_study
    from ecgreview.study.padding import register_cli as register_padding

    register_score(commands)
    register_evaluate(commands)
    register_audit(commands)
    register_study(commands)
    register_padding(commands)
    from ecgreview.index_cli import register_cli as register_index

    register_index(commands)
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
