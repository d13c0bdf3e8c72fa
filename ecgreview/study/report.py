"""Files of the added-value analysis (``evaluate --added-value``): text, CSVs and plotly figures.

The text comes from :mod:`ecgreview.study.report_text` (:func:`format_added_value`,
:func:`format_study`: the OR–Hillis table first, the bootstrap as a labelled secondary).
:func:`write_study_outputs` writes a whole :class:`~ecgreview.study.study_analysis.StudyAnalysis`
(its pre-specified run, any sensitivity analysis, the flow and the provenance);
:func:`write_added_value_outputs` one run. The HTML and PDF study report is
:mod:`ecgreview.study.study_report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go

from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.study._export import write_table
from ecgreview.study.added_value import AddedValue
from ecgreview.study.report_text import format_added_value, format_operating_points, format_study

if TYPE_CHECKING:
    from ecgreview.study.study_analysis import StudyAnalysis

__all__ = ["format_added_value", "format_operating_points", "format_study", "load_added_value",
           "study_operating_points", "study_roc_figure", "write_added_value_outputs", "write_study_outputs"]

def load_added_value(
    review_csvs: str | Path | Sequence[str | Path], *, reference: str | Path = "consensus",
    possible_counts_as_positive: bool = True, **options: object,
) -> tuple[object, AddedValue]:
    """Load the cohort of ``review_csvs`` (:func:`~ecgreview.study.cohort.load_cohort`) and analyse its study rows.

    ``options`` go to :func:`~ecgreview.study.added_value.analyse_added_value`
    (``uncertain_as``, ``n_resamples``, ``confidence``, ``seed``).

    Returns
    -------
    (Cohort, AddedValue)

    Raises
    ------
    ReviewStoreError, EcgReviewError
        As :func:`~ecgreview.study.cohort.load_cohort`.
    ValueError
        A bad reference or option, or no unaided/aided pair.
    """
    from ecgreview.study.added_value import analyse_cohort_added_value
    from ecgreview.study.cohort import _read_all, load_cohort

    paths = [review_csvs] if isinstance(review_csvs, (str, Path)) else list(review_csvs)
    cohort = load_cohort(paths, reference=reference, possible_counts_as_positive=possible_counts_as_positive)
    rows, _ = _read_all(paths)
    return cohort, analyse_cohort_added_value(rows, cohort, **options)


def study_operating_points(cohort: object, result: AddedValue, *, target_sensitivity: float = 0.9) -> pd.DataFrame:
    """:func:`~ecgreview.study.operating_points.operating_points` of the DNN on the study's cases,
    at the paper's thresholds (:data:`~ecgreview.record.THRESHOLDS`)."""
    from ecgreview.study.operating_points import operating_points

    cases = list(result.cases)
    return operating_points(cohort.reference.reindex(cases), cohort.probabilities.reindex(cases),  # type: ignore[attr-defined]
                            thresholds=THRESHOLDS, target_sensitivity=target_sensitivity)


def study_roc_figure(cohort: object, result: AddedValue, *, target_sensitivity: float = 0.9) -> go.Figure:
    """:func:`~ecgreview.study.figures.roc_figure` of the DNN on the study's cases (paper thresholds marked)."""
    from ecgreview.study.figures import roc_figure

    cases = list(result.cases)
    return roc_figure(cohort.reference.reindex(cases), cohort.probabilities.reindex(cases),  # type: ignore[attr-defined]
                      thresholds=THRESHOLDS, target_sensitivity=target_sensitivity,
                      title=f"DNN on the {len(cases)} study cases; reference: {result.reference_label}")


def _tables(result: AddedValue) -> tuple[tuple[str, pd.DataFrame], ...]:
    return (("mrmc.csv", result.mrmc), ("mrmc_readers.csv", result.mrmc_readers),
            ("fleiss_kappa_by_mode.csv", result.agreement), ("added_value.csv", result.scores),
            ("added_value_counts.csv", result.counts), ("changes.csv", result.changes),
            ("confidence_time.csv", result.confidence_time), ("alone.csv", result.alone))


def _threshold_note(cohort: object) -> str:
    in_use = tuple(cohort.thresholds)  # type: ignore[attr-defined]
    return "" if in_use == tuple(THRESHOLDS) else (
        "note: the reviews used thresholds " + ", ".join(f"{name} {t:g}" for name, t in zip(CLASSES, in_use))
        + "; the DNN calls above use them, the operating points the paper's\n")


def _figures(result: AddedValue, cohort: object, folder: Path, target_sensitivity: float) -> list[str]:
    from ecgreview.study.figures import added_value_figure

    study_roc_figure(cohort, result, target_sensitivity=target_sensitivity).write_html(
        folder / "roc.html", include_plotlyjs=True)
    added_value_figure(result).write_html(folder / "added_value.html", include_plotlyjs=True)
    return ["roc.html", "added_value.html"]


def write_added_value_outputs(result: AddedValue, cohort: object, out_dir: str | Path, *,
                              target_sensitivity: float = 0.9) -> list[str]:
    """Write added_value.txt, mrmc.csv, mrmc_readers.csv, fleiss_kappa_by_mode.csv, added_value.csv,
    added_value_counts.csv, changes.csv, confidence_time.csv, alone.csv, operating_points.csv,
    roc.html and added_value.html; returns the file names."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in _tables(result):
        write_table(table, folder / name)
    points = study_operating_points(cohort, result, target_sensitivity=target_sensitivity)
    write_table(points, folder / "operating_points.csv", index=True)
    (folder / "added_value.txt").write_text(format_added_value(result) + "\n" + format_operating_points(points)
                                            + _threshold_note(cohort), encoding="utf-8")
    figures = _figures(result, cohort, folder, target_sensitivity)
    return ["added_value.txt", *(name for name, _ in _tables(result)), "operating_points.csv", *figures]


def write_study_outputs(analysis: StudyAnalysis, out_dir: str | Path, *, target_sensitivity: float = 0.9) -> list[str]:
    """Write a study's analysis: added_value.txt (:func:`format_study`: plan, deviations, flow, every run,
    provenance), the primary run's CSVs (as :func:`write_added_value_outputs`), each sensitivity
    analysis's as ``sensitivity_<n>_<name>.csv``, flow.csv, reader_flow.csv, provenance.csv and the
    figures; returns the file names."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for number, run in enumerate(analysis.runs):
        prefix = "" if number == 0 else f"sensitivity_{number}_"
        for name, table in _tables(run):
            write_table(table, folder / f"{prefix}{name}")
            written.append(f"{prefix}{name}")
    for name, table in (("flow.csv", analysis.flow), ("reader_flow.csv", analysis.reader_flow),
                        ("provenance.csv", analysis.provenance)):
        write_table(table, folder / name)
        written.append(name)
    points = study_operating_points(analysis.cohort, analysis.primary, target_sensitivity=target_sensitivity)
    write_table(points, folder / "operating_points.csv", index=True)
    (folder / "added_value.txt").write_text(format_study(analysis) + "\n" + format_operating_points(points)
                                            + _threshold_note(analysis.cohort), encoding="utf-8")
    figures = _figures(analysis.primary, analysis.cohort, folder, target_sensitivity)
    return ["added_value.txt", *written, "operating_points.csv", *figures]
