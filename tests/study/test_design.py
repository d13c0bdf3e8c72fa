"""Study designs: seeded per-reader orders, the crossover schedule, JSON round trip, reader progress."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from ecgreview.errors import ConfigError
from ecgreview.study.design import (
    create_design,
    designs_for_reader,
    list_designs,
    load_design,
    save_design,
    session_label,
)
from ecgreview.study.progress import progress

CASES = [f"{index:064x}" for index in range(7)]
READERS = ["ana", "ben", "cy"]
CREATED = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_two_step_orders_are_the_documented_draws_of_the_seed():
    design = create_design("pilot-2", CASES, READERS, seed=42, created_at_utc=CREATED)
    rng = np.random.default_rng(42)  # per reader, in the given order, one permutation of the cases
    for reader in READERS:
        assert design.order(reader) == tuple(CASES[i] for i in rng.permutation(len(CASES)))
    assert {item.mode for items in design.schedule.values() for item in items} == {"two_step"}
    assert create_design("pilot-2", CASES, READERS, seed=42, created_at_utc=CREATED) == design
    assert create_design("pilot-2", CASES, READERS, seed=43, created_at_utc=CREATED).schedule != design.schedule


def test_crossover_schedule_is_balanced_swapped_and_reproducible():
    design = create_design("cross", CASES, READERS, seed=7, crossover=True, washout_days=28, created_at_utc=CREATED)
    assert design == create_design("cross", CASES, READERS, seed=7, crossover=True, washout_days=28,
                                   created_at_utc=CREATED)
    rng = np.random.default_rng(7)
    shuffled = [CASES[i] for i in rng.permutation(len(CASES))]
    half_a = set(shuffled[:4])  # ceil(7 / 2) cases
    group_one = {READERS[i] for i in rng.permutation(len(READERS))[::2]}
    for reader in READERS:
        first = {item.case_id: item.mode for item in design.schedule[reader] if item.session == 1}
        second = {item.case_id: item.mode for item in design.schedule[reader] if item.session == 2}
        assert sorted(first) == sorted(second) == sorted(CASES)
        assert all(first[case] != second[case] for case in CASES)  # swapped in session 2
        aided_first = {case for case, mode in first.items() if mode == "aided"}
        assert aided_first == (half_a if reader in group_one else set(CASES) - half_a)
    assert len(group_one) == 2  # readers alternate between the groups
    assert design.washout_days == 28 and design.sessions == (1, 2)


def test_save_load_round_trip_and_bad_files(tmp_path):
    design = create_design("rt", CASES, READERS, seed=1, crossover=True, created_at_utc=CREATED)
    path = save_design(design, tmp_path)
    assert path == tmp_path / "rt.json" and list_designs(tmp_path) == ["rt"]
    assert load_design("rt", tmp_path) == design == load_design(path)
    assert designs_for_reader(tmp_path, "ana") == [design] and designs_for_reader(tmp_path, "zed") == []
    assert json.loads(path.read_text())["seed"] == 1
    with pytest.raises(ConfigError, match="exists already"):
        save_design(design, tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write leaves no temporary file
    document = json.loads(path.read_text())
    document["schedule"]["ana"] = document["schedule"]["ana"][:-1]
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match="rt.json: not a valid study design: schedule of 'ana'"):
        load_design(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read the study design"):
        load_design(path)
    with pytest.raises(ConfigError, match="no such study design"):
        load_design("missing", tmp_path)


@pytest.mark.parametrize(("arguments", "message"), [
    (("Bad Id", CASES, READERS), "study_id must be"),
    (("ok", ["abc"], READERS), "case_ids must be source_sha256"),
    (("ok", CASES + CASES[:1], READERS), "case_ids has a repeated entry"),
    (("ok", CASES, []), "readers must hold 1 to"),
    (("ok", CASES, ["ana", " "]), "readers must be non-empty"),
])
def test_bad_designs_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        create_design(*arguments, seed=0)
    with pytest.raises(ValueError, match="crossover design needs at least 2 cases"):
        create_design("ok", CASES[:1], READERS, crossover=True)
    with pytest.raises(ValueError, match="washout_days"):
        create_design("ok", CASES, READERS, crossover=True, washout_days=-1)


def _row(reader, case, mode, when, session_id=""):
    return {"reader": reader, "source_sha256": case, "reading_mode": mode, "session_id": session_id,
            "saved_at_utc": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def test_two_step_progress():
    design = create_design("p", CASES[:3], ["ana"], seed=5, created_at_utc=CREATED)
    order = design.order("ana")
    later = CREATED + timedelta(hours=1)
    rows = [_row("ana", order[0], "unaided", later), _row("ana", order[0], "aided", later),
            _row("ana", order[1], "unaided", later),
            _row("ana", order[2], "aided", CREATED - timedelta(days=1)),  # before the study: does not count
            _row("ana", order[2], "unaided", later, "study:other:1")]  # another study's row
    state = progress(design, pd.DataFrame(rows), "ana")
    assert (state.done, state.total, state.next_case_id, state.next_step) == (1, 3, order[1], "aided")
    rows.append(_row("ana", order[1], "aided", later))
    state = progress(design, pd.DataFrame(rows), "ana")
    assert (state.done, state.next_case_id, state.next_step) == (2, order[2], "unaided")
    assert session_label(design, 1) == "study:p:1"


def test_crossover_session_two_opens_after_the_washout():
    design = create_design("x", CASES[:4], ["ana"], seed=2, crossover=True, washout_days=14, created_at_utc=CREATED)
    first = [item for item in design.schedule["ana"] if item.session == 1]
    finished = CREATED + timedelta(days=2)
    rows = [_row("ana", item.case_id, item.mode, CREATED + timedelta(days=1 + i / 10)) for i, item in enumerate(first)]
    rows[-1]["saved_at_utc"] = finished.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    state = progress(design, pd.DataFrame(rows), "ana", now_utc=finished + timedelta(days=3))
    assert [(s.done, s.total) for s in state.sessions] == [(4, 4), (0, 4)]
    assert state.next_case_id is None and state.waiting_until_utc == finished + timedelta(days=14)
    state = progress(design, pd.DataFrame(rows), "ana", now_utc=finished + timedelta(days=14))
    second = [item for item in design.schedule["ana"] if item.session == 2]
    assert (state.next_case_id, state.next_step, state.waiting_until_utc) == (second[0].case_id, second[0].mode, None)
    with pytest.raises(ValueError, match="reader 'zed' is not in study"):
        progress(design, pd.DataFrame(rows), "zed")
