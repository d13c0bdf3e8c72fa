"""The readers' consensus per case and class, the adjudicator's override, and discordance between opinions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgreview.record import CLASSES
from ecgreview.review.consensus import ADJUDICATOR_ROLE, CONSENSUS_ROLES, DECIDED, calls_disagree, consensus_status

CASE_A, CASE_B, CASE_C = ("a" * 64, "b" * 64, "c" * 64)


def _reading(case: str, reader: str, calls: dict[str, str], *, role: str = "reader", default: str = "absent") -> dict:
    return {"source_sha256": case, "reader": reader, "role": role,
            **{f"reader_call_{name}": calls.get(name, default) for name in CLASSES}}


def _status(rows: list[dict], cases=None) -> pd.DataFrame:
    return consensus_status(pd.DataFrame(rows), cases)


def test_vocabulary():
    assert DECIDED == ("present", "absent") and "reader" in CONSENSUS_ROLES and ADJUDICATOR_ROLE == "adjudicator"
    assert ADJUDICATOR_ROLE not in CONSENSUS_ROLES


@pytest.mark.parametrize(("calls", "expected"), [
    (["present", "present"], "present"),
    (["absent", "absent"], "absent"),
    (["present", "absent"], "tie"),
    (["present", "uncertain"], "uncertain"),  # two readers: both must agree
    (["uncertain", "uncertain"], "uncertain"),
    (["present", "present", "absent"], "present"),  # three readers: two of them
    (["present", "absent", "uncertain"], "tie"),
    (["present", "uncertain", "uncertain"], "uncertain"),
    (["absent", "absent", "present", "present"], "tie"),
    (["absent", "absent", "present", "uncertain"], "uncertain"),  # 2 of 4 is not a strict majority
    (["present"], "present"),
])
def test_strict_majority_of_all_readers(calls, expected):
    rows = [_reading(CASE_A, f"reader {index}", {"AF": call}) for index, call in enumerate(calls)]
    status = _status(rows)
    assert status.at[CASE_A, "AF"] == expected
    assert (status.loc[CASE_A].drop("AF") == "absent").all()  # the other classes: every reader said absent


def test_the_adjudicator_s_decided_call_overrides_the_vote():
    rows = [_reading(CASE_A, "ana", {"AF": "present", "RBBB": "present", "ST": "present"}),
            _reading(CASE_A, "ben", {"AF": "absent", "RBBB": "present", "ST": "absent"}),
            _reading(CASE_A, "cy", {"AF": "present", "RBBB": "uncertain", "ST": "uncertain"}, role=ADJUDICATOR_ROLE)]
    status = _status(rows)
    assert status.at[CASE_A, "AF"] == "present"  # a tie resolved
    assert status.at[CASE_A, "RBBB"] == "present"  # an adjudicator's uncertain leaves the readers' vote standing
    assert status.at[CASE_A, "ST"] == "tie"
    assert status.at[CASE_A, "1dAVb"] == "absent"


def test_the_latest_adjudicator_row_of_a_case_counts():
    rows = [_reading(CASE_A, "ana", {"AF": "present"}), _reading(CASE_A, "ben", {"AF": "present"}),
            _reading(CASE_A, "cy", {"AF": "absent"}, role=ADJUDICATOR_ROLE),
            _reading(CASE_A, "dee", {"AF": "present"}, role=ADJUDICATOR_ROLE)]
    assert _status(rows).at[CASE_A, "AF"] == "present"
    assert _status(rows[:3]).at[CASE_A, "AF"] == "absent"  # the adjudicator overrides even a unanimous vote


def test_students_do_not_vote_and_unread_cases_say_so():
    rows = [_reading(CASE_A, "ana", {"AF": "present"}),
            _reading(CASE_A, "stu", {"AF": "absent"}, role="student"),
            _reading(CASE_B, "stu", {"AF": "absent"}, role="student")]
    status = _status(rows, [CASE_B, CASE_A, CASE_C])
    assert list(status.index) == [CASE_B, CASE_A, CASE_C] and status.index.name == "source_sha256"
    assert list(status.columns) == list(CLASSES)
    assert status.at[CASE_A, "AF"] == "present"
    assert (status.loc[CASE_B] == "not read").all() and (status.loc[CASE_C] == "not read").all()


def test_an_adjudicator_alone_decides_a_case():
    status = _status([_reading(CASE_A, "cy", {"AF": "present", "ST": "uncertain"}, role=ADJUDICATOR_ROLE)])
    assert status.at[CASE_A, "AF"] == "present" and status.at[CASE_A, "RBBB"] == "absent"
    assert status.at[CASE_A, "ST"] == "not read"  # no reader voted, and the adjudicator did not decide


def test_default_cases_are_those_read_in_first_seen_order():
    rows = [_reading(CASE_C, "ana", {}), _reading(CASE_A, "ana", {}), _reading(CASE_C, "ben", {})]
    assert list(_status(rows).index) == [CASE_C, CASE_A]
    assert list(_status(rows, [CASE_A]).index) == [CASE_A]  # cases not asked for are left out


@pytest.mark.parametrize(("opinions", "expected"), [
    ([1, 0], True), ([True, False, np.nan], True), ([1, 1, np.nan], False), ([np.nan, 0], False),
    ([1], False), ([], False), ([None, None], False),
])
def test_discordance_needs_a_decided_present_and_a_decided_absent(opinions, expected):
    result = calls_disagree(opinions)
    assert result.shape == () and bool(result) is expected


def test_discordance_over_leading_axes():
    opinions = np.array([[1, 0, np.nan], [1, 1, np.nan], [np.nan, np.nan, np.nan], [0, np.nan, 1]])
    assert calls_disagree(opinions).tolist() == [True, False, False, True]
    assert calls_disagree(opinions.reshape(2, 2, 3)).shape == (2, 2)
