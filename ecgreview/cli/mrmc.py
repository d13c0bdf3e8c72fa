"""``python -m ecgreview mrmc RATINGS.csv``: the Obuchowski–Rockette–Hillis MRMC analysis of a reader study.

RATINGS.csv is the long layout MRMCaov, RJafroc and iMRMC take: one row per reader × treatment
(or modality) × case with ``truth`` (0/1) and a ``rating`` or a binary ``call``. The analysis is
:func:`ecgreview.study.mrmc.analyse_mrmc`; this module reads the file and prints the results.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from ecgreview.cli._output import print_failure
from ecgreview.errors import EcgReviewError
from ecgreview.security.spreadsheet import write_csv
from ecgreview.study.mrmc import FactorAnalysis, MrmcResult, TreatmentDifference, analyse_mrmc

_FIGURES = {"auc": "auc", "sens": "sensitivity", "spec": "specificity"}
_TITLES = {"auc": "empirical (trapezoidal) AUC", "sensitivity": "sensitivity", "specificity": "specificity"}
_COVARIANCES = {"jackknife": "jackknife over cases", "delong": "DeLong et al. (1988)"}
_HEADINGS = {("random", "random"): "Random readers, random cases (Hillis 2007 denominator df)",
             ("fixed", "random"): "Fixed readers, random cases (chi-squared and z)",
             ("random", "fixed"): "Random readers, fixed cases (treatment × reader ANOVA)"}


def read_ratings(path: str | Path) -> pd.DataFrame:
    """The ratings CSV as strings (empty cells missing); :class:`EcgReviewError` when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise EcgReviewError(path, "no such file")
    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise EcgReviewError(path, f"not a readable CSV ({exc})") from exc
    return frame.rename(columns=lambda name: str(name).strip())


def _number(value: float, digits: int = 4) -> str:
    if math.isnan(value):
        return "n/a"
    return "normal" if math.isinf(value) else f"{value:.{digits}f}"


def _interval(low: float, high: float) -> str:
    return f"{_number(low)} to {_number(high)}"


def _difference_line(difference: TreatmentDifference, confidence_percent: str) -> str:
    name = "z" if math.isinf(difference.degrees_of_freedom) else "t"
    df = "" if math.isinf(difference.degrees_of_freedom) else f", df = {_number(difference.degrees_of_freedom)}"
    return (f"{difference.treatment_a} - {difference.treatment_b}: {_number(difference.estimate)} "
            f"({confidence_percent} CI {_interval(difference.ci_low, difference.ci_high)}), "
            f"{name} = {_number(difference.statistic)}{df}, p = {_number(difference.p_value)}")


def _analysis_lines(analysis: FactorAnalysis, figure: str, confidence_percent: str) -> list[str]:
    test = analysis.test
    lines = ["", _HEADINGS[(analysis.readers, analysis.cases)],
             f"  {'Treatment':<12} {figure:>8} {'Std err':>8} {'df':>8}  {confidence_percent} CI"]
    lines += [f"  {row.treatment:<12} {_number(row.estimate):>8} {_number(row.standard_error):>8} "
              f"{_number(row.degrees_of_freedom, 2):>8}  {_interval(row.ci_low, row.ci_high)}"
              for row in analysis.treatments]
    lines += [f"  Difference {_difference_line(row, confidence_percent)}" for row in analysis.differences]
    if test.statistic_name == "F":
        lines.append(f"  F = {_number(test.statistic)}, df1 = {test.numerator_df:g}, "
                     f"df2 = {_number(test.denominator_df)}, p = {_number(test.p_value)}")
    else:
        lines.append(f"  Chi-squared = {_number(test.statistic)}, df = {test.numerator_df:g}, p = {_number(test.p_value)}")
    return lines


def format_mrmc_report(result: MrmcResult, *, source: str = "") -> str:
    """The analysis as text: every figure, difference, CI, F/chi-squared, df and p with four decimals."""
    percent = f"{result.confidence * 100:g}%"
    figure = "AUC" if result.figure_of_merit == "auc" else result.figure_of_merit.capitalize()[:8]
    cases = result.positive_cases + result.negative_cases
    lines = [f"MRMC analysis (Obuchowski–Rockette–Hillis){': ' + source if source else ''}",
             f"Figure of merit: {_TITLES[result.figure_of_merit]}; covariance: {_COVARIANCES[result.covariance_method]}",
             f"{len(result.readers)} readers × {len(result.treatments)} treatments × {cases} cases "
             f"({result.positive_cases} positive, {result.negative_cases} negative)"]
    for analysis in result.analyses:
        lines += _analysis_lines(analysis, figure, percent)
    components = result.components
    correlations = components.correlations()
    lines += ["", "OR variance components and error covariances (ANOVA estimates; can be negative)",
              f"  var(R) = {components.reader:.8f}, var(T×R) = {components.treatment_by_reader:.8f}, "
              f"var(error) = {components.error:.8f}",
              "  " + ", ".join(f"Cov{k} = {value:.8f} (r = {_number(correlation)})" for k, (value, correlation) in
                               enumerate(zip((components.covariance_1, components.covariance_2,
                                              components.covariance_3), correlations), 1)),
              "", f"Per reader (cases random; normal {percent} CIs from the case covariance)"]
    lines += [f"  Reader {row['reader']} treatment {row['treatment']}: {_number(row[result.figure_of_merit])} "
              f"(std err {_number(row['standard_error'])}; {percent} CI {_interval(row['ci_low'], row['ci_high'])})"
              for row in result.tables()["readers"].to_dict("records")]
    lines += [f"  Reader {row.reader}, difference {_difference_line(row, percent)}" for row in result.reader_differences]
    return "\n".join(lines) + "\n"


def mrmc_main(ratings_csv: str | Path, *, figure_of_merit: str = "auc", positive_from: float | None = None,
              covariance_method: str = "jackknife", out_dir: str | Path | None = None,
              out: TextIO | None = None) -> int:
    """CLI body: analyse ``ratings_csv``, print the report, write the tables to ``out_dir``.

    Returns 0, or 2 on bad input (``path: reason`` on stderr).
    """
    out = sys.stdout if out is None else out
    try:
        ratings = read_ratings(ratings_csv)
        try:
            result = analyse_mrmc(ratings, figure_of_merit=figure_of_merit, positive_from=positive_from,
                                  covariance_method=covariance_method)
        except ValueError as exc:
            raise EcgReviewError(ratings_csv, str(exc)) from exc
        text = format_mrmc_report(result, source=Path(ratings_csv).name)
        out.write(text)
        if out_dir is not None:
            folder = Path(out_dir)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "mrmc.txt").write_text(text, encoding="utf-8")
            for name, table in result.tables().items():
                write_csv(table, folder / f"mrmc_{name}.csv")
            out.write(f"Wrote {folder}: mrmc.txt, " + ", ".join(f"mrmc_{name}.csv" for name in result.tables()) + "\n")
    except (EcgReviewError, OSError) as exc:
        return print_failure(exc, fallback=ratings_csv)
    return 0


def register(subparsers: Any) -> None:
    """Add ``mrmc`` (exit 0 ok, 2 bad input)."""
    parser = subparsers.add_parser(
        "mrmc", help="Obuchowski–Rockette–Hillis MRMC analysis of a reader study (long layout: reader, treatment, "
                     "case, truth, rating or call)")
    parser.add_argument("ratings", help="CSV: one row per reader × treatment (or modality) × case with truth (0/1) "
                                        "and rating (numeric) or call (0/1)")
    parser.add_argument("--fom", choices=tuple(_FIGURES), default="auc",
                        help="figure of merit: empirical AUC (default), sensitivity or specificity of binary calls")
    parser.add_argument("--positive-from", type=float, default=None, metavar="K",
                        help="for sens/spec on ratings: rating >= K counts as positive (default: the call column)")
    parser.add_argument("--covariance", choices=("jackknife", "delong"), default="jackknife",
                        help="covariance of the figures over cases (default jackknife; DeLong for the AUC only)")
    parser.add_argument("--out", help="folder for mrmc.txt and the tables as CSV")
    parser.set_defaults(handler=lambda args: mrmc_main(
        args.ratings, figure_of_merit=_FIGURES[args.fom], positive_from=args.positive_from,
        covariance_method=args.covariance, out_dir=args.out))
