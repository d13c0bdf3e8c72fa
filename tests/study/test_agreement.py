"""Cohen's and Fleiss' kappa with their intervals, against published numbers; the cohort's agreement tables.

Published references:

* SAS PROC FREQ, simple kappa of the 3 × 3 table [[0, 4, 1], [0, 8, 0], [0, 1, 5]]: kappa 0.4842,
  ASE 0.1380, 95 % CI 0.2137 to 0.7547 (the printout statsmodels' ``test_inter_rater.py`` checks).
* Fleiss JL (1971), Psychol Bull 76:378, psychiatric diagnoses of 30 patients by 6 raters into 5
  categories: P̄ = .556, P̄e = .220, kappa = .430, per category .245, .245, .520, .471, .566 (also
  irr's ``kappam.fleiss``: 0.4302445). The ratings are the table printed there (as in irr's
  ``diagnoses`` and statsmodels' tests).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecgreview.study.agreement import COHEN_CI_METHOD, cohen_kappa, cohen_kappa_table, fleiss_kappa
from ecgreview.study.cohort import load_cohort
from ecgreview.study.cohort_report import inter_reader_fleiss_kappa, inter_reader_kappa
from ecgreview.study.metrics import KappaResult
from ecgreview.study.metrics import cohen_kappa as cohen_kappa_from_metrics
from tests.study.test_cohort import add_review

# Fleiss (1971), Table 1: one row per patient, the category (1-5) each of 6 raters chose.
DIAGNOSES = np.array([
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5]])
COUNTS = np.stack([(DIAGNOSES == category).sum(axis=1) for category in range(1, 6)], axis=1)


def test_cohen_kappa_table_matches_sas():
    result = cohen_kappa_table([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    assert round(float(result.kappa), 4) == 0.4842
    assert round(float(result.standard_error), 4) == 0.1380
    assert (round(float(result.ci_low), 4), round(float(result.ci_high), 4)) == (0.2137, 0.7547)
    assert result.ci_method == COHEN_CI_METHOD and result.confidence == 0.95


def test_cohen_kappa_of_labels_is_the_kappa_of_their_table_and_stays_importable_from_metrics():
    first = np.array([1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0])
    second = np.array([1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0])
    table = [[((first == a) & (second == b)).sum() for b in (0, 1)] for a in (0, 1)]
    from_labels, from_table = cohen_kappa(first, second), cohen_kappa_table(table)
    for field in ("kappa", "standard_error", "ci_low", "ci_high"):
        assert float(getattr(from_labels, field)) == pytest.approx(float(getattr(from_table, field)))
    assert cohen_kappa_from_metrics is cohen_kappa and isinstance(from_labels, KappaResult)
    stacked = cohen_kappa(np.column_stack([first, first]), np.column_stack([second, first]), confidence=0.9)
    assert stacked.ci_low.shape == (2,) and stacked.ci_low[0] > from_labels.ci_low  # narrower at 90%
    assert (stacked.standard_error[1], stacked.ci_low[1], stacked.ci_high[1]) == (0, 1, 1)  # perfect: Wald degenerates


def test_cohen_interval_stays_in_range_and_is_undefined_with_the_kappa():
    wide = cohen_kappa([1, 0, 1], [1, 0, 0])
    assert -1 <= wide.ci_low < wide.kappa < wide.ci_high <= 1
    constant = cohen_kappa([0, 0, 0], [0, 0, 0])
    assert constant.undefined and math.isnan(constant.ci_low) and math.isnan(constant.standard_error)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        cohen_kappa([0, 1], [0, 1], confidence=1.5)
    with pytest.raises(ValueError, match="square K × K"):
        cohen_kappa_table([[1, 2, 3]])


def test_fleiss_kappa_matches_fleiss_1971():
    result = fleiss_kappa(COUNTS)
    assert (result.subjects, result.raters) == (30, 6)
    assert round(result.kappa, 3) == 0.430 and result.kappa == pytest.approx(0.4302445, abs=5e-8)
    assert (round(result.observed_agreement, 3), round(result.chance_agreement, 3)) == (0.556, 0.220)
    assert np.round(result.category_kappa, 3).tolist() == [0.245, 0.245, 0.520, 0.471, 0.566]


def test_fleiss_bootstrap_interval_is_seeded_and_agrees_with_the_jackknife():
    result = fleiss_kappa(COUNTS, n_resamples=4000, seed=7)
    again = fleiss_kappa(COUNTS, n_resamples=4000, seed=7)
    assert (result.ci_low, result.ci_high) == (again.ci_low, again.ci_high)
    assert result.ci_low < result.kappa < result.ci_high and result.undefined_resamples == 0
    assert np.all(result.category_ci_low < result.category_kappa) and np.all(result.category_kappa < result.category_ci_high)
    # An independent check of the spread: the delete-one-subject jackknife standard error.
    leave_one_out = np.array([fleiss_kappa(np.delete(COUNTS, index, axis=0), n_resamples=1).kappa
                              for index in range(len(COUNTS))])
    jackknife_error = math.sqrt((len(COUNTS) - 1) / len(COUNTS) * ((leave_one_out - leave_one_out.mean()) ** 2).sum())
    normal_width = 2 * 1.959964 * jackknife_error
    assert (result.ci_high - result.ci_low) == pytest.approx(normal_width, rel=0.25)
    bigger = fleiss_kappa(np.tile(COUNTS, (4, 1)), n_resamples=4000, seed=7)
    assert bigger.kappa == pytest.approx(result.kappa)
    assert (bigger.ci_high - bigger.ci_low) == pytest.approx((result.ci_high - result.ci_low) / 2, rel=0.2)


def test_fleiss_undefined_and_bad_counts():
    everyone_absent = fleiss_kappa([[3, 0], [3, 0]], n_resamples=10)
    assert everyone_absent.undefined and math.isnan(everyone_absent.kappa) and math.isnan(everyone_absent.ci_low)
    for counts, message in (([[3, 0], [2, 0]], "same number"), ([[1, 0]], "same number"), ([[-1, 4]], "non-negative"),
                            ([[1.5, 1.5]], "whole numbers"), ([[3]], "two categories"), ([], "at least one subject")):
        with pytest.raises(ValueError, match=message):
            fleiss_kappa(counts)
    with pytest.raises(ValueError, match="n_resamples must be a positive integer"):
        fleiss_kappa(COUNTS, n_resamples=0)


def _three_readers(tmp_path):
    csv = tmp_path / "reviews.csv"
    calls = {"Dr A": ["present", "present", "absent", "absent", "absent", "uncertain"],
             "Dr B": ["present", "absent", "absent", "absent", "present", "absent"],
             "Dr C": ["present", "present", "absent", "present", "absent", "absent"]}
    for offset, (reader, af) in enumerate(calls.items()):
        for index, call in enumerate(af):
            add_review(csv, index, reader=reader, calls={"AF": call}, minute=10 * offset + index)
    add_review(csv, 9, reader="Dr A", minute=50)  # read by one reader only
    return load_cohort(csv)


def test_cohort_fleiss_kappa_of_three_readers(tmp_path):
    cohort = _three_readers(tmp_path)
    table = inter_reader_fleiss_kappa(cohort, n_resamples=500).set_index("class")
    af = table.loc["AF"]
    # 5 cases decided by all three: present counts 3, 2, 0, 1, 1 -> P = 3/5, Pe = 113/225, kappa = 22/112
    assert (af["readers"], af["cases"]) == (3, 5)
    assert af["observed_agreement"] == pytest.approx(0.6) and af["kappa"] == pytest.approx(22 / 112)
    assert af["ci_low"] <= af["kappa"] <= af["ci_high"] and af["ci_method"].startswith("percentile bootstrap")
    assert table.loc["SB", "undefined"] == "chance agreement is 1 (one label throughout)"
    cohen = inter_reader_kappa(cohort).set_index(["reader_a", "reader_b", "class"])
    pair = cohen.loc[("Dr A", "Dr B", "AF")]
    assert pair["ci_low"] < pair["kappa"] < pair["ci_high"] and pair["ci_method"] == COHEN_CI_METHOD
    assert pair["standard_error"] > 0


def test_cohort_fleiss_kappa_needs_three_readers(tmp_path):
    csv = tmp_path / "reviews.csv"
    for reader in ("Dr A", "Dr B"):
        add_review(csv, 0, reader=reader)
    table = inter_reader_fleiss_kappa(load_cohort(csv))
    assert table.empty and "ci_low" in table.columns
