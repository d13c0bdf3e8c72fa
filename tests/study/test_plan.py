"""The analysis plan: validation, storage in the design file, freezing, and the runs it makes."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from ecgreview.record import CLASSES
from ecgreview.study.design import create_design, load_design, save_design
from ecgreview.study.progress import replace_plan
from ecgreview.study.plan import (
    EXPLORATORY,
    PRE_SPECIFIED,
    AnalysisChoices,
    AnalysisPlan,
    analysis_runs,
    plan_from_document,
    requested_choices,
)

CASES = [f"{index:064x}" for index in range(1, 6)]
CREATED = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("change", "message"), [
    ({"primary_classes": ()}, "primary_classes must be one or more of"),
    ({"primary_classes": ("AFIB",)}, "primary_classes must be one or more of"),
    ({"primary_classes": ("AF", "AF")}, "repeated class"),
    ({"figures_of_merit": ("auc",)}, "figures_of_merit must be one or both of sensitivity, specificity"),
    ({"reference_standard": "majority"}, "reference_standard must be one of consensus, reader:<name>, clinical"),
    ({"reference_standard": "reader: "}, "reference_standard must be one of"),
    ({"uncertain_as": "ignore"}, "uncertain_as must be one of absent, present, exclude"),
    ({"thresholds": (0.5,) * 5}, "thresholds must be 6 numbers in"),
    ({"thresholds": (0.5,) * 5 + (1.5,)}, "thresholds must be 6 numbers in"),
    ({"padding": "left"}, "padding must be one of centre, end"),
    ({"readers_factor": "fixed", "cases_factor": "fixed"}, "readers_factor/cases_factor must be one of"),
    ({"covariance_method": "delong"}, "covariance_method must be jackknife"),
    ({"confidence": 1.0}, "confidence must be a number in"),
    ({"bootstrap_resamples": 0}, "bootstrap_resamples must be a whole number"),
    ({"bootstrap_seed": -1}, "bootstrap_seed must be a non-negative"),
    ({"possible_counts_as_positive": "yes"}, "possible_counts_as_positive must be true or false"),
])
def test_a_bad_plan_names_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        AnalysisPlan(**{"primary_classes": ("AF",), **change})


def test_plan_round_trips_and_its_fingerprint_follows_every_field():
    plan = AnalysisPlan(("AF", "LBBB"), reference_standard="reader:Dr X", uncertain_as="exclude")
    assert plan_from_document(json.loads(json.dumps(plan.to_document()))) == plan
    assert plan.primary_endpoints == (("LBBB", "sensitivity"), ("LBBB", "specificity"), ("AF", "sensitivity"),
                                      ("AF", "specificity"))  # CLASSES order, not the order given
    fingerprints = {plan.fingerprint}
    for change in ({"uncertain_as": "absent"}, {"thresholds": (0.2,) * len(CLASSES)}, {"bootstrap_seed": 1},
                   {"figures_of_merit": ("sensitivity",)}, {"reference_description": "cardiologist"}):
        fingerprints.add(dataclasses.replace(plan, **change).fingerprint)
    assert len(fingerprints) == 6
    text = "\n".join(plan.describe())
    assert "LBBB sensitivity, LBBB specificity, AF sensitivity, AF specificity" in text
    assert "left out" in text and plan.fingerprint[:16] in text
    with pytest.raises(ValueError, match="unknown field"):
        plan_from_document({**plan.to_document(), "alpha": 0.05})


def test_a_design_stores_its_plan_and_an_old_design_loads_without_one(tmp_path):
    plan = AnalysisPlan(("AF",))
    design = create_design("planned", CASES, ["ana", "ben"], seed=3, created_at_utc=CREATED, plan=plan)
    assert design.plan.frozen_at_utc == "2026-12-01T09:00:00Z"  # frozen with the design
    assert load_design(save_design(design, tmp_path)) == design
    old = create_design("old", CASES, ["ana"], seed=3, created_at_utc=CREATED)
    document = json.loads(old.to_json())
    assert "plan" not in document  # a design without a plan writes what designs always wrote
    (tmp_path / "legacy.json").write_text(json.dumps({**document, "study_id": "legacy"}))
    assert load_design("legacy", tmp_path).plan is None
    broken = json.loads(design.to_json())
    broken["plan"]["uncertain_as"] = "sometimes"
    (tmp_path / "broken.json").write_text(json.dumps({**broken, "study_id": "broken"}))
    with pytest.raises(Exception, match="broken.json: not a valid study design: uncertain_as must be one of"):
        load_design("broken", tmp_path)


def _reading(case: str, when: str) -> dict[str, str]:
    return {"reader": "ana", "source_sha256": case, "reading_mode": "unaided", "saved_at_utc": when,
            "session_id": "", "review_id": "r1", "resolves_review_ids": ""}


def test_the_plan_is_frozen_once_a_reading_exists():
    design = create_design("frozen", CASES, ["ana"], seed=3, created_at_utc=CREATED)
    before = pd.DataFrame([_reading(CASES[0], "2026-11-30T10:00:00.000000Z")])  # saved before the study
    planned = replace_plan(design, AnalysisPlan(("AF",)), before, now_utc=datetime(2026, 12, 2, tzinfo=timezone.utc))
    assert planned.plan.frozen_at_utc == "2026-12-02T00:00:00Z"
    after = pd.DataFrame([_reading(CASES[1], "2026-12-02T10:00:00.000000Z")])
    with pytest.raises(ValueError, match=r"study 'frozen' has 1 reading\(s\) already \(the first saved "
                                         r"2026-12-02T10:00:00.000000Z\): its analysis plan is frozen"):
        replace_plan(planned, AnalysisPlan(("ST",)), after)


def test_runs_are_the_plan_and_a_labelled_sensitivity_analysis_never_a_replacement():
    assert analysis_runs(None, AnalysisChoices("consensus")) == [
        analysis_runs(None, AnalysisChoices("consensus"))[0]]
    assert analysis_runs(None, AnalysisChoices("consensus"))[0].label == EXPLORATORY
    plan = AnalysisPlan(("AF",), uncertain_as="absent")
    same = analysis_runs(plan, requested_choices(plan))
    assert [(run.label, run.primary) for run in same] == [(PRE_SPECIFIED, True)]
    other = analysis_runs(plan, requested_choices(plan, uncertain_as="exclude", possible_counts_as_positive=False))
    assert other[0].choices == AnalysisChoices("consensus", True, "absent")  # the plan's, not the request's
    assert other[1].choices == AnalysisChoices("consensus", False, "exclude") and not other[1].primary
    assert other[1].label.startswith("sensitivity analysis: 'possible' device statements count as negative; "
                                     "'uncertain' left out")
    clinical = AnalysisPlan(("AF",), reference_standard="clinical", reference_description="discharge letters")
    with pytest.raises(ValueError, match=r"clinical-diagnosis CSV \(discharge letters\); give that CSV"):
        analysis_runs(clinical, requested_choices(clinical))
    runs = analysis_runs(clinical, requested_choices(clinical, reference=Path("dx.csv")))
    assert [run.choices.reference for run in runs] == [Path("dx.csv")]
    with pytest.raises(ValueError, match="give that CSV"):  # consensus cannot stand in for the planned reference
        analysis_runs(clinical, requested_choices(clinical, reference="consensus"))
    consensus = analysis_runs(AnalysisPlan(("AF",)), AnalysisChoices(Path("dx.csv")))
    assert consensus[1].label == "sensitivity analysis: reference dx.csv instead of consensus"
