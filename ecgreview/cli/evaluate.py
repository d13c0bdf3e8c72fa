"""``python -m ecgreview evaluate REVIEWS.csv... --out DIR``: the cohort study, and the added-value analysis."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ecgreview.cli._arguments import non_negative_int
from ecgreview.cli._output import print_failure
from ecgreview.errors import EcgReviewError, ReviewStoreError
from ecgreview.study.cohort import CONSENSUS, Cohort, load_cohort
from ecgreview.study.plan import UNCERTAIN_OPTIONS
from ecgreview.study.cohort_report import (
    cohort_table,
    discordant_cases,
    format_table,
    inter_reader_kappa,
    table_title,
    unmapped_statements,
    write_outputs,
)
from ecgreview.study.report import write_study_outputs


def evaluate_main(
    review_csvs: Sequence[str | Path], *, reference: str | Path = CONSENSUS, out_dir: str | Path,
    published: str | Path | None = None, possible_counts_as_positive: bool = True, out: TextIO | None = None,
) -> int:
    """CLI body of ``evaluate``: print Table 1 and write every output to ``out_dir``.

    Writes table1.txt/.csv, kappa.csv, fleiss_kappa.csv, discordant.csv, unmapped_statements.csv and
    figure1.html (plotly.js embedded, opens offline), .png and .svg.

    Returns
    -------
    int
        0 ok; 1 when the PNG/SVG export failed (HTML written, reason on stderr); 2 on bad
        input or no reviews (``path: reason`` on stderr).
    """
    out = sys.stdout if out is None else out
    try:
        try:
            cohort = load_cohort(review_csvs, reference=reference,
                                 possible_counts_as_positive=possible_counts_as_positive)
        except ValueError as exc:  # the reference argument
            raise EcgReviewError(None, str(exc)) from exc
        if cohort.cases.empty:
            raise ReviewStoreError(review_csvs[0] if len(review_csvs) == 1 else None, "no reviews to evaluate")
        table = cohort_table(cohort, published=published)
        text = format_table(table, title=table_title(cohort),
                            notes=cohort.notes)
        out.write(text)
        problems = write_outputs(cohort, table, text, Path(out_dir))
    except (EcgReviewError, OSError) as exc:
        return print_failure(exc, fallback=out_dir)
    _summary(cohort, Path(out_dir), out)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _summary(cohort: Cohort, out_dir: Path, out: TextIO) -> None:
    kappa = inter_reader_kappa(cohort)
    unmapped = unmapped_statements(cohort)
    out.write(f"Readers: {len(cohort.readers)}; kappa pairs: {kappa[['reader_a', 'reader_b']].drop_duplicates().shape[0]}"
              f"; discordant case-classes: {len(discordant_cases(cohort))}; unmapped statements: {len(unmapped)}"
              + (" (" + "; ".join(unmapped["statement"].head(5)) + ")" if len(unmapped) else "") + "\n")
    out.write(f"Wrote {out_dir}: table1.txt, table1.csv, kappa.csv, fleiss_kappa.csv, discordant.csv, "
              "unmapped_statements.csv, figure1.html/.png/.svg\n")


def _reference_argument(value: str) -> str | Path:
    return value if value == CONSENSUS or value.startswith("reader:") else Path(value)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand to ``python -m ecgreview``."""
    parser = subparsers.add_parser("evaluate", help="cohort study from review CSVs: Table 1, Figure 1, kappa, "
                                                    "discordant cases")
    parser.add_argument("reviews", nargs="+", help="review CSV(s) saved by the app")
    parser.add_argument("--reference", default=None, type=_reference_argument,
                        help="'consensus' (default; with --study: the plan's), 'reader:<name>', or a clinical-diagnosis "
                             "CSV (source_sha256 or case_pseudonym, one 0/1 column per class)")
    parser.add_argument("--out", required=True, help="folder for table1.txt/.csv, kappa.csv (Cohen, with CIs), "
                                                     "fleiss_kappa.csv (3+ readers), discordant.csv, "
                                                     "unmapped_statements.csv, figure1.html/.png/.svg")
    parser.add_argument("--published", help="published-DNN probabilities CSV (prob_<class> or class columns, "
                                            "plus source_sha256 or case_pseudonym)")
    parser.add_argument("--definite-only", action="store_true", default=None,
                        help="count only 'definite' device statements as positive (default: 'possible' too, or "
                             "the study plan's choice)")

    add_added_value_options(parser)
    parser.set_defaults(handler=with_added_value(lambda args: evaluate_main(
        args.reviews, reference=_table_reference(args), out_dir=args.out, published=args.published,
        possible_counts_as_positive=not args.definite_only)))


def _table_reference(args: argparse.Namespace) -> str | Path:
    """Table 1's reference: as given, else the study plan's (when it names no CSV), else consensus."""
    if args.reference is not None:
        return args.reference
    if getattr(args, "study", None):
        try:
            plan = _design(args.study, args.studies_dir).plan
        except EcgReviewError:
            return CONSENSUS  # the added-value step reports the missing design
        if plan is not None and plan.reference_standard != "clinical":
            return plan.reference_standard
    return CONSENSUS


def _design(study: str, studies_dir: str | None) -> Any:
    from ecgreview.config import Settings
    from ecgreview.study.design import load_design, studies_dir as default_dir

    return load_design(study, Path(studies_dir) if studies_dir else default_dir(Settings.from_env()))


def added_value_main(
    review_csvs: Sequence[str | Path], *, reference: str | Path | None, out_dir: str | Path,
    possible_counts_as_positive: bool | None = None, uncertain_as: str | None = None, n_resamples: int | None = None,
    seed: int | None = None, target_sensitivity: float = 0.9, study: str | None = None,
    studies_dir: str | None = None, out: TextIO | None = None,
) -> int:
    """CLI body of ``evaluate --added-value``: print the analysis, write its files to ``out_dir``.

    With ``study`` the study's readings are analysed as its plan says: the pre-specified run, and a
    labelled sensitivity analysis for any choice given here that differs from the plan
    (:func:`~ecgreview.study.study_analysis.analyse_study`). Choices left None come from the plan.

    Returns 0, or 2 on bad input (``path: reason`` on stderr).
    """
    from ecgreview.study.plan import requested_choices
    from ecgreview.study.study_analysis import analyse_study

    out = sys.stdout if out is None else out
    try:
        design = _design(study, studies_dir) if study else None
        plan = design.plan if design else None
        if plan is not None and (n_resamples is not None or seed is not None):
            print(f"note: the plan of study {study} fixes the bootstrap ({plan.bootstrap_resamples} resamples, seed "
                  f"{plan.bootstrap_seed}); --resamples and --seed are not used", file=sys.stderr)
        requested = requested_choices(plan, reference=reference, possible_counts_as_positive=possible_counts_as_positive,
                                      uncertain_as=uncertain_as)
        try:
            analysis = analyse_study(review_csvs, design=design, requested=requested,
                                     n_resamples=2000 if n_resamples is None else n_resamples,
                                     seed=0 if seed is None else seed)
        except ValueError as exc:
            raise EcgReviewError(None, f"added value: {exc}") from exc
        written = write_study_outputs(analysis, out_dir, target_sensitivity=target_sensitivity)
        out.write("\n" + (Path(out_dir) / "added_value.txt").read_text(encoding="utf-8"))
    except (EcgReviewError, OSError) as exc:
        return print_failure(exc, fallback=out_dir)
    out.write(f"Wrote {out_dir}: {', '.join(written)}\n")
    return 0


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}")
    return value


def _resamples(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to 100000, got {text!r}")
    return int(text)


def add_added_value_options(parser: argparse.ArgumentParser) -> None:
    """The ``evaluate`` options of the added-value analysis (:mod:`ecgreview.study.report`)."""
    group = parser.add_argument_group("added value (unaided vs aided reader study)")
    group.add_argument("--added-value", action="store_true",
                       help="also analyse unaided vs aided readings: OR-Hillis per class (primary) and per reader, "
                            "bootstrap CIs (secondary), call changes, Fleiss kappa, confidence and time, DNN/device "
                            "alone, operating points; writes added_value.txt, mrmc.csv, added_value.csv, "
                            "changes.csv, flow.csv, provenance.csv, roc.html and more to --out")
    group.add_argument("--study", help="analyse this study's readings as its pre-specified plan says (a choice "
                                       "given here that differs from the plan becomes a labelled sensitivity "
                                       "analysis beside it)")
    group.add_argument("--studies-dir", help="folder of study designs (default: $ECGREVIEW_HOME/studies)")
    group.add_argument("--uncertain-as", choices=UNCERTAIN_OPTIONS, default=None,
                       help="how an 'uncertain' reader call counts (default: the plan's, else absent)")
    group.add_argument("--resamples", type=_resamples, default=None,
                       help="bootstrap resamples without a plan (default 2000)")
    group.add_argument("--seed", type=non_negative_int, default=None, help="bootstrap seed without a plan (default 0)")
    group.add_argument("--target-sensitivity", type=_fraction, default=0.9,
                       help="report the threshold reaching this sensitivity (default 0.9; shown, never applied)")


def with_added_value(evaluate: Any) -> Any:
    """Wrap the ``evaluate`` handler: run it, then the added-value analysis when asked; worst exit code wins."""
    def handler(args: argparse.Namespace) -> int:
        code = evaluate(args)
        if not getattr(args, "added_value", False) or code == 2:
            return code

        possible = None if args.definite_only is None else not args.definite_only
        added = added_value_main(args.reviews, reference=args.reference, out_dir=args.out,
                                 possible_counts_as_positive=possible,
                                 uncertain_as=args.uncertain_as, n_resamples=args.resamples, seed=args.seed,
                                 target_sensitivity=args.target_sensitivity, study=args.study,
                                 studies_dir=args.studies_dir)
        return max(code, added)

    return handler
