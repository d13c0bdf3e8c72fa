"""Plausibility findings travel with the case: analysed, stored with the review, counted by the cohort and
``evaluate``, shown on the Review page (issue 18)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ecgreview.plausibility import parse_finding_codes
from ecgreview.record import CLASSES
from ecgreview.review.case import analyse_case
from ecgreview.review.store import SCHEMA_VERSION, Review, append_review, read_reviews
from ecgreview.study.cohort import load_cohort
from ecgreview.study.cohort_report import discordant_cases
from tests.test_plausibility import changed, synthetic_record

SHARED_WFDB = Path(__file__).resolve().parents[2].parent / "shared" / "ecg-corpus" / "wfdb"


def _reading(analysis, reader: str = "Dr A"):
    return analysis.to_review(reader=reader, reader_calls=dict.fromkeys(CLASSES, "absent"))


def test_a_ten_millivolt_lead_is_found_stored_and_counted(tmp_path):
    normal = synthetic_record().replace(source_sha256="ab" * 32)
    loud = changed(normal, **{lead: normal.lead(lead) * 12.0 for lead in normal.lead_names})  # a wrong gain
    store = tmp_path / "reviews.csv"
    analysis = analyse_case(loud)
    assert [finding.code for finding in analysis.signal_findings] == ["amplitude"]
    review = append_review(store, _reading(analysis))
    (code, leads), = parse_finding_codes(review.signal_findings)
    assert code == "amplitude" and "II" in leads
    row = read_reviews(store).iloc[0]
    assert row["signal_findings"] == review.signal_findings and row["schema_version"] == str(SCHEMA_VERSION)
    assert Review.from_row(row).signal_findings == review.signal_findings
    append_review(store, _reading(analyse_case(normal.replace(source_sha256="cd" * 32))))
    cohort = load_cohort(store)
    assert any(note.startswith("Signal check: 1 of 2 cases with findings (amplitude 1)") for note in cohort.notes)
    assert cohort.cases["signal_findings"].tolist() == [review.signal_findings, ""]
    assert "signal_findings" in discordant_cases(cohort).columns


def test_a_normal_record_has_no_findings_and_stores_none():
    analysis = analyse_case(synthetic_record().replace(source_sha256="ab" * 32))
    assert analysis.signal_findings == () and _reading(analysis).signal_findings == ""


def test_a_malformed_findings_cell_is_refused():
    with pytest.raises(ValueError, match="signal_findings"):
        Review.create(reader="Dr A", reader_calls=dict.fromkeys(CLASSES, "absent"), source_sha256="ab" * 32,
                      opinions_seen=True, signal_findings="loud:II")


def test_review_page_shows_the_finding_of_the_gain_200_ptb_xl_record(tmp_path, monkeypatch):
    if not (SHARED_WFDB / "HR20715.hea").is_file():
        pytest.skip(f"{SHARED_WFDB} is absent (the shared corpus is beside the repository in CI)")
    from tests.ui.reading_room_fixtures import ENV_VARIABLES, click_calls, open_page

    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    cases = tmp_path / "cases"
    cases.mkdir()
    for suffix in (".hea", ".mat"):
        shutil.copy(SHARED_WFDB / f"HR20715{suffix}", cases)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_CASES", str(cases))
    order = open_page("worklist").session_state["worklist_order"]
    app = open_page("review", query={"case": order[0]})
    warning = " ".join(element.value for element in app.warning)
    assert "Signal check" in warning and "amplitude" in warning.lower()
    app.text_input(key="reader_name_widget").input("Dr Page")
    click_calls(app.run(), dict.fromkeys(CLASSES, "absent"))
    app.button(key="save-review").click()
    app.run()
    assert not app.exception, app.exception
    stored = read_reviews(tmp_path / "home" / "reviews.csv").iloc[0]["signal_findings"]
    assert stored.startswith("amplitude:") and "II" in stored
