"""A study analysed as planned: its readings only, the flow of cases and readers, deviations, provenance, runs."""

from __future__ import annotations

import hashlib
import uuid

import pandas as pd
import pytest

from ecgreview.review.store import read_reviews
from ecgreview.study.design import save_design
from ecgreview.study.plan import EXPLORATORY, PRE_SPECIFIED, AnalysisChoices, AnalysisPlan
from ecgreview.study.study_analysis import analyse_study
from tests.study.generated_study import write_generated_study

CASES = 40
DROPPED = 5  # aided readings of Dr B removed: unaided only


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A 3-reader study with gaps: Dr B misses 5 aided readings, a reader outside the design, other thresholds."""
    home = tmp_path_factory.mktemp("study-analysis")
    generated = write_generated_study(home, readers=3, cases=CASES, seed=8,
                                      plan=AnalysisPlan(("AF",), reference_standard="clinical"))
    rows = read_reviews(generated.reviews)
    dropped = rows[(rows["reader"] == "Dr B") & (rows["reading_mode"] == "aided")].index[:DROPPED]
    outsider = rows[rows["reader"] == "Dr A"].assign(
        reader="Dr Outside", review_id=[str(uuid.uuid4()) for _ in range(CASES * 2)])
    changed = rows.index[(rows["reader"] == "Dr C")][:4]
    rows.loc[changed, "thresholds"] = "0.5;0.5;0.5;0.5;0.5;0.5"
    pd.concat([rows.drop(index=dropped), outsider]).to_csv(generated.reviews, index=False)
    return generated


def test_flow_counts_every_reading_and_what_was_left_out(study):
    analysis = analyse_study(study.reviews, design=study.design, requested=AnalysisChoices(study.clinical))
    flow = analysis.flow.set_index("stage")["count"]
    assert flow["Cases in the design"] == CASES and flow["Readers"] == 3
    assert flow["Reader × case readings assigned"] == 3 * CASES
    assert flow["Both readings saved (unaided, then aided)"] == 3 * CASES - DROPPED
    assert flow["Unaided reading only"] == DROPPED and flow["Not read"] == 0
    assert flow["Unaided/aided rows outside this study left out"] == 2 * CASES  # Dr Outside
    readers = analysis.reader_flow.set_index("reader")
    assert readers.loc["Dr B", ["both_readings", "unaided_only"]].tolist() == [CASES - DROPPED, DROPPED]
    assert "Dr Outside" not in readers.index and analysis.primary.readers == ("Dr A", "Dr B", "Dr C")
    # OR–Hillis needs every reader in both modes: Dr B's gaps leave out those cases (more where uncertain)
    af = analysis.primary.mrmc.set_index(["class", "figure_of_merit"]).loc[("AF", "sensitivity")]
    assert af["excluded_cases"] >= DROPPED and af["cases"] + af["excluded_cases"] == CASES
    assert flow["AF: cases in OR–Hillis"] == af["cases"]


def test_deviations_and_provenance(study):
    analysis = analyse_study(study.reviews, design=study.design, requested=AnalysisChoices(study.clinical))
    assert analysis.deviations == ("4 reading(s) were shown other DNN thresholds than the plan's "
                                   "(0.5;0.5;0.5;0.5;0.5;0.5)",)
    provenance = analysis.provenance.set_index("item")
    digest = hashlib.sha256(study.reviews.read_bytes()).hexdigest()
    assert provenance.loc["review file", "value"] == f"reviews.csv sha256 {digest}"
    assert provenance.loc["analysis plan sha256", "value"] == study.design.plan.fingerprint
    assert provenance.loc["statement-map version", "value"] == "2026.11"
    assert provenance.loc["model weights sha256", "readings"] == 3 * CASES * 2 - DROPPED
    assert "analysis software: scipy" in provenance.index


def test_the_plan_runs_first_and_another_choice_runs_beside_it(study):
    planned = analyse_study(study.reviews, design=study.design, requested=AnalysisChoices(study.clinical))
    assert [run.label for run in planned.runs] == [PRE_SPECIFIED]
    both = analyse_study(study.reviews, design=study.design,
                         requested=AnalysisChoices(study.clinical, uncertain_as="present"))
    assert [run.label for run in both.runs] == [
        PRE_SPECIFIED, "sensitivity analysis: 'uncertain' counted as present instead of counted as absent"]
    pd.testing.assert_frame_equal(both.primary.mrmc, planned.primary.mrmc)  # never in the plan's place
    assert both.runs[1].uncertain_as == "present" and not both.runs[1].mrmc["primary"].any()
    primary = planned.primary.mrmc
    assert primary.loc[primary["primary"], "class"].tolist() == ["AF", "AF"]
    with pytest.raises(ValueError, match="the plan's reference standard is a clinical-diagnosis CSV"):
        analyse_study(study.reviews, design=study.design)


def test_without_a_plan_or_a_design_every_run_is_exploratory(study, tmp_path):
    import dataclasses

    unplanned = dataclasses.replace(study.design, plan=None)
    save_design(unplanned, tmp_path)
    analysis = analyse_study(study.reviews, design=unplanned)
    assert [run.label for run in analysis.runs] == [EXPLORATORY] and not analysis.primary.mrmc["primary"].any()
    loose = analyse_study(study.reviews)
    assert loose.title == "unaided/aided readings (no study design)"
    assert "Dr Outside" in loose.primary.readers  # no design: every unaided/aided reading counts
