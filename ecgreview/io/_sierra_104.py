"""Our reader of Philips Sierra ECG XML 1.04.x (root ``restingecgdata``); every version: :mod:`.sierra_xml`.

The rhythm signal is ``waveforms/parsedwaveforms``: base64, either plain
little-endian int16 (leads one after another) or XLI-compressed (decoded by
:mod:`ecgreview.io._xli`). In XLI files, leads III, aVR, aVL and aVF are stored
as residuals of their Einthoven/Goldberger estimates and are reconstructed here.
Amplitudes are in ``resolution`` µV per unit. Facts from the public format
description of sierra-ecg-tools (MIT); the code here is our own.

Statements come from ``interpretations/interpretation/statement``, measurements
from ``globalmeasurements``, median beats from ``repbeats``. Only the patient id
is copied (as the pseudonym), never a name or birth date.
"""

from __future__ import annotations

import base64
import binascii
import os
import xml.etree.ElementTree as ElementTree
from datetime import datetime

import numpy as np

from ecgreview.errors import EcgReadError
from ecgreview.io._limits import MAX_SAMPLES_PER_LEAD, check_base64_length, check_signal_shape
from ecgreview.io._source import _load_source
from ecgreview.io._xli import xli_decode
from ecgreview.io._xml import (
    _compact_text,
    _datetime,
    _measurements,
    _number,
    _parse_xml,
    _sha256,
    _statements,
    _text,
    _waveform,
)
from ecgreview.io.leads import normalize_lead_name
from ecgreview.record import EcgRecord, Measurement, Waveform

__all__ = ["REPBEAT_PADDING", "read_sierra_104", "record_from_root"]

#: globalmeasurements elements -> (measurement name, unit).
_MEASUREMENT_ELEMENTS: dict[str, tuple[str, str]] = {
    "heartrate": ("Ventricular rate", "bpm"), "atrialrate": ("Atrial rate", "bpm"), "rrint": ("RR", "ms"),
    "print": ("PR", "ms"), "qrsdur": ("QRS", "ms"), "qtint": ("QT", "ms"), "qtcb": ("QTc", "ms"),
    "pfrontaxis": ("P axis", "deg"), "qrsfrontaxis": ("QRS axis", "deg"), "tfrontaxis": ("T axis", "deg"),
}
#: Representative beats are padded after the beat with the int16 maximum (1.03 and 1.04 alike).
REPBEAT_PADDING = 32767
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S",)


def read_sierra_104(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> EcgRecord:
    """Read a Philips Sierra ECG XML file of version 1.04.x (or without a version).

    As :func:`ecgreview.io.sierra_xml.read_sierra_xml` (the reader of every version: same parameters,
    record and errors), without looking at the version.
    """
    data, source_name = _load_source(path_or_bytes, name)
    return record_from_root(_parse_xml(data, source_name or None, "Philips Sierra"), data, source_name)


def record_from_root(root: ElementTree.Element, data: bytes, source_name: str) -> EcgRecord:
    """The record of a parsed Sierra 1.04.x document: ``root`` parsed from ``data`` (the file's bytes, for
    ``source_sha256``); ``source_name`` names the record and the errors. Raises EcgReadError."""
    source = source_name or None
    if root.tag != "restingecgdata":
        raise EcgReadError(source, f"not a Philips Sierra ECG XML: root element is <{root.tag}>, expected <restingecgdata>")
    parsed = root.find("waveforms/parsedwaveforms")
    if parsed is None:
        raise EcgReadError(source, "no waveforms/parsedwaveforms element (no rhythm waveforms)")
    rhythm, derived = _read_rhythm(parsed, source)
    interpretation = root.find("interpretations/interpretation")
    acquisition = root.find("dataacquisition")
    return EcgRecord(
        signal_mv=rhythm.signal_mv,
        sampling_rate_hz=rhythm.sampling_rate_hz,
        lead_names=rhythm.lead_names,
        source_name=source_name,
        source_sha256=_sha256(data),
        pseudonym=_text(root, "patient/generalpatientdata/patientid"),
        acquisition_time=_acquisition_time(acquisition),
        manufacturer="Philips",
        device_model=_text(acquisition, "machine"),
        statements=_read_statements(interpretation),
        measurements=_read_measurements(interpretation),
        derived_leads=derived,
        median_beats=_read_repbeats(root.find("waveforms/repbeats"), source),
    )


def _read_rhythm(parsed: ElementTree.Element, source: str | None) -> tuple[Waveform, frozenset[str]]:
    where = "parsedwaveforms"
    encoding = parsed.get("dataencoding", "")
    if encoding.lower() != "base64":
        raise EcgReadError(source, f"{where}: unsupported dataencoding '{encoding}' (expected Base64)")
    labels = parsed.get("leadlabels", "").split()
    rate = _number(parsed.get("samplespersecond"))
    duration_ms = _number(parsed.get("durationperchannel"))
    resolution_uv = _number(parsed.get("resolution"))
    if not labels or rate is None or duration_ms is None or resolution_uv is None or resolution_uv <= 0:
        raise EcgReadError(
            source, f"{where}: needs leadlabels, samplespersecond, durationperchannel and a positive resolution"
        )
    if rate <= 0 or duration_ms <= 0:
        raise EcgReadError(source, f"{where}: samplespersecond {rate:g} and durationperchannel {duration_ms:g} ms "
                                   "must be positive")
    sample_count = int(round(duration_ms * rate / 1000))
    check_signal_shape(source, sample_count, len(labels), rate, where=where)
    plain_bytes = len(labels) * sample_count * 2
    # XLI (LZW with 10-bit codes) may exceed the plain size on noise: allow twice it, plus the chunk headers.
    raw = _base64(_compact_text(parsed), where, source, max_bytes=2 * plain_bytes + 64 * len(labels) + 4096)
    compression = parsed.get("compression") or parsed.get("compressmethod") or "Uncompressed"
    if compression.upper() == "XLI":
        leads = _reconstruct_limb_leads(xli_decode(raw, len(labels), sample_count, source), labels)
    elif compression.lower() in ("uncompressed", "none", ""):
        leads = _split_plain(raw, len(labels), sample_count, source)
    else:
        raise EcgReadError(source, f"{where}: unsupported compression '{compression}' (supported: XLI, uncompressed)")
    offset = _number(parsed.get("signaloffset")) or 0.0
    named = {}
    for label, samples in zip(labels, leads):
        lead = normalize_lead_name(label)
        if lead is not None:
            named[lead] = (samples - offset) * resolution_uv / 1000.0
    return _waveform(named, rate, where, source)


def _base64(text: str, where: str, source: str | None, *, max_bytes: int) -> bytes:
    """Decode base64 ``text`` (whitespace already removed) of at most ``max_bytes`` decoded bytes."""
    check_base64_length(source, where, len(text), max_bytes)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EcgReadError(source, f"{where}: waveform data is not valid base64 ({exc})") from exc


def _split_plain(raw: bytes, lead_count: int, sample_count: int, source: str | None) -> list[np.ndarray]:
    expected = lead_count * sample_count * 2
    if len(raw) < expected:
        raise EcgReadError(source, f"parsedwaveforms: {len(raw)} bytes, expected {expected}; the file may be truncated")
    samples = np.frombuffer(raw, dtype="<i2", count=lead_count * sample_count).astype(np.int64)
    return list(samples.reshape(lead_count, sample_count))


def _reconstruct_limb_leads(leads: list[np.ndarray], labels: list[str]) -> list[np.ndarray]:
    """III, aVR, aVL and aVF from their stored residuals (integer floor division, as encoded)."""
    index = {normalize_lead_name(label): position for position, label in enumerate(labels)}
    if not all(lead in index for lead in ("I", "II", "III", "aVR", "aVL", "aVF")):
        return leads
    lead_i, lead_ii = leads[index["I"]], leads[index["II"]]
    lead_iii = lead_ii - lead_i - leads[index["III"]]
    rebuilt = list(leads)
    rebuilt[index["III"]] = lead_iii
    rebuilt[index["aVR"]] = -leads[index["aVR"]] - (lead_i + lead_ii) // 2
    rebuilt[index["aVL"]] = (lead_i - lead_iii) // 2 - leads[index["aVL"]]
    rebuilt[index["aVF"]] = (lead_ii + lead_iii) // 2 - leads[index["aVF"]]
    return rebuilt


def _read_repbeats(repbeats: ElementTree.Element | None, source: str | None) -> Waveform | None:
    """Representative beats (plain base64 int16 per lead), or None when absent or unreadable."""
    if repbeats is None:
        return None
    rate = _number(repbeats.get("samplespersec"))
    resolution_uv = _number(repbeats.get("resolution"))
    if rate is None or resolution_uv is None:
        return None
    leads = {}
    for beat in repbeats.findall("repbeat"):
        lead = normalize_lead_name(beat.get("leadname"))
        raw = _base64(_compact_text(beat, "waveform"), f"repbeat {beat.get('leadname')}", source,
                      max_bytes=2 * MAX_SAMPLES_PER_LEAD)
        if lead is not None and raw:
            samples = np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<i2")
            leads[lead] = np.where(samples == REPBEAT_PADDING, np.nan, samples * resolution_uv / 1000.0)
    try:
        median = _waveform(leads, rate, "repbeats", source, missing_allowed=True)[0] if leads else None
    except EcgReadError:
        return None  # median beats are optional: a malformed set must not block the rhythm
    if median is None:
        return None
    kept = int(np.flatnonzero(~np.isnan(median.signal_mv).all(axis=1)).max(initial=-1)) + 1
    return Waveform(median.signal_mv[:kept], rate, median.lead_names) if kept else None


def _read_statements(interpretation: ElementTree.Element | None) -> tuple[str, ...]:
    if interpretation is None:
        return ()
    texts = [
        " ".join(part for part in (_text(item, "leftstatement"), _text(item, "rightstatement")) if part)
        for item in interpretation.findall("statement")
    ]
    return _statements(texts)


def _read_measurements(interpretation: ElementTree.Element | None) -> tuple[Measurement, ...]:
    element = None if interpretation is None else interpretation.find("globalmeasurements")
    return _measurements({name: (_text(element, tag), unit) for tag, (name, unit) in _MEASUREMENT_ELEMENTS.items()})


def _acquisition_time(acquisition: ElementTree.Element | None) -> datetime | None:
    if acquisition is None or not acquisition.get("date"):
        return None
    return _datetime(f"{acquisition.get('date')} {acquisition.get('time') or '00:00:00'}", _TIME_FORMATS)
