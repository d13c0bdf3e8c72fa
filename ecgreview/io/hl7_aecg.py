"""Read HL7 annotated ECG (aECG, ``AnnotatedECG`` in ``urn:hl7-org:v3``) into an :class:`EcgRecord`.

The rhythm series (code ``RHYTHM``) gives the signal: a ``sequenceSet`` with one
time sequence (``GLIST_TS``/``GLIST_PQ``: head and increment) and one ``SLIST_PQ``
per lead, whose physical value is ``origin + scale × digit``. A derived
``REPRESENTATIVE_BEAT`` series gives the median beats. Rhythm and interpretation
annotations become statements; global interval and axis annotations become
measurements. Only the trial subject id is copied (as the pseudonym), never a name.
"""

from __future__ import annotations

import itertools
import os
import re
import xml.etree.ElementTree as ElementTree
from datetime import datetime

import numpy as np

from ecgreview.errors import EcgReadError
from ecgreview.io._limits import MAX_SAMPLES_PER_LEAD
from ecgreview.io._source import _load_source
from ecgreview.io._xml import (
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

__all__ = ["HL7_NAMESPACE", "read_hl7_aecg"]

HL7_NAMESPACE = "urn:hl7-org:v3"

#: MDC measurement codes -> (measurement name, default unit).
_MEASUREMENT_CODES: dict[str, tuple[str, str]] = {
    "MDC_ECG_TIME_PD_RR": ("RR", "ms"), "MDC_ECG_TIME_PD_PR": ("PR", "ms"),
    "MDC_ECG_TIME_PD_QRS": ("QRS", "ms"), "MDC_ECG_TIME_PD_QT": ("QT", "ms"),
    "MDC_ECG_TIME_PD_QTc": ("QTc", "ms"), "MDC_ECG_ANGLE_P_FRONT": ("P axis", "deg"),
    "MDC_ECG_ANGLE_QRS_FRONT": ("QRS axis", "deg"), "MDC_ECG_ANGLE_T_FRONT": ("T axis", "deg"),
    "MDC_ECG_HEART_RATE": ("Ventricular rate", "bpm"),
}
_TIME_UNITS_S: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_TIME_FORMATS = ("%Y%m%d%H%M%S.%f", "%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d")
_TOKEN = re.compile(r"\S+")


def read_hl7_aecg(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> EcgRecord:
    """Read an HL7 aECG XML file.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A file path, or the file's bytes.
    name : str, optional
        File name for the record and for error messages.

    Returns
    -------
    EcgRecord
        ``signal_mv`` (samples, 12) float32 in mV in ``LEAD_ORDER`` (absent limb
        leads derived), the sampling rate in Hz (1 / increment), statements,
        measurements (ms, deg, bpm) and the representative beats when present.

    Raises
    ------
    EcgReadError
        If the XML is malformed or truncated, is not an aECG, or its rhythm
        waveforms are missing or inconsistent.
    """
    data, source_name = _load_source(path_or_bytes, name)
    source = source_name or None
    root = _parse_xml(data, source, "HL7 aECG")
    if root.tag != "AnnotatedECG":
        raise EcgReadError(source, f"not an HL7 aECG: root element is <{root.tag}>, expected <AnnotatedECG>")
    series = root.findall("component/series")
    rhythm = next((item for item in series if _code(item) == "RHYTHM"), series[0] if series else None)
    if rhythm is None:
        raise EcgReadError(source, "HL7 aECG has no component/series (no waveforms)")
    waveform, derived = _series_waveform(rhythm, "rhythm series", source)
    median_series = rhythm.find("derivation/derivedSeries")
    median = _series_waveform(median_series, "representative beat series", source)[0] if median_series is not None else None
    device = rhythm.find("author/seriesAuthor")
    return EcgRecord(
        signal_mv=waveform.signal_mv,
        sampling_rate_hz=waveform.sampling_rate_hz,
        lead_names=waveform.lead_names,
        source_name=source_name,
        source_sha256=_sha256(data),
        pseudonym=_subject_id(root),
        acquisition_time=_acquisition_time(root),
        manufacturer=_text(device, "manufacturerOrganization/name"),
        device_model=_text(device, "manufacturedSeriesDevice/manufacturerModelName"),
        statements=_read_statements(rhythm),
        measurements=_read_measurements(rhythm),
        derived_leads=derived,
        median_beats=median,
    )


def _code(element: ElementTree.Element | None) -> str:
    found = None if element is None else element.find("code")
    return "" if found is None else found.get("code", "")


def _series_waveform(series: ElementTree.Element, where: str, source: str | None) -> tuple[Waveform, frozenset[str]]:
    """The leads of the series' first sequence set that has leads, in mV, and the rate in Hz."""
    for sequence_set in series.findall("component/sequenceSet"):
        sequences = sequence_set.findall("component/sequence")
        leads = {}
        sampling_rate_hz = None
        for number, sequence in enumerate(sequences, 1):
            code = _code(sequence)
            value = sequence.find("value")
            if code.startswith("TIME_"):
                sampling_rate_hz = _sampling_rate_hz(value, f"{where}, sequence {number} ({code})", source)
                continue
            lead = normalize_lead_name(code)
            if lead is not None and value is not None:
                if lead in leads:
                    raise EcgReadError(source, f"{where}: lead {lead} appears in more than one sequence")
                leads[lead] = _lead_mv(value, f"{where}, sequence {number} ({code})", source)
        if leads:
            if sampling_rate_hz is None:
                raise EcgReadError(source, f"{where}: no TIME_ABSOLUTE or TIME_RELATIVE sequence (sampling rate unknown)")
            return _waveform(leads, sampling_rate_hz, where, source)
    raise EcgReadError(source, f"{where}: no sequenceSet with ECG lead sequences")


def _sampling_rate_hz(value: ElementTree.Element | None, where: str, source: str | None) -> float:
    increment = None if value is None else value.find("increment")
    step = None if increment is None else _number(increment.get("value"))
    unit = "s" if increment is None else increment.get("unit", "s")
    if step is None or step <= 0 or unit not in _TIME_UNITS_S:
        described = None if increment is None else f"{increment.get('value')!r} {unit}"
        raise EcgReadError(source, f"{where}: increment {described} is not a positive time in s or ms")
    return 1.0 / (step * _TIME_UNITS_S[unit])


def _lead_mv(value: ElementTree.Element, where: str, source: str | None) -> np.ndarray:
    """``origin + scale × digits`` of one ``SLIST_PQ`` value, in mV."""
    origin, scale, digits = value.find("origin"), value.find("scale"), value.find("digits")
    if scale is None or digits is None or digits.text is None:
        raise EcgReadError(source, f"{where}: SLIST_PQ without scale or digits")
    scale_value = _number(scale.get("value"))
    origin_value = 0.0 if origin is None else _number(origin.get("value"))
    if scale_value is None or scale_value == 0 or origin_value is None:
        raise EcgReadError(source, f"{where}: scale {scale.get('value')!r} must be a non-zero number and origin a number")
    if _more_digits_than(digits.text, MAX_SAMPLES_PER_LEAD):
        raise EcgReadError(source, f"{where}: digits hold more than {MAX_SAMPLES_PER_LEAD:,} samples, over the "
                                   "per-lead limit (10 min at 1 kHz)")
    try:
        samples = np.array(digits.text.split(), dtype=np.float64)
    except ValueError as exc:
        raise EcgReadError(source, f"{where}: digits are not all numbers ({exc})") from exc
    scale_mv = scale_value * _mv_per_unit(scale.get("unit", "uV"), where, source)
    origin_mv = origin_value * (_mv_per_unit(origin.get("unit", "uV"), where, source) if origin is not None else 1.0)
    return origin_mv + scale_mv * samples


def _more_digits_than(text: str, limit: int) -> bool:
    """Whether ``text`` holds more than ``limit`` whitespace-separated digits (counting stops there).

    Checked before the text is split, so that a giant list is refused without
    allocating one string per digit.
    """
    if (len(text) + 1) // 2 <= limit:  # a digit and a separator per sample at least
        return False
    return sum(1 for _ in itertools.islice(_TOKEN.finditer(text), limit + 1)) > limit


def _annotations(series: ElementTree.Element) -> list[ElementTree.Element]:
    """Every annotation of the series' own annotation sets (not of derived series), in file order."""
    return [item for annotation_set in series.findall("subjectOf/annotationSet") for item in annotation_set.iter("annotation")]


def _read_statements(series: ElementTree.Element) -> tuple[str, ...]:
    """Rhythm annotations (display name) and interpretation statements (text)."""
    texts: list[str] = []
    for annotation in _annotations(series):
        code, value = _code(annotation), annotation.find("value")
        if value is None:
            continue
        if code == "MDC_ECG_RHY":
            texts.append(value.get("displayName") or value.get("code") or "")
        elif "INTERPRETATION" in code:
            texts.append(" ".join("".join(value.itertext()).split()))
    return _statements(texts)


def _read_measurements(series: ElementTree.Element) -> tuple[Measurement, ...]:
    """The first value of each global measurement code (per-beat repeats are the same)."""
    values: dict[str, tuple[str, str]] = {}
    for annotation in _annotations(series):
        known = _MEASUREMENT_CODES.get(_code(annotation))
        value = annotation.find("value")
        if known is None or value is None or known[0] in values or _number(value.get("value")) is None:
            continue
        unit = value.get("unit") or known[1]
        values[known[0]] = (value.get("value", ""), "bpm" if unit in ("/min", "{beats}/min") else unit)
    return _measurements(values)


def _subject_id(root: ElementTree.Element) -> str:
    subject = root.find("componentOf/timepointEvent/componentOf/subjectAssignment/subject/trialSubject/id")
    return "" if subject is None else subject.get("extension", "")


def _acquisition_time(root: ElementTree.Element) -> datetime | None:
    time = root.find("effectiveTime/center")
    if time is None:
        time = root.find("effectiveTime/low")
    return None if time is None else _datetime(time.get("value", ""), _TIME_FORMATS)
