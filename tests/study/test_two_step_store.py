"""Two-step readings saved through the review store analyse and count as study progress."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ecgreview.record import CLASSES
from ecgreview.review.store import Review, append_review, read_reviews
from ecgreview.study.added_value import ALL_READERS, analyse_added_value
from ecgreview.study.design import create_design, session_label
from ecgreview.study.progress import progress
from tests.study.study_fixtures import class_frame

CASES = tuple(f"{index:064x}" for index in range(3))


def _calls(af: str) -> dict[str, str]:
    return {name: af if name == "AF" else "absent" for name in CLASSES}


def test_store_rows_of_a_two_step_study(tmp_path):
    created = datetime.now(timezone.utc) - timedelta(minutes=5)
    design = create_design("store", CASES, ["ana"], seed=3, created_at_utc=created)
    store = tmp_path / "reviews.csv"
    probabilities = [0.01, 0.01, 0.01, 0.01, 0.9, 0.01]  # DNN: AF present on every case
    for index, case in enumerate(design.order("ana")[:2]):
        first = append_review(store, Review.create(
            reader="ana", reader_calls=_calls("absent"), source_sha256=case, opinions_seen=False,
            reading_mode="unaided", probabilities=probabilities, confidence=2, reading_time_s=40.0,
            session_id=session_label(design, 1)))
        append_review(store, Review.create(
            reader="ana", reader_calls=_calls("present"), source_sha256=case, opinions_seen=True,
            reading_mode="aided", resolves_review_ids=[first.review_id], probabilities=probabilities,
            confidence=4, reading_time_s=12.5, session_id=session_label(design, 1)))
    rows = read_reviews(store)
    state = progress(design, rows, "ana")
    assert (state.done, state.total, state.next_case_id, state.next_step) == (2, 3, design.order("ana")[2], "unaided")
    reference = class_frame({0, 1, 2}, CASES)  # AF present on all three
    result = analyse_added_value(rows, reference=reference, dnn_calls=class_frame({0, 1, 2}, CASES), n_resamples=50)
    scores = result.scores.set_index(["class", "reader", "score"])
    assert scores.loc[("AF", ALL_READERS, "sensitivity"), ["unaided", "aided", "difference"]].tolist() == [0, 1, 1]
    changes = result.changes.set_index(["class", "reader"]).loc[("AF", ALL_READERS)]
    assert (changes["helpful"], changes["automation_bias"]) == (2, 0)
    timing = result.confidence_time.set_index(["reader", "measure"])
    assert timing.loc[(ALL_READERS, "reading_time_s"), "mean_difference"] == -27.5
    assert timing.loc[(ALL_READERS, "confidence"), ["unaided_mean", "aided_mean"]].tolist() == [2, 4]
    assert result.notes == ()
