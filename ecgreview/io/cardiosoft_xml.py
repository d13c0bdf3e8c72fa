"""Read GE CardioSoft XML (root ``CardiologyXML``, CardioSoft 6.x resting ECG) into an :class:`EcgRecord`.

No library reads this format (ecgdatakit 2.0.3 and sierraecg do not), so the
reader is ours. Layout, as CardioSoft exports it (for example the UK Biobank
resting ECGs):

* ``StripData``: ``SampleRate`` (Hz), ``Resolution`` (µV per count, unit
  ``uVperLsb``), ``ChannelSampleCountTotal`` and one ``WaveformData lead="I"``
  per lead, holding comma-separated integer counts;
* ``RestingECGMeasurements``: ``VentricularRate``, ``PQInterval``,
  ``QRSDuration``, ``QTInterval``, ``QTCInterval``, ``RRInterval``, ``PAxis``,
  ``RAxis``, ``TAxis``, and ``MedianSamples`` (the median beats, laid out like
  ``StripData``);
* ``Interpretation/Diagnosis/DiagnosisText`` and
  ``Interpretation/Conclusion/ConclusionText``: the device statements;
* ``ObservationDateTime`` (``Year``, ``Month``, ``Day``, ``Hour``, ``Minute``,
  ``Second``), ``PatientInfo/PID``.

Only the patient id is copied (as the pseudonym), never a name or birth date.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ElementTree
from datetime import datetime

import numpy as np

from ecgreview.errors import EcgReadError
from ecgreview.io._limits import check_signal_shape
from ecgreview.io._source import _load_source
from ecgreview.io._xml import _measurements, _mv_per_unit, _number, _parse_xml, _sha256, _statements, _text, _waveform
from ecgreview.io.leads import normalize_lead_name
from ecgreview.record import EcgRecord, Measurement, Waveform

__all__ = ["read_cardiosoft_xml"]

FORMAT_NAME = "GE CardioSoft XML"
ROOT = "CardiologyXML"

#: RestingECGMeasurements elements -> (measurement name, unit).
_MEASUREMENT_ELEMENTS: dict[str, tuple[str, str]] = {
    "VentricularRate": ("Ventricular rate", "bpm"), "RRInterval": ("RR", "ms"), "PQInterval": ("PR", "ms"),
    "QRSDuration": ("QRS", "ms"), "QTInterval": ("QT", "ms"), "QTCInterval": ("QTc", "ms"),
    "PAxis": ("P axis", "deg"), "RAxis": ("QRS axis", "deg"), "TAxis": ("T axis", "deg"),
}
_COUNT = re.compile(r"^[+-]?\d+$")
#: Resolution units meaning "µV per count" as CardioSoft writes them.
_PER_COUNT_SUFFIX = re.compile(r"(?i)(per|/)\s*(lsb|count|bit)s?$")


def read_cardiosoft_xml(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> EcgRecord:
    """Read a GE CardioSoft XML resting ECG.

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
        derived when only I, II, V1-V6 are stored), the sampling rate in Hz, the
        statements, measurements (ms, deg, bpm) and the median beats.

    Raises
    ------
    EcgReadError
        If the XML is malformed or refused, not CardioSoft XML, or ``StripData``
        is missing, incomplete or not numeric.
    """
    data, source_name = _load_source(path_or_bytes, name)
    source = source_name or None
    root = _parse_xml(data, source, FORMAT_NAME.removesuffix(" XML"))
    if root.tag != ROOT:
        raise EcgReadError(source, f"not a GE CardioSoft XML: root element is <{root.tag}>, expected <{ROOT}>")
    strip = root.find("StripData")
    if strip is None:
        raise EcgReadError(source, "no StripData element (no rhythm waveforms)")
    rhythm, derived = _read_strip(strip, "StripData", source)
    resting = root.find("RestingECGMeasurements")
    median_element = None if resting is None else resting.find("MedianSamples")
    return EcgRecord(
        signal_mv=rhythm.signal_mv,
        sampling_rate_hz=rhythm.sampling_rate_hz,
        lead_names=rhythm.lead_names,
        source_name=source_name,
        source_sha256=_sha256(data),
        pseudonym=_text(root, "PatientInfo/PID"),
        acquisition_time=_observation_time(root.find("ObservationDateTime")),
        manufacturer="GE Healthcare",
        device_model=_text(root, "DeviceType") or "CardioSoft",
        statements=_read_statements(root.find("Interpretation")),
        measurements=_read_measurements(resting),
        derived_leads=derived,
        median_beats=_read_median(median_element, source),
        source_format=FORMAT_NAME,
    )


def _read_strip(element: ElementTree.Element, where: str, source: str | None) -> tuple[Waveform, frozenset[str]]:
    rate_hz = _number(_text(element, "SampleRate"))
    if rate_hz is None or rate_hz <= 0:
        raise EcgReadError(source, f"{where}: SampleRate {_text(element, 'SampleRate')!r} is not a positive number")
    mv_per_count = _mv_per_count(element.find("Resolution"), where, source)
    expected = _number(_text(element, "ChannelSampleCountTotal"))
    waveforms = element.findall("WaveformData")
    check_signal_shape(source, int(expected or 0), len(waveforms), rate_hz, where=where)
    leads = {}
    for waveform in element.findall("WaveformData"):
        lead = normalize_lead_name(waveform.get("lead"))
        if lead is None or lead in leads:
            continue
        text = waveform.text or ""
        # Bounded before the text is split: each sample is one comma-separated value.
        check_signal_shape(source, text.count(",") + 1, 1, rate_hz, where=f"{where} lead {lead}")
        counts = _counts(text, f"{where} lead {waveform.get('lead')}", source)
        if expected is not None and expected > 0 and len(counts) != int(expected):
            raise EcgReadError(source, f"{where} lead {lead}: {len(counts)} samples, but ChannelSampleCountTotal "
                                       f"is {int(expected)}; the file may be truncated")
        leads[lead] = counts * mv_per_count
    if not leads:
        raise EcgReadError(source, f"{where}: no WaveformData of a standard lead")
    return _waveform(leads, rate_hz, where, source)


def _mv_per_count(resolution: ElementTree.Element | None, where: str, source: str | None) -> float:
    value = _number(_text(resolution))
    if resolution is None or value is None or value <= 0:
        raise EcgReadError(source, f"{where}: needs a positive Resolution (µV per count)")
    unit = _PER_COUNT_SUFFIX.sub("", resolution.get("units", "uV").strip()) or "uV"
    return value * _mv_per_unit(unit, f"{where} Resolution", source)


def _counts(text: str, where: str, source: str | None) -> np.ndarray:
    values = [value.strip() for value in text.split(",") if value.strip()]
    bad = next((value for value in values if not _COUNT.match(value)), None)
    if bad is not None:
        raise EcgReadError(source, f"{where}: sample {bad[:20]!r} is not an integer count")
    if not values:
        raise EcgReadError(source, f"{where}: no samples")
    return np.array(values, dtype=np.float64)


def _read_median(element: ElementTree.Element | None, source: str | None) -> Waveform | None:
    """The median beats, or None when absent or malformed (they must not block the rhythm)."""
    if element is None:
        return None
    try:
        return _read_strip(element, "MedianSamples", source)[0]
    except EcgReadError:
        return None


def _read_statements(interpretation: ElementTree.Element | None) -> tuple[str, ...]:
    if interpretation is None:
        return ()
    texts = [_text(item) for item in interpretation.findall("Diagnosis/DiagnosisText")]
    texts += [_text(item) for item in interpretation.findall("Conclusion/ConclusionText")]
    return _statements(texts)


def _read_measurements(resting: ElementTree.Element | None) -> tuple[Measurement, ...]:
    return _measurements({name: (_text(resting, tag), unit) for tag, (name, unit) in _MEASUREMENT_ELEMENTS.items()})


def _observation_time(element: ElementTree.Element | None) -> datetime | None:
    if element is None:
        return None
    parts = [_number(_text(element, tag)) for tag in ("Year", "Month", "Day", "Hour", "Minute", "Second")]
    if any(part is None for part in parts[:3]):
        return None
    try:
        year, month, day, hour, minute, second = (int(part or 0) for part in parts)
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
