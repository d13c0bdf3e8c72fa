"""A case's latest clinical readings, per version of the review store (review/readings.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from ecgreview.record import CLASSES
from ecgreview.review import readings
from ecgreview.review.protocol import clinical_readings, latest_readings
from ecgreview.review.store import Review, ReviewStoreError, append_review, read_reviews

SHA_A, SHA_B = "a" * 64, "b" * 64


def _review(reader: str, sha: str, af: str, **options: object) -> Review:
    calls = dict.fromkeys(CLASSES, "absent") | {"AF": af}
    return Review.create(reader=reader, reader_calls=calls, source_sha256=sha, opinions_seen=True, **options)


def test_the_same_rows_as_the_one_latest_rule_and_a_save_is_seen_at_once(tmp_path):
    store = tmp_path / "reviews.csv"
    assert readings.case_readings(store, SHA_A).empty  # no store yet
    for review in (_review("Dr A", SHA_A, "present"), _review("Dr B", SHA_A, "absent"),
                   _review("Dr A", SHA_B, "absent"), _review("Dr A", SHA_A, "uncertain"),  # a correction
                   _review("Student S", SHA_A, "present", role="student", reading_mode="teaching",
                           session_id="t-1")):  # never a clinical reading
        append_review(store, review)
    for sha in (SHA_A, SHA_B, "c" * 64):
        expected = latest_readings(read_reviews(store), sha)
        pd.testing.assert_frame_equal(readings.case_readings(store, sha).reset_index(drop=True),
                                      expected.reset_index(drop=True))
    assert list(readings.case_readings(store, SHA_A)["reader_call_AF"]) == ["absent", "uncertain"]
    history = readings.case_history(store, SHA_A)  # every clinical row, corrections included; no teaching answer
    expected = clinical_readings(read_reviews(store))
    pd.testing.assert_frame_equal(history.reset_index(drop=True),
                                  expected[expected["source_sha256"] == SHA_A].reset_index(drop=True))
    assert list(history["reader_call_AF"]) == ["present", "absent", "uncertain"]
    assert readings.case_history(store, "c" * 64).empty
    append_review(store, _review("Dr B", SHA_A, "present"))
    assert list(readings.case_readings(store, SHA_A)["reader_call_AF"]) == ["uncertain", "present"]


def test_the_store_is_grouped_once_per_version_and_the_rows_handed_out_are_copies(tmp_path, monkeypatch):
    store = tmp_path / "reviews.csv"
    append_review(store, _review("Dr A", SHA_A, "present"))
    groupings, latest = [], []
    real_clinical, real_latest = readings.is_clinical, readings.latest_readings
    monkeypatch.setattr(readings, "is_clinical", lambda frame: groupings.append(len(frame)) or real_clinical(frame))
    monkeypatch.setattr(readings, "latest_readings", lambda frame: latest.append(1) or real_latest(frame))
    first = readings.case_readings(store, SHA_A)
    first.loc[:, "reader"] = "changed by a caller"
    for _ in range(5):
        assert list(readings.case_readings(store, SHA_A)["reader"]) == ["Dr A"]
        assert readings.case_readings(store, SHA_B).empty
    assert sum(groupings) == 1 and len(latest) == 2  # the store's row once, each case's latest readings once
    append_review(store, _review("Dr B", SHA_B, "absent"))
    assert list(readings.case_readings(store, SHA_B)["reader"]) == ["Dr B"]
    assert sum(groupings) == 2 and len(latest) == 3  # the new version: only its new row


def test_a_store_that_cannot_be_read_raises_the_stores_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the review folder should be")
    with pytest.raises(ReviewStoreError):
        readings.case_readings(blocker / "reviews.csv", SHA_A)


def test_every_case_of_a_larger_store_has_the_rows_of_the_one_rule(tmp_path):
    """The rows per case are found in one pass over the store (not a group-by): cases interleaved, corrections."""
    store = tmp_path / "reviews.csv"
    shas = [f"{number:064x}" for number in range(12)]
    for turn in range(3):
        for number, sha in enumerate(shas):
            if (number + turn) % 3:  # not every reader reads every case; turn 2 corrects turn 1's readings
                append_review(store, _review(f"Dr {min(turn, 1)}", sha, ("present", "absent", "uncertain")[turn]))
    reviews = read_reviews(store)
    for sha in [*shas, "f" * 64]:
        latest, history = readings.case_readings(store, sha), readings.case_history(store, sha)
        pd.testing.assert_frame_equal(latest.reset_index(drop=True),
                                      latest_readings(reviews, sha).reset_index(drop=True))
        clinical = clinical_readings(reviews)
        pd.testing.assert_frame_equal(history.reset_index(drop=True),
                                      clinical[clinical["source_sha256"] == sha].reset_index(drop=True))
        history.loc[:, "reader"] = "changed by a caller"
        assert (readings.case_history(store, sha)["reader"] != "changed by a caller").all()
