"""Teaching sessions: the session file, references, marking, scores per class, the teacher's table."""

from __future__ import annotations

import math

import pytest

from ecgreview.errors import ConfigError
from ecgreview.record import CLASSES
from ecgreview.review.store import Review, append_review, read_reviews
from ecgreview.review.teaching import (
    TeachingCase,
    create_session,
    list_sessions,
    load_session,
    mark_answers,
    next_case,
    reference_from_labels,
    reference_from_readings,
    score_student,
    student_answers,
    teacher_table,
)
from ecgreview.review.protocol import latest_readings

SHAS = ["1" * 64, "2" * 64, "3" * 64]
ABSENT = dict.fromkeys(CLASSES, "absent")


def _session(tmp_path):
    cases = [TeachingCase(SHAS[0], "af.dcm", ABSENT | {"AF": "present"}),
             TeachingCase(SHAS[1], "sinus.dcm", ABSENT),
             TeachingCase(SHAS[2], "sb.dcm", ABSENT | {"SB": "present", "ST": ""})]
    return create_session(tmp_path / "sessions", "Tuesday AF / SB", cases)


def _answer(store, sha, student, calls, session_id="Tuesday-AF-SB"):
    return append_review(store, Review.create(
        reader=student, reader_calls=ABSENT | calls, source_sha256=sha, opinions_seen=False,
        role="student", reading_mode="teaching", session_id=session_id))


def test_session_file_round_trip_and_checks(tmp_path):
    session = _session(tmp_path)
    assert session.session_id == "Tuesday-AF-SB" and len(session.cases) == 3
    assert session.cases[2].reference["ST"] == "" and session.cases[0].reference["AF"] == "present"
    assert list_sessions(tmp_path / "sessions") == [tmp_path / "sessions" / "Tuesday-AF-SB.csv"]
    assert load_session(tmp_path / "sessions" / "Tuesday-AF-SB.csv") == session
    with pytest.raises(ValueError, match="already exists"):
        _session(tmp_path)
    with pytest.raises(ValueError, match="at least one case"):
        create_session(tmp_path, "empty", [])
    bad = tmp_path / "bad.csv"
    bad.write_text("sha,name\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="header must be"):
        load_session(bad)
    with pytest.raises(ConfigError, match="reference values must be"):
        create_session(tmp_path, "maybe", [TeachingCase(SHAS[0], "x", {"AF": "maybe"})])


def test_references_from_labels_and_consensus(tmp_path):
    assert reference_from_labels({"AF": True, "SB": False}) == dict.fromkeys(CLASSES, "") | {
        "AF": "present", "SB": "absent"}
    store = tmp_path / "reviews.csv"
    for reader, calls in (("Dr A", {"AF": "present"}), ("Dr B", {"AF": "present", "SB": "present"})):
        append_review(store, Review.create(reader=reader, reader_calls=ABSENT | calls, source_sha256=SHAS[0],
                                           opinions_seen=True))
    readings = latest_readings(read_reviews(store), SHAS[0])
    assert reference_from_readings(readings) == ABSENT | {"AF": "present", "SB": ""}  # SB disputed
    append_review(store, Review.create(reader="Dr C", reader_calls=ABSENT | {"AF": "present", "ST": "uncertain"},
                                       source_sha256=SHAS[0], opinions_seen=True, role="adjudicator",
                                       resolves_review_ids=list(readings["review_id"])))
    readings = latest_readings(read_reviews(store), SHAS[0])
    # The cohort's consensus rule: the adjudicator decides SB (a tie); an adjudicator's
    # "uncertain" on ST leaves the readers' majority (both absent) standing.
    assert reference_from_readings(readings) == ABSENT | {"AF": "present"}


def test_teaching_reference_is_the_cohort_consensus_strict_majority(tmp_path):
    from ecgreview.study.cohort import load_cohort

    store = tmp_path / "reviews.csv"
    for reader, calls in (("Dr A", {"AF": "present", "ST": "uncertain"}), ("Dr B", {"AF": "present"}),
                          ("Dr C", {"SB": "present", "ST": "uncertain"})):
        append_review(store, Review.create(reader=reader, reader_calls=ABSENT | calls, source_sha256=SHAS[0],
                                           opinions_seen=True))
    reference = reference_from_readings(latest_readings(read_reviews(store), SHAS[0]))
    # 2 of 3 say AF present (not unanimous): the majority decides; ST has no majority.
    assert reference == ABSENT | {"AF": "present", "ST": ""}
    cohort = load_cohort(store)
    assert cohort.reference_status.loc[SHAS[0]].to_dict() == {
        name: reference[name] or "uncertain" for name in CLASSES}


def test_student_flow_scores_per_class_and_teacher_table(tmp_path):
    session = _session(tmp_path)
    store = tmp_path / "reviews.csv"
    assert next_case(session, read_reviews(store), "Ann") == session.cases[0]
    assert mark_answers(session.cases[0], ABSENT | {"AF": "present"}) == dict.fromkeys(CLASSES, True)
    _answer(store, SHAS[0], "Ann", {"AF": "present"})
    _answer(store, SHAS[1], "Ann", {"ST": "uncertain"})  # uncertain is never right
    assert next_case(session, read_reviews(store), "Ann") == session.cases[2]
    _answer(store, SHAS[2], "Ann", {})  # misses SB
    _answer(store, SHAS[0], "Bob", {})  # misses AF
    _answer(store, SHAS[0], "Bob", {"AF": "present"}, session_id="other")  # another session: ignored
    reviews = read_reviews(store)
    assert next_case(session, reviews, "Ann") is None
    scores = score_student(session, reviews, "Ann")
    assert scores.loc["AF", "correct"] == 3 and scores.loc["AF", "scored"] == 3
    assert scores.loc["SB", "score"] == pytest.approx(2 / 3)
    assert scores.loc["ST", "scored"] == 2 and scores.loc["ST", "score"] == pytest.approx(0.5)
    assert scores.loc["all", "scored"] == 17 and scores.loc["all", "correct"] == 15
    table = teacher_table(session, reviews).set_index("student")
    assert table.loc["Ann", "answered"] == 3 and table.loc["Bob", "answered"] == 1
    assert table.loc["Bob", "AF"] == 0.0 and table.loc["Bob", "RBBB"] == 1.0
    assert table.loc["Ann", "all"] == pytest.approx(15 / 17)
    assert len(student_answers(reviews, session.session_id)) == 4
    nobody = score_student(session, reviews, "Nobody")
    assert nobody.loc["all", "scored"] == 0 and math.isnan(nobody.loc["all", "score"])
