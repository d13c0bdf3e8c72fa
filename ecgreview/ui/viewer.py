"""Widgets of the ECG viewer: layout, gain, speed, display filters, single-lead zoom with calipers, median beats."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ecgreview.calipers import CALIPER_INTERVALS, caliper_table, heart_rate_bpm, interval_ms, time_from_point
from ecgreview.plots import LAYOUTS, DisplayFilters, filter_for_display, plot_ecg, plot_lead, plot_median_beats
from ecgreview.record import EcgRecord
from ecgreview.ui import state

_CHART_CONFIG = {"displaylogo": False, "scrollZoom": True}
_NOTCH = {"off": None, "50 Hz": 50.0, "60 Hz": 60.0}


def viewing_controls() -> tuple[str, float, float, DisplayFilters]:
    """Layout, speed (mm/s), gain (mm/mV) and display filters (all off by default)."""
    columns = st.columns([3, 2, 2, 2, 2, 2])
    layout = columns[0].segmented_control("Layout", list(LAYOUTS), default="3x4+II", key=state.VIEW_LAYOUT,
                                          required=True)
    speed = columns[1].segmented_control("Speed (mm/s)", [25, 50], default=25, key=state.VIEW_SPEED, required=True)
    gain = columns[2].segmented_control("Gain (mm/mV)", [5, 10, 20], default=10, key=state.VIEW_GAIN, required=True)
    highpass = columns[3].toggle("Baseline filter (0.5 Hz)", key=state.FILTER_HIGHPASS,
                                 help="High-pass for display only; the DNN sees the unfiltered signal.")
    notch = columns[4].selectbox("Mains notch", list(_NOTCH), key=state.FILTER_NOTCH)
    lowpass = columns[5].toggle("Low-pass (40 Hz)", key=state.FILTER_LOWPASS)
    filters = DisplayFilters(highpass_hz=0.5 if highpass else None, notch_hz=_NOTCH[notch],
                             lowpass_hz=40.0 if lowpass else None)
    return layout or "3x4+II", float(speed or 25), float(gain or 10), filters


def ecg_trace(record: EcgRecord) -> None:
    """The 12-lead trace with the viewing controls, then the median beats when the file has them."""
    layout, speed, gain, filters = viewing_controls()
    shown = filter_for_display(record, filters)
    st.plotly_chart(plot_ecg(shown, layout=layout, speed_mm_s=speed, gain_mm_mv=gain, note=filters.describe()),
                    theme=None, config=_CHART_CONFIG)
    if record.median_beats is not None:
        with st.expander("Median beats (from the device)"):
            st.plotly_chart(plot_median_beats(record.median_beats, gain_mm_mv=gain), theme=None,
                            config=_CHART_CONFIG)
    caliper_strip(shown, speed, gain, filters)


def _points(record: EcgRecord) -> list[float]:
    return st.session_state.setdefault(state.CALIPER_POINTS, {}).setdefault(record.source_sha256, [])


def _intervals(record: EcgRecord) -> dict[str, float]:
    return st.session_state.setdefault(state.CALIPER_INTERVALS, {}).setdefault(record.source_sha256, {})


def caliper_strip(record: EcgRecord, speed: float, gain: float, filters: DisplayFilters) -> None:
    """Single-lead zoom: click two points to measure; assign the interval to RR, PR, QRS or QT."""
    st.markdown("**Single lead and calipers** — click two points on the trace to measure an interval "
                "(scroll to zoom in for precision: a click lands within about 3 pixels).")
    lead = st.selectbox("Lead", record.lead_names, index=record.lead_names.index("II") if "II" in
                        record.lead_names else 0, key=state.VIEW_LEAD)
    points = _points(record)
    figure = plot_lead(record, lead, speed_mm_s=speed, gain_mm_mv=gain, note=filters.describe(), marks_s=points)
    event = st.plotly_chart(figure, theme=None, config=_CHART_CONFIG, on_select="rerun", selection_mode="points",
                            key=f"calipers-{record.source_sha256[:16]}-{lead}")
    clicked = [time for time in map(time_from_point, event.selection.points) if time is not None] if event else []
    seen_key = f"{record.source_sha256}-{lead}"
    seen = st.session_state.setdefault(state.CALIPER_SEEN, {})
    if clicked and seen.get(seen_key) != clicked:
        seen[seen_key] = clicked
        points[:] = (points + clicked)[-2:]
        st.rerun()  # draw the new caliper line
    caliper_results(record, points)


def caliper_results(record: EcgRecord, points: list[float]) -> None:
    """The current interval, buttons to assign it, and the table beside the device's measurements."""
    intervals = _intervals(record)
    if len(points) == 2:
        measured = interval_ms(*points)
        st.markdown(f"**Interval {measured:.0f} ms** ({points[0]:.3f} s → {points[1]:.3f} s) · "
                    f"rate {heart_rate_bpm(measured):.0f} bpm if RR")
        buttons = st.columns(len(CALIPER_INTERVALS) + 1)
        for column, name in zip(buttons, CALIPER_INTERVALS):
            if column.button(f"Set as {name}", key=f"set-{name}"):
                intervals[name] = measured
                st.rerun()
    else:
        st.caption(f"{len(points)} of 2 points placed.")
    if points and st.button("Clear calipers", key="clear-calipers"):
        points.clear()
        intervals.clear()
        st.rerun()
    blinded = st.session_state.get(state.READING_MODE) == "blinded" and \
        record.source_sha256 not in st.session_state.get(state.REVEALED, set())
    st.table(pd.DataFrame(caliper_table(intervals, record.measurements, show_device=not blinded)).set_index("Measure"))
