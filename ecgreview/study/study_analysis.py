"""A reader study analysed as it was planned: the plan's runs, the flow of cases and readers, deviations, provenance.

:func:`analyse_study` reads review CSVs and, with a :class:`~ecgreview.study.design.StudyDesign`,
keeps that study's readings (:func:`~ecgreview.study.progress.study_readings`: its readers and
cases, since it was created, no other study's sessions). With the design's
:class:`~ecgreview.study.plan.AnalysisPlan` it runs the pre-specified analysis and, where the
choices asked for differ, a labelled sensitivity analysis beside it
(:func:`~ecgreview.study.plan.analysis_runs`); without a plan, one exploratory run. Each run is
an :class:`~ecgreview.study.added_value.AddedValue`.

It also gives what a report of the study needs besides the numbers: the flow of cases and
readers (assigned, read, left out and why), deviations from the plan that the review rows show
(thresholds, padding, weights changed mid-study), and the provenance of every number (review
files' SHA-256, model weights, statement-map and app versions, analysis software versions).
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd

from ecgreview import __version__
from ecgreview.errors import ReviewStoreError
from ecgreview.record import CLASSES
from ecgreview.review._store_cells import thresholds_from_cell
from ecgreview.review.modes import AIDED, STUDY_ROW_MODES, UNAIDED
from ecgreview.review.protocol import clinical_readings
from ecgreview.review.store import latest_reviews
from ecgreview.study.added_value import AddedValue, analyse_cohort_added_value
from ecgreview.study.cohort import Cohort, _read_all, load_cohort
from ecgreview.study.design import StudyDesign
from ecgreview.study.plan import AnalysisChoices, AnalysisPlan, AnalysisRun, analysis_runs, requested_choices
from ecgreview.study.progress import study_readings

__all__ = ["StudyAnalysis", "analyse_study", "software_versions"]

_SOFTWARE = ("numpy", "scipy", "pandas", "matplotlib", "plotly")
_APP_PADDING = "centre"  # preprocess_ecg's padding: what the reading app gives the model


@dataclass(frozen=True)
class StudyAnalysis:
    """A study's added-value analysis with what a report needs beside the numbers.

    Attributes
    ----------
    design, plan : StudyDesign or None, AnalysisPlan or None
    runs : tuple of AddedValue
        The pre-specified (or, without a plan, exploratory) run first; then sensitivity analyses.
    cohort : Cohort
        The cohort of the first run (reference, DNN and device calls).
    flow : pandas.DataFrame
        ``stage``, ``count``, ``detail``: cases and readers assigned, read, left out and why.
    reader_flow : pandas.DataFrame
        Per reader: ``assigned``, ``both_readings``, ``unaided_only``, ``aided_only``, ``not_read``, ``status``.
    deviations : tuple of str
        Where the readings depart from the plan.
    provenance : pandas.DataFrame
        ``item``, ``value``, ``readings`` (how many study rows carry it; NaN for the analysis itself).
    analysed_at_utc : str
    """

    design: StudyDesign | None
    plan: AnalysisPlan | None
    runs: tuple[AddedValue, ...]
    cohort: Cohort
    flow: pd.DataFrame
    reader_flow: pd.DataFrame
    deviations: tuple[str, ...]
    provenance: pd.DataFrame
    analysed_at_utc: str

    @property
    def primary(self) -> AddedValue:
        """The pre-specified run (exploratory without a plan)."""
        return self.runs[0]

    @property
    def title(self) -> str:
        """``"study pilot"`` or ``"unaided/aided readings (no study design)"``."""
        return f"study {self.design.study_id}" if self.design else "unaided/aided readings (no study design)"


def software_versions() -> dict[str, str]:
    """Versions of the software that computes every number: ecgreview, Python and the numeric packages."""
    versions = {"ecgreview": __version__, "Python": platform.python_version()}
    for name in _SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _study_rows(rows: pd.DataFrame, design: StudyDesign | None) -> tuple[pd.DataFrame, int]:
    """The clinical unaided/aided rows of the study, and how many such rows of the files are left out."""
    clinical = clinical_readings(rows)
    candidates = clinical[clinical["reading_mode"].isin(STUDY_ROW_MODES)]
    if design is None:
        return candidates, 0
    kept = study_readings(design, candidates)
    return kept, len(candidates) - len(kept)


def _run(paths: Sequence[Path], rows: pd.DataFrame, run: AnalysisRun, plan: AnalysisPlan | None,
         options: dict[str, object]) -> tuple[Cohort, AddedValue]:
    choices = run.choices
    cohort = load_cohort(paths, reference=choices.reference,
                         possible_counts_as_positive=choices.possible_counts_as_positive)
    result = analyse_cohort_added_value(rows, cohort, uncertain_as=choices.uncertain_as, label=run.label,
                                        primary_endpoints=plan.primary_endpoints if plan and run.primary else (),
                                        **options)
    return cohort, result


def analyse_study(
    review_csvs: str | Path | Sequence[str | Path], *, design: StudyDesign | None = None,
    requested: AnalysisChoices | None = None, n_resamples: int = 2000, seed: int | None = 0,
    confidence: float = 0.95,
) -> StudyAnalysis:
    """Analyse a study's unaided/aided readings as its plan says (module docstring).

    Parameters
    ----------
    review_csvs : path or sequence of paths
        Review CSVs (:func:`~ecgreview.review.store.read_reviews`).
    design : StudyDesign, optional
        The study; its readings only, and its plan. None: every unaided/aided reading, exploratory.
    requested : AnalysisChoices, optional
        The choices asked for (reference, ``possible``, ``uncertain``;
        :func:`~ecgreview.study.plan.requested_choices`); default the plan's, or consensus. Where they differ from the plan they make a labelled sensitivity analysis.
    n_resamples, seed, confidence : int, int or None, float
        Bootstrap and coverage without a plan (a plan fixes its own).

    Raises
    ------
    ReviewStoreError
        A review CSV is missing or unreadable.
    ValueError
        No unaided/aided pair, a bad option, or the plan's clinical reference not given.
    """
    paths = [Path(review_csvs)] if isinstance(review_csvs, (str, Path)) else [Path(p) for p in review_csvs]
    plan = design.plan if design else None
    requested = requested or requested_choices(plan)
    options: dict[str, object] = {"n_resamples": n_resamples, "seed": seed, "confidence": confidence}
    if plan:
        options = {"n_resamples": plan.bootstrap_resamples, "seed": plan.bootstrap_seed,
                   "confidence": plan.confidence, "readers_factor": plan.readers_factor,
                   "cases_factor": plan.cases_factor}
    runs = analysis_runs(plan, requested)
    all_rows, _ = _read_all(paths)
    rows, outside = _study_rows(all_rows, design)
    results = [_run(paths, rows, run, plan, options) for run in runs]
    cohort, primary = results[0]
    flow, reader_flow = _flow(design, rows, outside, primary, cohort)
    return StudyAnalysis(design, plan, tuple(result for _, result in results), cohort, flow, reader_flow,
                         tuple(_deviations(plan, rows)), _provenance(rows, paths, design),
                         datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _reader_flow(design: StudyDesign | None, rows: pd.DataFrame, readers: Sequence[str]) -> pd.DataFrame:
    latest = latest_reviews(rows, by=("source_sha256", "reader", "reading_mode"))
    modes = latest.groupby(["reader", "source_sha256"])["reading_mode"].agg(frozenset)
    names = list(design.readers) if design else list(dict.fromkeys(rows["reader"]))
    table = []
    for reader in names:
        mine = modes[modes.index.get_level_values("reader") == reader] if len(modes) else modes
        both = int(sum(m >= {UNAIDED, AIDED} for m in mine))
        unaided, aided = int(sum(m == {UNAIDED} for m in mine)), int(sum(m == {AIDED} for m in mine))
        assigned = len(design.case_ids) if design else both + unaided + aided
        status = "included" if reader in readers else "excluded: no case read both unaided and aided"
        table.append({"reader": reader, "assigned": assigned, "both_readings": both, "unaided_only": unaided,
                      "aided_only": aided, "not_read": assigned - both - unaided - aided, "status": status})
    return pd.DataFrame(table, columns=["reader", "assigned", "both_readings", "unaided_only", "aided_only",
                                        "not_read", "status"])


def _flow(design: StudyDesign | None, rows: pd.DataFrame, outside: int, result: AddedValue,
          cohort: Cohort) -> tuple[pd.DataFrame, pd.DataFrame]:
    readers = _reader_flow(design, rows, result.readers)
    cases = len(design.case_ids) if design else int(rows["source_sha256"].nunique())
    flow = [("Cases in the design" if design else "Cases with an unaided or aided reading", cases,
             "" if design else "no study design: every unaided/aided reading of the review files"),
            ("Readers", len(readers), ", ".join(readers["reader"])),
            ("Reader × case readings assigned", int(readers["assigned"].sum()), ""),
            ("Both readings saved (unaided, then aided)", int(readers["both_readings"].sum()), "analysed"),
            ("Unaided reading only", int(readers["unaided_only"].sum()), "the aided reading was not saved; left out"),
            ("Aided reading only", int(readers["aided_only"].sum()), "no unaided reading; left out"),
            ("Not read", int(readers["not_read"].sum()), "")]
    if design:
        flow.append(("Unaided/aided rows outside this study left out", outside,
                     "other cases, readers or studies, or saved before the design was created"))
    excluded = readers[readers["status"] != "included"]
    flow.append(("Readers analysed", len(result.readers), "; ".join(
        f"{row.reader}: {row.status}" for row in excluded.itertuples()) or "every reader"))
    status = cohort.reference_status.reindex(list(result.cases))
    for name in CLASSES:
        undecided = status[name][~status[name].isin(("present", "absent"))].fillna("not read")
        reasons = ", ".join(f"{why} {count}" for why, count in undecided.value_counts().items())
        flow.append((f"{name}: analysed cases with a reference", len(status) - len(undecided),
                     f"no reference: {reasons}" if reasons else "every analysed case"))
        line = result.mrmc[result.mrmc["class"] == name].iloc[0]
        flow.append((f"{name}: cases in OR–Hillis", int(line["cases"]),
                     f"read by every reader in both modes with a counted call; {int(line['excluded_cases'])} left out"))
    return pd.DataFrame(flow, columns=["stage", "count", "detail"]), readers


def _deviations(plan: AnalysisPlan | None, rows: pd.DataFrame) -> list[str]:
    """Departures from the plan that the review rows show."""
    notes = []
    models = rows["model_sha256"].replace("", pd.NA).dropna().unique() if "model_sha256" in rows else []
    if len(models) > 1:
        notes.append(f"the DNN weights changed during the study: {len(models)} weights files (model_sha256)")
    if plan is None:
        return notes
    planned = tuple(plan.thresholds)
    stored = rows["thresholds"].fillna("").replace("", pd.NA).dropna() if "thresholds" in rows else pd.Series()
    differing = [text for text in stored.unique() if thresholds_from_cell(str(text)) != planned]
    if differing:
        count = int(stored.isin(differing).sum())
        notes.append(f"{count} reading(s) were shown other DNN thresholds than the plan's "
                     f"({'; '.join(str(text) for text in differing[:3])})")
    if plan.padding != _APP_PADDING:
        notes.append(f"the plan specifies {plan.padding} padding; the reading app pads the model input at the "
                     f"{_APP_PADDING}")
    return notes


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ReviewStoreError(path, f"cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def _provenance(rows: pd.DataFrame, paths: Sequence[Path], design: StudyDesign | None) -> pd.DataFrame:
    """Where every number comes from: files, weights, versions (item, value, readings)."""
    items: list[tuple[str, str, float]] = [("review file", f"{path.name} sha256 {_file_sha256(path)}", float("nan"))
                                           for path in paths]
    labels = {"model_sha256": "model weights sha256", "model_name": "model weights file",
              "model_status": "model weights status", "statement_map_version": "statement-map version",
              "app_version": "ecgreview version at reading", "thresholds": "DNN thresholds at reading"}
    for column, label in labels.items():
        values = rows[column].fillna("").replace("", "(none)") if column in rows else pd.Series(dtype=str)
        items += [(label, str(value), float(count)) for value, count in values.value_counts().items()]
    if design is not None:
        items.append(("study design", f"{design.study_id}, created {design.created_at_utc}, seed {design.seed}",
                      float("nan")))
        if design.plan is not None:
            items.append(("analysis plan sha256", design.plan.fingerprint, float("nan")))
    items += [(f"analysis software: {name}", version, float("nan")) for name, version in software_versions().items()]
    return pd.DataFrame(items, columns=["item", "value", "readings"])
