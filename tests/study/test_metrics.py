"""Metrics on hand-made label arrays, with values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecgreview.study.metrics import (
    bootstrap_ci,
    classification_scores,
    cohen_kappa,
    confusion_counts,
    mcnemar,
    score_table,
)


def _cohort(positives: int, false_positives: int, false_negatives: int, n_samples: int = 100):
    """(y_true, y_pred) of one class with the given P, FP and FN (TP = P - FN)."""
    y_true = np.zeros(n_samples, dtype=int)
    y_true[:positives] = 1
    y_pred = y_true.copy()
    y_pred[:false_negatives] = 0
    y_pred[positives:positives + false_positives] = 1
    return y_true, y_pred


def _pair_table(both: int, only_first: int, only_second: int, neither: int):
    """Two raters' labels with the given 2 x 2 agreement table."""
    first = [1] * both + [1] * only_first + [0] * only_second + [0] * neither
    second = [1] * both + [0] * only_first + [1] * only_second + [0] * neither
    return np.array(first), np.array(second)


def test_confusion_counts_one_class():
    counts = confusion_counts([1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0, 0])
    assert (counts.positives, counts.true_positives, counts.false_positives,
            counts.false_negatives, counts.true_negatives) == (3, 2, 1, 1, 3)
    assert counts.negatives == 4


def test_confusion_counts_per_class_columns():
    y_true = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    y_pred = np.array([[1, 1], [0, 1], [0, 0], [1, 1]])
    counts = confusion_counts(y_true, y_pred)
    np.testing.assert_array_equal(counts.positives, [2, 2])
    np.testing.assert_array_equal(counts.true_positives, [1, 2])
    np.testing.assert_array_equal(counts.false_positives, [1, 1])
    np.testing.assert_array_equal(counts.false_negatives, [1, 0])
    np.testing.assert_array_equal(counts.true_negatives, [1, 1])


def test_classification_scores_by_hand():
    # TP 2, FP 1, FN 1, TN 3.
    scores = classification_scores([1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0, 0])
    assert scores.value("precision") == pytest.approx(2 / 3)
    assert scores.value("sensitivity") == pytest.approx(2 / 3)
    assert float(scores.recall) == pytest.approx(2 / 3)
    assert scores.value("specificity") == pytest.approx(3 / 4)
    assert scores.value("f1") == pytest.approx(4 / 6)
    assert scores.reasons() == []


@pytest.mark.parametrize(
    ("label", "positives", "false_positives", "false_negatives", "f1"),
    [
        ("pilot Table 1, built-in LBBB", 10, 0, 1, 0.947),
        ("pilot Table 1, DNN AF", 19, 1, 2, 0.919),
        ("README AF", 13, 0, 3, 0.870),
    ],
)
def test_f1_reproduces_pilot_table_1(label, positives, false_positives, false_negatives, f1):
    y_true, y_pred = _cohort(positives, false_positives, false_negatives)
    counts = confusion_counts(y_true, y_pred)
    assert (counts.positives, counts.false_positives, counts.false_negatives) == (
        positives, false_positives, false_negatives), label
    assert round(classification_scores(y_true, y_pred).value("f1"), 3) == f1, label


def test_undefined_scores_are_flagged_not_zero():
    scores = classification_scores([0, 0, 0], [0, 0, 0])
    assert scores.value("precision") is None
    assert scores.value("sensitivity") is None
    assert scores.value("f1") is None
    assert scores.value("specificity") == 1.0
    assert math.isnan(float(scores.f1))
    assert bool(scores.undefined["f1"]) and not bool(scores.undefined["specificity"])
    reasons = scores.reasons(class_names=["AF"])
    assert "AF precision: no predicted positives (TP + FP = 0)" in reasons
    assert any(reason.startswith("AF f1: no positives in reference and none predicted") for reason in reasons)


def test_undefined_precision_only():
    scores = classification_scores([1, 0, 0], [0, 0, 0])
    assert scores.value("precision") is None
    assert scores.value("sensitivity") == 0.0
    assert scores.value("f1") == 0.0  # 2TP + FP + FN = 1: defined, and 0


@pytest.mark.parametrize("fill", [0.0, 1.0, 0, 1])
def test_zero_division_fills_but_still_flags(fill):
    scores = classification_scores([0, 0], [0, 0], zero_division=fill)
    assert float(scores.precision) == fill
    assert bool(scores.undefined["precision"])
    assert scores.value("precision") is None


@pytest.mark.parametrize("bad", ["warn", 0.5, math.nan, None, True])
def test_zero_division_rejects_other_values(bad):
    with pytest.raises(ValueError, match="zero_division must be 'undefined', 0.0 or 1.0"):
        classification_scores([1, 0], [1, 0], zero_division=bad)


def test_value_rejects_unknown_score():
    with pytest.raises(ValueError, match="name must be one of"):
        classification_scores([1, 0], [1, 0]).value("accuracy")


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([1, 0, 1], [1, 0], r"y_true and y_pred must have the same shape"),
        ([1, 2, 0], [1, 0, 0], r"y_true must hold only 0/1 labels"),
        ([1, 0], [0.5, 0.2], r"y_pred must hold only 0/1 labels"),
        ([], [], r"y_true is empty"),
        (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), r"y_true must be 1-D \(N,\) or 2-D"),
        (["a", "b"], [1, 0], r"y_true must hold only 0/1 labels"),
    ],
)
def test_inputs_are_checked(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        classification_scores(y_true, y_pred)


def test_cohen_kappa_by_hand():
    # 2 x 2: both yes 20, first only 5, second only 10, neither 15 (N = 50).
    # p_o = 35/50 = 0.7; p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = 0.2 / 0.5 = 0.4.
    first, second = _pair_table(20, 5, 10, 15)
    result = cohen_kappa(first, second)
    assert float(result.observed_agreement) == pytest.approx(0.7)
    assert float(result.chance_agreement) == pytest.approx(0.5)
    assert float(result.kappa) == pytest.approx(0.4)
    assert not bool(result.undefined)


def test_cohen_kappa_per_class_and_perfect_agreement():
    first, second = _pair_table(20, 5, 10, 15)
    stacked = cohen_kappa(np.column_stack([first, first]), np.column_stack([second, first]))
    np.testing.assert_allclose(stacked.kappa, [0.4, 1.0])


def test_cohen_kappa_undefined_when_both_raters_constant():
    result = cohen_kappa([0, 0, 0], [0, 0, 0])
    assert bool(result.undefined)
    assert math.isnan(float(result.kappa))


def test_mcnemar_by_hand():
    # A wrong and B right on 10 samples, B wrong and A right on 5, both right on 5.
    y_true = np.zeros(20, dtype=int)
    y_pred_a = np.array([1] * 10 + [0] * 10)
    y_pred_b = np.array([0] * 10 + [1] * 5 + [0] * 5)
    result = mcnemar(y_true, y_pred_a, y_pred_b)
    assert (int(result.only_a_wrong), int(result.only_b_wrong)) == (10, 5)
    statistic = (10 - 5) ** 2 / 15
    assert float(result.statistic) == pytest.approx(statistic)
    # Chi-squared with 1 degree of freedom: P(X > x) = erfc(sqrt(x / 2)).
    assert float(result.p_value) == pytest.approx(math.erfc(math.sqrt(statistic / 2)))
    corrected = mcnemar(y_true, y_pred_a, y_pred_b, correction=True)
    assert float(corrected.statistic) == pytest.approx(16 / 15)


def test_mcnemar_equal_discordance_and_undefined():
    y_true = np.zeros((4, 2), dtype=int)
    y_pred_a = np.array([[1, 0], [0, 0], [0, 0], [0, 0]])
    y_pred_b = np.array([[0, 0], [1, 0], [0, 0], [0, 0]])
    result = mcnemar(y_true, y_pred_a, y_pred_b)
    assert result.p_value[0] == pytest.approx(1.0)
    assert result.undefined.tolist() == [False, True]
    assert math.isnan(result.p_value[1])


def test_mcnemar_checks_all_three_inputs():
    with pytest.raises(ValueError, match="y_pred_b must hold only 0/1 labels"):
        mcnemar([0, 1], [0, 1], [0, 3])


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, size=(200, 3))
    y_pred = np.where(rng.random((200, 3)) < 0.8, y_true, 1 - y_true)
    intervals = bootstrap_ci(y_true, y_pred, n_resamples=300, seed=7)
    again = bootstrap_ci(y_true, y_pred, n_resamples=300, seed=7)
    scores = classification_scores(y_true, y_pred)
    for name in ("precision", "sensitivity", "specificity", "f1"):
        np.testing.assert_array_equal(intervals.low[name], again.low[name])
        assert (intervals.low[name] <= getattr(scores, name)).all()
        assert (getattr(scores, name) <= intervals.high[name]).all()
        assert (intervals.low[name] < intervals.high[name]).all()
    assert intervals.n_resamples == 300 and intervals.confidence == 0.95


def test_bootstrap_ci_perfect_predictions_and_undefined_counts():
    y_true = np.array([[1, 0]] * 3 + [[0, 0]] * 7)
    intervals = bootstrap_ci(y_true, y_true, n_resamples=200, seed=1)
    assert intervals.low["f1"][0] == intervals.high["f1"][0] == 1.0
    # Class 1 has no positives anywhere: precision undefined in every resample.
    assert intervals.undefined_resamples["precision"][1] == 200
    assert math.isnan(intervals.low["precision"][1])
    # Class 0 lacks positives only in resamples that draw none of the 3 positive rows.
    assert 0 <= intervals.undefined_resamples["sensitivity"][0] < 200


@pytest.mark.parametrize(("option", "value", "message"), [
    ("confidence", 1.0, r"confidence must be in \(0, 1\)"),
    ("n_resamples", 0, "n_resamples must be a positive integer"),
])
def test_bootstrap_ci_checks_options(option, value, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_ci([1, 0], [1, 0], **{option: value})


def test_score_table_rows_and_undefined_column():
    reference = np.array([[1, 0], [0, 0], [1, 0]])
    table = score_table(reference, {"model": reference, "never": np.zeros_like(reference)},
                        class_names=["AF", "ST"])
    assert list(table.index) == [("AF", "model"), ("AF", "never"), ("ST", "model"), ("ST", "never")]
    assert table.loc[("AF", "model"), "f1"] == 1.0
    assert table.loc[("AF", "never"), "positives"] == 2
    assert table.loc[("AF", "never"), "false_negatives"] == 2
    assert table.loc[("AF", "never"), "undefined"] == "precision"
    assert table.loc[("ST", "model"), "undefined"] == "precision, sensitivity, f1"
    assert math.isnan(table.loc[("ST", "model"), "f1"])


def test_score_table_default_class_names():
    reference = np.eye(6, dtype=int)
    table = score_table(reference, {"model": reference})
    assert table.index.get_level_values("class").tolist()[:2] == ["1dAVb", "RBBB"]
    with pytest.raises(ValueError, match="class_names has 1 names for 6 classes"):
        score_table(reference, {"model": reference}, class_names=["AF"])
