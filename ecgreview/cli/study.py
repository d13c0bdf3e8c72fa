"""``python -m ecgreview study create|plan|show|list|report``: reader-study designs (:mod:`ecgreview.study.design`).

``create`` records the analysis plan with the design (:mod:`ecgreview.study.plan`; ``--no-plan``
for none); ``plan`` replaces it while no reading exists; ``report`` writes the study report
(:mod:`ecgreview.study.study_report`, HTML and PDF).

Exit codes: 0 ok, 2 bad input (``path: reason`` on stderr).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from ecgreview.cli._arguments import non_negative_int
from ecgreview.errors import ConfigError, EcgReviewError

__all__ = ["read_case_ids", "register"]

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_MAX_LIST_BYTES = 16 * 1024 * 1024


def read_case_ids(path: str | Path) -> list[str]:
    """Case ids (``source_sha256``) from a folder of ECGs, or a CSV/text file listing them.

    A folder: every ECG file in it (read to get its SHA-256; unreadable files are an
    error). A ``.csv`` file: its ``source_sha256`` column. Any other file: one id a line
    (blank lines and ``#`` comments skipped).

    Raises
    ------
    EcgReviewError
        Missing, unreadable, or a value that is not 64 hex digits.
    """
    source = Path(path)
    if source.is_dir():
        from ecgreview.io import list_case_files, read_ecg

        return list(dict.fromkeys(read_ecg(file).source_sha256 for file in list_case_files(source)))
    try:
        if source.stat().st_size > _MAX_LIST_BYTES:
            raise EcgReviewError(source, f"case list is larger than {_MAX_LIST_BYTES // 2**20} MiB")
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise EcgReviewError(source, "no such file or folder") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise EcgReviewError(source, f"cannot read the case list: {exc}") from exc
    if source.suffix.lower() == ".csv":
        import io

        import pandas as pd

        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        if "source_sha256" not in table.columns:
            raise EcgReviewError(source, f"needs a source_sha256 column; columns are {', '.join(table.columns)}")
        values = [value.strip() for value in table["source_sha256"]]
    else:
        values = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for number, value in enumerate(values, start=1):
        if not _SHA256.fullmatch(value):
            raise EcgReviewError(source, f"entry {number}: expected a source_sha256 (64 hex digits), got {value[:70]!r}")
    return list(dict.fromkeys(value.lower() for value in values))


def _folder(args: argparse.Namespace) -> Path:
    from ecgreview.config import Settings
    from ecgreview.study.design import studies_dir

    return Path(args.studies_dir) if args.studies_dir else studies_dir(Settings.from_env())


def _plan(args: argparse.Namespace) -> Any:
    """The analysis plan the options describe (defaults: every class, both figures, the site's thresholds)."""
    from ecgreview.config import Settings, parse_thresholds
    from ecgreview.record import CLASSES
    from ecgreview.study.plan import AnalysisPlan

    readers_factor, cases_factor = args.analysis.split("-")
    thresholds = parse_thresholds(args.thresholds, source="--thresholds") if args.thresholds else \
        Settings.from_env().thresholds
    try:
        return AnalysisPlan(
            primary_classes=tuple(args.primary_class or CLASSES),
            figures_of_merit=tuple(args.figure_of_merit or ("sensitivity", "specificity")),
            reference_standard=args.reference_standard, reference_description=args.reference_description,
            possible_counts_as_positive=not args.definite_only, uncertain_as=args.uncertain_as,
            thresholds=tuple(thresholds), padding=args.padding, readers_factor=readers_factor,
            cases_factor=cases_factor, confidence=args.confidence, bootstrap_resamples=args.resamples,
            bootstrap_seed=args.bootstrap_seed)
    except ValueError as exc:
        raise ConfigError(None, f"analysis plan: {exc}") from exc


def _create(args: argparse.Namespace) -> int:
    from ecgreview.study.design import create_design, save_design

    cases = read_case_ids(args.cases)
    plan = None if args.no_plan else _plan(args)
    try:
        design = create_design(args.study_id, cases, args.reader, seed=args.seed, crossover=args.crossover,
                               washout_days=args.washout_days, plan=plan)
    except ValueError as exc:
        raise ConfigError(None, str(exc)) from exc
    path = save_design(design, _folder(args))
    layout = f"crossover, wash-out {design.washout_days} days" if design.crossover else "two-step (unaided, then aided)"
    print(f"created study {design.study_id}: {len(design.case_ids)} cases, {len(design.readers)} readers, {layout}, "
          f"seed {design.seed}\n{path}")
    _print_plan(design.plan)
    return 0


def _print_plan(plan: Any) -> None:
    if plan is None:
        print("analysis plan: none (every analysis of this study will be exploratory)")
        return
    print("analysis plan (frozen):")
    for item in plan.describe():
        print(f"  {item}")


def _replan(args: argparse.Namespace) -> int:
    from ecgreview.study.design import load_design, save_design
    from ecgreview.study.progress import replace_plan

    folder = _folder(args)
    design = load_design(args.study_id, folder)
    try:
        design = replace_plan(design, _plan(args), _reviews(args))
    except ValueError as exc:
        raise ConfigError(folder / f"{design.study_id}.json", str(exc)) from exc
    print(f"study {design.study_id}: analysis plan recorded\n{save_design(design, folder, replace=True)}")
    _print_plan(design.plan)
    return 0


def _reviews(args: argparse.Namespace) -> Any:
    from ecgreview.config import Settings
    from ecgreview.review.store import read_reviews

    return read_reviews(Path(args.reviews) if args.reviews else Settings.from_env().reviews_path)


def _report(args: argparse.Namespace) -> int:
    from ecgreview.config import Settings
    from ecgreview.study.design import load_design
    from ecgreview.study.plan import requested_choices
    from ecgreview.study.study_analysis import analyse_study
    from ecgreview.study.study_report import write_study_report

    design = load_design(args.study_id, _folder(args))
    reference = args.reference if args.reference is None or args.reference == "consensus" or \
        args.reference.startswith("reader:") else Path(args.reference)
    requested = requested_choices(design.plan, reference=reference, uncertain_as=args.uncertain_as,
                                  possible_counts_as_positive=None if args.definite_only is None else not args.definite_only)
    reviews = [Path(path) for path in args.reviews] if args.reviews else [Settings.from_env().reviews_path]
    try:
        analysis = analyse_study(reviews, design=design, requested=requested)
    except ValueError as exc:
        raise EcgReviewError(None, f"study {design.study_id}: {exc}") from exc
    for path in write_study_report(analysis, args.out):
        print(path)
    return 0


def _show(args: argparse.Namespace) -> int:
    from ecgreview.config import Settings
    from ecgreview.review.store import read_reviews
    from ecgreview.study.design import load_design
    from ecgreview.study.progress import progress

    design = load_design(args.study_id, _folder(args))
    reviews = read_reviews(Path(args.reviews) if args.reviews else Settings.from_env().reviews_path)
    layout = f"crossover, wash-out {design.washout_days} days" if design.crossover else "two-step"
    print(f"study {design.study_id}: {len(design.case_ids)} cases, {len(design.readers)} readers, {layout}, "
          f"seed {design.seed}, created {design.created_at_utc}")
    _print_plan(design.plan)
    for reader in design.readers:
        state = progress(design, reviews, reader)
        sessions = ", ".join(f"session {s.session} {s.done}/{s.total}" for s in state.sessions)
        if state.finished:
            upcoming = "finished"
        elif state.next_case_id:
            upcoming = f"next {state.next_case_id[:12]}… ({state.next_step})"
        else:
            upcoming = f"session 2 opens {state.waiting_until_utc:%Y-%m-%d %H:%M} UTC" if state.waiting_until_utc \
                else "waiting"
        print(f"  {reader!r}: {sessions}; {upcoming}")
        if args.orders:
            for session in design.sessions:
                print(f"    session {session}: " + " ".join(case[:12] for case in design.order(reader, session)))
    return 0


def _list(args: argparse.Namespace) -> int:
    from ecgreview.study.design import list_designs

    for study_id in list_designs(_folder(args)):
        print(study_id)
    return 0


def _plan_options(parser: argparse.ArgumentParser) -> None:
    """The options of an analysis plan (:class:`~ecgreview.study.plan.AnalysisPlan`)."""
    from ecgreview.record import CLASSES

    group = parser.add_argument_group("analysis plan (fixed before reading)")
    group.add_argument("--primary-class", action="append", choices=CLASSES,
                       help="class of a primary endpoint (repeat; default: every class)")
    group.add_argument("--figure-of-merit", action="append", choices=("sensitivity", "specificity"),
                       help="figure of merit of the primary endpoints (repeat; default: both)")
    group.add_argument("--reference-standard", default="consensus",
                       help="consensus (default), reader:<name>, or clinical (the CSV is given at analysis time)")
    group.add_argument("--reference-description", default="", help="the reference standard in words")
    group.add_argument("--definite-only", action="store_true",
                       help="'possible' device statements count as negative (default: positive)")
    group.add_argument("--uncertain-as", choices=("absent", "present", "exclude"), default="absent",
                       help="how an 'uncertain' reader call counts (default absent)")
    group.add_argument("--thresholds", help="DNN thresholds the readers are shown, six numbers in class order "
                                            "(default: the site's, ECGREVIEW_THRESHOLDS)")
    group.add_argument("--padding", choices=("centre", "end"), default="centre", help="model-input padding")
    group.add_argument("--analysis", choices=("random-random", "fixed-random", "random-fixed"),
                       default="random-random", help="OR-Hillis readers-cases factors (default random-random)")
    group.add_argument("--confidence", type=float, default=0.95, help="interval coverage (default 0.95)")
    group.add_argument("--resamples", type=non_negative_int, default=2000, help="secondary bootstrap resamples")
    group.add_argument("--bootstrap-seed", type=non_negative_int, default=0, help="secondary bootstrap seed")


def register(subparsers: Any) -> None:
    """Add ``study create|show|list`` to the CLI."""
    study = subparsers.add_parser("study", help="reader-study designs: cases, readers, seeded orders, crossover")
    commands = study.add_subparsers(dest="study_command", required=True)
    create = commands.add_parser("create", help="draw each reader's case order and save the design")
    create.add_argument("study_id", help="lowercase letters, digits, - and _")
    create.add_argument("--cases", required=True, help="folder of ECGs, a CSV with source_sha256, or a text file "
                                                       "of one source_sha256 a line")
    create.add_argument("--reader", action="append", required=True, help="reader name (repeat for each reader)")
    create.add_argument("--seed", type=non_negative_int, help="random seed (default: drawn and recorded)")
    create.add_argument("--crossover", action="store_true",
                        help="half the cases aided, half unaided in session 1, swapped in session 2")
    create.add_argument("--washout-days", type=non_negative_int, default=14, help="days between the sessions (default 14)")
    create.set_defaults(handler=_create)
    _plan_options(create)
    create.add_argument("--no-plan", action="store_true", help="record no analysis plan (analyses exploratory)")
    replan = commands.add_parser("plan", help="record the analysis plan of a study no one has read yet")
    replan.add_argument("study_id")
    replan.add_argument("--reviews", help="review CSV (default: the configured store)")
    _plan_options(replan)
    replan.set_defaults(handler=_replan)
    report = commands.add_parser("report", help="write the study report (HTML and PDF): plan, flow, OR-Hillis, "
                                                "figures, methods, provenance")
    report.add_argument("study_id")
    report.add_argument("--reviews", action="append", help="review CSV (repeat; default: the configured store)")
    report.add_argument("--out", required=True, help="folder for study_report.html and study_report.pdf")
    report.add_argument("--reference", help="reference for the pre-specified run when the plan names a clinical "
                                            "CSV; otherwise another reference makes a labelled sensitivity analysis")
    report.add_argument("--uncertain-as", choices=("absent", "present", "exclude"), default=None,
                        help="other than the plan's: a labelled sensitivity analysis")
    report.add_argument("--definite-only", action="store_true", default=None,
                        help="'possible' device statements negative (a sensitivity analysis if the plan says otherwise)")
    report.set_defaults(handler=_report)
    show = commands.add_parser("show", help="a design, its analysis plan and each reader's progress")
    show.add_argument("study_id")
    show.add_argument("--reviews", help="review CSV (default: the configured store)")
    show.add_argument("--orders", action="store_true", help="print every reader's case order")
    show.set_defaults(handler=_show)
    listing = commands.add_parser("list", help="saved study ids")
    listing.set_defaults(handler=_list)
    for parser in (create, replan, show, listing, report):
        parser.add_argument("--studies-dir", help="folder of designs (default: $ECGREVIEW_HOME/studies)")
