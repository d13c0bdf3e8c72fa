"""Classification metrics over 0/1 labels, in the style of ``sklearn.metrics``.

Every function is pure, takes label arrays of shape (N,) (one class) or (N, K)
(one column per class, e.g. the six :data:`~ecgreview.record.CLASSES`), puts its
options after ``*`` and validates its inputs once, first, with
:func:`_check_inputs`. ``*_score`` values are higher-is-better.

A metric whose denominator is zero (precision with no predicted positives,
sensitivity with no reference positives, ...) is *undefined*. It is never
silently reported as 0: results carry an ``undefined`` mask and a reason, and
the value is NaN unless ``zero_division`` asks for 0.0 or 1.0 instead.

Agreement between raters (Cohen's and Fleiss' kappa with confidence intervals) lives in
:mod:`ecgreview.study.agreement`; ``cohen_kappa`` and ``KappaResult`` are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from ecgreview.record import CLASSES
from ecgreview.study._labels import ZeroDivision, _check_inputs, _divide, _nan_percentiles, _shape_like
# Cohen's kappa lives in ecgreview.study.agreement (with Fleiss' kappa); re-exported here for existing imports.
from ecgreview.study.agreement import KappaResult as KappaResult
from ecgreview.study.agreement import cohen_kappa as cohen_kappa

#: Scores of :func:`classification_scores`, in table order.
SCORE_NAMES: tuple[str, ...] = ("precision", "sensitivity", "specificity", "f1")

_UNDEFINED_REASONS = {
    "precision": "no predicted positives (TP + FP = 0)",
    "sensitivity": "no positives in reference (TP + FN = 0)",
    "specificity": "no negatives in reference (TN + FP = 0)",
    "f1": "no positives in reference and none predicted (2TP + FP + FN = 0)",
}


def _check_zero_division(zero_division: ZeroDivision) -> None:
    if zero_division == "undefined" or (type(zero_division) in (int, float) and zero_division in (0, 1)):
        return
    raise ValueError(f"zero_division must be 'undefined', 0.0 or 1.0, got {zero_division!r}")


@dataclass(frozen=True)
class ConfusionCounts:
    """Counts per class: arrays of shape (K,), or 0-d arrays for 1-D input.

    ``positives`` (P) counts reference positives, so ``true_positives = positives - false_negatives``.
    """

    positives: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    false_negatives: np.ndarray
    true_negatives: np.ndarray

    @property
    def negatives(self) -> np.ndarray:
        """Reference negatives (TN + FP)."""
        return self.true_negatives + self.false_positives


def confusion_counts(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> ConfusionCounts:
    """Count P, TP, FP, FN and TN per class.

    Parameters
    ----------
    y_true, y_pred : array-like of 0/1, shape (N,) or (N, K)
        Reference labels and predicted labels.

    Returns
    -------
    ConfusionCounts
        Integer counts of shape (K,), or 0-d for 1-D input.

    Examples
    --------
    >>> confusion_counts([1, 1, 0, 0], [1, 0, 1, 0]).false_positives
    array(1)
    """
    truth, prediction = _check_inputs(y_true, y_pred)
    one_class = np.ndim(y_true) == 1
    counts = {name: ((truth == reference) & (prediction == predicted)).sum(axis=0) for name, reference, predicted in (
        ("true_positives", 1, 1), ("false_positives", 0, 1), ("false_negatives", 1, 0), ("true_negatives", 0, 0))}
    counts["positives"] = counts["true_positives"] + counts["false_negatives"]
    return ConfusionCounts(**{key: _shape_like(value, one_class) for key, value in counts.items()})


@dataclass(frozen=True)
class ClassificationScores:
    """Precision, sensitivity (recall), specificity and F1 per class.

    Each score is a float array of shape (K,) (0-d for 1-D input). Where
    ``undefined[name]`` is True the denominator was zero and the value is NaN
    (or the ``zero_division`` fill); :meth:`value` returns ``None`` there.
    """

    precision: np.ndarray
    sensitivity: np.ndarray
    specificity: np.ndarray
    f1: np.ndarray
    undefined: Mapping[str, np.ndarray]
    counts: ConfusionCounts

    @property
    def recall(self) -> np.ndarray:
        """Alias of :attr:`sensitivity`."""
        return self.sensitivity

    def value(self, name: str, class_index: int | None = None) -> float | None:
        """One score as a float, or ``None`` when it is undefined."""
        if name not in SCORE_NAMES:
            raise ValueError(f"name must be one of {SCORE_NAMES}, got {name!r}")
        index = () if class_index is None else class_index
        return None if bool(self.undefined[name][index]) else float(getattr(self, name)[index])

    def reasons(self, class_names: Sequence[str] | None = None) -> list[str]:
        """Why each undefined score is undefined, e.g. ``"AF precision: no predicted positives ..."``."""
        lines = []
        for name in SCORE_NAMES:
            mask = np.atleast_1d(self.undefined[name])
            for index in map(int, np.flatnonzero(mask)):
                label = class_names[index] if class_names else f"class {index}"
                lines.append(f"{label} {name}: {_UNDEFINED_REASONS[name]}")
        return lines


def classification_scores(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, *, zero_division: ZeroDivision = "undefined"
) -> ClassificationScores:
    """Precision, sensitivity, specificity and F1 = 2TP / (2TP + FP + FN) per class.

    Parameters
    ----------
    y_true, y_pred : array-like of 0/1, shape (N,) or (N, K)
        Reference labels and predicted labels.
    zero_division : {"undefined", 0.0, 1.0}, default "undefined"
        Value for scores with a zero denominator: NaN (``"undefined"``) or the
        given number. Either way ``undefined`` flags them.

    Returns
    -------
    ClassificationScores

    Examples
    --------
    >>> scores = classification_scores([1, 1, 0, 0], [1, 0, 0, 0])
    >>> float(scores.f1), scores.value("precision")
    (0.6666666666666666, 1.0)
    """
    _check_zero_division(zero_division)
    counts = confusion_counts(y_true, y_pred)
    results = _scores_from_counts(counts.true_positives, counts.false_positives, counts.false_negatives,
                                  counts.true_negatives, zero_division)
    return ClassificationScores(**{name: values for name, (values, _) in results.items()},
                                undefined={name: mask for name, (_, mask) in results.items()}, counts=counts)


def _scores_from_counts(
    true_positives: np.ndarray, false_positives: np.ndarray, false_negatives: np.ndarray,
    true_negatives: np.ndarray, zero_division: ZeroDivision,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each score's (values, undefined mask) from counts of any (matching) shape."""
    return {
        "precision": _divide(true_positives, true_positives + false_positives, zero_division),
        "sensitivity": _divide(true_positives, true_positives + false_negatives, zero_division),
        "specificity": _divide(true_negatives, true_negatives + false_positives, zero_division),
        "f1": _divide(2 * true_positives, 2 * true_positives + false_positives + false_negatives, zero_division),
    }


@dataclass(frozen=True)
class BootstrapIntervals:
    """Percentile confidence intervals per score: ``low[name]``, ``high[name]`` of shape (K,) or 0-d.

    ``undefined_resamples[name]`` counts resamples in which the score was
    undefined; they are left out of the percentiles. An interval is NaN only
    when the score was undefined in every resample.
    """

    low: Mapping[str, np.ndarray]
    high: Mapping[str, np.ndarray]
    undefined_resamples: Mapping[str, np.ndarray]
    confidence: float
    n_resamples: int


def bootstrap_ci(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, *, n_resamples: int = 1000, confidence: float = 0.95,
    seed: int | None = None,
) -> BootstrapIntervals:
    """Bootstrap percentile confidence intervals of :func:`classification_scores`.

    Samples (rows) are drawn with replacement, ``n_resamples`` times, all
    classes of a row together.

    Parameters
    ----------
    y_true, y_pred : array-like of 0/1, shape (N,) or (N, K)
    n_resamples : int, default 1000
    confidence : float, default 0.95
        Coverage of the two-sided interval, in (0, 1).
    seed : int or None
        Seed of ``numpy.random.default_rng``; give one for reproducible intervals.

    Returns
    -------
    BootstrapIntervals
    """
    truth, prediction = _check_inputs(y_true, y_pred)
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    one_class = np.ndim(y_true) == 1
    draws = np.random.default_rng(seed).integers(0, truth.shape[0], size=(n_resamples, truth.shape[0]))
    weights = np.zeros(draws.shape)  # weights[r, i]: how often sample i is drawn in resample r
    np.add.at(weights, (np.arange(n_resamples)[:, None], draws), 1)
    true_positives, false_positives, false_negatives, true_negatives = (
        weights @ ((truth == reference) & (prediction == predicted))
        for reference, predicted in ((1, 1), (0, 1), (1, 0), (0, 0)))
    scores = _scores_from_counts(true_positives, false_positives, false_negatives, true_negatives, "undefined")
    resampled = {name: values for name, (values, _) in scores.items()}
    tail_percent = (1 - confidence) / 2 * 100
    low, high, undefined = {}, {}, {}
    for name, values in resampled.items():
        undefined[name] = _shape_like(np.isnan(values).sum(axis=0), one_class)
        bounds = _nan_percentiles(values, (tail_percent, 100 - tail_percent))
        low[name], high[name] = (_shape_like(bound, one_class) for bound in bounds)
    return BootstrapIntervals(low, high, undefined, confidence, n_resamples)


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test per class (arrays of shape (K,) or 0-d).

    ``only_a_wrong`` counts samples that predictor A got wrong and B right,
    ``only_b_wrong`` the reverse. The test is undefined (NaN statistic and
    p-value) when there are no discordant samples.
    """

    statistic: np.ndarray
    p_value: np.ndarray
    only_a_wrong: np.ndarray
    only_b_wrong: np.ndarray
    undefined: np.ndarray
    correction: bool


def mcnemar(
    y_true: npt.ArrayLike, y_pred_a: npt.ArrayLike, y_pred_b: npt.ArrayLike, *, correction: bool = False
) -> McNemarResult:
    """McNemar's test of two predictors' error rates against one reference, per class.

    As in Ribeiro et al. 2020 (Supplementary Table 3): a prediction is wrong
    where it differs from ``y_true``; with b = A wrong and B right and c = B
    wrong and A right, the statistic is (b - c)^2 / (b + c) and the p-value is
    the chi-squared (1 degree of freedom) tail probability.

    Parameters
    ----------
    y_true, y_pred_a, y_pred_b : array-like of 0/1, shape (N,) or (N, K)
    correction : bool, default False
        Use the continuity-corrected statistic (|b - c| - 1)^2 / (b + c). The
        paper did not (False).

    Returns
    -------
    McNemarResult
    """
    truth, first, second = _check_inputs(y_true, y_pred_a, y_pred_b, names=("y_true", "y_pred_a", "y_pred_b"))
    one_class = np.ndim(y_true) == 1
    wrong_a, wrong_b = first != truth, second != truth
    only_a = (wrong_a & ~wrong_b).sum(axis=0)
    only_b = (~wrong_a & wrong_b).sum(axis=0)
    discordant = only_a + only_b
    difference = np.abs(only_a - only_b).astype(float)
    if correction:
        difference = np.maximum(difference - 1, 0)
    statistic, undefined = _divide(difference**2, discordant, "undefined")
    p_value = stats.chi2.sf(statistic, df=1)
    def shaped(values: npt.ArrayLike) -> np.ndarray:
        return _shape_like(np.asarray(values), one_class)

    return McNemarResult(shaped(statistic), shaped(p_value), shaped(only_a), shaped(only_b), shaped(undefined),
                         correction=correction)


def score_table(
    reference: npt.ArrayLike, sources: Mapping[str, npt.ArrayLike], *,
    class_names: Sequence[str] | None = None, zero_division: ZeroDivision = "undefined",
) -> pd.DataFrame:
    """Counts and scores per class and source, one row each.

    Parameters
    ----------
    reference : array-like of 0/1, shape (N, K) or (N,)
        Reference (gold standard) labels.
    sources : mapping of str to array-like of 0/1, each shaped like ``reference``
        Predicted labels by source name (e.g. ``{"DNN": ..., "cardio.": ...}``).
    class_names : sequence of str, optional
        Names of the K columns; default :data:`~ecgreview.record.CLASSES` when
        K is 6, else ``class 0``, ``class 1``, ...
    zero_division : {"undefined", 0.0, 1.0}, default "undefined"

    Returns
    -------
    pandas.DataFrame
        Index (class, source); columns positives, true_positives,
        false_positives, false_negatives, true_negatives, precision,
        sensitivity, specificity, f1 and ``undefined`` (the undefined scores'
        names, comma-separated, empty when all are defined).
    """
    n_classes = np.asarray(reference).reshape(np.shape(reference)[0], -1).shape[1]
    names = list(class_names) if class_names is not None else (
        list(CLASSES) if n_classes == len(CLASSES) else [f"class {index}" for index in range(n_classes)])
    if len(names) != n_classes:
        raise ValueError(f"class_names has {len(names)} names for {n_classes} classes")
    all_scores = {source: classification_scores(reference, predicted, zero_division=zero_division)
                  for source, predicted in sources.items()}
    rows = []
    for index, name in enumerate(names):
        for source, scores in all_scores.items():
            rows.append({"class": name, "source": source, **_table_row(scores, index)})
    return pd.DataFrame(rows).set_index(["class", "source"])


def _table_row(scores: ClassificationScores, index: int) -> dict[str, object]:
    """Counts, scores and undefined-score names of one class, for :func:`score_table`."""
    def count(values: np.ndarray) -> int:
        return int(np.atleast_1d(values)[index])

    def number(values: np.ndarray) -> float:
        return float(np.atleast_1d(values)[index])

    def flag(values: np.ndarray) -> bool:
        return bool(np.atleast_1d(values)[index])

    counts = scores.counts
    row: dict[str, object] = {field: count(getattr(counts, field)) for field in (
        "positives", "true_positives", "false_positives", "false_negatives", "true_negatives")}
    row.update({score: number(getattr(scores, score)) for score in SCORE_NAMES})
    row["undefined"] = ", ".join(score for score in SCORE_NAMES if flag(scores.undefined[score]))
    return row
