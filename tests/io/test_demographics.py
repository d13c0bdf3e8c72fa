"""Age and sex read from WFDB, DICOM and GE MUSE files: never a name, never a birth date."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from ecgreview.examples import demo_ecg_path
from ecgreview.io import read_ecg
from ecgreview.io._demographics import age_from_dicom, age_from_text, sex_from_text
from ecgreview.io.muse_xml import _age_years
from ecgreview.record import LEAD_ORDER, SEXES, EcgRecord
from tests.io.dicom_fixtures import PATIENT_BIRTH_DATE, PATIENT_NAME, build_ecg_dataset, write_dataset

SAMPLES, RATE_HZ = 500, 500


def _wfdb(folder: Path, comments: list[str]) -> Path:
    lines = [f"TEST 12 {RATE_HZ} {SAMPLES}"] + [f"TEST.dat 16 1000/mV 16 0 0 0 0 {lead}" for lead in LEAD_ORDER]
    (folder / "TEST.hea").write_text("\n".join(lines + comments) + "\n", encoding="ascii")
    (folder / "TEST.dat").write_bytes(np.zeros((SAMPLES, 12), dtype="<i2").tobytes())
    return folder / "TEST.hea"


@pytest.mark.parametrize(("comments", "age", "sex"), [
    (["#Age: 81", "#Sex: Female"], 81, "female"),
    (["# Age: 56", "# Sex: Male"], 56, "male"),  # the spacing of some Challenge sources
    (["#Age: NaN", "#Sex: Unknown"], None, ""),
    (["#Dx: 426177001"], None, ""),
    (["#AGE: 63.0", "#sex: m"], 63, "male"),
])
def test_wfdb_age_and_sex(tmp_path, comments, age, sex):
    record = read_ecg(_wfdb(tmp_path, comments))
    assert (record.age_years, record.sex) == (age, sex)


def test_dicom_age_and_sex_never_the_birth_date(tmp_path):
    example = read_ecg(demo_ecg_path())  # pydicom's example: PatientAge 042Y, PatientSex F
    assert (example.age_years, example.sex, example.age_sex) == (42, "female", "42 y, female")
    dataset = build_ecg_dataset()
    dataset.PatientAge, dataset.PatientSex = "018M", "O"
    record = read_ecg(write_dataset(dataset, tmp_path / "infant.dcm"))
    assert (record.age_years, record.sex) == (1, "other")
    shown = repr([getattr(record, item.name) for item in dataclasses.fields(record) if item.name != "signal_mv"])
    assert PATIENT_BIRTH_DATE not in shown and str(PATIENT_NAME) not in shown
    del dataset.PatientAge, dataset.PatientSex
    record = read_ecg(write_dataset(dataset, tmp_path / "none.dcm"))
    assert (record.age_years, record.sex, record.age_sex) == (None, "", "unknown")


@pytest.mark.parametrize(("units", "age"), [("YEARS", 11), ("", 11), ("MONTHS", None)])
def test_muse_age_only_in_years(units, age):
    root = ElementTree.fromstring(f"<RestingECG><PatientDemographics><PatientAge>11</PatientAge>"
                                  f"<AgeUnits>{units}</AgeUnits><DateofBirth>01-01-1900</DateofBirth>"
                                  "</PatientDemographics></RestingECG>")
    assert _age_years(root) == age


def test_parsers_read_unknown_as_unknown():
    assert [age_from_text(text) for text in ("81", "81 years", "NaN", "", None, "-3", "999", "eighty")] == \
        [81, 81, None, None, None, None, None, None]
    assert [age_from_dicom(text) for text in ("042Y", "006M", "003W", "010D", "42", "", None)] == \
        [42, 0, 0, 0, None, None, None]
    assert [sex_from_text(text) for text in ("F", "female", "MALE", "O", "U", "", None)] == \
        ["female", "female", "male", "other", "", "", ""]


def test_record_shows_ages_over_89_as_90_plus_and_refuses_other_values():
    signal = np.zeros((10, 12), dtype=np.float32)
    assert EcgRecord(signal, 500.0, LEAD_ORDER, age_years=89, sex="male").age_sex == "89 y, male"
    assert EcgRecord(signal, 500.0, LEAD_ORDER, age_years=97).age_sex == "90+ y"
    assert set(SEXES) == {"female", "male", "other"}
    with pytest.raises(ValueError, match="sex must be one of female, male, other or empty"):
        EcgRecord(signal, 500.0, LEAD_ORDER, sex="F")
    with pytest.raises(ValueError, match="age_years must be"):
        EcgRecord(signal, 500.0, LEAD_ORDER, age_years=-1)
