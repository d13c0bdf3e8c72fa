"""The reading protocol (ecgreview.review.protocol): every mode's steps, what is hidden, which row a save writes,
and which rows are clinical readings."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from ecgreview.record import CLASSES
from ecgreview.review.modes import (
    ADJUDICATION,
    AIDED,
    BLINDED,
    DESIGN_MODES,
    DONE,
    ROW_MODES,
    SESSION_MODES,
    TWO_STEP,
    UNAIDED,
    mode_label,
)
from ecgreview.review.protocol import (
    Reading,
    ReadingNotSaved,
    case_mode,
    clinical_readings,
    hides_opinions_in_lists,
    latest_readings,
    mode_unavailable_reason,
)
from ecgreview.review.store import Review, append_review, read_reviews
from ecgreview.study.cohort import load_cohort

SHA = "ab" * 32


def test_case_mode_students_read_blinded_and_a_study_sets_the_mode():
    assert case_mode(student=True, session_mode=TWO_STEP, assigned_mode=AIDED) == BLINDED
    assert case_mode(student=False, session_mode=BLINDED, assigned_mode=UNAIDED) == UNAIDED
    assert case_mode(student=False, session_mode=TWO_STEP) == TWO_STEP
    with pytest.raises(ValueError, match="mode must be one of"):
        case_mode(student=False, session_mode="two-step")  # the display label is not a mode


def test_vocabulary_is_consistent():
    assert set(SESSION_MODES) - set(ROW_MODES) == {TWO_STEP}  # a two-step reading writes unaided and aided rows
    assert set(DESIGN_MODES) - set(ROW_MODES) == {TWO_STEP}
    assert mode_label(TWO_STEP) == "two-step" and mode_label(BLINDED) == "blinded"
    assert [hides_opinions_in_lists(mode) for mode in SESSION_MODES] == [False, True, True]


def test_adjudication_shows_opinions_and_may_record_a_consensus():
    reading = Reading(mode=ADJUDICATION, dnn_available=False)
    assert reading.step == ADJUDICATION and not reading.opinions_hidden and not reading.is_study
    fields = reading.row_fields(resolves=["r1", "r2"], adjudicate=True)
    assert fields == {"reading_mode": ADJUDICATION, "opinions_seen": True, "resolves_review_ids": ("r1", "r2"),
                      "confidence": None, "session_id": ""}
    assert reading.row_fields(resolves=["r1"])["resolves_review_ids"] == ()  # not asked to adjudicate
    assert reading.saved(review_id="x", reading_mode=ADJUDICATION).step == ADJUDICATION


def test_blinded_hides_until_saved_then_records_opinions_seen():
    reading = Reading(mode=BLINDED, dnn_available=True)
    assert reading.opinions_hidden and not reading.dnn_shown
    assert reading.row_fields()["opinions_seen"] is False
    with pytest.raises(ReadingNotSaved, match="consensus is recorded in adjudication mode"):
        reading.row_fields(resolves=["r1"], adjudicate=True)
    after = reading.saved(review_id="x", reading_mode=BLINDED)
    assert not after.opinions_hidden and after.dnn_shown
    assert after.row_fields()["opinions_seen"] is True  # a correction after seeing the opinions says so


def test_two_step_unaided_then_aided_then_done():
    reading = Reading(mode=TWO_STEP, dnn_available=True, session_id="s-1")
    assert reading.step == UNAIDED and reading.opinions_hidden and reading.is_study
    with pytest.raises(ReadingNotSaved, match="confidence"):
        reading.row_fields()
    assert reading.row_fields(confidence=2) == {"reading_mode": UNAIDED, "opinions_seen": False,
                                                "resolves_review_ids": (), "confidence": 2, "session_id": "s-1"}
    aided = reading.saved(review_id="u-1", reading_mode=UNAIDED)
    assert aided.step == AIDED and not aided.opinions_hidden and aided.dnn_shown
    assert aided.row_fields(confidence=4) == {"reading_mode": AIDED, "opinions_seen": True,
                                              "resolves_review_ids": ("u-1",), "confidence": 4, "session_id": "s-1"}
    done = aided.saved(review_id="a-1", reading_mode=AIDED)
    assert done.step == DONE and not done.opinions_hidden
    with pytest.raises(ReadingNotSaved, match="both readings of this case are saved"):
        done.row_fields(confidence=3)


def test_study_unaided_case_stays_hidden_after_its_save():
    reading = Reading(mode=UNAIDED, dnn_available=True)
    after = reading.saved(review_id="u", reading_mode=UNAIDED)
    assert after.opinions_hidden and after.row_fields(confidence=1)["opinions_seen"] is False


@pytest.mark.parametrize("mode", [TWO_STEP, AIDED])
def test_a_reading_that_shows_the_dnn_is_unavailable_without_its_output(mode):
    reading = Reading(mode=mode, dnn_available=False)
    assert "needs the DNN's probabilities" in reading.unavailable_reason
    with pytest.raises(ReadingNotSaved, match="needs the DNN's probabilities"):
        reading.row_fields(confidence=3)
    assert mode_unavailable_reason(mode, dnn_available=True) is None
    for other in (ADJUDICATION, BLINDED, UNAIDED):
        assert mode_unavailable_reason(other, dnn_available=False) is None


def _review(reader: str, *, role: str = "reader", mode: str = ADJUDICATION, calls: dict | None = None,
            sha: str = SHA, **options) -> Review:
    answer = {name: "absent" for name in CLASSES} | (calls or {})
    return Review.create(reader=reader, reader_calls=answer, source_sha256=sha, role=role, reading_mode=mode,
                         opinions_seen=mode not in (BLINDED, UNAIDED, "teaching"), **options)


def test_the_store_refuses_an_aided_row_without_the_dnn_output(tmp_path):
    store = tmp_path / "reviews.csv"
    aided = _review("Dr A", mode=AIDED, confidence=3)
    assert aided.model_status == "none"
    with pytest.raises(ValueError, match="reading_mode 'aided' needs the DNN output"):
        append_review(store, aided)
    assert not store.exists()
    shown = _review("Dr A", mode=AIDED, confidence=3, probabilities=[0.5] * len(CLASSES))
    append_review(store, shown)
    assert list(read_reviews(store)["reading_mode"]) == [AIDED]


def test_teaching_rows_are_not_clinical_readings(tmp_path):
    store = tmp_path / "reviews.csv"
    append_review(store, _review("Dr A", calls={"AF": "present"}))
    append_review(store, _review("Student S", role="student", mode="teaching", session_id="t-1",
                                 calls={"AF": "absent", "RBBB": "present"}))
    append_review(store, _review("Student T", role="student", mode=BLINDED))
    append_review(store, _review("Dr T", role="teacher", mode="teaching", session_id="t-1"))
    frame = read_reviews(store)
    assert list(clinical_readings(frame)["reader"]) == ["Dr A"]
    assert list(latest_readings(frame, SHA)["reader"]) == ["Dr A"]


def test_evaluate_counts_the_same_with_and_without_teaching_rows(tmp_path):
    clinical, mixed = tmp_path / "clinical.csv", tmp_path / "mixed.csv"
    other = "cd" * 32
    for store in (clinical, mixed):
        for reader, call in (("Dr A", "present"), ("Dr B", "present")):
            append_review(store, _review(reader, calls={"AF": call}, probabilities=[0.1, 0, 0, 0, 0.9, 0],
                                         review_id=str(uuid.uuid4())))
    for sha in (SHA, other):  # students answer the clinical case and a case no clinician read
        append_review(mixed, _review("Student S", role="student", mode="teaching", sha=sha,
                                     calls={"AF": "absent", "LBBB": "present"}))
    plain, with_teaching = load_cohort(clinical), load_cohort(mixed)
    assert len(with_teaching.cases) == len(plain.cases) == 1
    pd.testing.assert_frame_equal(with_teaching.reference_status, plain.reference_status)
    assert with_teaching.readers == plain.readers == ("Dr A", "Dr B")
