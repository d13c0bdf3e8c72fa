"""Electronic calipers: intervals between two time points, heart rate, QTc.

Pure functions over times in seconds and intervals in milliseconds. The reader
places two points on the trace (:func:`interval_ms`), assigns the interval to
RR, PR, QRS or QT, and :func:`caliper_table` sets the results beside the
device's own measurements, with QTc by Bazett (QT / RR^(1/2)) and Fridericia
(QT / RR^(1/3)), RR in seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from ecgreview.record import Measurement

__all__ = [
    "CALIPER_INTERVALS", "caliper_table", "device_value", "heart_rate_bpm", "interval_ms",
    "qtc_bazett_ms", "qtc_fridericia_ms", "time_from_point",
]

#: Intervals a caliper measurement can be assigned to.
CALIPER_INTERVALS: tuple[str, ...] = ("RR", "PR", "QRS", "QT")

#: Device measurement names (normalised) that mean each row of the table.
_DEVICE_NAMES: dict[str, frozenset[str]] = {
    "RR": frozenset({"rr", "rr interval"}),
    "Heart rate": frozenset({"heart rate", "ventricular rate", "ventricular heart rate", "hr", "rate"}),
    "PR": frozenset({"pr", "pr interval", "pq", "pq interval"}),
    "QRS": frozenset({"qrs", "qrs duration", "qrs interval"}),
    "QT": frozenset({"qt", "qt interval"}),
    "QTc": frozenset({"qtc", "qtc interval", "qtcb", "qtc bazett"}),
}


def _positive(name: str, value: float) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive, finite number; got {value!r}")
    return number


def interval_ms(start_s: float, end_s: float) -> float:
    """The interval between two time points, in ms (order does not matter).

    Parameters
    ----------
    start_s, end_s : float
        Times on the trace, in seconds.
    """
    for name, value in (("start_s", start_s), ("end_s", end_s)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be finite; got {value!r}")
    return abs(float(end_s) - float(start_s)) * 1000.0


def heart_rate_bpm(rr_ms: float) -> float:
    """Heart rate in beats per minute from one RR interval in ms (60000 / RR)."""
    return 60000.0 / _positive("rr_ms", rr_ms)


def qtc_bazett_ms(qt_ms: float, rr_ms: float) -> float:
    """QTc by Bazett: QT / sqrt(RR), with RR in seconds; QT and result in ms."""
    return _positive("qt_ms", qt_ms) / math.sqrt(_positive("rr_ms", rr_ms) / 1000.0)


def qtc_fridericia_ms(qt_ms: float, rr_ms: float) -> float:
    """QTc by Fridericia: QT / cbrt(RR), with RR in seconds; QT and result in ms."""
    return _positive("qt_ms", qt_ms) / (_positive("rr_ms", rr_ms) / 1000.0) ** (1.0 / 3.0)


def time_from_point(point: Mapping[str, object]) -> float | None:
    """The time (s) of a clicked trace point: ``customdata[0]`` as set by :func:`ecgreview.plots.plot_ecg`.

    ``customdata`` may come as a list or, from a browser typed array, as ``{"0": ..., "1": ...}``.
    Returns None for a point without a time (grid, calibration pulse).
    """
    data = point.get("customdata")
    if isinstance(data, Mapping):  # a typed array serialised by the browser: {"0": time, "1": value}
        data = [data.get("0", data.get(0))]
    if not isinstance(data, (list, tuple)) or not data:
        return None
    try:
        value = float(data[0])
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _normalise(name: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", name.casefold()))


def device_value(measurements: Iterable[Measurement], row: str) -> float | None:
    """The device's value for a table row (``RR``, ``Heart rate``, ``PR``, ``QRS``, ``QT``, ``QTc``).

    Intervals are returned in ms (seconds are converted), heart rate in bpm; a zero or
    missing value gives None.
    """
    names = _DEVICE_NAMES.get(row)
    if names is None:
        raise ValueError(f"row must be one of {', '.join(_DEVICE_NAMES)}; got {row!r}")
    for item in measurements:
        if _normalise(item.name) not in names or not math.isfinite(item.value) or item.value <= 0:
            continue
        unit = item.unit.strip().casefold()
        return item.value * 1000.0 if unit in {"s", "sec", "second", "seconds"} else float(item.value)
    return None


def caliper_table(
    intervals_ms: Mapping[str, float], measurements: Iterable[Measurement] = (), *, show_device: bool = True,
) -> list[dict[str, str]]:
    """Display rows: each caliper interval, heart rate and QTc beside the device's measurement.

    Parameters
    ----------
    intervals_ms : mapping of str to float
        Caliper intervals in ms by name (any of :data:`CALIPER_INTERVALS`).
    measurements : iterable of Measurement
        The device's measurements.
    show_device : bool
        False leaves the device column out (blinded reading).

    Returns
    -------
    list of dict
        ``{"Measure", "Calipers", "Device"}`` per row; ``—`` where a value is unknown.
    """
    measurements = tuple(measurements)
    rr, qt = intervals_ms.get("RR"), intervals_ms.get("QT")
    device_rr = device_value(measurements, "RR")
    device_rate = device_value(measurements, "Heart rate") or (heart_rate_bpm(device_rr) if device_rr else None)
    rows = [(name, intervals_ms.get(name), device_value(measurements, name), "ms") for name in CALIPER_INTERVALS]
    rows.append(("Heart rate", heart_rate_bpm(rr) if rr else None, device_rate, "bpm"))
    rows.append(("QTc Bazett", qtc_bazett_ms(qt, rr) if qt and rr else None, device_value(measurements, "QTc"), "ms"))
    rows.append(("QTc Fridericia", qtc_fridericia_ms(qt, rr) if qt and rr else None, None, "ms"))

    def show(value: float | None, unit: str) -> str:
        return "—" if value is None else f"{value:.0f} {unit}"

    table = []
    for name, caliper, device, unit in rows:
        row = {"Measure": name, "Calipers": show(caliper, unit)}
        if show_device:
            row["Device"] = show(device, unit)
        table.append(row)
    return table
