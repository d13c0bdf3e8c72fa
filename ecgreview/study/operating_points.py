"""Operating points of the DNN on local data: ROC and precision-recall curves, AUC, thresholds.

Pure numpy (scikit-learn is not a dependency). Calls are ``p > t`` throughout, as
everywhere in ecgreview; a curve point at threshold ``t`` counts the cases with
``p > t`` as positive. The curve runs from ``t`` = the highest score (nothing positive)
down to below the lowest score (everything positive).

* AUC is the Mann-Whitney probability that a random positive scores above a random
  negative, ties counted one half: the trapezoidal area under the ROC curve.
* Average precision is the step sum of precision over recall increments (as
  ``sklearn.metrics.average_precision_score``).
* Confidence intervals of sensitivity, specificity and precision at a threshold are
  **Wilson score intervals** (closed form; good coverage at small n and at 0 or 1).
* :func:`threshold_for_sensitivity` returns the highest threshold whose ``p > t``
  calls reach a target sensitivity on these data: halfway between the lowest score
  that must stay positive and the next lower score (0.0 when there is none). It is
  reported only; thresholds in use are a setting and never change here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from ecgreview.record import CLASSES, THRESHOLDS, dnn_calls
from ecgreview.study.metrics import _check_inputs

__all__ = ["Curve", "average_precision", "class_curves", "operating_points", "precision_recall_curve", "roc_auc", "roc_curve",
           "threshold_for_sensitivity", "wilson_interval"]


@dataclass(frozen=True)
class Curve:
    """Points of a ROC or precision-recall curve, by decreasing threshold (arrays of one length).

    ``x``/``y`` are false-positive rate / sensitivity (ROC) or recall / precision (PR);
    ``thresholds[i]`` is the ``t`` of ``p > t`` at point i.
    """

    x: np.ndarray
    y: np.ndarray
    thresholds: np.ndarray


def _check_scores(y_true: npt.ArrayLike, probabilities: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(probabilities, dtype=float)
    (truth,) = _check_inputs(y_true, names=("y_true",))
    truth = truth.ravel()
    if scores.ndim != 1 or scores.shape != truth.shape:
        raise ValueError(f"probabilities must be 1-D and match y_true's shape {truth.shape}; got {scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("probabilities must be finite (drop cases without a model output first)")
    return truth, scores


def _counts_by_threshold(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (decreasing: every distinct score, then one below the lowest) and TP, FP of ``p > t``."""
    distinct = np.unique(scores)[::-1]
    below_lowest = 0.0 if distinct[-1] > 0 else float(np.nextafter(distinct[-1], -np.inf))
    thresholds = np.concatenate([distinct, [below_lowest]])
    positives, negatives = np.sort(scores[truth == 1]), np.sort(scores[truth == 0])
    true_positives = len(positives) - np.searchsorted(positives, thresholds, side="right")
    false_positives = len(negatives) - np.searchsorted(negatives, thresholds, side="right")
    return thresholds, true_positives.astype(float), false_positives.astype(float)


def roc_curve(y_true: npt.ArrayLike, probabilities: npt.ArrayLike) -> Curve:
    """ROC curve: false-positive rate (x) and sensitivity (y) of ``p > t`` at every distinct threshold.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (N,)
    probabilities : array-like of float, shape (N,)

    Raises
    ------
    ValueError
        Bad shapes or values, or no positives or no negatives (the curve is undefined).
    """
    truth, scores = _check_scores(y_true, probabilities)
    if truth.min() == truth.max():
        raise ValueError("y_true needs both positives and negatives for a ROC curve")
    thresholds, true_positives, false_positives = _counts_by_threshold(truth, scores)
    return Curve(false_positives / (truth == 0).sum(), true_positives / truth.sum(), thresholds)


def roc_auc(y_true: npt.ArrayLike, probabilities: npt.ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney, ties one half); NaN without positives or negatives."""
    truth, scores = _check_scores(y_true, probabilities)
    positives, negatives = int(truth.sum()), int((truth == 0).sum())
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = stats.rankdata(scores)
    return float((ranks[truth == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def precision_recall_curve(y_true: npt.ArrayLike, probabilities: npt.ArrayLike) -> Curve:
    """Recall (x) and precision (y) of ``p > t``; points with no predicted positive are left out.

    Raises
    ------
    ValueError
        Bad inputs, or no positives (recall undefined).
    """
    truth, scores = _check_scores(y_true, probabilities)
    if truth.sum() == 0:
        raise ValueError("y_true needs at least one positive for a precision-recall curve")
    thresholds, true_positives, false_positives = _counts_by_threshold(truth, scores)
    predicted = true_positives + false_positives
    keep = predicted > 0
    return Curve(true_positives[keep] / truth.sum(), true_positives[keep] / predicted[keep], thresholds[keep])


def average_precision(y_true: npt.ArrayLike, probabilities: npt.ArrayLike) -> float:
    """Sum over thresholds of precision × recall increment; NaN without positives."""
    truth, _ = _check_scores(y_true, probabilities)
    if truth.sum() == 0:
        return math.nan
    curve = precision_recall_curve(y_true, probabilities)
    recall = np.concatenate([[0.0], curve.x])
    return float(np.sum(np.diff(recall) * curve.y))


def wilson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / trials``; (NaN, NaN) when ``trials`` is 0."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials; got {successes} of {trials}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    if trials == 0:
        return math.nan, math.nan
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exactly 0 and 1 at the ends
    return low, 1.0 if successes == trials else min(1.0, centre + half)


def threshold_for_sensitivity(y_true: npt.ArrayLike, probabilities: npt.ArrayLike, target_sensitivity: float) -> float:
    """The highest ``t`` whose calls ``p > t`` reach ``target_sensitivity`` here (see the module docstring).

    Raises
    ------
    ValueError
        ``target_sensitivity`` outside (0, 1], or no positives.
    """
    truth, scores = _check_scores(y_true, probabilities)
    if not 0 < target_sensitivity <= 1:
        raise ValueError(f"target_sensitivity must be in (0, 1]; got {target_sensitivity!r}")
    positives = np.sort(scores[truth == 1])[::-1]
    if len(positives) == 0:
        raise ValueError("y_true has no positives: no threshold reaches a sensitivity")
    needed = math.ceil(target_sensitivity * len(positives) - 1e-9)
    lowest_kept = positives[needed - 1]
    below = scores[scores < lowest_kept]
    if not len(below):
        return 0.0
    halfway = (lowest_kept + below.max()) / 2
    # Calls compare in float32 (record.dnn_calls): never let rounding put t at the kept score.
    return float(halfway if np.float32(halfway) < np.float32(lowest_kept) else below.max())


def _rates(truth: np.ndarray, called: np.ndarray, confidence: float) -> dict[str, float]:
    """Sensitivity, specificity and precision of boolean calls, with Wilson intervals."""
    tp, fp = int((called & (truth == 1)).sum()), int((called & (truth == 0)).sum())
    fn, tn = int((~called & (truth == 1)).sum()), int((~called & (truth == 0)).sum())
    row: dict[str, float] = {}
    for name, hits, total in (("sensitivity", tp, tp + fn), ("specificity", tn, tn + fp), ("precision", tp, tp + fp)):
        low, high = wilson_interval(hits, total, confidence=confidence)
        row |= {name: hits / total if total else math.nan, f"{name}_low": low, f"{name}_high": high}
    return row


def _calls_at(scores: np.ndarray, index: int, threshold: float) -> np.ndarray:
    """Calls of class ``index`` at ``threshold`` through the project's one decision rule."""
    grid = np.zeros((len(scores), len(CLASSES)), dtype=float)
    grid[:, index] = scores
    limits = np.ones(len(CLASSES))
    limits[index] = threshold
    return dnn_calls(grid, limits)[:, index]


def operating_points(
    reference: pd.DataFrame, probabilities: pd.DataFrame, *, thresholds: Sequence[float] = THRESHOLDS,
    target_sensitivity: float = 0.9, confidence: float = 0.95,
) -> pd.DataFrame:
    """Per class: AUC, average precision, and sensitivity/specificity/precision at the paper's
    threshold and at the threshold for ``target_sensitivity`` (Wilson CIs).

    Parameters
    ----------
    reference, probabilities : pandas.DataFrame
        Index ``source_sha256``, one column per class; reference 1.0/0.0/NaN,
        probabilities in [0, 1] or NaN. Cases need both to count.
    thresholds : sequence of float
        The thresholds in use, in :data:`~ecgreview.record.CLASSES` order.

    Returns
    -------
    pandas.DataFrame
        Index class; columns cases, positives, negatives, auc, average_precision,
        paper_threshold, paper_<score>[_low|_high], site_threshold, site_<score>[_low|_high]
        (NaN where undefined: no positives or no negatives), target_sensitivity.
    """
    if len(thresholds) != len(CLASSES):
        raise ValueError(f"thresholds must have {len(CLASSES)} values in CLASSES order; got {len(thresholds)}")
    rows = []
    for index, (name, threshold) in enumerate(zip(CLASSES, thresholds)):
        truth_series = reference[name]
        score_series = probabilities[name].reindex(truth_series.index)
        usable = truth_series.notna() & score_series.notna()
        truth, scores = truth_series[usable].to_numpy(int), score_series[usable].to_numpy(float)
        row: dict[str, object] = {"class": name, "cases": int(usable.sum()), "positives": int(truth.sum()),
                                  "negatives": int((truth == 0).sum()), "target_sensitivity": target_sensitivity,
                                  "paper_threshold": float(threshold)}
        if len(truth):
            row |= {"auc": roc_auc(truth, scores), "average_precision": average_precision(truth, scores)}
            paper = _rates(truth, _calls_at(scores, index, threshold), confidence)
            row |= {f"paper_{key}": value for key, value in paper.items()}
            if truth.sum():
                site = threshold_for_sensitivity(truth, scores, target_sensitivity)
                row |= {"site_threshold": site,
                        **{f"site_{key}": value for key, value in
                           _rates(truth, _calls_at(scores, index, site), confidence).items()}}
        rows.append(row)
    return pd.DataFrame(rows).set_index("class")


def class_curves(reference: pd.DataFrame, probabilities: pd.DataFrame) -> dict[str, tuple[Curve | None, Curve | None]]:
    """Per class (ROC curve, PR curve); None where undefined (no positives, or no negatives for ROC)."""
    curves = {}
    for name in CLASSES:
        usable = reference[name].notna() & probabilities[name].reindex(reference.index).notna()
        truth = reference.loc[usable, name].to_numpy(int)
        scores = probabilities[name].reindex(reference.index)[usable].to_numpy(float)
        has_both = len(truth) and 0 < truth.sum() < len(truth)
        curves[name] = (roc_curve(truth, scores) if has_both else None,
                        precision_recall_curve(truth, scores) if len(truth) and truth.sum() else None)
    return curves
