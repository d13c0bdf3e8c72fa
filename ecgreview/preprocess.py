"""Bring an ECG into the model's input format (the pilot's method).

``preprocess_ecg`` chains the steps: reorder to :data:`~ecgreview.record.LEAD_ORDER`,
resample to 400 Hz with :func:`scipy.signal.resample_poly` (exact integer up/down
factors), then centre-pad with zeros (or centre-cut) to 4096 samples. Units stay mV.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

import numpy as np
from scipy.signal import resample_poly

from ecgreview.errors import EcgReadError, PreprocessError
from ecgreview.io.leads import order_leads
from ecgreview.record import LEAD_ORDER, MODEL_SAMPLES, MODEL_SAMPLING_RATE_HZ, EcgRecord


def reorder_leads(record: EcgRecord, order: tuple[str, ...] = LEAD_ORDER) -> EcgRecord:
    """Return ``record`` with its columns in ``order`` (:func:`ecgreview.io.leads.order_leads`, the one rule).

    Raises
    ------
    PreprocessError
        A lead is missing or appears twice (the message names it).
    """
    try:
        signal_mv, names = order_leads(record.signal_mv, record.lead_names, source=record.source_name or None,
                                       order=order)
    except EcgReadError as exc:
        raise PreprocessError(record.source_name or None, exc.reason) from exc
    return record.replace(signal_mv=signal_mv, lead_names=names)


def resampling_factors(from_hz: float, to_hz: float) -> tuple[int, int]:
    """Exact integer (up, down) factors with ``from_hz * up / down == to_hz``.

    Rates must be rational with a small denominator (e.g. 500, 1000, 257, 128.5 Hz).
    """
    if not (np.isfinite(from_hz) and from_hz > 0):
        raise ValueError(f"sampling rate must be a positive number of Hz, got {from_hz!r}")
    ratio = Fraction(to_hz).limit_denominator(10_000) / Fraction(from_hz).limit_denominator(1_000)
    if ratio.numerator > 10_000 or ratio.denominator > 10_000:
        raise ValueError(f"no small integer resampling factors from {from_hz} Hz to {to_hz} Hz")
    return ratio.numerator, ratio.denominator


def resample_ecg(record: EcgRecord, sampling_rate_hz: float = MODEL_SAMPLING_RATE_HZ) -> EcgRecord:
    """Resample every lead to ``sampling_rate_hz`` with a polyphase filter.

    Parameters
    ----------
    record : EcgRecord
        Signal (samples, leads) in mV.
    sampling_rate_hz : float
        Target rate in Hz (the model's 400 Hz by default).
    """
    try:
        up, down = resampling_factors(record.sampling_rate_hz, sampling_rate_hz)
    except ValueError as exc:
        raise PreprocessError(record.source_name or None, str(exc)) from exc
    if up == down:
        return record.replace(sampling_rate_hz=float(sampling_rate_hz))
    signal = resample_poly(record.signal_mv.astype(np.float64), up, down, axis=0)
    return record.replace(signal_mv=signal.astype(np.float32), sampling_rate_hz=float(sampling_rate_hz))


#: Where :func:`fit_length` puts the zeros: ``centre`` (upstream) or ``end`` (the pilot).
PADDING_MODES: tuple[str, ...] = ("centre", "end")


def fit_length(signal: np.ndarray, samples: int = MODEL_SAMPLES, *,
               padding: Literal["centre", "end"] = "centre") -> np.ndarray:
    """Pad with zeros, or cut, ``signal`` (samples, leads) to ``samples`` rows.

    ``padding="centre"`` (upstream) centres the signal: an odd surplus puts the extra
    zero (or the extra cut sample) at the end. ``padding="end"`` (the pilot) appends the
    zeros, and keeps the first ``samples`` rows of a longer signal.
    """
    if padding not in PADDING_MODES:
        raise ValueError(f"padding must be one of {', '.join(PADDING_MODES)}; got {padding!r}")
    length = signal.shape[0]
    if length >= samples:
        start = (length - samples) // 2 if padding == "centre" else 0
        return signal[start:start + samples]
    before = (samples - length) // 2 if padding == "centre" else 0
    padded = np.zeros((samples, signal.shape[1]), dtype=signal.dtype)
    padded[before:before + length] = signal
    return padded


def preprocess_ecg(record: EcgRecord, *, padding: Literal["centre", "end"] = "centre") -> np.ndarray:
    """The model input for one record: float32 (4096, 12), mV, 400 Hz, :data:`LEAD_ORDER`.

    ``padding`` is passed to :func:`fit_length` (``centre`` by default, as upstream).

    Raises
    ------
    PreprocessError
        A lead is missing, the rate cannot be resampled, or the signal is not finite.
    """
    if record.signal_mv.ndim != 2 or record.signal_mv.shape[0] == 0:
        raise PreprocessError(record.source_name or None, f"empty or malformed signal of shape {record.signal_mv.shape}")
    if not np.all(np.isfinite(record.signal_mv)):
        raise PreprocessError(record.source_name or None, "signal contains NaN or infinite samples")
    resampled = resample_ecg(reorder_leads(record))
    return np.ascontiguousarray(fit_length(resampled.signal_mv, padding=padding), dtype=np.float32)
