"""Formats parsed by ``ecgdatakit`` (Apache-2.0), seen by the rest of ecgreview only as an :class:`EcgRecord`.

ecgdatakit 2.0.3 decodes SCP-ECG (EN 1064: Huffman tables, bimodal compression,
reference-beat subtraction), Mortara ELI XML and Philips Sierra 1.03 XML, which
our own readers do not. It is imported lazily, only when such a file is read, and
only its format-specific parser class is used (no auto-detection: ``read_ecg``
recognises every format by content itself).

What stays ours: the bytes are handed over only after our own checks; samples
come back as raw counts and are scaled here (``counts × resolution + offset`` in
the lead's stated unit, refused when the unit is not a voltage); lead names go
through :func:`~ecgreview.io.leads.normalize_lead_name` and
:func:`~ecgreview.io.leads.standard_leads`; every library failure becomes an
:class:`~ecgreview.errors.EcgReadError` naming the file. Only the patient id is
copied (as the pseudonym), never a name or birth date.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from ecgreview.errors import EcgReadError
from ecgreview.io._xml import _mv_per_unit, _sha256, _statements
from ecgreview.io.leads import normalize_lead_name, standard_leads
from ecgreview.record import EcgRecord, Measurement, Waveform

__all__: list[str] = []

#: Our short name -> (ecgdatakit module under ecgdatakit.parsing.parsers, parser class).
_PARSERS: dict[str, tuple[str, str]] = {
    "scp": ("scp_ecg", "SCPECGParser"),
    "mortara": ("mortara_el250", "MortaraEL250Parser"),
    "sierra": ("sierra_xml", "SierraXMLParser"),
}

#: GlobalMeasurements attribute -> (our measurement name, unit), in display order.
_MEASUREMENTS: tuple[tuple[str, str, str], ...] = (
    ("heart_rate", "Ventricular rate", "bpm"), ("rr_interval", "RR", "ms"), ("pr_interval", "PR", "ms"),
    ("qrs_duration", "QRS", "ms"), ("qt_interval", "QT", "ms"), ("qtc_bazett", "QTc", "ms"),
    ("qtc_fridericia", "QTcF", "ms"), ("p_axis", "P axis", "deg"), ("qrs_axis", "QRS axis", "deg"),
    ("t_axis", "T axis", "deg"),
)


def _parse(data: bytes, parser: str, source: str | None, format_name: str) -> Any:
    """Run one ecgdatakit parser on ``data``; its record (raw counts), or EcgReadError."""
    try:
        import importlib

        module_name, class_name = _PARSERS[parser]
        parser_class = getattr(importlib.import_module(f"ecgdatakit.parsing.parsers.{module_name}"), class_name)
    except ImportError as exc:  # pragma: no cover - the pin is in requirements.txt
        raise EcgReadError(source, f"{format_name} needs the ecgdatakit package (pip install ecgdatakit==2.0.3)") from exc
    handle, temporary = tempfile.mkstemp(prefix="ecgreview-", suffix=".ecg")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # checksum and layout notes; what we use is checked below
            return parser_class().parse(temporary)
    except EcgReadError:
        raise
    except Exception as exc:  # the library boundary: every failure names the file
        message = str(exc).replace(temporary, source or "file")
        raise EcgReadError(source, f"malformed {format_name} ({type(exc).__name__}: {message})") from exc
    finally:
        os.unlink(temporary)


def _leads_mv(leads: Sequence[Any], where: str, source: str | None) -> tuple[dict[str, np.ndarray], float]:
    """Standard leads in mV by canonical name, and the common sampling rate (Hz)."""
    named: dict[str, np.ndarray] = {}
    rates = set()
    for lead in leads:
        name = normalize_lead_name(lead.label)
        if name is None or name in named:
            continue
        unit = str(lead.resolution_unit or "")
        if not unit:
            raise EcgReadError(source, f"{where}, lead {name}: no amplitude scale (samples in arbitrary units)")
        scale = float(lead.resolution) * _mv_per_unit(unit, f"{where}, lead {name}", source)
        offset_mv = float(lead.offset or 0.0) * _mv_per_unit(unit, where, source)
        if not (math.isfinite(scale) and scale != 0 and math.isfinite(offset_mv)):
            raise EcgReadError(source, f"{where}, lead {name}: amplitude scale {lead.resolution!r} {unit} is not usable")
        named[name] = np.asarray(lead.samples, dtype=np.float64) * scale + offset_mv
        rates.add(float(lead.sampling_rate))
    if not named:
        raise EcgReadError(source, f"{where}: no standard ECG leads (found {', '.join(l.label for l in leads) or 'none'})")
    if len(rates) != 1:
        raise EcgReadError(source, f"{where}: leads have different sampling rates ({sorted(rates)} Hz)")
    lengths = {len(signal) for signal in named.values()}
    if len(lengths) != 1:
        raise EcgReadError(source, f"{where}: leads have different sample counts ({sorted(lengths)})")
    rate = rates.pop()
    if not math.isfinite(rate) or rate <= 0:
        raise EcgReadError(source, f"{where}: sampling rate {rate!r} Hz is not a positive number")
    return named, rate


def _waveform(leads: Sequence[Any], where: str, source: str | None) -> tuple[Waveform, frozenset[str]]:
    named, rate = _leads_mv(leads, where, source)
    signal = np.stack(list(named.values()), axis=1)
    signal_mv, names, derived = standard_leads(signal, tuple(named), source=source)
    return Waveform(signal_mv, rate, names), derived


def _median(beats: Sequence[Any], source: str | None, padding_count: int | None) -> Waveform | None:
    """The median beats, or None when absent or unusable (they must not block the rhythm).

    Samples equal to ``padding_count`` (raw counts; e.g. Sierra pads each beat with
    32767) are NaN, and the padded rows after the beat are dropped.
    """
    if not beats:
        return None
    try:
        median = _waveform(beats, "median beats", source)[0]
    except EcgReadError:
        return None
    if padding_count is None:
        return median
    named = {normalize_lead_name(beat.label): np.asarray(beat.samples) == padding_count for beat in beats}
    padded = np.stack([named.get(lead, np.zeros(len(median.signal_mv), dtype=bool)) for lead in median.lead_names], axis=1)
    signal_mv = np.where(padded, np.nan, median.signal_mv).astype(np.float32)
    kept = int(np.flatnonzero(~padded.all(axis=1)).max(initial=-1)) + 1
    return Waveform(signal_mv[:kept], median.sampling_rate_hz, median.lead_names) if kept else None


def _measurements(parsed: Any) -> tuple[Measurement, ...]:
    found = []
    for attribute, name, unit in _MEASUREMENTS:
        value = getattr(parsed.measurements, attribute, None)
        if isinstance(value, (int, float)) and math.isfinite(value):
            found.append(Measurement(name, float(value), unit))
    return tuple(found)


def _record_from_parsed(
    parsed: Any,
    data: bytes,
    source_name: str,
    *,
    format_name: str,
    statements: Sequence[str] | None = None,
    manufacturer: str = "",
    median_padding_count: int | None = None,
) -> EcgRecord:
    """Our record from an ecgdatakit record (raw counts), validated and scaled here."""
    source = source_name or None
    rhythm, derived = _waveform(parsed.leads, "rhythm", source)
    if statements is None:
        statements = [" ".join(part for part in pair if part) for pair in parsed.interpretation.statements]
    device = parsed.recording.device
    acquired = parsed.recording.date
    return EcgRecord(
        signal_mv=rhythm.signal_mv,
        sampling_rate_hz=rhythm.sampling_rate_hz,
        lead_names=rhythm.lead_names,
        source_name=source_name,
        source_sha256=_sha256(data),
        pseudonym=str(parsed.patient.patient_id or "").strip(),
        acquisition_time=acquired.replace(tzinfo=None) if isinstance(acquired, datetime) else None,
        manufacturer=str(device.manufacturer or manufacturer).strip(),
        device_model=str(device.model or "").strip(),
        statements=_statements(list(statements)),
        measurements=_measurements(parsed),
        derived_leads=derived,
        median_beats=_median(parsed.median_beats, source, median_padding_count),
        source_format=format_name,
    )
