"""Serial comparison (ecgreview.review.serial): linking by link key (patient id, or a WFDB record-name prefix) and
time, call and interval changes, and the worklist's reason text; the worklist's SQL
(ecgreview.review.worklist_serial) against the Python rule, and an index made before the link key."""

from __future__ import annotations

import json
import random
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgreview.config import Settings
from ecgreview.device.statements import map_statements
from ecgreview.errors import ConfigError
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
from ecgreview.review.serial_link import describe_link_key, link_key, parse_link_rule
from ecgreview.review.worklist import CaseIndex
from ecgreview.review.worklist_query import _calls_key, _connect
from ecgreview.review.worklist_serial import refresh_serial
from ecgreview.review.worklist_sync import sync_listing


class Case(NamedTuple):
    source_sha256: str
    pseudonym: str
    acquisition_time: str
    source_name: str = "ecg.dcm"


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


_BY_PREFIX = r"record-prefix:^(?P<patient>[A-Z]+[0-9]+)_"


def test_link_keys_by_patient_id_and_by_record_prefix():
    assert link_key("P1", "a.dcm") == "id:P1" and link_key("", "a.dcm") == ""
    assert link_key("PT01_2019", "PT01_2019.hea") == ""  # patient-id: a WFDB record is never linked
    assert link_key("PT01_2019", "PT01_2019.hea", _BY_PREFIX) == "record:PT01"
    assert link_key("PT01_2019", "PT01_2019.HEA", r"record-prefix:^([A-Z]+)") == "record:PT"  # the first group
    assert link_key("PT01", "PT01.hea", _BY_PREFIX) == ""  # no match: not linked
    assert link_key("PT01_2019", "PT01_2019.hea", r"record-prefix:^(x?)PT") == ""  # an empty group: not linked
    assert link_key("P1", "a.xml", _BY_PREFIX) == "id:P1"  # a patient id still links by it
    assert link_key("PT01", "a.dcm", _BY_PREFIX) != link_key("PT01_1", "PT01_1.hea", _BY_PREFIX)  # namespaced
    assert describe_link_key(link_key("PT01_1", "PT01_1.hea", _BY_PREFIX)) == "record prefix PT01"
    assert describe_link_key(link_key("P1", "a.dcm")) == "pseudonym P1" and describe_link_key("") == ""


@pytest.mark.parametrize(("rule", "message"), [
    ("patient", r"rule must be 'patient-id' or 'record-prefix:<regex>'.*got 'patient'"),
    ("record-prefix:", r"rule must be .*got 'record-prefix:'"),
    ("record-prefix:^[A-Z]+_", r"the regex has no group"),
    ("record-prefix:^(P", r"the regex does not compile"),
])
def test_a_bad_linking_rule_is_refused(rule, message):
    with pytest.raises(ValueError, match=message):
        parse_link_rule(rule)


def test_wfdb_priors_by_record_prefix():
    now = Case("c", "PT01_2024", "2024-03-05 14:30:15", "PT01_2024.hea")
    cases = [now, Case("a", "PT01_2019", "2019-03-02 10:15:00", "PT01_2019.hea"),
             Case("b", "PT02_2020", "2020-01-01 00:00:00", "PT02_2020.hea"),  # another patient
             Case("d", "PT01", "2021-01-01 00:00:00", "PT01.dcm")]  # PatientID PT01: another kind of name
    assert [case.source_sha256 for case in prior_cases(now, cases, rule=_BY_PREFIX)] == ["a"]
    assert prior_cases(now, cases) == []  # the default rule links no WFDB record


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
_RECORDS = ["P1_1", "P1_2", "P2_1", "X9", "P1"]  # WFDB record names: P1_1 and P1_2 link by prefix, X9 not
_TIMES = ["", "2019-03-02 10:00:00", "2020-01-01 08:00:00", "2024-03-05 14:30:15"]
_RULES = ["patient-id", r"record-prefix:^(P[0-9])_", r"record-prefix:(?P<patient>[A-Z])[0-9]"]


@pytest.fixture(scope="module")
def empty_index(tmp_path_factory) -> Path:
    index = CaseIndex(tmp_path_factory.mktemp("serial") / "index.sqlite")
    with _connect(index.path):
        pass  # the worklist's tables
    return index.path


def _random_case(generator: random.Random, number: int) -> Case:
    sha, when = f"{number:064x}", generator.choice(_TIMES)
    if generator.random() < 0.5:  # a WFDB record: its pseudonym is its record name
        record = generator.choice(_RECORDS)
        return Case(sha, record, when, f"{record}.hea")
    return Case(sha, generator.choice(_PSEUDONYMS), when, f"{sha[-4:]}.dcm")


def _list(connection: sqlite3.Connection, cases: list[Case], device: dict, rule: str, index_path: Path) -> None:
    """The cases as indexed files, listed by sync_listing under ``rule`` (the link keys are its), with random
    device masks."""
    for table in ("files", "listing", "listing_dirty", "opinions", "dnn_masks", "serial", "opinions_dirty",
                  "worklist_meta"):
        connection.execute(f"DELETE FROM {table}")
    connection.executemany("INSERT INTO files VALUES (?, 1, 1, ?, ?, '')", [(
        f"/{case.source_sha256}", case.source_sha256, json.dumps({
            "source_name": case.source_name, "pseudonym": case.pseudonym, "acquisition_time": case.acquisition_time}))
        for case in cases])
    connection.commit()
    sync_listing(index_path, link_rule=rule)
    connection.executemany("UPDATE listing SET has_statements = ?, device_positive = ? WHERE source_sha256 = ?",
                           [(int(mask is not None), mask or 0, sha) for sha, mask in device.items()])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_the_sql_prior_and_changes_are_the_python_rule(empty_index, seed):
    generator = random.Random(seed)
    key, rule = _calls_key("m" * 64, THRESHOLDS), generator.choice(_RULES)
    cases = [_random_case(generator, number) for number in range(generator.randint(1, 9))]
    masks = {case.source_sha256: generator.choice([None, *range(64)]) for case in cases}
    device = {case.source_sha256: generator.choice([None, *range(64)]) for case in cases}  # None: no statements
    discordant = {case.source_sha256: generator.randint(0, 3) for case in cases}
    with closing(sqlite3.connect(empty_index)) as connection, connection:
        _list(connection, cases, device, rule, empty_index)
        connection.executemany("INSERT INTO opinions VALUES (?, 0, 0, 0, ?)", list(discordant.items()))
        connection.executemany("INSERT INTO dnn_masks VALUES (?, ?, ?)",
                               [(key, sha, mask) for sha, mask in masks.items() if mask is not None])
        refresh_serial(connection, key, everything=True)
        rows = {row[0]: row[1:] for row in connection.execute("SELECT * FROM serial")}
    for case in cases:
        priors = prior_cases(case, cases, rule=rule)
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
        assert rows[case.source_sha256] == expected, (rule, case)


# -- the setting ---------------------------------------------------------------------------------------------------


def test_the_serial_link_setting_from_environment_and_file(tmp_path):
    home = tmp_path / "home"
    assert Settings.from_env({"ECGREVIEW_HOME": str(home)}).serial_link == "patient-id"
    home.mkdir()
    (home / "config.toml").write_text("serial_link = 'record-prefix:^(P[0-9]+)_'\n", encoding="utf-8")
    assert Settings.from_env({"ECGREVIEW_HOME": str(home)}).serial_link == "record-prefix:^(P[0-9]+)_"
    assert Settings.from_env({"ECGREVIEW_HOME": str(home), "ECGREVIEW_SERIAL_LINK": "patient-id"}).serial_link == \
        "patient-id"


@pytest.mark.parametrize(("text", "message"), [
    ("record-prefix:^P[0-9]+_",
     r"ECGREVIEW_SERIAL_LINK: serial_link: rule 'record-prefix:\^P\[0-9\]\+_': the regex has no group"),
    ("pseudonym", r"ECGREVIEW_SERIAL_LINK: serial_link: rule must be 'patient-id' or 'record-prefix:<regex>'"),
])
def test_a_bad_serial_link_setting_names_the_setting(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"ECGREVIEW_HOME": str(tmp_path), "ECGREVIEW_SERIAL_LINK": text})
