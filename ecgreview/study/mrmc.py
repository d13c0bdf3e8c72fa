"""Obuchowski–Rockette–Hillis (OR–Hillis) analysis of a multi-reader multi-case (MRMC) study.

Input is the standard long layout that MRMCaov, RJafroc and iMRMC take: one row per reader ×
treatment (modality) × case, with ``truth`` (0/1) and a ``rating`` (ordinal or continuous;
higher = more likely positive) or a binary ``call``. Every reader reads every case in every
treatment (a factorial design).

* **Figures of merit** per reader and treatment: the empirical (trapezoidal, Mann–Whitney, ties
  one half) AUC of the ratings; sensitivity or specificity of binary calls (a ``call`` column,
  or ``rating >= positive_from``).
* **Covariances** of the figures over cases: the jackknife (default; case-deletion estimates
  θ₍ₖ₎, cov = (c − 1)/c · Σₖ (θ₍ₖ₎ − θ̄)(θ₍ₖ₎ − θ̄)ᵀ over the c cases the figure depends on: all
  cases for the AUC, the positive (negative) ones for sensitivity (specificity), as in MRMCaov)
  or, for the AUC, DeLong et al. (1988). Cov1 (same reader, other treatment), Cov2 (other reader, same treatment) and
  Cov3 (other reader, other treatment) are averages of that matrix (Obuchowski & Rockette 1995).
* **Three analyses** (Hillis 2007, Stat Med 26:596; Hillis, Berbaum & Metz 2008, Acad Radiol
  15:647), as printed by OR-DBM MRMC and MRMCaov: random readers and random cases
  (F = MS(T) / [MS(T×R) + r·max(Cov2 − Cov3, 0)] on t − 1 and Hillis' ddf), fixed readers and random
  cases (chi-squared), random readers and fixed cases (F on (t − 1)(r − 1) df). Per treatment the
  reader-averaged figure with its CI from that treatment's data only; per reader each figure and
  each treatment difference with normal (z) CIs from the case covariance. Intervals are clipped to
  the figure's range ([0, 1]; differences [−1, 1]), as MRMCaov does.

Validated against the Van Dyke et al. (1993) data (``ecgreview/data/mrmc``): the OR-DBM MRMC 2.51
output and the MRMCaov documentation (``tests/study/test_mrmc.py``). Pure numpy/scipy; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from ecgreview.study._mrmc_data import (
    average_covariances,
    covariance_over_cases,
    figures_and_deletions,
    mean_squares,
    ratings_grid,
)

__all__ = ["ANALYSES", "COVARIANCE_METHODS", "FIGURES_OF_MERIT", "FactorAnalysis", "GlobalTest", "MrmcResult",
           "TreatmentDifference", "TreatmentEstimate", "VarianceComponents", "analyse_mrmc"]

#: Figures of merit of :func:`analyse_mrmc`.
FIGURES_OF_MERIT: tuple[str, ...] = ("auc", "sensitivity", "specificity")
#: Covariance methods of :func:`analyse_mrmc` (DeLong: AUC only).
COVARIANCE_METHODS: tuple[str, ...] = ("jackknife", "delong")
#: The analyses, as (readers, cases) factor types.
ANALYSES: tuple[tuple[str, str], ...] = (("random", "random"), ("fixed", "random"), ("random", "fixed"))


@dataclass(frozen=True)
class TreatmentEstimate:
    """A treatment's reader-averaged figure of merit with its confidence interval.

    ``degrees_of_freedom`` is ``inf`` where the interval is normal (z) rather than t.
    """

    treatment: str
    estimate: float
    standard_error: float
    degrees_of_freedom: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class TreatmentDifference:
    """``treatment_a − treatment_b`` over all readers (``reader`` None) or for one reader.

    ``statistic`` is t (finite ``degrees_of_freedom``) or z (``inf``); the p-value is two-sided.
    """

    treatment_a: str
    treatment_b: str
    reader: str | None
    estimate: float
    standard_error: float
    degrees_of_freedom: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class GlobalTest:
    """Test of equal treatment figures of merit: F (``denominator_df`` finite) or chi-squared (``inf``)."""

    statistic_name: str
    statistic: float
    numerator_df: float
    denominator_df: float
    error_term: float
    p_value: float


@dataclass(frozen=True)
class FactorAnalysis:
    """One analysis: ``readers`` and ``cases`` are ``"random"`` or ``"fixed"``."""

    readers: str
    cases: str
    test: GlobalTest
    differences: tuple[TreatmentDifference, ...]
    treatments: tuple[TreatmentEstimate, ...]

    @property
    def label(self) -> str:
        """E.g. ``"random readers, random cases"``."""
        return f"{self.readers} readers, {self.cases} cases"


@dataclass(frozen=True)
class VarianceComponents:
    """OR variance components and error covariances (ANOVA estimates: they can be negative)."""

    reader: float
    treatment_by_reader: float
    error: float
    covariance_1: float
    covariance_2: float
    covariance_3: float

    def correlations(self) -> tuple[float, float, float]:
        """Cov1, Cov2, Cov3 divided by the error variance."""
        return tuple(value / self.error if self.error else math.nan  # type: ignore[return-value]
                     for value in (self.covariance_1, self.covariance_2, self.covariance_3))


@dataclass(frozen=True)
class MrmcResult:
    """An OR–Hillis analysis: figures of merit, ANOVA, variance components and the three analyses.

    ``figures`` has shape (treatments, readers); ``covariance`` is the (t·r, t·r) covariance of
    the figures over cases, treatment-major (index ``treatment * r + reader``).
    ``mean_squares`` holds ``"treatment"``, ``"reader"``, ``"treatment_by_reader"`` and
    ``"reader|<treatment>"`` (the reader mean square within each treatment).
    """

    figure_of_merit: str
    covariance_method: str
    treatments: tuple[str, ...]
    readers: tuple[str, ...]
    positive_cases: int
    negative_cases: int
    figures: np.ndarray
    covariance: np.ndarray
    mean_squares: Mapping[str, float]
    components: VarianceComponents
    analyses: tuple[FactorAnalysis, ...]
    reader_differences: tuple[TreatmentDifference, ...]
    confidence: float

    def analysis(self, *, readers: str = "random", cases: str = "random") -> FactorAnalysis:
        """The analysis with these factor types (``"random"`` or ``"fixed"``; not both fixed)."""
        for analysis in self.analyses:
            if (analysis.readers, analysis.cases) == (readers, cases):
                return analysis
        raise ValueError(f"readers/cases must be one of {ANALYSES}, got {(readers, cases)!r}")

    def tables(self) -> dict[str, pd.DataFrame]:
        """The results as frames, one row per item.

        ``readers`` (reader × treatment: figure, standard error, normal CI from the case
        covariance), ``treatments`` and ``differences`` (per analysis; per-reader differences with
        ``readers`` "fixed" and a reader named), ``tests`` (per analysis), ``components`` (the ANOVA
        mean squares, OR variance components and covariances with their correlations).
        """
        z = _quantile(self.confidence, math.inf)
        errors = np.sqrt(np.clip(np.diag(self.covariance), 0, None)).reshape(self.figures.shape)
        readers = pd.DataFrame([{"reader": reader, "treatment": treatment, self.figure_of_merit: self.figures[i, j],
                                 "standard_error": errors[i, j], "ci_low": max(self.figures[i, j] - z * errors[i, j], 0),
                                 "ci_high": min(self.figures[i, j] + z * errors[i, j], 1)}
                                for j, reader in enumerate(self.readers) for i, treatment in enumerate(self.treatments)])
        factors = [{"readers": a.readers, "cases": a.cases} for a in self.analyses]
        treatments = pd.DataFrame([{**kind, **vars(row)} for kind, a in zip(factors, self.analyses) for row in a.treatments])
        differences = pd.DataFrame([{**kind, **vars(row)} for kind, a in zip(factors, self.analyses)
                                    for row in a.differences]
                                   + [{"readers": "fixed", "cases": "random", **vars(row)} for row in self.reader_differences])
        tests = pd.DataFrame([{**kind, **vars(a.test)} for kind, a in zip(factors, self.analyses)])
        components = self.components
        labels = {"treatment": "MS(T)", "reader": "MS(R)", "treatment_by_reader": "MS(T×R)"}
        rows = [(labels.get(name, f"MS(R) in treatment {name.removeprefix('reader|')}"), value, math.nan)
                for name, value in self.mean_squares.items()]
        rows += [("var(R)", components.reader, math.nan), ("var(T×R)", components.treatment_by_reader, math.nan),
                 ("var(error)", components.error, math.nan)]
        rows += [(f"Cov{k}", value, correlation) for k, (value, correlation) in enumerate(zip(
            (components.covariance_1, components.covariance_2, components.covariance_3), components.correlations()), 1)]
        return {"readers": readers, "treatments": treatments, "differences": differences, "tests": tests,
                "components": pd.DataFrame(rows, columns=["component", "estimate", "correlation"])}


def _quantile(confidence: float, degrees_of_freedom: float) -> float:
    tail = 0.5 + confidence / 2
    return float(stats.norm.ppf(tail) if math.isinf(degrees_of_freedom) else stats.t.ppf(tail, degrees_of_freedom))


def _difference(a: str, b: str, reader: str | None, estimate: float, variance: float, degrees_of_freedom: float,
                confidence: float) -> TreatmentDifference:
    error = math.sqrt(max(variance, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = float(np.divide(estimate, error))
    tail = stats.norm.sf(abs(statistic)) if math.isinf(degrees_of_freedom) else stats.t.sf(abs(statistic),
                                                                                           degrees_of_freedom)
    half = _quantile(confidence, degrees_of_freedom) * error
    return TreatmentDifference(a, b, reader, estimate, error, degrees_of_freedom, statistic, float(2 * tail),
                               max(estimate - half, -1.0), min(estimate + half, 1.0))


def _estimate(name: str, estimate: float, variance: float, degrees_of_freedom: float,
              confidence: float) -> TreatmentEstimate:
    error = math.sqrt(max(variance, 0.0))
    half = _quantile(confidence, degrees_of_freedom) * error
    return TreatmentEstimate(name, estimate, error, degrees_of_freedom, max(estimate - half, 0.0),
                             min(estimate + half, 1.0))


def _hillis_df(error_term: float, mean_square: float, df: float) -> float:
    """Satterthwaite-type df of an error term whose only random mean square is ``mean_square`` (Hillis 2007)."""
    return math.inf if mean_square == 0 else error_term**2 / (mean_square**2 / df)


def _factor_analyses(figures: np.ndarray, covariance: np.ndarray, squares: Mapping[str, float],
                     treatments: tuple[str, ...], confidence: float) -> tuple[FactorAnalysis, ...]:
    """The three analyses of Hillis (2007) / OR-DBM MRMC: RRRC, FRRC, RRFC."""
    t, r = figures.shape
    error, cov1, cov2, cov3 = average_covariances(covariance, t, r)
    interaction, df_interaction = squares["treatment_by_reader"], (t - 1) * (r - 1)
    terms = {("random", "random"): (interaction + r * max(cov2 - cov3, 0.0), None),
             ("fixed", "random"): (error - cov1 + (r - 1) * max(cov2 - cov3, 0.0), math.inf),
             ("random", "fixed"): (interaction, float(df_interaction))}
    means, analyses = figures.mean(axis=1), []
    for (readers, cases), (term, df) in terms.items():
        df = _hillis_df(term, interaction, df_interaction) if df is None else df
        with np.errstate(divide="ignore", invalid="ignore"):
            statistic = float(np.divide(squares["treatment"], term)) * (t - 1 if math.isinf(df) else 1)
        p_value = float(stats.chi2.sf(statistic, t - 1) if math.isinf(df) else stats.f.sf(statistic, t - 1, df))
        test = GlobalTest("chi-squared" if math.isinf(df) else "F", statistic, t - 1, df, term, p_value)
        differences = tuple(_difference(treatments[a], treatments[b], None, float(means[a] - means[b]), 2 / r * term,
                                        df, confidence) for a, b in combinations(range(t), 2))
        analyses.append(FactorAnalysis(readers, cases, test, differences,
                                       _single_treatments(figures, covariance, squares, treatments, (readers, cases),
                                                          confidence)))
    return tuple(analyses)


def _single_treatments(figures: np.ndarray, covariance: np.ndarray, squares: Mapping[str, float],
                       treatments: tuple[str, ...], factors: tuple[str, str], confidence: float
                       ) -> tuple[TreatmentEstimate, ...]:
    """Each treatment's mean and CI from that treatment's data only (reader ANOVA, its Cov2 and error variance)."""
    t, r = figures.shape
    estimates = []
    for index, name in enumerate(treatments):
        error, _, cov2, _ = average_covariances(covariance, t, r, treatment=index)
        reader_square = squares[f"reader|{name}"]
        if factors == ("random", "random"):
            term = reader_square + r * max(cov2, 0.0)
            df = _hillis_df(term, reader_square, r - 1)
        elif factors == ("fixed", "random"):
            term, df = error + (r - 1) * max(cov2, 0.0), math.inf
        else:
            term, df = reader_square, float(r - 1)
        estimates.append(_estimate(name, float(figures[index].mean()), term / r, df, confidence))
    return tuple(estimates)


def _reader_differences(figures: np.ndarray, covariance: np.ndarray, treatments: tuple[str, ...],
                        readers: tuple[str, ...], confidence: float) -> tuple[TreatmentDifference, ...]:
    """Per reader and pair of treatments: the difference with var_a + var_b − 2 cov_ab (z; cases random)."""
    r = len(readers)
    rows = []
    for j, reader in enumerate(readers):
        for a, b in combinations(range(len(treatments)), 2):
            first, second = a * r + j, b * r + j
            variance = covariance[first, first] + covariance[second, second] - 2 * covariance[first, second]
            rows.append(_difference(treatments[a], treatments[b], reader, float(figures[a, j] - figures[b, j]),
                                    float(variance), math.inf, confidence))
    return tuple(rows)


def analyse_mrmc(
    ratings: pd.DataFrame, *, figure_of_merit: str = "auc", covariance_method: str = "jackknife",
    positive_from: float | None = None, confidence: float = 0.95,
) -> MrmcResult:
    """OR–Hillis analysis of an MRMC study in the long layout.

    Parameters
    ----------
    ratings : pandas.DataFrame
        One row per reader × treatment × case: columns ``reader``, ``treatment`` (or
        ``modality``), ``case``, ``truth`` (0/1, fixed per case) and ``rating`` (numeric, higher
        = more likely positive) and/or ``call`` (0/1). Labels keep their order of first appearance.
    figure_of_merit : {"auc", "sensitivity", "specificity"}, default "auc"
        Empirical (trapezoidal) AUC of the ratings, or sensitivity/specificity of binary calls.
    covariance_method : {"jackknife", "delong"}, default "jackknife"
        How the figures' covariances over cases are estimated; DeLong for the AUC only.
    positive_from : float, optional
        For sensitivity/specificity: ``rating >= positive_from`` counts as a positive call
        (instead of a ``call`` column).
    confidence : float, default 0.95
        Coverage of every interval, in (0, 1).

    Returns
    -------
    MrmcResult

    Raises
    ------
    ValueError
        Naming the problem: missing columns or reader × treatment × case cells, duplicate rows,
        truth not 0/1 or not fixed per case, one class only, fewer than 2 readers or treatments,
        unknown options.
    """
    if figure_of_merit not in FIGURES_OF_MERIT:
        raise ValueError(f"figure_of_merit must be one of {FIGURES_OF_MERIT}, got {figure_of_merit!r}")
    if covariance_method not in COVARIANCE_METHODS:
        raise ValueError(f"covariance_method must be one of {COVARIANCE_METHODS}, got {covariance_method!r}")
    if covariance_method == "delong" and figure_of_merit != "auc":
        raise ValueError(f"covariance_method 'delong' applies to the AUC only, not to {figure_of_merit}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    values, truth, treatments, readers = ratings_grid(ratings, figure_of_merit, positive_from)
    figures, deleted, delong = figures_and_deletions(values, truth, figure_of_merit)
    covariance = covariance_over_cases(deleted, delong if covariance_method == "delong" else None)
    squares = mean_squares(figures, treatments)
    t, r = figures.shape
    error, cov1, cov2, cov3 = average_covariances(covariance, t, r)
    components = VarianceComponents(reader=(squares["reader"] - squares["treatment_by_reader"]) / t - cov1 + cov3,
                                    treatment_by_reader=squares["treatment_by_reader"] - error + cov1 + cov2 - cov3,
                                    error=error, covariance_1=cov1, covariance_2=cov2, covariance_3=cov3)
    return MrmcResult(figure_of_merit, covariance_method, treatments, readers, int(truth.sum()),
                      int((truth == 0).sum()), figures, covariance, squares, components,
                      _factor_analyses(figures, covariance, squares, treatments, confidence),
                      _reader_differences(figures, covariance, treatments, readers, confidence), confidence)
