"""Beats of one record: R peaks (wfdb's XQRS detector), a median beat, and wave polarities.

Used by :mod:`ecgreview.plausibility` to read the polarity of the P wave and the QRS in
one lead; not a delineator. R peaks come from :func:`wfdb.processing.xqrs_detect` run at
250 Hz: at 1000 Hz (PTB) XQRS in wfdb 4.3 finds no beat at all, and 250 Hz is the rate
its defaults are tuned for.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt

from ecgreview._wfdb import wfdb_module
from ecgreview.preprocess import resampling_factors

#: Rate (Hz) the detector runs at.
DETECTION_RATE_HZ = 250
#: Median-beat window around each R peak, in s (before, after).
BEAT_WINDOW_S = (0.40, 0.50)
#: Fewest beats a median beat is made of.
MIN_BEATS = 3
#: The QRS of a median beat is where the slope summed over all leads exceeds this fraction of
#: its peak (P and T waves change ten times slower than the QRS).
QRS_SLOPE_FRACTION = 0.15
#: Where the P wave is looked for, in s relative to the QRS onset: a PR interval of 120-200 ms
#: and a P wave of up to 110 ms put it within 220 ms before the onset.
P_WAVE_WINDOW_S = (-0.22, -0.01)
#: Smallest P wave (mV from the baseline) read as having a polarity; smaller is "none".
MIN_P_WAVE_MV = 0.05
#: High-pass corner (Hz) of the baseline removal before median beats (AHA: 0.67 Hz or below keeps the ST segment).
BASELINE_CORNER_HZ = 0.5
#: An R peak is moved to the largest excursion of the lead within this many s.
_REFINE_S = 0.04


@dataclass(frozen=True)
class Polarity:
    """Polarity of the QRS and the P wave of one lead's median beat.

    Attributes
    ----------
    p_wave_mv : float
        The P wave's largest deflection from the line joining the ends of its window (mV,
        signed); 0 when smaller than :data:`MIN_P_WAVE_MV`.
    qrs_balance : float
        (largest positive + largest negative deflection) / (their sizes together), from -1
        (all negative) to +1 (all positive); 0 for a flat QRS.
    """

    p_wave_mv: float
    qrs_balance: float


def remove_baseline(signal_mv: np.ndarray, rate_hz: float) -> np.ndarray:
    """(samples, leads) with the baseline wander removed (zero-phase high-pass at :data:`BASELINE_CORNER_HZ`).

    Missing (NaN) samples are filled with the lead's median for the filter and stay NaN.
    """
    missing = np.isnan(signal_mv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        medians = np.nan_to_num(np.nanmedian(signal_mv, axis=0))
    filled = np.where(missing, medians, signal_mv)
    sections = butter(2, BASELINE_CORNER_HZ, btype="highpass", fs=rate_hz, output="sos")
    if len(filled) <= 3 * 2 * len(sections):  # too short for filtfilt's padding
        return signal_mv - medians
    return np.where(missing, np.nan, sosfiltfilt(sections, filled, axis=0))


def r_peaks(lead_mv: np.ndarray, rate_hz: float) -> np.ndarray:
    """Sample indices of the R peaks of one lead (mV at ``rate_hz``); empty when none are found."""
    finite = np.isfinite(lead_mv)
    if finite.sum() < DETECTION_RATE_HZ or np.ptp(lead_mv[finite]) == 0:
        return np.zeros(0, dtype=int)
    lead = np.where(finite, lead_mv, np.median(lead_mv[finite])).astype(np.float64)
    try:
        up, down = resampling_factors(rate_hz, DETECTION_RATE_HZ)
    except ValueError:
        return np.zeros(0, dtype=int)
    resampled = resample_poly(lead, up, down) if up != down else lead
    xqrs_detect = wfdb_module("wfdb.processing").xqrs_detect  # imported once, under the lock (ecgreview/_wfdb.py)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = xqrs_detect(resampled, fs=DETECTION_RATE_HZ, verbose=False)
        except Exception:  # noqa: BLE001 - XQRS fails on signals it cannot learn from: no beats
            return np.zeros(0, dtype=int)
    peaks = np.round(np.asarray(found, dtype=np.float64) * rate_hz / DETECTION_RATE_HZ).astype(int)
    return _refine(lead, peaks[(peaks >= 0) & (peaks < len(lead))], round(_REFINE_S * rate_hz))


def _refine(lead_mv: np.ndarray, peaks: np.ndarray, reach: int) -> np.ndarray:
    """Each peak moved to the largest |excursion from the lead's median| within ``reach`` samples."""
    deviation = np.abs(lead_mv - np.median(lead_mv))
    moved = [start + int(np.argmax(deviation[start:peak + reach + 1]))
             for peak in peaks for start in [max(0, peak - reach)]]
    return np.unique(np.asarray(moved, dtype=int))


def median_beats(signal_mv: np.ndarray, peaks: np.ndarray, rate_hz: float) -> np.ndarray | None:
    """(window samples, leads) median of the beats around ``peaks``; None under :data:`MIN_BEATS` beats.

    The R peak is at row ``round(BEAT_WINDOW_S[0] * rate_hz)``.
    """
    before, after = (round(seconds * rate_hz) for seconds in BEAT_WINDOW_S)
    inside = peaks[(peaks >= before) & (peaks + after < len(signal_mv))]
    if len(inside) < MIN_BEATS:
        return None
    stacked = np.stack([signal_mv[peak - before:peak + after + 1] for peak in inside])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of a missing stretch
        beat = np.nanmedian(stacked, axis=0)
    return None if np.isnan(beat).all() else beat


def qrs_bounds(beats_mv: np.ndarray, rate_hz: float) -> tuple[int, int] | None:
    """Rows of the QRS onset and offset in median beats of several leads (from :func:`median_beats`).

    The QRS is the stretch around the R peak where the slope summed over the leads stays
    above :data:`QRS_SLOPE_FRACTION` of its largest value; None when the beats are flat.
    """
    slope = np.nansum(np.abs(np.diff(beats_mv, axis=0)), axis=1)
    width = max(1, round(0.01 * rate_hz))
    slope = np.convolve(slope, np.ones(width) / width, mode="same")
    origin = round(BEAT_WINDOW_S[0] * rate_hz)
    reach = round(0.08 * rate_hz)
    around = slope[max(0, origin - reach):origin + reach]
    if around.size == 0 or around.max() <= 0:
        return None
    peak = max(0, origin - reach) + int(np.argmax(around))
    steep = slope >= QRS_SLOPE_FRACTION * slope[peak]
    onset = peak
    while onset > 0 and steep[onset - 1]:
        onset -= 1
    offset = peak
    while offset < len(steep) - 1 and steep[offset + 1]:
        offset += 1
    return onset, offset + 1


def lead_polarity(beat_mv: np.ndarray, bounds: tuple[int, int], rate_hz: float) -> Polarity:
    """P-wave and QRS polarity of one lead's median beat (baseline removed), given :func:`qrs_bounds`."""
    onset, offset = bounds

    def rows(anchor: int, window_s: tuple[float, float]) -> np.ndarray:
        start, stop = (anchor + round(seconds * rate_hz) for seconds in window_s)
        return beat_mv[max(0, start):max(0, stop) + 1]

    p_wave = rows(onset, P_WAVE_WINDOW_S)
    baseline = rows(onset, (-0.02, 0.0))
    qrs = beat_mv[onset:offset + 1]
    if any(part.size < 2 or not np.isfinite(part).all() for part in (p_wave, baseline, qrs)):
        return Polarity(p_wave_mv=0.0, qrs_balance=0.0)
    level = float(np.median(baseline))
    high, low = max(float(qrs.max()) - level, 0.0), min(float(qrs.min()) - level, 0.0)
    p_wave = p_wave - np.linspace(p_wave[0], p_wave[-1], len(p_wave))
    p_size = float(p_wave[int(np.argmax(np.abs(p_wave)))])
    return Polarity(
        p_wave_mv=p_size if abs(p_size) >= MIN_P_WAVE_MV else 0.0,
        qrs_balance=(high + low) / (high - low) if high > low else 0.0,
    )
