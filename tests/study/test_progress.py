"""A reader's progress through a study design: per-assignment status, the pending unaided step, bad input.

The order and wash-out rules of :func:`~ecgreview.study.progress.progress` on a whole study are in
``test_design.py``; this module covers the rest of :mod:`ecgreview.study.progress`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from ecgreview.study.design import create_design, session_label
from ecgreview.study.progress import assignment_status, pending_unaided, progress

CASES = [f"{index:064x}" for index in range(1, 5)]
CREATED = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
LATER = CREATED + timedelta(hours=2)


def _row(reader: str, case: str, mode: str, *, when: datetime = LATER, session_id: str = "", review_id: str = "",
         resolves: str = "") -> dict[str, str]:
    return {"reader": reader, "source_sha256": case, "reading_mode": mode, "session_id": session_id,
            "saved_at_utc": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "review_id": review_id,
            "resolves_review_ids": resolves}


@pytest.fixture
def two_step():
    return create_design("pilot", CASES, ["ana", "ben"], seed=3, created_at_utc=CREATED)


def test_no_reviews_at_all_is_nothing_done(two_step):
    state = progress(two_step, pd.DataFrame(), "ana")
    assert (state.done, state.total, state.finished) == (0, len(CASES), False)
    assert (state.next_case_id, state.next_step, state.waiting_until_utc) == (two_step.order("ana")[0], "unaided", None)
    assert [(item.session, item.done, item.total, item.opens_at_utc) for item in state.sessions] == [(1, 0, 4, None)]


def test_reviews_without_the_csv_columns_are_refused(two_step):
    frame = pd.DataFrame([{"reader": "ana", "source_sha256": CASES[0]}])
    with pytest.raises(ValueError, match="missing reading_mode, saved_at_utc"):
        progress(two_step, frame, "ana")


def test_another_reader_s_rows_do_not_count(two_step):
    order = two_step.order("ben")
    rows = [_row("ben", case, mode) for case in order for mode in ("unaided", "aided")]
    assert progress(two_step, pd.DataFrame(rows), "ben").finished
    state = progress(two_step, pd.DataFrame(rows), "ana")
    assert state.done == 0 and state.next_case_id == two_step.order("ana")[0]


def test_every_case_read_is_finished_with_nothing_next(two_step):
    rows = [_row("ana", case, mode, session_id=session_label(two_step, 1)) for case in CASES
            for mode in ("unaided", "aided")]
    state = progress(two_step, pd.DataFrame(rows), "ana")
    assert state.finished and (state.done, state.total) == (4, 4)
    assert (state.next_case_id, state.next_step, state.waiting_until_utc) == (None, None, None)


def test_an_aided_row_alone_does_not_finish_a_two_step_case(two_step):
    first = two_step.order("ana")[0]
    state = progress(two_step, pd.DataFrame([_row("ana", first, "aided")]), "ana")
    assert state.done == 0 and (state.next_case_id, state.next_step) == (first, "unaided")


def test_assignment_status_in_reading_order(two_step):
    order = two_step.order("ana")
    rows = [_row("ana", order[0], "unaided"), _row("ana", order[0], "aided"), _row("ana", order[2], "unaided"),
            _row("ana", order[3], "unaided", when=CREATED - timedelta(days=1))]  # before the study: not counted
    statuses = assignment_status(two_step, pd.DataFrame(rows), "ana")
    assert [item.case_id for item, _ in statuses] == list(order)
    assert [status for _, status in statuses] == ["done", "to read", "aided next", "to read"]


def test_assignment_status_of_a_crossover_follows_the_assigned_mode():
    design = create_design("cross", CASES, ["ana"], seed=9, crossover=True, created_at_utc=CREATED)
    session_one = [item for item in design.schedule["ana"] if item.session == 1]
    wrong_mode = "unaided" if session_one[0].mode == "aided" else "aided"
    rows = [_row("ana", session_one[0].case_id, wrong_mode), _row("ana", session_one[1].case_id, session_one[1].mode)]
    statuses = dict(((item.session, item.case_id), status)
                    for item, status in assignment_status(design, pd.DataFrame(rows), "ana"))
    assert statuses[(1, session_one[0].case_id)] == "to read"  # a row of the other mode is not this assignment
    assert statuses[(1, session_one[1].case_id)] == "done"
    assert statuses[(2, session_one[1].case_id)] == "to read"  # session 2 reads it in the other mode


def test_session_two_stays_closed_until_session_one_is_complete():
    design = create_design("cross", CASES, ["ana"], seed=4, crossover=True, washout_days=0, created_at_utc=CREATED)
    session_one = [item for item in design.schedule["ana"] if item.session == 1]
    rows = [_row("ana", item.case_id, item.mode) for item in session_one[:-1]]  # one session-1 case left
    state = progress(design, pd.DataFrame(rows), "ana", now_utc=LATER + timedelta(days=30))
    assert [(item.done, item.total) for item in state.sessions] == [(3, 4), (0, 4)]
    assert (state.next_case_id, state.next_step) == (session_one[-1].case_id, session_one[-1].mode)
    assert state.sessions[1].opens_at_utc is not None and state.waiting_until_utc is None


def test_pending_unaided_is_the_latest_unanswered_first_step():
    case = CASES[0]
    rows = pd.DataFrame([_row("ana", case, "unaided", review_id="r1"),
                         _row("ana", case, "aided", review_id="r2", resolves="r1"),
                         _row("ana", case, "unaided", review_id="r3")])
    pending = pending_unaided(rows, reader="ana", source_sha256=case)
    assert pending is not None and pending["review_id"] == "r3"
    answered = pd.concat([rows, pd.DataFrame([_row("ana", case, "aided", review_id="r4", resolves="r0;r3")])])
    assert pending_unaided(answered, reader="ana", source_sha256=case) is None


def test_pending_unaided_only_within_its_session_reader_and_case():
    case = CASES[1]
    rows = pd.DataFrame([_row("ana", case, "unaided", review_id="r1", session_id="study:pilot:1")])
    assert pending_unaided(rows, reader="ana", source_sha256=case) is None  # outside the study: another session
    assert pending_unaided(rows, reader="ana", source_sha256=case, session_id="study:pilot:1")["review_id"] == "r1"
    assert pending_unaided(rows, reader="ben", source_sha256=case, session_id="study:pilot:1") is None
    assert pending_unaided(rows, reader="ana", source_sha256=CASES[2], session_id="study:pilot:1") is None


def test_pending_unaided_without_rows_or_reading_modes():
    assert pending_unaided(pd.DataFrame(), reader="ana", source_sha256=CASES[0]) is None
    legacy = pd.DataFrame([{"reader": "ana", "source_sha256": CASES[0], "review_id": "r1"}])  # a v0.1 store
    assert pending_unaided(legacy, reader="ana", source_sha256=CASES[0]) is None
