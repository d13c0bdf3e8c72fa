"""GE MUSE XML (:mod:`ecgreview.io.muse_xml`) on files written here: scaling, derived limb leads, statements,
demographics, and a clear message for each malformed part. The corpus file is in ``test_xml_formats.py``."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io import read_ecg
from ecgreview.io.muse_xml import read_muse_xml
from ecgreview.record import LEAD_ORDER

#: The leads a MUSE file stores; III, aVR, aVL and aVF are derived from I and II.
STORED = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
UNITS_PER_BIT = 4.88  # µV


def _counts(samples: int, *, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {lead: rng.integers(-2000, 2000, samples).astype("<i2") for lead in STORED}


def _lead_data(lead: str, counts: np.ndarray, **overrides: str) -> str:
    fields = {"LeadByteCountTotal": str(2 * len(counts)), "LeadSampleCountTotal": str(len(counts)),
              "LeadAmplitudeUnitsPerBit": str(UNITS_PER_BIT), "LeadAmplitudeUnits": "MICROVOLTS",
              "LeadSampleSize": "2", "LeadID": lead,
              "WaveFormData": base64.b64encode(counts.tobytes()).decode()} | overrides
    return "<LeadData>" + "".join(f"<{key}>{value}</{key}>" for key, value in fields.items()) + "</LeadData>"


def _waveform(kind: str, counts: dict[str, np.ndarray], *, base: str = "500", exponent: str = "0") -> str:
    leads = "".join(_lead_data(lead, values) for lead, values in counts.items())
    return (f"<Waveform><WaveformType>{kind}</WaveformType><SampleBase>{base}</SampleBase>"
            f"<SampleExponent>{exponent}</SampleExponent>{leads}</Waveform>")


def muse_xml(counts: dict[str, np.ndarray], *, median: dict[str, np.ndarray] | None = None, age: str = "63",
             age_units: str = "YEARS", waveforms: str | None = None) -> bytes:
    """A minimal MUSE resting ECG: demographics, two statement lines, measurements, rhythm (and median) waveform."""
    body = waveforms if waveforms is not None else _waveform("Rhythm", counts) + (
        _waveform("Median", median) if median is not None else "")
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<RestingECG>
<PatientDemographics><PatientID>PSEUDO-MUSE-1</PatientID><PatientAge>{age}</PatientAge>
<AgeUnits>{age_units}</AgeUnits><Gender>FEMALE</Gender></PatientDemographics>
<TestDemographics><AcquisitionDevice>MAC5500</AcquisitionDevice><AcquisitionDate>03-14-2019</AcquisitionDate>
<AcquisitionTime>09:26:53</AcquisitionTime></TestDemographics>
<RestingECGMeasurements><VentricularRate>72</VentricularRate><PRInterval>164</PRInterval>
<QRSDuration>92</QRSDuration><QTInterval>388</QTInterval><QTCorrected>425</QTCorrected>
<RAxis>45</RAxis></RestingECGMeasurements>
<Diagnosis><DiagnosisStatement><StmtFlag>ENDSLINE</StmtFlag><StmtText>Sinus rhythm</StmtText></DiagnosisStatement>
<DiagnosisStatement><StmtText>Right bundle branch</StmtText></DiagnosisStatement>
<DiagnosisStatement><StmtFlag>ENDSLINE</StmtFlag><StmtText>block</StmtText></DiagnosisStatement></Diagnosis>
{body}
</RestingECG>""".encode("latin-1")


def test_stored_leads_are_scaled_and_the_limb_leads_derived():
    counts = _counts(5000)
    record = read_muse_xml(muse_xml(counts), name="muse.xml")
    assert record.lead_names == LEAD_ORDER and record.signal_mv.shape == (5000, 12)
    assert record.sampling_rate_hz == 500 and record.signal_mv.dtype == np.float32
    signal = {lead: record.signal_mv[:, LEAD_ORDER.index(lead)].astype(np.float64) for lead in LEAD_ORDER}
    for lead in STORED:
        np.testing.assert_allclose(signal[lead], counts[lead] * UNITS_PER_BIT / 1000, atol=1e-5)
    lead_i, lead_ii = counts["I"] * UNITS_PER_BIT / 1000, counts["II"] * UNITS_PER_BIT / 1000
    np.testing.assert_allclose(signal["III"], lead_ii - lead_i, atol=1e-5)  # Einthoven
    np.testing.assert_allclose(signal["aVR"], -(lead_i + lead_ii) / 2, atol=1e-5)  # Goldberger
    np.testing.assert_allclose(signal["aVL"], lead_i - lead_ii / 2, atol=1e-5)
    np.testing.assert_allclose(signal["aVF"], lead_ii - lead_i / 2, atol=1e-5)
    assert record.derived_leads == frozenset({"III", "aVR", "aVL", "aVF"})


def test_header_statements_and_measurements():
    record = read_muse_xml(muse_xml(_counts(2500)), name="muse.xml")
    assert record.statements == ("Sinus rhythm", "Right bundle branch block")  # fragments joined up to ENDSLINE
    assert record.pseudonym == "PSEUDO-MUSE-1" and record.manufacturer == "GE Healthcare"
    assert record.device_model == "MAC5500" and record.age_years == 63 and record.sex == "female"
    assert {str(item) for item in record.measurements} >= {"PR 164 ms", "QRS 92 ms", "QT 388 ms", "QTc 425 ms"}
    assert record.median_beats is None  # no Median waveform in this file
    assert record.source_name == "muse.xml" and len(record.source_sha256) == 64


def test_age_in_other_units_is_not_read_as_years():
    assert read_muse_xml(muse_xml(_counts(2500), age="8", age_units="MONTHS")).age_years is None
    assert read_muse_xml(muse_xml(_counts(2500), age="8", age_units="")).age_years == 8


def test_sample_exponent_and_the_median_waveform():
    counts, median = _counts(2500), _counts(600, seed=2)
    waveforms = _waveform("Rhythm", counts, base="25", exponent="1") + _waveform("Median", median, base="500")
    record = read_muse_xml(muse_xml(counts, waveforms=waveforms))
    assert record.sampling_rate_hz == 250  # SampleBase × 10^SampleExponent
    assert record.median_beats is not None and record.median_beats.signal_mv.shape == (600, 12)
    np.testing.assert_allclose(record.median_beats.signal_mv[:, LEAD_ORDER.index("V3")],
                               median["V3"] * UNITS_PER_BIT / 1000, atol=1e-5)


def test_content_decides_the_format():
    data = muse_xml(_counts(2500))
    assert read_ecg(data, name="no-suffix").source_sha256 == read_muse_xml(data).source_sha256


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: text.replace("<RestingECG>", "<RestECG>").replace("</RestingECG>", "</RestECG>"),
     r"not a GE MUSE XML: root element is <RestECG>, expected <RestingECG>"),
    (lambda text: text.replace("<WaveformType>Rhythm", "<WaveformType>Median"),
     r"no Waveform with WaveformType Rhythm \(found: median\)"),
    (lambda text: text.replace("<SampleBase>500", "<SampleBase>fast"),
     r"Rhythm waveform: SampleBase 'fast' is not a number"),
    (lambda text: text.replace("<LeadID>V1</LeadID>", "<LeadID>V2</LeadID>"),
     r"Rhythm waveform: lead V2 appears in more than one LeadData"),
    (lambda text: text.replace("<LeadSampleSize>2", "<LeadSampleSize>1", 1),
     r"Rhythm waveform, LeadData 1 \(I\): unsupported LeadSampleSize 1 \(expected 2\)"),
    (lambda text: text.replace("<LeadAmplitudeUnitsPerBit>4.88", "<LeadAmplitudeUnitsPerBit>0", 1),
     r"Rhythm waveform, LeadData 1 \(I\): LeadAmplitudeUnitsPerBit '0' is not a positive number"),
    (lambda text: text.replace("<LeadSampleCountTotal>2500", "<LeadSampleCountTotal>2600", 1),
     r"Rhythm waveform, LeadData 1 \(I\): WaveFormData has 5000 bytes, expected 5200; the file may be truncated"),
    (lambda text: text.replace("<WaveFormData>", "<WaveFormData>*", 1),
     r"Rhythm waveform, LeadData 1 \(I\): WaveFormData is not valid base64"),
    (lambda text: text.replace("<LeadID>", "<LeadID>X").replace("</LeadID>", "X</LeadID>"),
     r"Rhythm waveform: no LeadData with a standard LeadID"),
])
def test_malformed_parts_are_named(edit, message):
    text = muse_xml(_counts(2500)).decode("latin-1")
    with pytest.raises(EcgReadError, match=r"^m\.xml: " + message):
        read_muse_xml(edit(text).encode("latin-1"), name="m.xml")


def test_truncated_file_is_a_read_error():
    data = muse_xml(_counts(2500))
    with pytest.raises(EcgReadError, match=r"^m\.xml: "):
        read_muse_xml(data[: len(data) // 2], name="m.xml")
