"""Calipers: intervals, heart rate, QTc by Bazett and Fridericia, the comparison table."""

from __future__ import annotations

import math

import pytest

from ecgreview.record import Measurement
from ecgreview.review.calipers import (
    caliper_table,
    device_value,
    heart_rate_bpm,
    interval_ms,
    qtc_bazett_ms,
    qtc_fridericia_ms,
    time_from_point,
)


def test_interval_is_absolute_and_in_ms():
    assert interval_ms(1.0, 1.8) == pytest.approx(800.0)
    assert interval_ms(1.8, 1.0) == pytest.approx(800.0)
    with pytest.raises(ValueError, match="end_s must be finite"):
        interval_ms(0.0, math.nan)


def test_heart_rate_from_rr():
    assert heart_rate_bpm(1000.0) == pytest.approx(60.0)
    assert heart_rate_bpm(800.0) == pytest.approx(75.0)
    with pytest.raises(ValueError, match="rr_ms must be a positive"):
        heart_rate_bpm(0.0)


def test_qtc_formulas_with_rr_in_seconds():
    # At RR = 1 s both corrections leave QT unchanged.
    assert qtc_bazett_ms(400.0, 1000.0) == pytest.approx(400.0)
    assert qtc_fridericia_ms(400.0, 1000.0) == pytest.approx(400.0)
    # RR 0.64 s: sqrt = 0.8, cbrt = 0.8618
    assert qtc_bazett_ms(360.0, 640.0) == pytest.approx(450.0)
    assert qtc_fridericia_ms(360.0, 640.0) == pytest.approx(360.0 / 0.64 ** (1 / 3))
    with pytest.raises(ValueError, match="qt_ms"):
        qtc_bazett_ms(-1.0, 800.0)


def test_time_from_point_reads_customdata():
    assert time_from_point({"customdata": [1.25, 0.3], "x": 50}) == 1.25
    assert time_from_point({"customdata": {"0": 0.5, "1": 0.1}}) == 0.5
    assert time_from_point({"x": 3}) is None
    assert time_from_point({"customdata": ["x"]}) is None


def test_device_values_by_name_and_unit():
    measurements = (Measurement("RR", 982.0, "ms"), Measurement("PR Interval", 0.161, "s"),
                    Measurement("QRS Duration", 75.0, "ms"), Measurement("PP", 0.0, "ms"))
    assert device_value(measurements, "RR") == 982.0
    assert device_value(measurements, "PR") == pytest.approx(161.0)
    assert device_value(measurements, "QT") is None
    with pytest.raises(ValueError, match="row must be one of"):
        device_value(measurements, "ST")


def test_caliper_table_beside_device():
    measurements = (Measurement("RR", 1000.0, "ms"), Measurement("QT", 400.0, "ms"), Measurement("QTc", 400.0, "ms"))
    rows = {row["Measure"]: row for row in caliper_table({"RR": 640.0, "QT": 360.0}, measurements)}
    assert rows["RR"] == {"Measure": "RR", "Calipers": "640 ms", "Device": "1000 ms"}
    assert rows["Heart rate"]["Calipers"] == "94 bpm" and rows["Heart rate"]["Device"] == "60 bpm"
    assert rows["QTc Bazett"]["Calipers"] == "450 ms" and rows["QTc Bazett"]["Device"] == "400 ms"
    assert rows["QTc Fridericia"]["Calipers"] == "418 ms"
    assert rows["PR"]["Calipers"] == "—"
    blinded = caliper_table({"QT": 360.0}, measurements, show_device=False)
    assert all("Device" not in row for row in blinded)
    assert {row["Measure"]: row["Calipers"] for row in blinded}["QTc Bazett"] == "—"
