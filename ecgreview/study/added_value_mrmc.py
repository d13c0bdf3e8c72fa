"""The primary analysis of the added-value study: OR–Hillis per class, per reader, and reader agreement per mode.

For each class, the readers' binary calls in the two modes go to
:func:`ecgreview.study.mrmc.analyse_mrmc` in its long layout (reader, treatment ``aided`` or
``unaided``, case, truth, call), once per figure of merit (sensitivity, specificity). That
analysis needs a factorial design, so per class it takes the cases with a reference that every
reader read in both modes with a counted call (with ``uncertain`` excluded, a case where any
reading is uncertain drops out of that class); the others are counted as excluded. With fewer
than 2 readers, or fewer than 2 positive and 2 negative such cases, it is not computed and the
row says why in words.

* :func:`or_hillis_by_class`: per class and figure, unaided and aided (reader-averaged, each
  with the CI from its own treatment's data) and aided − unaided with its CI, df, t and p, from
  the analysis chosen (random readers and cases by default: Hillis 2007 df); per reader, each
  figure and the difference with normal (z) CIs from the jackknife covariance over cases.
* :func:`fleiss_by_mode`: Fleiss' kappa of all readers per class in each mode (3 or more
  readers), over the cases every reader decided, with the subject bootstrap of
  :func:`~ecgreview.study.agreement.fleiss_kappa`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ecgreview.record import CLASSES
from ecgreview.review.modes import AIDED, UNAIDED
from ecgreview.study.agreement import FLEISS_CI_METHOD, fleiss_kappa
from ecgreview.study.mrmc import analyse_mrmc

__all__ = ["ClassGrid", "MRMC_COLUMNS", "PER_READER_METHOD", "fleiss_by_mode", "or_hillis_by_class",
           "or_hillis_method"]

#: Columns of :func:`or_hillis_by_class`'s class table.
MRMC_COLUMNS: tuple[str, ...] = (
    "class", "figure_of_merit", "primary", "readers", "cases", "positive_cases", "negative_cases", "excluded_cases",
    "unaided", "unaided_low", "unaided_high", "unaided_df", "aided", "aided_low", "aided_high", "aided_df",
    "difference", "difference_low", "difference_high", "standard_error", "df", "t", "p_value", "ci_method",
    "not_computed")
#: How the per-reader intervals are computed.
PER_READER_METHOD = "normal (z), jackknife covariance over cases (this reader; readers fixed, cases random)"
_TREATMENTS = (AIDED, UNAIDED)  # analyse_mrmc's difference is the first minus the second: aided − unaided


class ClassGrid(NamedTuple):
    """One class of the study: ``truth`` (cases,) 1.0/0.0/NaN; per mode the ``raw`` calls (readers, cases)
    as text (``""`` unread) and the counted ``calls`` (readers, cases) 1.0/0.0/NaN."""

    truth: np.ndarray
    raw: Mapping[str, np.ndarray]
    calls: Mapping[str, np.ndarray]


def or_hillis_method(readers_factor: str, cases_factor: str, confidence: float) -> str:
    """E.g. ``"95% CI, OR–Hillis (random readers, random cases), jackknife covariance; t on Hillis (2007) df"``."""
    tail = "t on Hillis (2007) df" if (readers_factor, cases_factor) == ("random", "random") else (
        "normal (z)" if readers_factor == "fixed" else "t on (t − 1)(r − 1) df")
    return (f"{confidence * 100:g}% CI, OR–Hillis ({readers_factor} readers, {cases_factor} cases), "
            f"jackknife covariance over cases; {tail}")


def _long_layout(grid: ClassGrid, readers: Sequence[str], cases: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """The long layout of the complete cases, and how many study cases were left out."""
    complete = ~np.isnan(grid.truth)
    for mode in _TREATMENTS:
        complete &= ~np.isnan(grid.calls[mode]).any(axis=0)
    kept = np.flatnonzero(complete)
    frames = []
    for mode in _TREATMENTS:
        values = grid.calls[mode][:, kept]
        frames.append(pd.DataFrame({
            "reader": np.repeat(np.asarray(readers, dtype=object), len(kept)), "treatment": mode,
            "case": np.tile(np.asarray(cases, dtype=object)[kept], len(readers)),
            "truth": np.tile(grid.truth[kept], len(readers)), "call": values.ravel()}))
    return pd.concat(frames, ignore_index=True), len(cases) - len(kept)


def _why_not(base: Mapping[str, object]) -> str:
    """Why OR–Hillis cannot run on a class, in words; ``""`` when it can."""
    if base["readers"] == 1:
        return "one reader; the analysis needs 2 or more (the per-reader bootstrap is below)"
    if base["cases"] == 0:
        return "no case with a reference was read by every reader in both modes"
    positives, negatives = base["positive_cases"], base["negative_cases"]
    if positives < 2 or negatives < 2:  # type: ignore[operator]
        return (f"{positives} positive and {negatives} negative cases read by every reader in both modes; the case "
                "jackknife needs at least 2 of each")
    return ""


def _figure_rows(name: str, figure: str, frame: pd.DataFrame, base: dict[str, object], *, readers_factor: str,
                 cases_factor: str, confidence: float) -> tuple[dict[str, object], list[dict[str, object]]]:
    """One class-table row and the per-reader rows of one class and figure of merit."""
    row = dict.fromkeys(MRMC_COLUMNS, math.nan) | base | {"figure_of_merit": figure, "not_computed": ""}
    reason = _why_not(base)
    if reason:
        return row | {"not_computed": f"OR–Hillis not computed: {reason}"}, []
    try:
        result = analyse_mrmc(frame, figure_of_merit=figure, confidence=confidence)
    except ValueError as exc:
        return row | {"not_computed": f"OR–Hillis not computed: {exc}"}, []
    analysis = result.analysis(readers=readers_factor, cases=cases_factor)
    for estimate in analysis.treatments:
        row |= {estimate.treatment: estimate.estimate, f"{estimate.treatment}_low": estimate.ci_low,
                f"{estimate.treatment}_high": estimate.ci_high, f"{estimate.treatment}_df": estimate.degrees_of_freedom}
    difference = analysis.differences[0]
    row |= {"difference": difference.estimate, "difference_low": difference.ci_low,
            "difference_high": difference.ci_high, "standard_error": difference.standard_error,
            "df": difference.degrees_of_freedom, "t": difference.statistic, "p_value": difference.p_value}
    per_reader = result.tables()["readers"].set_index(["reader", "treatment"])
    readers = []
    for item in result.reader_differences:
        line: dict[str, object] = {"class": name, "figure_of_merit": figure, "reader": item.reader}
        for mode in _TREATMENTS:
            cell = per_reader.loc[(item.reader, mode)]
            line |= {mode: float(cell[figure]), f"{mode}_low": float(cell["ci_low"]),
                     f"{mode}_high": float(cell["ci_high"])}
        readers.append(line | {"difference": item.estimate, "difference_low": item.ci_low,
                               "difference_high": item.ci_high, "p_value": item.p_value,
                               "ci_method": f"{confidence * 100:g}% CI, {PER_READER_METHOD}"})
    return row, readers


def or_hillis_by_class(
    grids: Mapping[str, ClassGrid], readers: Sequence[str], cases: Sequence[str], *,
    figures_of_merit: Sequence[str] = ("sensitivity", "specificity"), readers_factor: str = "random",
    cases_factor: str = "random", confidence: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """OR–Hillis per class and figure of merit, and per reader (module docstring).

    Returns
    -------
    classes : pandas.DataFrame
        :data:`MRMC_COLUMNS`; ``primary`` False (set by the caller from the plan);
        ``not_computed`` the reason in words where the analysis could not run (the numbers NaN).
    readers : pandas.DataFrame
        class, figure_of_merit, reader, unaided, aided (each with _low/_high), difference
        (+ _low/_high), p_value, ci_method.
    """
    method = or_hillis_method(readers_factor, cases_factor, confidence)
    rows, reader_rows = [], []
    for name in CLASSES:
        frame, excluded = _long_layout(grids[name], readers, cases)
        first = frame[frame["treatment"] == AIDED].drop_duplicates("case")
        base = {"class": name, "primary": False, "readers": len(readers), "cases": len(first),
                "positive_cases": int((first["truth"] == 1).sum()), "negative_cases": int((first["truth"] == 0).sum()),
                "excluded_cases": excluded, "ci_method": method}
        for figure in figures_of_merit:
            row, per_reader = _figure_rows(name, figure, frame, base, readers_factor=readers_factor,
                                           cases_factor=cases_factor, confidence=confidence)
            rows.append(row)
            reader_rows += per_reader
    reader_columns = ["class", "figure_of_merit", "reader", *(f"{mode}{suffix}" for mode in (UNAIDED, AIDED)
                                                               for suffix in ("", "_low", "_high")),
                      "difference", "difference_low", "difference_high", "p_value", "ci_method"]
    return pd.DataFrame(rows, columns=list(MRMC_COLUMNS)), pd.DataFrame(reader_rows, columns=reader_columns)


def fleiss_by_mode(grids: Mapping[str, ClassGrid], readers: Sequence[str], *, confidence: float = 0.95,
                   n_resamples: int = 2000, seed: int | None = 0) -> pd.DataFrame:
    """Fleiss' kappa of all readers per class, unaided and aided, over the cases every reader decided.

    Returns
    -------
    pandas.DataFrame
        class, mode, readers, cases, kappa, ci_low, ci_high, ci_method, undefined (the reason, or
        ``""``); no rows with fewer than three readers (Cohen's kappa is the measure for two).
    """
    columns = ["class", "mode", "readers", "cases", "kappa", "ci_low", "ci_high", "ci_method", "undefined"]
    if len(readers) < 3:
        return pd.DataFrame(columns=columns)
    method = f"{confidence * 100:g}% CI, {FLEISS_CI_METHOD}, {n_resamples} resamples, seed {seed}"
    rows = []
    for name in CLASSES:
        for mode in (UNAIDED, AIDED):
            raw = grids[name].raw[mode]
            decided = np.isin(raw, ("present", "absent")).all(axis=0)
            row: dict[str, object] = {"class": name, "mode": mode, "readers": len(readers),
                                      "cases": int(decided.sum()), "kappa": math.nan, "ci_low": math.nan,
                                      "ci_high": math.nan, "ci_method": method,
                                      "undefined": "no case decided by every reader"}
            if decided.any():
                present = (raw[:, decided] == "present").sum(axis=0)
                result = fleiss_kappa(np.column_stack([len(readers) - present, present]), confidence=confidence,
                                      n_resamples=n_resamples, seed=seed)
                row |= {"kappa": result.kappa, "ci_low": result.ci_low, "ci_high": result.ci_high,
                        "undefined": "chance agreement is 1 (one label throughout)" if result.undefined else ""}
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)
