"""OR–Hillis and Fleiss' kappa inside the added-value analysis: the numbers are analyse_mrmc's and fleiss_kappa's
on a layout built here from the review rows independently, with the sign aided − unaided."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecgreview.record import CLASSES
from ecgreview.review.store import read_reviews
from ecgreview.study.added_value import analyse_added_value
from ecgreview.study.agreement import fleiss_kappa
from ecgreview.study.mrmc import analyse_mrmc
from ecgreview.study.plan import AnalysisPlan
from tests.study.generated_study import write_generated_study
from tests.study.study_fixtures import AF_POSITIVE, DNN_AF_PRESENT, class_frame, study_reviews


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    home = tmp_path_factory.mktemp("mrmc-study")
    study = write_generated_study(home, readers=4, cases=60, seed=5, plan=AnalysisPlan(("AF",)))
    return study, read_reviews(study.reviews)


def _analyse(reviews, reference, **options):
    options.setdefault("n_resamples", 200)
    return analyse_added_value(reviews, reference=reference, dnn_calls=reference * np.nan, **options)


def _long_layout(reviews: pd.DataFrame, reference: pd.DataFrame, name: str, uncertain_as: str) -> pd.DataFrame:
    """reader, treatment, case, truth, call of one class; cases with any uncounted reading dropped."""
    latest = reviews.drop_duplicates(["reader", "source_sha256", "reading_mode"], keep="last")
    calls = latest[f"reader_call_{name}"].map({"present": 1.0, "absent": 0.0, "uncertain": {
        "absent": 0.0, "present": 1.0}.get(uncertain_as, np.nan)})
    frame = pd.DataFrame({"reader": latest["reader"], "treatment": latest["reading_mode"],
                          "case": latest["source_sha256"], "call": calls})
    frame["truth"] = reference[name].reindex(frame["case"]).to_numpy()
    incomplete = frame.loc[frame["call"].isna() | frame["truth"].isna(), "case"]
    return frame[~frame["case"].isin(incomplete)]


@pytest.mark.parametrize("uncertain_as", ["absent", "exclude"])
def test_or_hillis_per_class_is_analyse_mrmc_on_the_study_layout(generated, uncertain_as):
    study, reviews = generated
    result = _analyse(reviews, study.reference, uncertain_as=uncertain_as, primary_endpoints=[("AF", "sensitivity")])
    for name in ("AF", "RBBB"):
        layout = _long_layout(reviews, study.reference, name, uncertain_as)
        for figure in ("sensitivity", "specificity"):
            expected = analyse_mrmc(layout, figure_of_merit=figure).analysis()
            row = result.mrmc[(result.mrmc["class"] == name) & (result.mrmc["figure_of_merit"] == figure)].iloc[0]
            treatments = {item.treatment: item for item in expected.treatments}
            difference = expected.differences[0]
            sign = 1 if (difference.treatment_a, difference.treatment_b) == ("aided", "unaided") else -1
            assert row["difference"] == pytest.approx(sign * difference.estimate)
            assert row["aided"] - row["unaided"] == pytest.approx(row["difference"])
            assert (row["difference_low"], row["difference_high"]) == pytest.approx(sorted(
                (sign * difference.ci_low, sign * difference.ci_high)))
            assert row["df"] == pytest.approx(difference.degrees_of_freedom)
            assert row["p_value"] == pytest.approx(difference.p_value)
            assert (row["unaided_low"], row["aided_df"]) == pytest.approx(
                (treatments["unaided"].ci_low, treatments["aided"].degrees_of_freedom))
            assert row["cases"] == layout["case"].nunique()
            assert row["excluded_cases"] == 60 - layout["case"].nunique()
            assert row["ci_method"].startswith("95% CI, OR–Hillis (random readers, random cases)")
            assert row["primary"] == ((name, figure) == ("AF", "sensitivity"))
    if uncertain_as == "exclude":  # an uncertain reading removes its case from that class
        assert (result.mrmc["excluded_cases"] > 0).any()


def test_per_reader_rows_and_the_fixed_reader_analysis(generated):
    study, reviews = generated
    result = _analyse(reviews, study.reference, readers_factor="fixed")
    layout = _long_layout(reviews, study.reference, "AF", "absent")
    expected = analyse_mrmc(layout, figure_of_merit="specificity")
    row = result.mrmc[(result.mrmc["class"] == "AF") & (result.mrmc["figure_of_merit"] == "specificity")].iloc[0]
    assert math.isinf(row["df"]) and "normal (z)" in row["ci_method"]  # fixed readers: chi-squared / z
    assert abs(row["difference"]) == pytest.approx(abs(expected.analysis(readers="fixed").differences[0].estimate))
    readers = result.mrmc_readers[(result.mrmc_readers["class"] == "AF")
                                  & (result.mrmc_readers["figure_of_merit"] == "specificity")]
    assert list(readers["reader"]) == list(study.design.readers)
    for item in expected.reader_differences:
        mine = readers[readers["reader"] == item.reader].iloc[0]
        assert abs(mine["difference"]) == pytest.approx(abs(item.estimate))
        assert mine["p_value"] == pytest.approx(item.p_value, nan_ok=True)
    assert result.mrmc_analysis == "fixed readers, random cases"


def test_hand_worked_sign_and_the_reasons_it_cannot_run():
    # AF: ana senses 2 of 4 positives unaided and 3 aided, ben 4 and 3: reader averages 0.75 and 0.75.
    result = _analyse(study_reviews(), class_frame(AF_POSITIVE))
    af = result.mrmc.set_index(["class", "figure_of_merit"]).loc[("AF", "sensitivity")]
    assert (af["unaided"], af["aided"], af["difference"]) == pytest.approx((0.75, 0.75, 0.0))
    assert (af["positive_cases"], af["negative_cases"]) == (4, 6)
    rbbb = result.mrmc.set_index(["class", "figure_of_merit"]).loc[("RBBB", "sensitivity")]
    assert rbbb["not_computed"] == ("OR–Hillis not computed: 0 positive and 10 negative cases read by every reader "
                                    "in both modes; the case jackknife needs at least 2 of each")
    assert np.isnan(rbbb["difference"])
    alone = study_reviews()
    one = _analyse(alone[alone["reader"] == "ana"], class_frame(AF_POSITIVE))
    assert set(one.mrmc["not_computed"].str.contains("one reader")) == {True}
    assert one.mrmc_readers.empty and one.agreement.empty
    assert _analyse(study_reviews(), class_frame(DNN_AF_PRESENT)).agreement.empty  # two readers: no Fleiss


def test_fleiss_kappa_per_mode_is_fleiss_kappa_of_the_decided_cases(generated):
    study, reviews = generated
    result = _analyse(reviews, study.reference)
    table = result.agreement.set_index(["class", "mode"])
    latest = reviews.drop_duplicates(["reader", "source_sha256", "reading_mode"], keep="last")
    for name in ("AF", "SB"):
        for mode in ("unaided", "aided"):
            calls = latest[latest["reading_mode"] == mode].pivot(index="source_sha256", columns="reader",
                                                                  values=f"reader_call_{name}").reindex(list(result.cases))
            decided = calls[calls.isin(["present", "absent"]).all(axis=1)]
            present = (decided == "present").sum(axis=1).to_numpy()
            expected = fleiss_kappa(np.column_stack([4 - present, present]), n_resamples=200, seed=0)
            row = table.loc[(name, mode)]
            assert (row["kappa"], row["ci_low"], row["ci_high"]) == pytest.approx(
                (expected.kappa, expected.ci_low, expected.ci_high))
            assert row["cases"] == len(decided) and row["readers"] == 4
    assert result.agreement["ci_method"].str.contains("percentile bootstrap over subjects").all()
    assert set(result.mrmc["class"]) == set(CLASSES)


def test_the_generator_writes_a_readable_store(generated):
    study, reviews = generated
    assert Path(study.reviews).is_file() and len(reviews) == 4 * 60 * 2
    assert set(reviews["reading_mode"]) == {"unaided", "aided"}
