"""Serial comparison (ecgreview.review.serial): linking by pseudonym and time, call and interval changes, and the
worklist's reason text; the worklist's SQL (ecgreview.review.worklist_serial) against the Python rule."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgreview.device.statements import map_statements
from ecgreview.record import CLASSES, THRESHOLDS, EcgRecord, Measurement
from ecgreview.review.case import CaseAnalysis
from ecgreview.review.serial import (
    call_change,
    change_masks,
    change_summary,
    change_table,
    disagreement_count,
    disagreement_reason,
    interval_changes,
    prior_cases,
)
from ecgreview.review.worklist import CaseIndex
from ecgreview.review.worklist_query import _calls_key, _connect
from ecgreview.review.worklist_serial import refresh_serial


class Case(NamedTuple):
    source_sha256: str
    pseudonym: str
    acquisition_time: str


def test_priors_are_the_same_pseudonym_strictly_earlier_newest_first():
    now = Case("c", "P1", "2024-03-05 14:30:15")
    cases = [Case("a", "P1", "2019-03-02 09:00:00"), Case("b", "P1", "2023-01-01 08:00:00"), now,
             Case("b", "P1", "2023-01-01 08:00:00"),  # the same content at a second path
             Case("d", "P1", "2024-03-05 14:30:15"),  # the same time: neither is the other's prior
             Case("e", "P1", "2025-01-01 00:00:00"),  # later: a follow-up, not a prior
             Case("f", "P2", "2018-01-01 00:00:00"),  # another patient
             Case("g", "P1", "")]  # no time: not linked
    assert [case.source_sha256 for case in prior_cases(now, cases)] == ["b", "a"]
    assert prior_cases(Case("x", "", "2030-01-01 00:00:00"), [Case("y", "", "2000-01-01 00:00:00")]) == []
    assert prior_cases(Case("g", "P1", ""), cases) == []


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([None, True, False]), st.sampled_from([None, True, False]))
def test_call_change(prior, current):
    change = call_change(prior, current)
    if prior is None or current is None:
        assert change == ""
    else:
        assert change == {(False, True): "new", (True, False): "resolved", (True, True): "present",
                          (False, False): "absent"}[(prior, current)]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 63), st.integers(0, 63))
def test_the_mask_rule_is_call_change(prior_mask, current_mask):
    new, resolved = change_masks(prior_mask, current_mask)
    for index in range(len(CLASSES)):
        change = call_change(bool(prior_mask >> index & 1), bool(current_mask >> index & 1))
        assert bool(new >> index & 1) == (change == "new") and bool(resolved >> index & 1) == (change == "resolved")


def _analysis(statements: tuple[str, ...], probabilities: list[float] | None,
              measurements: tuple[Measurement, ...] = ()) -> CaseAnalysis:
    record = EcgRecord(np.zeros((5000, 12), np.float32), 500.0, ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2",
                       "V3", "V4", "V5", "V6"), statements=statements, measurements=measurements)
    return CaseAnalysis(record=record, probabilities=None if probabilities is None else np.array(probabilities),
                        identity=None, provenance={}, device=map_statements(statements, measurements),
                        thresholds=THRESHOLDS)


def test_change_table_says_new_lbbb_and_af_resolved():
    prior = _analysis(("ATRIAL FIBRILLATION",), [0.0, 0.0, 0.01, 0.0, 0.93, 0.0])
    now = _analysis(("SINUS RHYTHM", "LEFT BUNDLE BRANCH BLOCK"), [0.0, 0.0, 0.88, 0.0, 0.02, 0.0])
    table = change_table(now, prior).set_index("Class")
    assert table.loc["LBBB", "DNN prior"] == "0.010" and table.loc["LBBB", "DNN now"] == "0.880"
    assert table.loc["LBBB", "DNN change"] == "new" and table.loc["LBBB", "Device change"] == "new"
    assert table.loc["AF", "DNN change"] == "resolved" and table.loc["AF", "Device change"] == "resolved"
    assert table.loc["AF", "Device prior"] == "definite" and table.loc["RBBB", "Device change"] == "absent"
    assert change_summary(change_table(now, prior)) == "New LBBB (DNN, device) · AF resolved (DNN, device)"
    assert change_summary(change_table(now, now)) == ""


def test_change_table_without_model_or_statements_tells_no_change():
    prior = _analysis((), None)
    now = _analysis(("LEFT BUNDLE BRANCH BLOCK",), None)
    table = change_table(now, prior).set_index("Class")
    assert set(table["DNN prior"]) == {"—"} and set(table["DNN change"]) == {"—"}
    assert table.loc["LBBB", "Device prior"] == "not available" and table.loc["LBBB", "Device change"] == "—"


def test_interval_changes_from_the_device_measurements():
    prior = EcgRecord(np.zeros((10, 12), np.float32), 500.0, tuple(map(str, range(12))), measurements=(
        Measurement("RR", 1000.0, "ms"), Measurement("PR", 160.0, "ms"), Measurement("QRS", 92.0, "ms"),
        Measurement("QT", 0.0, "ms"), Measurement("QTc", 410.0, "ms")))
    now = EcgRecord(np.zeros((10, 12), np.float32), 500.0, tuple(map(str, range(12))), measurements=(
        Measurement("Ventricular rate", 75.0, "bpm"), Measurement("RR", 500.0, "ms"), Measurement("PR", 172.0, "ms"),
        Measurement("QRS", 148.0, "ms"), Measurement("QT", 420.0, "ms"), Measurement("QTc", 468.0, "ms")))
    table = interval_changes(now, prior).set_index("Interval")
    assert table.loc["Heart rate", "Prior"] == "60 bpm"  # 60000 / RR
    assert table.loc["Heart rate", "Now"] == "75 bpm"  # the stated rate before RR
    assert table.loc["Heart rate", "Change"] == "+15 bpm"
    assert table.loc["QRS", "Change"] == "+56 ms" and table.loc["QTc", "Change"] == "+58 ms"
    assert table.loc["QT", "Prior"] == "—" and table.loc["QT", "Change"] == "—"  # 0: not measured


def _bit(name: str) -> int:
    return 1 << CLASSES.index(name)


def test_reasons_name_who_disagrees_and_what_changed_since_the_prior():
    af = _bit("AF")
    assert disagreement_reason(discordant_mask=af, dnn_mask=af, device_positive=0, device_negative=0b111111) == \
        "DNN AF, device no AF"
    assert disagreement_reason(discordant_mask=_bit("LBBB"), dnn_mask=0, device_positive=_bit("LBBB"),
                               device_negative=0, readers_absent=_bit("LBBB")) == "device LBBB, DNN and readers no LBBB"
    assert disagreement_reason(discordant_mask=0, dnn_mask=_bit("LBBB"), device_positive=0, device_negative=0,
                               new_mask=_bit("LBBB"), resolved_mask=af, prior_acquired="2019-03-02 10:00:00") == \
        "new DNN LBBB vs 2019-03-02; DNN AF resolved vs 2019-03-02"
    assert disagreement_reason(discordant_mask=0, dnn_mask=None, device_positive=af, device_negative=0) == ""
    assert disagreement_reason(discordant_mask=0, dnn_mask=0, device_positive=_bit("LBBB"), device_negative=0,
                               device_new_mask=_bit("LBBB"), device_resolved_mask=af,
                               prior_acquired="2019-03-02 10:15:00") == \
        "new device LBBB vs 2019-03-02; device AF resolved vs 2019-03-02"


def test_disagreement_counts_discordance_and_the_dnn_and_device_changes():
    af, lbbb = _bit("AF"), _bit("LBBB")
    assert disagreement_count(discordant_count=0) == 0
    assert disagreement_count(discordant_count=2, new_mask=af, resolved_mask=lbbb) == 4
    assert disagreement_count(discordant_count=1, device_new_mask=af, device_resolved_mask=lbbb) == 3
    assert disagreement_count(discordant_count=1, new_mask=af, device_new_mask=af) == 2  # AF changed: once


# -- the worklist's SQL against the Python rule, on random listings ---------------------------------------------------

_PSEUDONYMS = ["", "P1", "P2"]
_TIMES = ["", "2019-03-02 10:00:00", "2020-01-01 08:00:00", "2024-03-05 14:30:15"]


@pytest.fixture(scope="module")
def empty_index(tmp_path_factory) -> Path:
    index = CaseIndex(tmp_path_factory.mktemp("serial") / "index.sqlite")
    with _connect(index.path):
        pass  # the worklist's tables
    return index.path


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_the_sql_prior_and_changes_are_the_python_rule(empty_index, seed):
    generator = random.Random(seed)
    key = _calls_key("m" * 64, THRESHOLDS)
    cases = [Case(f"{number:064x}", generator.choice(_PSEUDONYMS), generator.choice(_TIMES))
             for number in range(generator.randint(1, 9))]
    masks = {case.source_sha256: generator.choice([None, *range(64)]) for case in cases}
    device = {case.source_sha256: generator.choice([None, *range(64)]) for case in cases}  # None: no statements
    discordant = {case.source_sha256: generator.randint(0, 3) for case in cases}
    with closing(sqlite3.connect(empty_index)) as connection, connection:
        for table in ("listing", "opinions", "dnn_masks", "serial", "opinions_dirty", "worklist_meta"):
            connection.execute(f"DELETE FROM {table}")
        connection.executemany("INSERT INTO listing VALUES (?, ?, 1, ?, ?, ?, '', ?, ?, 0, 0)",
                               [(f"/{c.source_sha256}", c.source_sha256, c.source_sha256[-4:], c.pseudonym,
                                 c.acquisition_time, int(device[c.source_sha256] is not None),
                                 device[c.source_sha256] or 0) for c in cases])
        connection.executemany("INSERT INTO opinions VALUES (?, 0, 0, 0, ?)", list(discordant.items()))
        connection.executemany("INSERT INTO dnn_masks VALUES (?, ?, ?)",
                               [(key, sha, mask) for sha, mask in masks.items() if mask is not None])
        refresh_serial(connection, key, everything=True)
        rows = {row[0]: row[1:] for row in connection.execute("SELECT * FROM serial")}
    for case in cases:
        priors = prior_cases(case, cases)
        prior = priors[0] if priors else None
        now, before = masks[case.source_sha256], masks[prior.source_sha256] if prior else None
        new, resolved = change_masks(before, now) if now is not None and before is not None else (0, 0)
        device_now, device_before = device[case.source_sha256], device[prior.source_sha256] if prior else None
        device_new, device_resolved = (change_masks(device_before, device_now)
                                       if device_now is not None and device_before is not None else (0, 0))
        count = disagreement_count(discordant_count=discordant[case.source_sha256], new_mask=new,
                                   resolved_mask=resolved, device_new_mask=device_new,
                                   device_resolved_mask=device_resolved)
        expected = (prior.source_sha256 if prior else None, prior.acquisition_time if prior else "", new, resolved,
                    -count, device_new, device_resolved)
        assert rows[case.source_sha256] == expected, case
