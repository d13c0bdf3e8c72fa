"""Tests of the XML ECG readers (HL7 aECG, GE MUSE, Philips Sierra) on the shared corpus files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io import read_dicom_ecg, read_ecg, read_hl7_aecg, read_muse_xml
from ecgreview.io._sierra_104 import read_sierra_104
from ecgreview.record import LEAD_ORDER, Measurement

HL7 = "ecgtoolkit_Example_HL7aECG.xml"
MUSE = "ecg2dcm_guangxi_teaching_sinus_rhythm_GE-MUSE.xml"
PHILIPS = "sierra-ecg-tools_3191723_ZZDEMOPTONLY_PhilipsSierra1.04.xml"


@pytest.fixture(scope="module")
def other_dir(corpus_dir: Path) -> Path:
    return corpus_dir / "other"


@pytest.mark.parametrize(
    ("file_name", "reader", "rate_hz", "duration_s"),
    [(HL7, read_hl7_aecg, 500, 10.0), (MUSE, read_muse_xml, 500, 10.0), (PHILIPS, read_sierra_104, 500, 11.0)],
)
def test_real_file_reads_as_12_leads(other_dir: Path, file_name: str, reader: object, rate_hz: float, duration_s: float) -> None:
    record = reader(other_dir / file_name)  # type: ignore[operator]
    assert record.lead_names == LEAD_ORDER and record.signal_mv.shape == (int(rate_hz * duration_s), 12)
    assert record.sampling_rate_hz == rate_hz and record.duration_s == pytest.approx(duration_s)
    assert 0.2 < np.abs(record.signal_mv).max() < 10 and record.statements
    assert {"PR", "QRS", "QT", "QTc", "QRS axis"} <= {measurement.name for measurement in record.measurements}
    assert record.median_beats is not None and record.median_beats.lead_names == LEAD_ORDER
    assert record.source_name == file_name and len(record.source_sha256) == 64
    assert read_ecg(other_dir / file_name).source_sha256 == record.source_sha256  # dispatch by root element


def test_hl7_aecg_values(other_dir: Path) -> None:
    record = read_hl7_aecg(other_dir / HL7)
    assert record.statements == ("Sinus Rhythm",) and record.device == "Mortara Instrument, Inc. ELI250"
    assert Measurement("QRS axis", -61.0, "deg") in record.measurements and record.pseudonym == "SBJ-123"
    assert record.derived_leads == frozenset()  # all 12 leads are recorded
    np.testing.assert_allclose(record.lead("III"), record.lead("II") - record.lead("I"), atol=0.01)


def test_muse_matches_its_dicom_conversion(corpus_dir: Path, other_dir: Path) -> None:
    record = read_muse_xml(other_dir / MUSE)
    converted = read_dicom_ecg(corpus_dir / "dicom" / "ecg2dcm_guangxi_teaching_sinus_rhythm.dcm")
    assert record.derived_leads == frozenset({"III", "aVR", "aVL", "aVF"})  # 8 recorded leads
    np.testing.assert_allclose(record.signal_mv, converted.signal_mv, atol=0.005)
    assert Measurement("Ventricular rate", 97.0, "bpm") in record.measurements
    assert record.statements[0] == "窦性心律" and record.device == "GE Healthcare MAC P"


def test_philips_xli_decodes_to_consistent_leads(other_dir: Path) -> None:
    record = read_sierra_104(other_dir / PHILIPS)
    assert record.statements[0].startswith("SINUS RHYTHM") and record.device == "Philips PageWriter Touch"
    assert Measurement("QRS", 84.0, "ms") in record.measurements
    before_calibration = slice(0, 5300)  # the last second holds a 1 mV calibration pulse per lead
    lead_i, lead_ii = record.lead("I")[before_calibration], record.lead("II")[before_calibration]
    np.testing.assert_allclose(record.lead("III")[before_calibration], lead_ii - lead_i, atol=0.011)
    np.testing.assert_allclose(record.lead("aVR")[before_calibration], -(lead_i + lead_ii) / 2, atol=0.011)
    median = record.median_beats
    assert median is not None and median.signal_mv.shape == (600, 12) and not np.isnan(median.signal_mv).any()


@pytest.mark.parametrize("file_name", [HL7, MUSE, PHILIPS])
def test_truncated_xml_is_a_clear_error(other_dir: Path, file_name: str) -> None:
    data = (other_dir / file_name).read_bytes()
    with pytest.raises(EcgReadError, match=r"^cut\.xml: malformed or truncated .* XML \(.*line \d+, column \d+"):
        read_ecg(data[: len(data) // 2], name="cut.xml")


def test_entity_declarations_are_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE RestingECG [<!ENTITY a "aaaa">]><RestingECG>&a;</RestingECG>'
    with pytest.raises(EcgReadError, match=r"^bomb\.xml: XML refused: it declares entities"):
        read_ecg(bomb, name="bomb.xml")
    with pytest.raises(EcgReadError, match=r"^bomb\.xml: GE MUSE XML refused: it declares entities"):
        read_muse_xml(bomb, name="bomb.xml")


def test_unknown_xml_root_and_missing_waveforms() -> None:
    with pytest.raises(EcgReadError, match=r"^a\.xml: XML root element <svg> is not a supported ECG format"):
        read_ecg(b"<svg><g/></svg>", name="a.xml")
    with pytest.raises(EcgReadError, match=r"^m\.xml: no Waveform with WaveformType Rhythm \(found: median\)"):
        read_ecg(b"<RestingECG><Waveform><WaveformType>Median</WaveformType></Waveform></RestingECG>", name="m.xml")
    with pytest.raises(EcgReadError, match=r"^p\.xml: no waveforms/parsedwaveforms element"):
        read_ecg(b"<restingecgdata xmlns='http://www3.medical.philips.com'/>", name="p.xml")
