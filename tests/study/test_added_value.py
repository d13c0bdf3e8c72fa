"""Unaided vs aided analysis on a generated study whose results are worked out by hand below."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

from ecgreview.study.added_value import ALL_READERS, analyse_added_value, study_pairs
from ecgreview.study.report import format_added_value
from tests.study.study_fixtures import (
    AF_POSITIVE,
    CASES,
    DNN_AF_PRESENT,
    class_frame,
    perfect_and_wrong_readers,
    random_study,
    study_reviews,
)


def _analyse(reviews=None, **options):
    options.setdefault("n_resamples", 400)
    return analyse_added_value(study_reviews() if reviews is None else reviews, reference=class_frame(AF_POSITIVE),
                               dnn_calls=class_frame(DNN_AF_PRESENT), device_calls=class_frame({0}), **options)


def _score(result, reader, score, name="AF"):
    table = result.scores
    return table[(table["class"] == name) & (table["reader"] == reader) & (table["score"] == score)].iloc[0]


def test_sensitivity_specificity_by_hand():
    # ana unaided (uncertain -> absent): TP 0,1; FN 2,3; FP 5; TN 4,6,7,8,9 -> sens 2/4, spec 5/6, prec 2/3.
    # ana aided: TP 0,1,2; FN 3; FP 4 -> sens 3/4, spec 5/6, prec 3/4.  ben unaided perfect; aided misses 3.
    result = _analyse()
    expected = {("ana", "sensitivity"): (2 / 4, 3 / 4), ("ana", "specificity"): (5 / 6, 5 / 6),
                ("ana", "precision"): (2 / 3, 3 / 4), ("ana", "f1"): (4 / 7, 6 / 8),
                ("ben", "sensitivity"): (1.0, 3 / 4), ("ben", "specificity"): (1.0, 1.0),
                # pooled: unaided TP 6 FN 2 FP 1 TN 11; aided TP 6 FN 2 FP 1 TN 11
                (ALL_READERS, "sensitivity"): (6 / 8, 6 / 8), (ALL_READERS, "specificity"): (11 / 12, 11 / 12),
                (ALL_READERS, "precision"): (6 / 7, 6 / 7)}
    for (reader, score), (unaided, aided) in expected.items():
        row = _score(result, reader, score)
        assert (row["unaided"], row["aided"]) == pytest.approx((unaided, aided)), (reader, score)
        assert row["difference"] == pytest.approx(aided - unaided)
        assert row["readings"] == (20 if reader == ALL_READERS else 10)
    # a class with no reference positives: sensitivity undefined (NaN), specificity 1
    assert np.isnan(_score(result, ALL_READERS, "sensitivity", "RBBB")["unaided"])
    assert _score(result, ALL_READERS, "specificity", "RBBB")["aided"] == 1.0
    counts = result.counts.set_index(["class", "reader", "mode"])
    assert counts.loc[("AF", "ana", "unaided"), "uncertain"] == 1
    assert counts.loc[("AF", "ana", "aided"), ["true_positives", "false_positives"]].tolist() == [3, 1]


def test_uncertain_excluded_leaves_the_pair_out_of_both_modes():
    result = _analyse(uncertain_as="exclude")
    row = _score(result, "ana", "sensitivity")
    assert row["readings"] == 9
    assert (row["unaided"], row["aided"]) == pytest.approx((2 / 3, 2 / 3))  # case 2 gone: TP 0,1; FN 3


def test_changes_helpful_vs_automation_bias_by_hand():
    changes = _analyse().changes.set_index(["class", "reader"])
    # ana: case 2 uncertain->present (DNN present, right), case 5 present->absent (DNN absent, right),
    #      case 4 absent->present (DNN present, wrong). ben: case 3 present->absent (DNN absent, wrong).
    ana, ben, both = changes.loc[("AF", "ana")], changes.loc[("AF", "ben")], changes.loc[("AF", ALL_READERS)]
    assert ana[["pairs", "changed", "towards_dnn", "helpful", "automation_bias", "away_from_dnn"]].tolist() == [
        10, 3, 3, 2, 1, 0]
    assert ben[["changed", "towards_dnn", "helpful", "automation_bias"]].tolist() == [1, 1, 0, 1]
    # DNN wrong on cases 3 and 4 for both readers: 4 pairs; agreeing with it: unaided ana@3; aided ana@3, ana@4, ben@3
    assert both[["dnn_wrong", "agreed_wrong_dnn_unaided", "agreed_wrong_dnn_aided"]].tolist() == [4, 1, 3]
    assert (both["agreement_wrong_dnn_unaided"], both["agreement_wrong_dnn_aided"]) == (0.25, 0.75)
    assert both["change_rate"] == pytest.approx(4 / 20)
    assert changes.loc[("RBBB", ALL_READERS), "changed"] == 0


def test_confidence_and_reading_time_and_old_stores():
    table = _analyse().confidence_time.set_index(["reader", "measure"])
    assert table.loc[("ana", "confidence"), ["unaided_mean", "aided_mean", "mean_difference"]].tolist() == [3, 4, 1]
    ben = table.loc[("ben", "confidence")]
    assert (ben["unaided_n"], ben["aided_n"], ben["paired_n"], ben["aided_median"]) == (0, 10, 0, 5)
    assert table.loc[(ALL_READERS, "reading_time_s"), "mean_difference"] == -20
    old = _analyse(study_reviews(with_study_columns=False))  # a store without the new columns still analyses
    assert old.confidence_time["unaided_n"].sum() == 0
    assert any("20 pair(s) are separate readings" in note for note in old.notes)  # no resolves_review_ids
    assert _score(old, "ana", "sensitivity")["aided"] == 0.75


def test_dnn_and_device_alone_on_the_same_cases():
    alone = _analyse().alone.set_index(["class", "source"])
    assert alone.loc[("AF", "DNN"), ["sensitivity", "specificity"]].tolist() == pytest.approx([3 / 4, 5 / 6])
    assert alone.loc[("AF", "Built-in"), ["sensitivity", "specificity"]].tolist() == pytest.approx([1 / 4, 1.0])
    assert alone.loc[("AF", "DNN"), "sensitivity_low"] <= 0.75 <= alone.loc[("AF", "DNN"), "sensitivity_high"]


def test_bootstrap_resamples_readers_as_well_as_cases():
    # Reader "right" is always right, "wrong" always wrong, alike in both modes. Resampling cases only, the pooled
    # sensitivity is 1/2 in every resample; resampling readers too it is 1 (right, right), 0 (wrong, wrong) or 1/2.
    reviews, reference = perfect_and_wrong_readers()
    result = analyse_added_value(reviews, reference=reference, dnn_calls=reference, n_resamples=2000, seed=3)
    pooled = _score(result, ALL_READERS, "sensitivity")
    assert pooled["unaided"] == 0.5
    assert (pooled["unaided_low"], pooled["unaided_high"]) == (0.0, 1.0)
    assert (pooled["difference_low"], pooled["difference_high"]) == (0.0, 0.0)  # same calls in both modes
    for reader, value in (("right", 1.0), ("wrong", 0.0)):  # per reader: cases only
        row = _score(result, reader, "sensitivity")
        assert (row["unaided_low"], row["unaided_high"], row["difference"]) == (value, value, 0.0)


def test_intervals_cover_the_estimate_and_are_seeded():
    first, again, other = (_analyse(seed=seed) for seed in (1, 1, 2))
    pd.testing.assert_frame_equal(first.scores, again.scores)
    assert not first.scores.equals(other.scores)
    row = _score(first, "ana", "sensitivity")
    assert row["unaided_low"] <= row["unaided"] <= row["unaided_high"]
    assert row["difference_low"] <= row["difference"] <= row["difference_high"]
    assert row["difference_low"] < row["difference_high"]


def test_two_thousand_resamples_are_vectorised():
    reviews, reference = random_study(300, 8, seed=1)
    started = time.perf_counter()
    result = analyse_added_value(reviews, reference=reference, dnn_calls=reference, n_resamples=2000)
    assert time.perf_counter() - started < 30  # about 1 s on one core
    row = _score(result, ALL_READERS, "sensitivity")
    assert row["difference_low"] > 0  # aided readers are right 85 % of the time, unaided 70 %


def test_report_lines_have_three_decimals():
    text = format_added_value(_analyse())
    assert re.search(r"^AF  unaided sens 0\.750 spec 0\.917 prec 0\.857 F1 0\.800 \| "
                     r"aided sens 0\.750 spec 0\.917 prec 0\.857 F1 0\.800 \| diff sens \+0\.000 ", text, re.M)
    assert re.search(r"^    ana  unaided sens 0\.500 spec 0\.833 .* \| aided sens 0\.750 ", text, re.M)
    assert "RBBB  unaided sens n/a spec 1.000" in text


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="uncertain_as must be one of"):
        _analyse(uncertain_as="maybe")
    with pytest.raises(ValueError, match="n_resamples"):
        _analyse(n_resamples=0)
    only_unaided = study_reviews()
    only_unaided = only_unaided[only_unaided["reading_mode"] == "unaided"]
    with pytest.raises(ValueError, match="no reader has both an unaided and an aided reading"):
        _analyse(only_unaided)
    with pytest.raises(ValueError, match="missing reader_call_AF"):
        _analyse(study_reviews().drop(columns="reader_call_AF"))


def test_pairs_note_unpaired_and_mismatched_links():
    reviews = study_reviews()
    reviews.loc[1, "resolves_review_ids"] = "00000000-0000-4000-8000-999999999999"
    extra = reviews.iloc[[0]].assign(source_sha256="f" * 64)
    pairs, notes = study_pairs(pd.concat([reviews, extra], ignore_index=True))
    assert len(pairs) == 2 * len(CASES)
    assert "1 unaided reading(s) without the other mode left out" in notes
    assert "1 aided reading(s) name an unaided row other than the reader's latest one" in notes


def test_cohort_reference_from_the_readers_is_flagged_and_exports_are_guarded(tmp_path):
    from types import SimpleNamespace

    from ecgreview.study._export import write_table
    from ecgreview.study.added_value import analyse_cohort_added_value

    cohort = SimpleNamespace(reference=class_frame(AF_POSITIVE), dnn_calls=class_frame(DNN_AF_PRESENT),
                             device_calls=class_frame({0}), reference_label="reader consensus (2 readers, 0 adjudicated cases)")
    result = analyse_cohort_added_value(study_reviews(), cohort, n_resamples=20)
    assert any("favours aided reading" in note for note in result.notes)
    reviews = study_reviews()
    reviews["reader"] = reviews["reader"].replace({"ana": "=HYPERLINK(\"x\")"})
    changes = _analyse(reviews, n_resamples=20).changes
    write_table(changes, tmp_path / "changes.csv")
    readers = set(pd.read_csv(tmp_path / "changes.csv", dtype=str)["reader"])
    assert readers == {ALL_READERS, "'=HYPERLINK(\"x\")", "ben"}


def test_too_large_a_study_is_refused_before_allocating(monkeypatch):
    import ecgreview.study.added_value as added_value

    monkeypatch.setattr(added_value, "MAX_READINGS", 19)
    with pytest.raises(ValueError, match="10 cases x 2 readers is more than the 19 reader-case cells"):
        _analyse()
