"""Widgets of the ECG viewer: layout, gain, speed, display filters, single-lead zoom with calipers, median beats.

The 12-lead figure is drawn once per case and view (:func:`ecgreview.ui.resources.cached_figure`)
at display resolution; the median beats and the full-resolution caliper strip are drawn
only when the reader asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ecgreview.plots import LAYOUTS, DisplayFilters, filter_for_display, plot_ecg, plot_lead, plot_median_beats
from ecgreview.record import EcgRecord
from ecgreview.review.calipers import CALIPER_INTERVALS, caliper_table, heart_rate_bpm, interval_ms, time_from_point
from ecgreview.ui import reading, resources, state

_CHART_CONFIG = {"displaylogo": False, "scrollZoom": True}
_NOTCH = {"off": None, "50 Hz": 50.0, "60 Hz": 60.0}
#: Pixel width the 12-lead figure is drawn for (the ECG column at 1600 px; plotly scales it to the column).
_ECG_WIDTH_PX = 760
_EXTRAS = ("Median beats", "Calipers")


@dataclass(frozen=True)
class View:
    """How the reader looks at the ECG: layout, paper speed (mm/s), gain (mm/mV), display filters."""

    layout: str = "3x4+II"
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    filters: DisplayFilters = DisplayFilters()

    def describe(self) -> str:
        active = " · filters on" if self.filters.active else ""
        return f"{self.layout} · {self.speed_mm_s:g} mm/s · {self.gain_mm_mv:g} mm/mV{active}"


def current_view() -> View:
    """The view chosen in this session (the defaults before the reader changes it)."""
    get = st.session_state.get
    filters = DisplayFilters(highpass_hz=0.5 if get(state.FILTER_HIGHPASS) else None,
                             notch_hz=_NOTCH[get(state.FILTER_NOTCH) or "off"],
                             lowpass_hz=40.0 if get(state.FILTER_LOWPASS) else None)
    return View(get(state.VIEW_LAYOUT) or "3x4+II", float(get(state.VIEW_SPEED) or 25),
                float(get(state.VIEW_GAIN) or 10), filters)


def viewing_controls() -> View:
    """Layout, speed (mm/s), gain (mm/mV) and display filters (all off by default), in a popover."""
    with st.popover(f"View: {current_view().describe()}"):
        st.segmented_control("Layout", list(LAYOUTS), default="3x4+II", key=state.VIEW_LAYOUT, required=True)
        st.segmented_control("Speed (mm/s)", [25, 50], default=25, key=state.VIEW_SPEED, required=True)
        st.segmented_control("Gain (mm/mV)", [5, 10, 20], default=10, key=state.VIEW_GAIN, required=True)
        st.toggle("Baseline filter (0.5 Hz)", key=state.FILTER_HIGHPASS,
                  help="High-pass for display only; the DNN sees the unfiltered signal.")
        st.selectbox("Mains notch", list(_NOTCH), key=state.FILTER_NOTCH)
        st.toggle("Low-pass (40 Hz)", key=state.FILTER_LOWPASS)
    return current_view()


def ecg_figure(record: EcgRecord, view: View):
    """The 12-lead figure of ``record`` in ``view``, drawn once and cached for every session."""
    def draw():
        shown = filter_for_display(record, view.filters)
        return plot_ecg(shown, layout=view.layout, speed_mm_s=view.speed_mm_s, gain_mm_mv=view.gain_mm_mv,
                        width_px=_ECG_WIDTH_PX, note=view.filters.describe())
    return resources.cached_figure(("ecg", record.source_sha256, view), draw)


def ecg_trace(record: EcgRecord, view: View) -> None:
    """The 12-lead trace (at display resolution)."""
    with st.container(key="ecg-trace"):
        st.plotly_chart(ecg_figure(record, view), theme=None, config=_CHART_CONFIG, key="ecg-figure")


def extras(record: EcgRecord, view: View) -> None:
    """Median beats and the caliper strip, drawn only when the reader turns them on."""
    available = [name for name in _EXTRAS if name != "Median beats" or record.median_beats is not None]
    shown = st.pills("Show", available, selection_mode="multi", key=state.VIEW_EXTRAS,
                     label_visibility="collapsed")
    if "Median beats" in shown and record.median_beats is not None:
        st.plotly_chart(plot_median_beats(record.median_beats, gain_mm_mv=view.gain_mm_mv), theme=None,
                        config=_CHART_CONFIG)
    if "Calipers" in shown:
        caliper_strip(filter_for_display(record, view.filters), view.speed_mm_s, view.gain_mm_mv, view.filters)


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
    hidden = reading.opinions_hidden(record.source_sha256)  # blinded, or the unaided step of a two-step reading
    st.table(pd.DataFrame(caliper_table(intervals, record.measurements, show_device=not hidden)).set_index("Measure"))
