"""Read GE MUSE resting ECG XML (root ``RestingECG``) into an :class:`EcgRecord`.

The ``Waveform`` with ``WaveformType`` ``Rhythm`` gives the signal: one
``LeadData`` per recorded lead (usually 8: I, II, V1-V6), its samples base64
little-endian int16 in ``WaveFormData``, scaled by ``LeadAmplitudeUnitsPerBit``
in ``LeadAmplitudeUnits``. III, aVR, aVL and aVF are derived. The ``Median``
waveform gives the median beats. Statements come from ``Diagnosis`` (fragments
joined up to each ``ENDSLINE`` flag), measurements from
``RestingECGMeasurements``. Only PatientID (as the pseudonym), PatientAge (in years)
and Gender are copied from ``PatientDemographics``; never a name or birth date.
"""

from __future__ import annotations

import base64
import binascii
import os
import xml.etree.ElementTree as ElementTree
from datetime import datetime

import numpy as np

from ecgreview.errors import EcgReadError
from ecgreview.io._demographics import age_from_text, sex_from_text
from ecgreview.io._limits import MAX_SAMPLES_PER_LEAD, check_base64_length, check_signal_shape
from ecgreview.io._source import _load_source
from ecgreview.io._xml import (
    _compact_text,
    _datetime,
    _measurements,
    _mv_per_unit,
    _number,
    _parse_xml,
    _sha256,
    _statements,
    _text,
    _waveform,
)
from ecgreview.io.leads import normalize_lead_name
from ecgreview.record import EcgRecord, Measurement, Waveform

__all__ = ["read_muse_xml"]

#: RestingECGMeasurements elements -> (measurement name, unit).
_MEASUREMENT_ELEMENTS: dict[str, tuple[str, str]] = {
    "VentricularRate": ("Ventricular rate", "bpm"), "AtrialRate": ("Atrial rate", "bpm"),
    "PRInterval": ("PR", "ms"), "QRSDuration": ("QRS", "ms"), "QTInterval": ("QT", "ms"),
    "QTCorrected": ("QTc", "ms"), "PAxis": ("P axis", "deg"), "RAxis": ("QRS axis", "deg"),
    "TAxis": ("T axis", "deg"),
}
_TIME_FORMATS = ("%m-%d-%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S")


def read_muse_xml(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> EcgRecord:
    """Read a GE MUSE resting ECG XML file.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A file path, or the file's bytes.
    name : str, optional
        File name for the record and for error messages.

    Returns
    -------
    EcgRecord
        ``signal_mv`` (samples, 12) float32 in mV in ``LEAD_ORDER`` (limb leads
        derived from I and II), the sampling rate in Hz, the device's statements,
        measurements (ms, deg, bpm) and median beats.

    Raises
    ------
    EcgReadError
        If the XML is malformed or truncated, is not MUSE, or has no readable
        rhythm waveform.
    """
    data, source_name = _load_source(path_or_bytes, name)
    source = source_name or None
    root = _parse_xml(data, source, "GE MUSE")
    if root.tag != "RestingECG":
        raise EcgReadError(source, f"not a GE MUSE XML: root element is <{root.tag}>, expected <RestingECG>")
    waveforms = {_text(item, "WaveformType").lower(): item for item in root.findall("Waveform")}
    if "rhythm" not in waveforms:
        found = ", ".join(waveforms) or "none"
        raise EcgReadError(source, f"no Waveform with WaveformType Rhythm (found: {found})")
    rhythm, derived = _read_waveform(waveforms["rhythm"], "Rhythm waveform", source)
    median = _read_waveform(waveforms["median"], "Median waveform", source)[0] if "median" in waveforms else None
    return EcgRecord(
        signal_mv=rhythm.signal_mv,
        sampling_rate_hz=rhythm.sampling_rate_hz,
        lead_names=rhythm.lead_names,
        source_name=source_name,
        source_sha256=_sha256(data),
        pseudonym=_text(root, "PatientDemographics/PatientID"),
        acquisition_time=_acquisition_time(root),
        manufacturer="GE Healthcare",
        device_model=_text(root, "TestDemographics/AcquisitionDevice"),
        statements=_read_statements(root.find("Diagnosis")),
        measurements=_read_measurements(root.find("RestingECGMeasurements")),
        derived_leads=derived,
        median_beats=median,
        age_years=_age_years(root),
        sex=sex_from_text(_text(root, "PatientDemographics/Gender")),
    )


def _age_years(root: ElementTree.Element) -> int | None:
    """``PatientAge`` when its ``AgeUnits`` are years (or not given); None otherwise."""
    units = _text(root, "PatientDemographics/AgeUnits").upper()
    return age_from_text(_text(root, "PatientDemographics/PatientAge")) if units in ("", "YEARS") else None


def _read_waveform(waveform: ElementTree.Element, where: str, source: str | None) -> tuple[Waveform, frozenset[str]]:
    base = _number(_text(waveform, "SampleBase"))
    exponent = _number(_text(waveform, "SampleExponent") or "0")
    if base is None or exponent is None:
        raise EcgReadError(source, f"{where}: SampleBase {_text(waveform, 'SampleBase')!r} is not a number")
    leads = {}
    for number, lead_data in enumerate(waveform.findall("LeadData"), 1):
        lead_id = _text(lead_data, "LeadID")
        lead = normalize_lead_name(lead_id)
        if lead is None:
            continue
        if lead in leads:
            raise EcgReadError(source, f"{where}: lead {lead} appears in more than one LeadData")
        leads[lead] = _lead_mv(lead_data, f"{where}, LeadData {number} ({lead_id})", source)
    if not leads:
        raise EcgReadError(source, f"{where}: no LeadData with a standard LeadID")
    return _waveform(leads, base * 10**exponent, where, source)


def _lead_mv(lead_data: ElementTree.Element, where: str, source: str | None) -> np.ndarray:
    """One lead's samples in mV: base64 int16 little endian × units per bit."""
    if (_text(lead_data, "LeadSampleSize") or "2") != "2":
        raise EcgReadError(source, f"{where}: unsupported LeadSampleSize {_text(lead_data, 'LeadSampleSize')} (expected 2)")
    count = _number(_text(lead_data, "LeadSampleCountTotal"))
    if count is not None and count < 1:
        raise EcgReadError(source, f"{where}: LeadSampleCountTotal {count:g} is not a positive number of samples")
    if count is not None:
        check_signal_shape(source, int(count), 1, None, where=where)
    encoded = _compact_text(lead_data, "WaveFormData")
    check_base64_length(source, where, len(encoded), 2 * MAX_SAMPLES_PER_LEAD)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EcgReadError(source, f"{where}: WaveFormData is not valid base64 ({exc})") from exc
    expected = None if count is None else int(count) * 2
    if not raw or len(raw) % 2 or (expected is not None and len(raw) < expected):
        raise EcgReadError(
            source, f"{where}: WaveFormData has {len(raw)} bytes, expected {expected or 'an even number'}; the file may be truncated"
        )
    units_per_bit = _number(_text(lead_data, "LeadAmplitudeUnitsPerBit"))
    if units_per_bit is None or units_per_bit <= 0:
        raise EcgReadError(source, f"{where}: LeadAmplitudeUnitsPerBit {_text(lead_data, 'LeadAmplitudeUnitsPerBit')!r} is not a positive number")
    mv_per_unit = _mv_per_unit(_text(lead_data, "LeadAmplitudeUnits") or "MICROVOLTS", where, source)
    samples = np.frombuffer(raw, dtype="<i2", count=(expected or len(raw)) // 2)
    return samples.astype(np.float64) * units_per_bit * mv_per_unit


def _read_statements(diagnosis: ElementTree.Element | None) -> tuple[str, ...]:
    """Statement lines: ``StmtText`` fragments joined until a ``StmtFlag`` ENDSLINE."""
    lines: list[str] = []
    current: list[str] = []
    for statement in [] if diagnosis is None else diagnosis.findall("DiagnosisStatement"):
        current.append(_text(statement, "StmtText"))
        if any(_text(flag) == "ENDSLINE" for flag in statement.findall("StmtFlag")):
            lines.append(" ".join(part for part in current if part))
            current = []
    lines.append(" ".join(part for part in current if part))
    return _statements(lines)


def _read_measurements(element: ElementTree.Element | None) -> tuple[Measurement, ...]:
    return _measurements({name: (_text(element, tag), unit) for tag, (name, unit) in _MEASUREMENT_ELEMENTS.items()})


def _acquisition_time(root: ElementTree.Element) -> datetime | None:
    date = _text(root, "TestDemographics/AcquisitionDate")
    time = _text(root, "TestDemographics/AcquisitionTime") or "00:00:00"
    return _datetime(f"{date} {time}", _TIME_FORMATS) if date else None
