"""OR–Hillis MRMC analysis against published output on the Van Dyke et al. (1993) data.

References (numbers written as printed, compared to their printed precision):

* OR-DBM MRMC 2.51 (Schartz, Hillis, Pesce & Berbaum), "VanDyke trap area jackknife anova",
  stored in RJafroc as ``inst/Iowa/VanDyke.txt`` (random readers and random cases; Hillis 2007).
* MRMCaov documentation (Smith, Hillis & Pesce; ``docs/jss/MRMCaov.tex``): fixed readers, fixed
  cases, DeLong covariances, sensitivity of ``rating >= 3`` (``binary_sens``).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from ecgreview.examples import VAN_DYKE_RATINGS_CSV
from ecgreview.study.mrmc import analyse_mrmc
from ecgreview.study.operating_points import roc_auc


def assert_printed(value: float, printed: str) -> None:
    """``value`` rounds to ``printed`` at the number of decimals printed."""
    decimals = -int(Decimal(printed).as_tuple().exponent)
    assert abs(value - float(printed)) <= 0.5 * 10.0 ** -decimals + 1e-12, f"{value} is not {printed}"


@pytest.fixture(scope="module")
def van_dyke() -> pd.DataFrame:
    return pd.read_csv(VAN_DYKE_RATINGS_CSV)


@pytest.fixture(scope="module")
def auc(van_dyke):
    return analyse_mrmc(van_dyke)


def test_van_dyke_data_is_the_published_design(van_dyke):
    assert van_dyke.shape == (1140, 5)
    assert van_dyke.groupby("case")["truth"].first().value_counts().to_dict() == {0: 69, 1: 45}


def test_reader_aucs_and_anova_match_or_dbm(auc):
    printed = [["0.91964573", "0.85877617", "0.90386473", "0.97310789", "0.82979066"],
               ["0.94782609", "0.90531401", "0.92173913", "0.99935588", "0.92995169"]]
    for row, printed_row in zip(auc.figures, printed):
        for value, text in zip(row, printed_row):
            assert_printed(value, text)
    for key, text in (("treatment", "0.00479617"), ("reader", "0.00383620"), ("treatment_by_reader", "0.00055103"),
                      ("reader|1", "0.00308263"), ("reader|2", "0.00130460")):
        assert_printed(auc.mean_squares[key], text)


def test_variance_components_match_or_dbm(auc):
    components = auc.components
    for value, text in ((components.reader, "0.00153500"), (components.treatment_by_reader, "0.00020040"),
                        (components.covariance_1, "0.00034661"), (components.covariance_2, "0.00034407"),
                        (components.covariance_3, "0.00023903"), (components.error, "0.00080229")):
        assert_printed(value, text)
    for value, text in zip(components.correlations(), ("0.43203138", "0.42886683", "0.29793328")):
        assert_printed(value, text)


def test_random_readers_random_cases_match_or_dbm_and_hillis_2007(auc):
    analysis = auc.analysis(readers="random", cases="random")
    means = [row.estimate for row in analysis.treatments]
    assert_printed(means[0], "0.89703704")
    assert_printed(means[1], "0.94083736")
    test = analysis.test
    assert (test.statistic_name, test.numerator_df) == ("F", 1)
    assert_printed(test.statistic, "4.46")
    assert_printed(test.denominator_df, "15.26")
    assert_printed(test.p_value, "0.0517")
    assert_printed(test.error_term, "0.00107626")
    (difference,) = analysis.differences
    assert (difference.treatment_a, difference.treatment_b) == ("1", "2")
    for value, text in ((difference.estimate, "-0.04380"), (difference.standard_error, "0.02075"),
                        (difference.statistic, "-2.11"), (difference.p_value, "0.0517"),
                        (difference.ci_low, "-0.08796"), (difference.ci_high, "0.00036")):
        assert_printed(value, text)
    for row, (error, df, low, high) in zip(analysis.treatments, (
            ("0.03317360", "12.74", "0.82522360", "0.96885048"), ("0.02156637", "12.71", "0.89413783", "0.98753689"))):
        for value, text in ((row.standard_error, error), (row.degrees_of_freedom, df), (row.ci_low, low),
                            (row.ci_high, high)):
            assert_printed(value, text)


def test_random_readers_random_cases_match_mrmcaov_digits(auc):
    # MRMCaov prints MS(T) 0.004796171, MS(T:R) 0.0005510306, Cov2 0.0003440748, Cov3 0.0002390284.
    assert_printed(auc.mean_squares["treatment"], "0.004796171")
    assert_printed(auc.mean_squares["treatment_by_reader"], "0.0005510306")
    assert_printed(auc.components.covariance_2, "0.0003440748")
    assert_printed(auc.components.covariance_3, "0.0002390284")
    test = auc.analysis().test
    assert f"{test.statistic:.4f} {test.denominator_df:.4f} {test.p_value:.4f}" == "4.4563 15.2597 0.0517"


def test_fixed_readers_match_mrmcaov_and_or_dbm(auc):
    analysis = auc.analysis(readers="fixed", cases="random")
    assert analysis.test.statistic_name == "chi-squared" and math.isinf(analysis.test.denominator_df)
    assert_printed(analysis.test.statistic, "5.475953")
    assert_printed(analysis.test.p_value, "0.01927984")
    assert_printed(analysis.test.error_term, "0.0008758604")
    (difference,) = analysis.differences
    for value, text in ((difference.standard_error, "0.01871748"), (difference.ci_low, "-0.08048591"),
                        (difference.ci_high, "-0.00711473"), (difference.statistic, "-2.340075")):
        assert_printed(value, text)
    for row, (error, low, high) in zip(analysis.treatments, (("0.02428971", "0.8494301", "0.9446440"),
                                                             ("0.01677632", "0.9079564", "0.9737183"))):
        assert math.isinf(row.degrees_of_freedom)
        for value, text in ((row.standard_error, error), (row.ci_low, low), (row.ci_high, high)):
            assert_printed(value, text)
    printed = (("-0.02818035", "0.02551213", "0.26933885"), ("-0.04653784", "0.02630183", "0.07683102"),
               ("-0.01787440", "0.03120965", "0.56683414"), ("-0.02624799", "0.01729129", "0.12901715"),
               ("-0.10016103", "0.04405746", "0.02300099"))
    assert [row.reader for row in auc.reader_differences] == ["1", "2", "3", "4", "5"]
    for row, texts in zip(auc.reader_differences, printed):
        for value, text in zip((row.estimate, row.standard_error, row.p_value), texts):
            assert_printed(value, text)


def test_single_reader_intervals_match_mrmcaov(auc):
    readers = auc.tables()["readers"].set_index(["reader", "treatment"])
    for key, (error, low, high) in {("1", "1"): ("0.0301255164", "0.8606008", "0.9786907"),
                                    ("4", "1"): ("0.0173388332", "0.9391244", "1.0000000"),
                                    ("4", "2"): ("0.0007213348", "0.9979421", "1.0000000")}.items():
        row = readers.loc[key]
        for value, text in ((row["standard_error"], error), (row["ci_low"], low), (row["ci_high"], high)):
            assert_printed(value, text)


def test_fixed_cases_match_mrmcaov(auc):
    analysis = auc.analysis(readers="random", cases="fixed")
    assert (analysis.test.statistic_name, analysis.test.denominator_df) == ("F", 4)
    assert_printed(analysis.test.statistic, "8.704")
    assert_printed(analysis.test.p_value, "0.04195875")
    (difference,) = analysis.differences
    for value, text in ((difference.standard_error, "0.01484629"), (difference.ci_low, "-0.08502022"),
                        (difference.ci_high, "-0.00258042")):
        assert_printed(value, text)
    first = analysis.treatments[0]
    for value, text in ((first.standard_error, "0.02482994"), (first.ci_low, "0.8280981"), (first.ci_high, "0.9659760")):
        assert_printed(value, text)


def test_delong_covariance_matches_mrmcaov(van_dyke):
    result = analyse_mrmc(van_dyke, covariance_method="delong")
    components = result.components
    for value, text in ((components.error, "0.0007921325"), (components.covariance_1, "0.0003420090"),
                        (components.covariance_2, "0.0003395265"), (components.covariance_3, "0.0002358497"),
                        (components.reader, "0.0015364254"), (components.treatment_by_reader, "0.0002045840")):
        assert_printed(value, text)
    analysis = result.analysis()
    assert_printed(analysis.test.statistic, "4.484854")
    assert_printed(analysis.test.denominator_df, "15.06611")
    assert_printed(analysis.test.p_value, "0.05123303")
    assert_printed(analysis.treatments[0].standard_error, "0.03307642")
    assert_printed(analysis.treatments[0].degrees_of_freedom, "12.59597")


def test_sensitivity_of_rating_at_least_3_matches_mrmcaov(van_dyke):
    result = analyse_mrmc(van_dyke, figure_of_merit="sensitivity", positive_from=3)
    assert result.figures.round(3).tolist() == [[0.889, 0.778, 0.822, 0.933, 0.689], [0.978, 0.822, 0.911, 1.0, 0.889]]
    components = result.components
    for value, text in ((components.error, "0.0023681257"), (components.covariance_1, "0.0009943883"),
                        (components.covariance_2, "0.0010145903"), (components.covariance_3, "0.0006604938"),
                        (components.reader, "0.0049747475"), (components.treatment_by_reader, "0.0007828283")):
        assert_printed(value, text)
    analysis = result.analysis()
    assert_printed(analysis.test.statistic, "6.689493")
    assert_printed(analysis.test.denominator_df, "15.71732")
    assert_printed(analysis.test.p_value, "0.02008822")
    first, second = analysis.treatments
    for value, text in ((first.ci_low, "0.6961876"), (first.ci_high, "0.9482568"), (second.ci_low, "0.8328691"),
                        (second.ci_high, "1.0000000"), (second.degrees_of_freedom, "7.575855")):
        assert_printed(value, text)


def test_call_column_specificity_and_symmetry(van_dyke):
    calls = van_dyke.assign(call=(van_dyke["rating"] >= 3).astype(int)).drop(columns="rating")
    from_calls = analyse_mrmc(calls, figure_of_merit="sensitivity")
    from_ratings = analyse_mrmc(van_dyke, figure_of_merit="sensitivity", positive_from=3)
    np.testing.assert_allclose(from_calls.figures, from_ratings.figures)
    np.testing.assert_allclose(from_calls.covariance, from_ratings.covariance)
    # Specificity is the sensitivity of the inverted calls with truth swapped.
    swapped = calls.assign(truth=1 - calls["truth"], call=1 - calls["call"])
    specificity = analyse_mrmc(calls, figure_of_merit="specificity")
    np.testing.assert_allclose(specificity.figures, analyse_mrmc(swapped, figure_of_merit="sensitivity").figures)
    negatives = van_dyke[(van_dyke["truth"] == 0) & (van_dyke["reader"] == 1) & (van_dyke["treatment"] == 1)]
    assert specificity.figures[0, 0] == pytest.approx((negatives["rating"] < 3).mean())


def test_auc_is_the_project_auc_and_row_order_does_not_matter(van_dyke, auc):
    one = van_dyke[(van_dyke["reader"] == 3) & (van_dyke["treatment"] == 2)]
    assert auc.figures[1, 2] == pytest.approx(roc_auc(one["truth"], one["rating"]))
    shuffled = van_dyke.sample(frac=1, random_state=4).rename(columns={"treatment": "modality"})
    again = analyse_mrmc(shuffled)
    order = [again.readers.index(name) for name in auc.readers]
    treatment_order = [again.treatments.index(name) for name in auc.treatments]
    np.testing.assert_allclose(again.figures[np.ix_(treatment_order, order)], auc.figures)
    assert again.analysis().test.statistic == pytest.approx(auc.analysis().test.statistic)


def _synthetic(treatments: int = 3, readers: int = 4, cases: int = 30, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = np.arange(cases) % 2
    rows = [{"reader": f"R{j}", "treatment": f"T{i}", "case": f"c{k}", "truth": truth[k],
             "rating": truth[k] * (1 + 0.5 * i) + rng.normal()}
            for i in range(treatments) for j in range(readers) for k in range(cases)]
    return pd.DataFrame(rows)


def test_three_treatments_give_every_pair_and_a_two_df_test():
    result = analyse_mrmc(_synthetic())
    analysis = result.analysis()
    assert analysis.test.numerator_df == 2
    assert [(d.treatment_a, d.treatment_b) for d in analysis.differences] == [("T0", "T1"), ("T0", "T2"), ("T1", "T2")]
    assert len(result.reader_differences) == 4 * 3
    tables = result.tables()
    assert set(tables) == {"readers", "treatments", "differences", "tests", "components"}
    assert len(tables["readers"]) == 12 and len(tables["tests"]) == 3


@pytest.mark.parametrize(("change", "options", "message"), [
    (lambda f: f.drop(columns="truth"), {}, "lacks column.*truth"),
    (lambda f: f.drop(columns="rating"), {}, "auc needs a rating column"),
    (lambda f: f.iloc[1:], {}, "lacks 1 of 1140 .*cells.*factorial"),
    (lambda f: pd.concat([f, f.iloc[:1]]), {}, "more than one row for reader 1, treatment 1, case 1"),
    (lambda f: f.assign(truth=f["truth"] * 2), {}, "truth must hold only 0/1"),
    (lambda f: f.assign(truth=np.where(f.index == 0, 1 - f["truth"], f["truth"])), {}, "case 1 both truth 0 and truth 1"),
    (lambda f: f.assign(truth=1), {}, "at least 2 positive and 2 negative"),
    (lambda f: f[f["reader"] == 1], {}, "at least 2 treatments and 2 readers"),
    (lambda f: f.assign(rating=f["rating"].where(f.index != 5)), {}, "rating must be numeric.*row 5"),
    (lambda f: f, {"figure_of_merit": "sensitivity"}, "sensitivity needs a binary call column"),
    (lambda f: f.assign(call=f["rating"]), {"figure_of_merit": "sensitivity"}, "call must hold only 0/1"),
    (lambda f: f, {"positive_from": 3}, "positive_from applies to sensitivity and specificity only"),
    (lambda f: f, {"figure_of_merit": "sensitivity", "covariance_method": "delong", "positive_from": 3},
     "'delong' applies to the AUC only"),
    (lambda f: f, {"figure_of_merit": "kappa"}, "figure_of_merit must be one of"),
    (lambda f: f, {"confidence": 95}, r"confidence must be in \(0, 1\)"),
])
def test_bad_input_is_named(van_dyke, change, options, message):
    with pytest.raises(ValueError, match=message):
        analyse_mrmc(change(van_dyke.copy()), **options)
