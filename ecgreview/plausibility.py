"""Signal plausibility: what in a record's signal a reader should know before trusting it.

A pipeline stage beside :mod:`ecgreview.preprocess`: it never opens files, takes an
:class:`~ecgreview.record.EcgRecord` and returns :class:`SignalFinding` objects, one per
kind of problem with the leads it concerns. :func:`check_plausibility` runs every check:

* ``non_finite``: samples that are not numbers (the file marks them missing: DICOM
  Waveform Padding Value, the WFDB invalid-sample value). Infinite samples never get
  here: the readers refuse them (:func:`ecgreview.io.leads.check_finite_samples`).
* ``amplitude``: a lead whose typical excursion from its baseline is beyond ±5 mV;
* ``flat``: a lead that stays within 20 µV peak-to-peak for 2 s or more;
* ``saturated``: a lead held at its extreme value (clipped) for 80 ms or more in all;
* ``limb_leads``: recorded limb leads that break Einthoven's law I + III = II;
* ``arm_reversal`` (suspected): lead I with inverted P and QRS and an upright QRS in aVR,
  the pattern of left/right arm electrodes swapped (dextrocardia looks the same).

Amplitudes are taken "in most 2-s stretches": the median, over consecutive 2-s windows,
of each window's largest excursion from its own median. One electrode pop or a burst of
noise does not make a finding; a wrong gain, which scales every beat, does.

Samples where every lead holds one non-zero value are left out of the checks: that is
impossible for an ECG (I + III = II forces 0) and is a device's calibration pulse (the
Philips PageWriter example of the shared corpus ends with 1 mV for 0.2 s in each lead).

:func:`finding_codes` and :func:`parse_finding_codes` give the compact text stored with a
review (``"amplitude:V4,V5;flat:V3"``) and read it back.

References
----------
IEC 60601-2-25:2011 (and AAMI EC11, "input dynamic range"): an electrocardiograph must
record differential signals of ±5 mV (10 mV peak-to-valley) on a ±300 mV electrode offset;
the range is set to hold every surface ECG. Voltage criteria of left ventricular
hypertrophy sum two leads to 3.5 mV (Sokolow-Lyon: S in V1 + R in V5 or V6).
Batchvarov VN, Malik M, Camm AJ. Incorrect electrode cable connection during
electrocardiographic recording. Europace 2007;9:1081-1090: left/right arm reversal inverts
P, QRS and T in lead I and makes aVR positive, mimicking dextrocardia.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from ecgreview._beats import lead_polarity, median_beats, qrs_bounds, r_peaks, remove_baseline
from ecgreview.record import LEAD_ORDER, EcgRecord

__all__ = [
    "FINDING_CODES", "FINDING_SEVERITIES", "SEVERITIES", "SignalFinding", "check_plausibility", "finding_codes",
    "parse_finding_codes",
]

#: How sure a finding is: ``implausible`` (the signal cannot be a correct ECG as stored) or
#: ``suspected`` (the pattern of a recording error that a real heart can also produce).
SEVERITIES: tuple[str, ...] = ("implausible", "suspected")

#: Every finding code, in the order :func:`check_plausibility` reports them, with its severity.
FINDING_SEVERITIES: dict[str, str] = {
    "non_finite": "implausible",
    "amplitude": "implausible",
    "flat": "implausible",
    "saturated": "implausible",
    "limb_leads": "implausible",
    "arm_reversal": "suspected",
}
FINDING_CODES: tuple[str, ...] = tuple(FINDING_SEVERITIES)

_LIMB_LEADS = ("I", "II", "III")
#: A QRS is "inverted" or "upright" when its balance (:class:`ecgreview._beats.Polarity`) is
#: at most -0.3 or at least +0.3: predominantly one way, not an isoelectric (equiphasic) QRS.
_QRS_BALANCE = 0.3
_STORED = re.compile(r"^(?P<code>[a-z_]+):(?P<leads>[A-Za-z0-9]+(?:,[A-Za-z0-9]+)*)$")


@dataclass(frozen=True)
class SignalFinding:
    """One kind of problem in a record's signal.

    Attributes
    ----------
    code : str
        One of :data:`FINDING_CODES`.
    leads : tuple of str
        The leads concerned, in :data:`~ecgreview.record.LEAD_ORDER`.
    severity : str
        One of :data:`SEVERITIES`; always ``FINDING_SEVERITIES[code]``.
    message : str
        What was found, with the measured values and the limit, for display.
    """

    code: str
    leads: tuple[str, ...]
    severity: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in FINDING_SEVERITIES:
            raise ValueError(f"code must be one of {', '.join(FINDING_CODES)}; got {self.code!r}")
        if self.severity != FINDING_SEVERITIES[self.code]:
            raise ValueError(f"severity of {self.code!r} must be {FINDING_SEVERITIES[self.code]!r}; "
                             f"got {self.severity!r}")
        if not self.leads or any(lead not in LEAD_ORDER for lead in self.leads):
            raise ValueError(f"leads must be one or more of {', '.join(LEAD_ORDER)}; got {self.leads!r}")


def check_plausibility(
    record: EcgRecord,
    *,
    amplitude_limit_mv: float = 5.0,
    window_s: float = 2.0,
    flat_limit_mv: float = 0.02,
    flat_duration_s: float = 2.0,
    saturation_ms: float = 80.0,
    limb_residual_limit: float = 0.1,
) -> tuple[SignalFinding, ...]:
    """Check a record's signal; the findings, in :data:`FINDING_CODES` order (empty when none).

    Parameters
    ----------
    record : EcgRecord
        ``signal_mv`` (samples, leads) in mV with ``lead_names`` (any subset of the 12 leads).
    amplitude_limit_mv : float
        A lead whose excursion from its baseline exceeds this in most ``window_s`` stretches
        is implausible. Default ±5 mV, the input range IEC 60601-2-25 requires of an
        electrocardiograph; a header gain off by a factor of 5 gives 10-12 mV.
    window_s : float
        Length of the stretches in s (2 s holds at least one beat at 30 beats/min or more).
    flat_limit_mv : float
        A lead whose peak-to-peak stays below this (default 20 µV) ...
    flat_duration_s : float
        ... for this many seconds or more (default 2 s; the whole record when shorter) is flat:
        an electrode off, a lead not recorded, a signal filled with zeros.
    saturation_ms : float
        A lead held at its maximum or minimum value (runs of 2 or more identical samples)
        for this many ms in all (default 80 ms) was clipped by the amplifier or converter.
        Runs that touch the first or last sample are not counted: recorders hold the last
        value at the record's end (longer holds are ``flat``).
    limb_residual_limit : float
        Recorded leads I, II and III must satisfy I + III - II = 0 (Einthoven); a residual
        whose typical excursion exceeds this fraction (default 0.1) of the largest of the
        three leads' is implausible. Relative to the largest rather than to II alone, so that
        a small II (a QRS axis near -30°) does not make quantisation noise a finding. Not
        checked when any of the three is derived (``record.derived_leads``).

    Returns
    -------
    tuple of SignalFinding

    Raises
    ------
    ValueError
        A limit is not a positive finite number (the message names it), ``signal_mv`` does
        not match ``lead_names``, or the sampling rate is not positive.
    """
    limits = {"amplitude_limit_mv": amplitude_limit_mv, "window_s": window_s, "flat_limit_mv": flat_limit_mv,
              "flat_duration_s": flat_duration_s, "saturation_ms": saturation_ms,
              "limb_residual_limit": limb_residual_limit}
    for name, value in limits.items():
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    signal_mv = _checked_signal(record)
    rate_hz = record.sampling_rate_hz
    window = max(1, min(len(signal_mv), round(window_s * rate_hz)))
    typical_mv = _typical_excursion(signal_mv, window)
    flat = _flat_leads(signal_mv, flat_limit_mv, max(1, min(len(signal_mv), round(flat_duration_s * rate_hz))))
    names = record.lead_names
    found = [
        _non_finite_finding(record.signal_mv, names),
        _amplitude_finding(typical_mv, names, amplitude_limit_mv, window_s),
        _flat_finding(flat, names, flat_limit_mv, flat_duration_s),
        _saturation_finding(signal_mv, names, flat, saturation_ms, rate_hz),
        _limb_lead_finding(signal_mv, record, typical_mv, window, limb_residual_limit),
        _arm_reversal_finding(signal_mv, record, typical_mv, flat),
    ]
    return tuple(finding for finding in found if finding is not None)


def finding_codes(findings: Iterable[SignalFinding]) -> str:
    """The compact text of ``findings`` stored with a review: ``"amplitude:V4,V5;flat:V3"``.

    One ``code:lead,lead`` item per finding, joined by ``;``; ``""`` when there is none.
    Severity and message are not stored: the severity follows from the code
    (:data:`FINDING_SEVERITIES`), the message from the signal. Read back with
    :func:`parse_finding_codes`.

    Raises
    ------
    ValueError
        Two findings have the same code (the text could not be read back).

    Examples
    --------
    >>> finding_codes([SignalFinding("flat", ("V3",), "implausible", "lead V3 is flat")])
    'flat:V3'
    """
    findings = tuple(findings)
    seen: set[str] = set()
    for finding in findings:
        if finding.code in seen:
            raise ValueError(f"findings repeat code {finding.code!r}: give one finding per code, with all its leads")
        seen.add(finding.code)
    return ";".join(f"{finding.code}:{','.join(finding.leads)}" for finding in findings)


def parse_finding_codes(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``(code, leads)`` pairs from the text of :func:`finding_codes`, in its order.

    Raises
    ------
    ValueError
        ``text`` names an unknown code or lead, repeats a code, or is not ``code:lead,...``
        items joined by ``;`` (the message quotes the item).

    Examples
    --------
    >>> parse_finding_codes("amplitude:V4,V5;flat:V3")
    (('amplitude', ('V4', 'V5')), ('flat', ('V3',)))
    >>> parse_finding_codes("")
    ()
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string of finding codes; got {type(text).__name__}")
    pairs: list[tuple[str, tuple[str, ...]]] = []
    for item in text.split(";") if text else []:
        match = _STORED.match(item)
        if match is None:
            raise ValueError(f"text must be 'code:lead,lead' items joined by ';'; got item {item!r} in {text!r}")
        code, leads = match.group("code"), tuple(match.group("leads").split(","))
        if code not in FINDING_SEVERITIES:
            raise ValueError(f"text names unknown finding code {code!r} (known: {', '.join(FINDING_CODES)})")
        unknown = [lead for lead in leads if lead not in LEAD_ORDER]
        if unknown:
            raise ValueError(f"text names unknown lead {unknown[0]!r} in {item!r} (leads: {', '.join(LEAD_ORDER)})")
        if any(code == seen for seen, _ in pairs):
            raise ValueError(f"text repeats finding code {code!r} in {text!r}")
        pairs.append((code, leads))
    return tuple(pairs)


# --- Measurements ---------------------------------------------------------------------------


def _checked_signal(record: EcgRecord) -> np.ndarray:
    """float64 (samples, leads); calibration-pulse samples (every lead one non-zero value) set to NaN."""
    signal = np.asarray(record.signal_mv, dtype=np.float64)
    if signal.ndim != 2 or signal.shape[0] == 0 or signal.shape[1] != len(record.lead_names):
        raise ValueError(f"record.signal_mv must be (samples, {len(record.lead_names)}) for its lead_names; "
                         f"got shape {signal.shape}")
    if not (np.isfinite(record.sampling_rate_hz) and record.sampling_rate_hz > 0):
        raise ValueError(f"record.sampling_rate_hz must be a positive number of Hz; got {record.sampling_rate_hz!r}")
    signal = np.where(np.isfinite(signal), signal, np.nan)
    if signal.shape[1] > 1:
        pulse = np.all(signal == signal[:, :1], axis=1) & (signal[:, 0] != 0)
        signal[pulse] = np.nan
    return signal


def _typical_excursion(signal_mv: np.ndarray, window: int) -> np.ndarray:
    """Per lead (mV): the median over consecutive windows of each window's largest |x - window median|."""
    count = max(1, len(signal_mv) // window)
    windows = signal_mv[:count * window].reshape(count, window, signal_mv.shape[1])
    with warnings.catch_warnings():  # all-NaN windows of a missing stretch are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        centred = windows - np.nanmedian(windows, axis=1, keepdims=True)
        peaks = np.nanmax(np.abs(centred), axis=1)
        return np.nan_to_num(np.nanmedian(peaks, axis=0), nan=0.0)


def _flat_leads(signal_mv: np.ndarray, limit_mv: float, window: int) -> np.ndarray:
    """Per lead, whether some ``window`` samples without a missing one stay within ``limit_mv`` peak-to-peak."""
    missing = np.isnan(signal_mv)
    filled = np.where(missing, 0.0, signal_mv)
    start, stop = window // 2, len(signal_mv) - (window - window // 2) + 1
    spread = (maximum_filter1d(filled, window, axis=0) - minimum_filter1d(filled, window, axis=0))[start:stop]
    gaps = np.cumsum(np.vstack([np.zeros((1, signal_mv.shape[1])), missing]), axis=0)
    complete = (gaps[window:] - gaps[:-window]) == 0
    return np.any((spread < limit_mv) & complete[:len(spread)], axis=0)


def _extreme_hold_ms(lead_mv: np.ndarray, rate_hz: float) -> float:
    """ms the lead spends at its maximum or minimum in runs of 2+ samples that touch neither end."""
    if np.all(np.isnan(lead_mv)):
        return 0.0
    held = 0
    for extreme in (np.nanmax(lead_mv), np.nanmin(lead_mv)):
        edges = np.diff(np.concatenate([[0], (lead_mv == extreme).astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        inner = (stops - starts >= 2) & (starts > 0) & (stops < len(lead_mv))
        held = max(held, int((stops - starts)[inner].sum()))
    return 1000.0 * held / rate_hz


# --- Findings --------------------------------------------------------------------------------


def _leads_text(names: Iterable[str]) -> str:
    names = list(names)
    return f"lead{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _finding(code: str, leads: Iterable[str], message: str) -> SignalFinding:
    ordered = tuple(lead for lead in LEAD_ORDER if lead in set(leads))
    return SignalFinding(code, ordered, FINDING_SEVERITIES[code], message)


def _non_finite_finding(signal_mv: np.ndarray, names: tuple[str, ...]) -> SignalFinding | None:
    counts = (~np.isfinite(signal_mv)).sum(axis=0)
    leads = [(name, int(count)) for name, count in zip(names, counts) if count and name in LEAD_ORDER]
    if not leads:
        return None
    listed = ", ".join(f"{name} ({count} of {len(signal_mv)})" for name, count in leads)
    return _finding("non_finite", [name for name, _ in leads],
                    f"samples missing (not a number) in lead{'s' if len(leads) > 1 else ''} {listed}: "
                    "the file marks them as absent")


def _amplitude_finding(typical_mv: np.ndarray, names: tuple[str, ...], limit_mv: float,
                       window_s: float) -> SignalFinding | None:
    leads = [(name, value) for name, value in zip(names, typical_mv) if value > limit_mv and name in LEAD_ORDER]
    if not leads:
        return None
    listed = ", ".join(f"{name} {value:.1f} mV" for name, value in leads)
    return _finding("amplitude", [name for name, _ in leads],
                    f"amplitude beyond ±{limit_mv:g} mV in most {window_s:g}-s stretches ({listed}): "
                    "a wrong gain in the file, or artefact")


def _flat_finding(flat: np.ndarray, names: tuple[str, ...], limit_mv: float,
                  duration_s: float) -> SignalFinding | None:
    leads = [name for name, is_flat in zip(names, flat) if is_flat and name in LEAD_ORDER]
    if not leads:
        return None
    return _finding("flat", leads, f"{_leads_text(leads)} flat (within {1000 * limit_mv:g} µV peak-to-peak for "
                                   f"{duration_s:g} s or more): electrode off or lead not recorded")


def _saturation_finding(signal_mv: np.ndarray, names: tuple[str, ...], flat: np.ndarray, limit_ms: float,
                        rate_hz: float) -> SignalFinding | None:
    held = [(name, _extreme_hold_ms(signal_mv[:, column], rate_hz))
            for column, name in enumerate(names) if not flat[column] and name in LEAD_ORDER]
    leads = [(name, hold_ms) for name, hold_ms in held if hold_ms >= limit_ms]
    if not leads:
        return None
    listed = ", ".join(f"{name} {hold_ms:.0f} ms" for name, hold_ms in leads)
    return _finding("saturated", [name for name, _ in leads],
                    f"signal held at its extreme value ({listed}; limit {limit_ms:g} ms): clipped by the recorder")


def _limb_lead_finding(signal_mv: np.ndarray, record: EcgRecord, typical_mv: np.ndarray, window: int,
                       limit: float) -> SignalFinding | None:
    names = record.lead_names
    if not all(lead in names for lead in _LIMB_LEADS) or record.derived_leads & set(_LIMB_LEADS):
        return None
    one, two, three = (signal_mv[:, names.index(lead)] for lead in _LIMB_LEADS)
    scale_mv = max(typical_mv[names.index(lead)] for lead in _LIMB_LEADS)
    if scale_mv <= 0:
        return None
    residual_mv = float(_typical_excursion((one + three - two)[:, None], window)[0])
    if residual_mv <= limit * scale_mv:
        return None
    return _finding("limb_leads", _LIMB_LEADS,
                    f"I + III - II is {residual_mv:.2f} mV, {100 * residual_mv / scale_mv:.0f}% of the limb leads' "
                    f"amplitude (limit {100 * limit:g}%): limb leads mislabelled or not recorded together")


def _arm_reversal_finding(signal_mv: np.ndarray, record: EcgRecord, typical_mv: np.ndarray,
                          flat: np.ndarray) -> SignalFinding | None:
    kept = [name for name, is_flat in zip(record.lead_names, flat) if not is_flat]
    if "I" not in kept or "aVR" not in kept:
        return None
    rate_hz = record.sampling_rate_hz
    peaks = r_peaks(signal_mv[:, int(np.argmax(np.where(flat, 0.0, typical_mv)))], rate_hz)
    beats = median_beats(remove_baseline(signal_mv[:, ~flat], rate_hz), peaks, rate_hz)
    bounds = None if beats is None else qrs_bounds(beats, rate_hz)
    if beats is None or bounds is None:
        return None
    lead_i = lead_polarity(beats[:, kept.index("I")], bounds, rate_hz)
    lead_avr = lead_polarity(beats[:, kept.index("aVR")], bounds, rate_hz)
    if not (lead_i.p_wave_mv < 0 and lead_i.qrs_balance <= -_QRS_BALANCE and lead_avr.qrs_balance >= _QRS_BALANCE):
        return None
    return _finding("arm_reversal", ("I", "aVR"),
                    "suspected left/right arm electrode reversal: lead I has an inverted P wave and QRS, aVR an "
                    "upright QRS (dextrocardia looks the same; check V1-V6)")
