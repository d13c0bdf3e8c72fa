"""ROC / PR curves, AUC and thresholds on a tiny example worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.study.added_value import analyse_added_value
from ecgreview.study.figures import added_value_figure, roc_figure
from ecgreview.study.operating_points import (
    average_precision,
    operating_points,
    precision_recall_curve,
    roc_auc,
    roc_curve,
    threshold_for_sensitivity,
    wilson_interval,
)
from tests.study.study_fixtures import AF_POSITIVE, DNN_AF_PRESENT, class_frame, study_reviews

# positives score 0.9, 0.8, 0.4, 0.3; negatives 0.7, 0.35, 0.2, 0.1
TRUTH = [1, 1, 0, 1, 0, 1, 0, 0]
SCORES = [0.9, 0.8, 0.7, 0.4, 0.35, 0.3, 0.2, 0.1]


def test_auc_of_a_known_ranking():
    # positive-over-negative pairs: 0.9 and 0.8 beat all 4, 0.4 beats 3, 0.3 beats 2 -> 13 of 16
    assert roc_auc(TRUTH, SCORES) == 13 / 16
    curve = roc_curve(TRUTH, SCORES)
    assert np.trapezoid(curve.y, curve.x) == pytest.approx(13 / 16)
    assert (curve.x[0], curve.y[0], curve.x[-1], curve.y[-1]) == (0, 0, 1, 1)
    assert roc_auc([1, 0], [0.5, 0.5]) == 0.5  # a tie counts one half
    assert roc_auc([1, 1, 0], [0.2, 0.3, 0.9]) == 0.0
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_precision_recall_and_average_precision():
    curve = precision_recall_curve(TRUTH, SCORES)
    assert curve.x[:2].tolist() == [0.25, 0.5] and curve.y[:2].tolist() == [1.0, 1.0]
    # recall steps 0.25 @1, 0.25 @1, 0.25 @3/4, 0.25 @4/6
    assert average_precision(TRUTH, SCORES) == pytest.approx(0.25 * (1 + 1 + 0.75 + 4 / 6))


def test_threshold_for_a_target_sensitivity():
    # 3 of 4 positives needed: lowest kept 0.4, next lower score 0.35 -> halfway 0.375
    assert threshold_for_sensitivity(TRUTH, SCORES, 0.75) == pytest.approx(0.375)
    assert threshold_for_sensitivity(TRUTH, SCORES, 0.5) == pytest.approx(0.75)  # between 0.8 and 0.7
    assert threshold_for_sensitivity(TRUTH, SCORES, 1.0) == pytest.approx(0.25)
    assert threshold_for_sensitivity([1, 0], [0.1, 0.5], 1.0) == 0.0  # nothing lower: everything positive
    with pytest.raises(ValueError, match="target_sensitivity must be in"):
        threshold_for_sensitivity(TRUTH, SCORES, 0)


def test_wilson_interval():
    low, high = wilson_interval(3, 4)
    assert (round(low, 4), round(high, 4)) == (0.3006, 0.9544)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert np.isnan(wilson_interval(0, 0)[0])


def _frames():
    index = [f"{i:064x}" for i in range(len(TRUTH))]
    reference = pd.DataFrame(0.0, index=index, columns=list(CLASSES))
    probabilities = pd.DataFrame(0.05, index=index, columns=list(CLASSES))
    reference["AF"], probabilities["AF"] = np.array(TRUTH, float), SCORES
    reference.loc[index[0], "SB"] = np.nan  # no reference for one case
    return reference, probabilities


def test_operating_points_table():
    reference, probabilities = _frames()
    table = operating_points(reference, probabilities, target_sensitivity=0.75)
    af = table.loc["AF"]
    assert af["paper_threshold"] == THRESHOLDS[CLASSES.index("AF")] == 0.39
    # p > 0.39: positives 0.9, 0.8, 0.4 (3 of 4); negatives above: 0.7 -> spec 3/4
    assert (af["paper_sensitivity"], af["paper_specificity"]) == (0.75, 0.75)
    assert (af["paper_sensitivity_low"], af["site_threshold"]) == (pytest.approx(0.3006, abs=1e-4), 0.375)
    assert (af["auc"], af["cases"], af["positives"]) == (13 / 16, 8, 4)
    assert np.isnan(table.loc["SB", "auc"]) and table.loc["SB", "cases"] == 7  # no positives: undefined
    assert np.isnan(table.loc["SB", "paper_sensitivity"])


def test_figures_are_plotly():
    reference, probabilities = _frames()
    figure = roc_figure(reference, probabilities)
    assert isinstance(figure, go.Figure)
    assert any(trace.name == "paper threshold" for trace in figure.data)
    assert any("AF (AUC 0.812)" == annotation.text for annotation in figure.layout.annotations)
    result = analyse_added_value(study_reviews(), reference=class_frame(AF_POSITIVE),
                                 dnn_calls=class_frame(DNN_AF_PRESENT), n_resamples=50)
    assert isinstance(added_value_figure(result), go.Figure)
