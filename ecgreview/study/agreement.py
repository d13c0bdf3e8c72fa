"""Agreement between raters: Cohen's kappa (two raters) and Fleiss' kappa (any number), with CIs.

* **Cohen's kappa** κ = (p_o − p_e) / (1 − p_e), p_o the observed agreement and p_e the agreement
  expected from the two raters' own marginal rates (Cohen 1960). Its interval is Wald, κ ± z·SE,
  with the large-sample (non-null) standard error of Fleiss, Cohen & Everitt (1969), the "ASE"
  that SAS PROC FREQ and statsmodels print, clipped to [−1, 1]. At κ = 1 that SE is 0: the
  interval is then [1, 1], a known weakness of the Wald interval on few cases.
* **Fleiss' kappa** (Fleiss 1971) for N subjects each rated by the same number n ≥ 2 of raters
  into K categories: overall, and per category κ_j = 1 − Σᵢ nᵢⱼ(n − nᵢⱼ) / (N n (n − 1) p_j q_j).
  The standard error of Fleiss, Nee & Landis (1979) holds under κ = 0 and serves testing only,
  so the interval is a **percentile bootstrap over subjects** (cases resampled with replacement,
  all their ratings together; seeded). Resamples in which kappa is undefined are left out.

Validated against published numbers in ``tests/study/test_agreement.py``: SAS's printout for a
3 × 3 table (κ 0.4842, ASE 0.1380, 95 % CI 0.2137 to 0.7547) and Fleiss' (1971) psychiatric
diagnoses of 30 patients by 6 raters (κ = 0.430; per category 0.245, 0.245, 0.520, 0.471, 0.566).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from ecgreview.study._labels import _check_inputs, _divide, _nan_percentiles, _shape_like

__all__ = ["COHEN_CI_METHOD", "FLEISS_CI_METHOD", "FleissKappaResult", "KappaResult", "cohen_kappa",
           "cohen_kappa_table", "fleiss_kappa"]

#: How :func:`cohen_kappa` computes its interval (shown beside every printed interval).
COHEN_CI_METHOD = "Wald, large-sample SE of Fleiss, Cohen & Everitt (1969)"
#: How :func:`fleiss_kappa` computes its interval.
FLEISS_CI_METHOD = "percentile bootstrap over subjects (cases)"
_RESAMPLES_PER_CHUNK = 256


@dataclass(frozen=True)
class KappaResult:
    """Cohen's kappa per class (arrays of shape (K,), or 0-d), with its agreement terms and CI.

    Kappa is undefined (``undefined`` True, ``kappa`` and its interval NaN) when the chance
    agreement is 1, i.e. both raters gave one and the same label to every sample.
    """

    kappa: np.ndarray
    observed_agreement: np.ndarray
    chance_agreement: np.ndarray
    undefined: np.ndarray
    standard_error: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    confidence: float
    ci_method: str = COHEN_CI_METHOD


def _check_confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _cohen_from_tables(tables: np.ndarray, confidence: float) -> tuple[np.ndarray, ...]:
    """Kappa, p_o, p_e, undefined, SE, CI low and high of count tables of shape (C, K, K) (rater a × rater b)."""
    z = _check_confidence(confidence)
    total = tables.sum(axis=(1, 2))
    shares = tables / total[:, None, None]
    rows, columns = shares.sum(axis=2), shares.sum(axis=1)  # marginal rates of rater a, rater b
    observed = np.trace(shares, axis1=1, axis2=2)
    chance = (rows * columns).sum(axis=1)
    kappa, undefined = _divide(observed - chance, 1 - chance, "undefined")
    # Fleiss, Cohen & Everitt (1969): var = (A + B − C) / (N (1 − p_e)²)
    diagonal = np.diagonal(shares, axis1=1, axis2=2)
    agreeing = (diagonal * (1 - (rows + columns) * (1 - kappa)[:, None]) ** 2).sum(axis=1)
    crossed = columns[:, :, None] + rows[:, None, :]  # p.i + pj. for cell (i, j)
    off_diagonal = shares * (1 - np.eye(shares.shape[1]))
    disagreeing = (1 - kappa) ** 2 * (off_diagonal * crossed**2).sum(axis=(1, 2))
    correction = (kappa - chance * (1 - kappa)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = (agreeing + disagreeing - correction) / (total * (1 - chance) ** 2)
    error = np.where(undefined, math.nan, np.sqrt(np.clip(variance, 0, None)))
    return (kappa, observed, chance, undefined, error, np.maximum(kappa - z * error, -1.0),
            np.minimum(kappa + z * error, 1.0))


def cohen_kappa(rater_a: npt.ArrayLike, rater_b: npt.ArrayLike, *, confidence: float = 0.95) -> KappaResult:
    """Cohen's kappa between two raters' 0/1 labels, per class, with its Wald CI.

    Parameters
    ----------
    rater_a, rater_b : array-like of 0/1, shape (N,) or (N, K)
    confidence : float, default 0.95
        Coverage of the interval (see :data:`COHEN_CI_METHOD`), in (0, 1).

    Returns
    -------
    KappaResult
        Arrays of shape (K,), or 0-d for 1-D input.
    """
    first, second = _check_inputs(rater_a, rater_b, names=("rater_a", "rater_b"))
    one_class = np.ndim(rater_a) == 1
    tables = np.stack([[((first == a) & (second == b)).sum(axis=0) for b in (0, 1)] for a in (0, 1)])
    values = _cohen_from_tables(np.moveaxis(tables, -1, 0).astype(float), confidence)
    return _kappa_result([_shape_like(value, one_class) for value in values], confidence)


def cohen_kappa_table(table: npt.ArrayLike, *, confidence: float = 0.95) -> KappaResult:
    """Cohen's kappa of a K × K agreement table (rows rater a, columns rater b, cells counts).

    Returns
    -------
    KappaResult
        0-d arrays.
    """
    counts = np.asarray(table, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] < 2:
        raise ValueError(f"table must be a square K × K table with K >= 2, got shape {counts.shape}")
    if not np.isfinite(counts).all() or (counts < 0).any() or counts.sum() == 0:
        raise ValueError("table must hold non-negative counts, not all zero")
    values = _cohen_from_tables(counts[None], confidence)
    return _kappa_result([value.reshape(()) for value in values], confidence)


def _kappa_result(values: list[np.ndarray], confidence: float) -> KappaResult:
    kappa, observed, chance, undefined, error, low, high = values
    return KappaResult(kappa=kappa, observed_agreement=observed, chance_agreement=chance, undefined=undefined,
                       standard_error=error, ci_low=low, ci_high=high, confidence=confidence)


@dataclass(frozen=True)
class FleissKappaResult:
    """Fleiss' kappa, overall and per category (``category_*``: arrays of shape (K,)), with bootstrap CIs.

    ``undefined`` is True when the chance agreement is 1 (every rating in one category); a
    category's kappa is NaN when no rating or every rating falls in it. ``undefined_resamples``
    counts bootstrap resamples in which the overall kappa was undefined (left out).
    """

    kappa: float
    observed_agreement: float
    chance_agreement: float
    undefined: bool
    ci_low: float
    ci_high: float
    category_kappa: np.ndarray
    category_ci_low: np.ndarray
    category_ci_high: np.ndarray
    subjects: int
    raters: int
    confidence: float
    n_resamples: int
    undefined_resamples: int
    ci_method: str = FLEISS_CI_METHOD


def _check_counts(counts: npt.ArrayLike) -> tuple[np.ndarray, int]:
    values = np.asarray(counts)
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] < 2:
        raise ValueError(f"counts must be (subjects, categories) with at least one subject and two categories, "
                         f"got shape {values.shape}")
    if values.dtype.kind not in "biuf" or not np.isfinite(values).all() or (values < 0).any() or \
            (values != np.round(values)).any():
        raise ValueError("counts must hold non-negative whole numbers of raters")
    raters = values.sum(axis=1)
    if (raters != raters[0]).any() or raters[0] < 2:
        raise ValueError(f"counts must give every subject the same number (>= 2) of ratings; rows sum to "
                         f"{sorted(set(raters.astype(int).tolist()))[:5]}")
    return values.astype(float), int(raters[0])


def _fleiss_terms(counts: np.ndarray, raters: int, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Kappa, P̄, P̄e (shape (B,)) and category kappas (B, K) for subject weights of shape (B, N)."""
    subjects = weights.sum(axis=1)
    scale = subjects * raters
    shares = weights @ counts / scale[:, None]
    agreement = weights @ (((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))) / subjects
    chance = (shares**2).sum(axis=1)
    kappa, _ = _divide(agreement - chance, 1 - chance, "undefined")
    disagreement = weights @ (counts * (raters - counts))
    share_spread = shares * (1 - shares)
    ratio, _ = _divide(disagreement, scale[:, None] * (raters - 1) * share_spread, "undefined")
    return kappa, agreement, chance, 1 - ratio


def fleiss_kappa(
    counts: npt.ArrayLike, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int | None = 0,
) -> FleissKappaResult:
    """Fleiss' kappa of N subjects rated by n raters each into K categories, with bootstrap CIs.

    Parameters
    ----------
    counts : array-like of int, shape (N, K)
        ``counts[i, j]``: how many raters put subject i in category j; every row sums to n >= 2.
    confidence : float, default 0.95
        Coverage of the intervals (see :data:`FLEISS_CI_METHOD`), in (0, 1).
    n_resamples : int, default 2000
        Bootstrap resamples of the subjects.
    seed : int or None, default 0
        Seed of ``numpy.random.default_rng``: the same data give the same interval.

    Returns
    -------
    FleissKappaResult
    """
    values, raters = _check_counts(counts)
    _check_confidence(confidence)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    kappa, agreement, chance, categories = _fleiss_terms(values, raters, np.ones((1, len(values))))
    rng, resampled, resampled_categories = np.random.default_rng(seed), [], []
    for start in range(0, n_resamples, _RESAMPLES_PER_CHUNK):
        size = min(_RESAMPLES_PER_CHUNK, n_resamples - start)
        weights = np.zeros((size, len(values)))
        np.add.at(weights, (np.arange(size)[:, None], rng.integers(0, len(values), size=(size, len(values)))), 1)
        chunk_kappa, _, _, chunk_categories = _fleiss_terms(values, raters, weights)
        resampled.append(chunk_kappa)
        resampled_categories.append(chunk_categories)
    tail = (1 - confidence) / 2 * 100
    overall = _nan_percentiles(np.concatenate(resampled)[:, None], (tail, 100 - tail))[:, 0]
    by_category = _nan_percentiles(np.concatenate(resampled_categories), (tail, 100 - tail))
    return FleissKappaResult(
        kappa=float(kappa[0]), observed_agreement=float(agreement[0]), chance_agreement=float(chance[0]),
        undefined=bool(np.isnan(kappa[0])), ci_low=float(overall[0]), ci_high=float(overall[1]),
        category_kappa=categories[0], category_ci_low=by_category[0], category_ci_high=by_category[1],
        subjects=len(values), raters=raters, confidence=confidence, n_resamples=n_resamples,
        undefined_resamples=int(np.isnan(np.concatenate(resampled)).sum()))
