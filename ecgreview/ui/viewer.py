"""Widgets of the ECG viewer: layout, gain, speed, size, display filters, pages, single-lead zoom with calipers,
median beats, and the printable report.

The 12-lead paper is the client-side ECG paper component (:mod:`ecgreview.ui.ecg_component`, SVG): its
data is laid out once per case, page and view at display resolution and cached for all sessions
(:func:`ecg_payload`); the component stays mounted from case to case and redraws in place, where a
plotly figure was re-mounted (issue #23 item 5). The median beats and the full-resolution caliper
strip are plotly figures, drawn only when the reader asks for them; :func:`ecg_figure` (plotly) draws
the paper where a page wants the figure (the serial comparison).

The paper keeps its proportions on screen: it sits in a box whose CSS width is the paper's
width in mm times the pixels per mm, and whose height follows from the paper's aspect ratio.
*Fit*: the 25 mm/s paper fills the column, whatever the screen; 50 mm/s and 20 mm/mV
magnify it from there (the column then scrolls sideways). *True size*: 1 mm of paper is
``Settings.screen_px_per_mm`` CSS pixels (a calibrated screen shows it at 1 mm). Streamlit's
full-screen button (top right of the ECG) shows the paper as large as the screen allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ecgreview.config import Settings
from ecgreview.ecg_paper import PAGE_S, page_starts_s
from ecgreview.errors import EcgReviewError
from ecgreview.plots import (
    CSS_PIXELS_PER_MM,
    LAYOUTS,
    DisplayFilters,
    filter_for_display,
    plot_ecg,
    plot_lead,
    plot_median_beats,
)
from ecgreview.record import EcgRecord
from ecgreview.report import AGREEMENT_MARKS, PAGE_SIZES_MM, reading_report_pdf, report_reading
from ecgreview.review.calipers import CALIPER_INTERVALS, caliper_table, heart_rate_bpm, interval_ms, time_from_point
from ecgreview.review.case import CaseAnalysis
from ecgreview.review.readings import case_readings, store_version
from ecgreview.review.store import Review
from ecgreview.review.case_cache import BoundedCache
from ecgreview.ui import decision_panel, ecg_component, resources, state

#: The 12-lead paper is a printout: no plotly toolbar (it covered V4), no zoom that would break the scale.
_PAPER_CONFIG = {"displaylogo": False, "staticPlot": True}
_LEAD_CONFIG = {"displaylogo": False, "scrollZoom": True}
_NOTCH = {"off": None, "50 Hz": 50.0, "60 Hz": 60.0}
FIT, TRUE_SIZE = "Fit", "True size"
SIZES = (FIT, TRUE_SIZE)
#: Pixels per mm the Fit figures are drawn at (traces kept per pixel column): enough for a 1300 px column.
_FIT_DRAWN_PX_PER_MM = 5.0
_LEAD_ZOOMS = (1, 2, 4)
_EXTRAS = ("Median beats", "Single lead · calipers")
#: The ECG paper component's data by case, page and view, for every session of this process (~100 kB each).
_PAYLOADS: BoundedCache[dict[str, Any]] = BoundedCache(64_000_000, size_of=lambda payload: 20_000 + sum(
    len(segment["x"]) + len(segment["y"]) for segment in payload["segments"]))


@dataclass(frozen=True)
class View:
    """How the reader looks at the ECG: layout, paper speed (mm/s), gain (mm/mV), size, display filters."""

    layout: str = "3x4+II"
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    filters: DisplayFilters = DisplayFilters()
    size: str = FIT

    def describe(self) -> str:
        active = " · filters on" if self.filters.active else ""
        return f"{self.layout} · {self.speed_mm_s:g} mm/s · {self.gain_mm_mv:g} mm/mV · {self.size}{active}"


def true_size_px_per_mm() -> tuple[float, bool]:
    """(CSS pixels per mm of paper at true size, whether the site calibrated it: ``ECGREVIEW_SCREEN_PX_PER_MM``)."""
    try:
        calibrated = Settings.from_env().screen_px_per_mm
    except EcgReviewError:  # the page shows the configuration error
        calibrated = None
    return (calibrated, True) if calibrated else (CSS_PIXELS_PER_MM, False)


def current_view() -> View:
    """The view chosen in this session (the defaults before the reader changes it)."""
    get = st.session_state.get
    filters = DisplayFilters(highpass_hz=0.5 if get(state.FILTER_HIGHPASS) else None,
                             notch_hz=_NOTCH[get(state.FILTER_NOTCH) or "off"],
                             lowpass_hz=40.0 if get(state.FILTER_LOWPASS) else None)
    return View(get(state.VIEW_LAYOUT) or "3x4+II", float(get(state.VIEW_SPEED) or 25),
                float(get(state.VIEW_GAIN) or 10), filters, get(state.VIEW_SIZE) or FIT)


def viewing_controls() -> View:
    """Layout, speed (mm/s), gain (mm/mV), size and display filters (all off by default), in a popover."""
    pixels_per_mm, calibrated = true_size_px_per_mm()
    with st.popover(f"View: {current_view().describe()}"):
        st.segmented_control("Layout", list(LAYOUTS), default="3x4+II", key=state.VIEW_LAYOUT, required=True)
        st.segmented_control("Speed (mm/s)", [25, 50], default=25, key=state.VIEW_SPEED, required=True)
        st.segmented_control("Gain (mm/mV)", [5, 10, 20], default=10, key=state.VIEW_GAIN, required=True)
        st.segmented_control(
            "Size", list(SIZES), default=FIT, key=state.VIEW_SIZE, required=True,
            help=f"Fit: the 25 mm/s paper fills the column; 50 mm/s and 20 mm/mV magnify it (scroll sideways). "
                 f"True size: 1 mm of paper is {pixels_per_mm:.2f} CSS px "
                 + ("(this site's screens, ECGREVIEW_SCREEN_PX_PER_MM)." if calibrated else
                    "(not calibrated: CSS's 96 dpi; the site sets ECGREVIEW_SCREEN_PX_PER_MM).")
                 + " Full screen: the button at the top right of the ECG.")
        st.button("Full screen", key="open-full-screen", on_click=_set_full_screen, args=(True,),
                  icon=":material/fullscreen:", help="The ECG over the whole window; Close full screen returns.")
        st.toggle("Baseline filter (0.5 Hz)", key=state.FILTER_HIGHPASS,
                  help="High-pass for display only; the DNN sees the unfiltered signal.")
        st.selectbox("Mains notch", list(_NOTCH), key=state.FILTER_NOTCH)
        st.toggle("Low-pass (40 Hz)", key=state.FILTER_LOWPASS)
    return current_view()


def _drawn_px_per_mm(view: View) -> float:
    return true_size_px_per_mm()[0] if view.size == TRUE_SIZE else _FIT_DRAWN_PX_PER_MM


def ecg_figure(record: EcgRecord, view: View, start_s: float = 0.0) -> go.Figure:
    """The 12-lead figure of ``record`` in ``view`` from ``start_s`` (the page); drawn once, cached for all sessions."""
    pixels_per_mm = _drawn_px_per_mm(view)

    def draw() -> go.Figure:
        shown = filter_for_display(record, view.filters)
        return plot_ecg(shown, layout=view.layout, speed_mm_s=view.speed_mm_s, gain_mm_mv=view.gain_mm_mv,
                        pixels_per_mm=pixels_per_mm, start_s=start_s, note=view.filters.describe())
    return resources.cached_figure(("ecg", record.source_sha256, view, start_s, pixels_per_mm), draw)


def page_start_s(record: EcgRecord) -> float:
    """Start (s) of the page of ``record`` chosen in this session (0 for a recording of up to 10 s)."""
    starts = page_starts_s(record.duration_s)
    chosen = st.session_state.get(f"{state.VIEW_PAGE}-{record.source_sha256[:16]}")
    return next((start for start in starts if _page_label(start) == chosen), starts[0])


def _page_label(start_s: float) -> str:
    return f"{start_s:g}–{start_s + PAGE_S:g} s"


#: Full screen: the trace's container covers the window, above Streamlit's header and sidebar.
_FULL_SCREEN_STYLE = ("<style>.st-key-ecg-trace{position:fixed !important;inset:0;z-index:1000100;background:#fff;"
                      "padding:0.75rem 1rem;overflow:auto;container-type:size}</style>")


def _set_full_screen(full_screen: bool) -> None:
    st.session_state[state.VIEW_FULL_SCREEN] = full_screen


def ecg_trace(record: EcgRecord, view: View) -> None:
    """The 12-lead trace (at display resolution), in pages of 10 s when the recording is longer; full screen
    when the reader asked for it."""
    starts = page_starts_s(record.duration_s)
    full_screen = bool(st.session_state.get(state.VIEW_FULL_SCREEN))
    with st.container(key="ecg-trace"):
        if full_screen:
            st.html(_FULL_SCREEN_STYLE)
            st.button("Close full screen", key="close-full-screen", on_click=_set_full_screen, args=(False,),
                      icon=":material/close:")
        if len(starts) > 1:
            st.segmented_control(
                f"Page ({record.duration_s:g} s recorded)", [_page_label(start) for start in starts],
                default=_page_label(starts[0]), key=f"{state.VIEW_PAGE}-{record.source_sha256[:16]}", required=True,
                help="Each page is 10 s of paper; the last one ends with the recording.")
        payload = ecg_payload(record, view, page_start_s(record))
        with _paper_box("ecg-paper", payload["meta"], view, screen_height=full_screen):
            ecg_component.ecg_paper(payload, key="ecg-figure")


def ecg_payload(record: EcgRecord, view: View, start_s: float = 0.0) -> dict[str, Any]:
    """The 12-lead paper of ``record`` in ``view`` from ``start_s`` as the ECG paper component draws it
    (:func:`ecgreview.ui.ecg_component.paper_payload`); drawn once, cached for all sessions."""
    pixels_per_mm = _drawn_px_per_mm(view)

    def draw() -> dict[str, Any]:
        return ecg_component.paper_payload(
            filter_for_display(record, view.filters), layout=view.layout, speed_mm_s=view.speed_mm_s,
            gain_mm_mv=view.gain_mm_mv, pixels_per_mm=pixels_per_mm, start_s=start_s, note=view.filters.describe())
    return _PAYLOADS.get(("ecg", record.source_sha256, view, start_s, pixels_per_mm), draw)


def paper_chart(box_key: str, figure: go.Figure, view: View, *, zoom: float = 1.0, screen_height: bool = False,
                **chart_options: Any) -> Any:
    """Show a paper figure in a box of its own proportions, ``zoom`` times the view's pixels per mm.

    The box scrolls sideways when the paper is wider than the column (:func:`_paper_box`).
    Returns what ``st.plotly_chart`` returns (the selection event when ``chart_options`` ask for one).
    """
    figure.update_layout(width=None, height=None, autosize=True)  # the box sizes it (idempotent on a cached figure)
    with _paper_box(box_key, figure.layout.meta, view, zoom=zoom, screen_height=screen_height):
        return st.plotly_chart(figure, theme=None, width="stretch", height="stretch", **chart_options)


@contextmanager
def _paper_box(box_key: str, meta: Any, view: View, *, zoom: float = 1.0,
               screen_height: bool = False) -> Iterator[None]:
    """A box of the paper's proportions (``meta``: :func:`ecgreview.plots.paper_meta`), ``zoom`` times the view's
    pixels per mm, that scrolls sideways when wider than the column.

    Fit: the 25 mm/s paper is as wide as the column unless the window is too low for that (a wide
    column: the teaching page); ``screen_height`` (full screen) measures the height in the
    full-screen box instead.
    """
    width_mm, height_mm = meta["paper_mm"]
    standard_mm, standard_height_mm = meta["standard_width_mm"], meta["standard_height_mm"]
    if view.size == TRUE_SIZE:
        width = f"{width_mm * true_size_px_per_mm()[0] * zoom:.2f}px"
    else:  # the standard paper is as wide as the column, and no taller than the window (less the page's header)
        height = "100cqh - 4.5rem" if screen_height else "100vh - 14rem"
        column = f"min(100cqw, ({height}) * {standard_mm / standard_height_mm:.5f})"  # the 25 mm/s, 10 mm/mV paper
        width = f"calc({column} * {zoom * width_mm / standard_mm:.5f})"
    st.html(f"<style>.st-key-{box_key}-scroll{{overflow-x:auto;container-type:inline-size}}"
            f".st-key-{box_key}{{width:{width} !important;max-width:none !important;flex-shrink:0;"
            f"aspect-ratio:{width_mm:.3f} / {height_mm:.3f};min-height:0 !important;overflow:hidden}}</style>")
    with st.container(key=f"{box_key}-scroll"), st.container(key=box_key):
        yield


def extras(record: EcgRecord, view: View) -> None:
    """Median beats and the single-lead view with calipers, drawn only when the reader turns them on."""
    available = [name for name in _EXTRAS if name != "Median beats" or record.median_beats is not None]
    shown = st.pills("Show", available, selection_mode="multi", key=state.VIEW_EXTRAS,
                     label_visibility="collapsed")
    if "Median beats" in shown and record.median_beats is not None:
        paper_chart("ecg-median", plot_median_beats(record.median_beats, gain_mm_mv=view.gain_mm_mv,
                                                    pixels_per_mm=_drawn_px_per_mm(view)),
                    view, config=_LEAD_CONFIG)
    if _EXTRAS[1] in shown:
        caliper_strip(filter_for_display(record, view.filters), view)


def _points(record: EcgRecord) -> list[float]:
    return st.session_state.setdefault(state.CALIPER_POINTS, {}).setdefault(record.source_sha256, [])


def _intervals(record: EcgRecord) -> dict[str, float]:
    return st.session_state.setdefault(state.CALIPER_INTERVALS, {}).setdefault(record.source_sha256, {})


def caliper_strip(record: EcgRecord, view: View) -> None:
    """Single-lead zoom of the page shown: click two points to measure; assign the interval to RR, PR, QRS or QT."""
    st.markdown("**Single lead and calipers** — click two points on the trace to measure an interval "
                "(zoom in for precision: a click lands within about 3 pixels).")
    lead_column, zoom_column = st.columns([3, 2])
    lead = lead_column.selectbox("Lead", record.lead_names, index=record.lead_names.index("II") if "II" in
                                 record.lead_names else 0, key=state.VIEW_LEAD)
    zoom = zoom_column.segmented_control("Zoom", _LEAD_ZOOMS, default=_LEAD_ZOOMS[1], key=state.VIEW_LEAD_ZOOM,
                                         required=True, format_func=lambda factor: f"×{factor}",
                                         help="Magnification over the 12-lead paper (scroll sideways); the mouse "
                                              "wheel zooms further.")
    points = _points(record)
    figure = plot_lead(record, lead, speed_mm_s=view.speed_mm_s, gain_mm_mv=view.gain_mm_mv,
                       pixels_per_mm=_drawn_px_per_mm(view) * zoom, start_s=page_start_s(record),
                       note=view.filters.describe(), marks_s=points)
    event = paper_chart("ecg-lead", figure, view, zoom=float(zoom), config=_LEAD_CONFIG, on_select="rerun",
                        selection_mode="points", key=f"calipers-{record.source_sha256[:16]}-{lead}")
    selection = getattr(event, "selection", None)
    clicked = [time for time in map(time_from_point, selection.points) if time is not None] if selection else []
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
    hidden = decision_panel.opinions_hidden(record.source_sha256)  # blinded, or the unaided step of a two-step reading
    st.table(pd.DataFrame(caliper_table(intervals, record.measurements, show_device=not hidden)).set_index("Measure"))


#: The reading a report prints, per store version, case and reader (every run that shows the report asks).
_REPORT_READINGS: BoundedCache[Review | None] = BoundedCache(4096, size_of=lambda _: 1)


def _report_reading(settings: Settings, source_sha256: str, reader: str) -> Review | None:
    """:func:`~ecgreview.report.report_reading` of the case's readings, once per version of the store."""
    def choose() -> Review | None:
        return report_reading(case_readings(settings.reviews_path, source_sha256), source_sha256, reader=reader)
    stamp = store_version(settings.reviews_path)  # before reading: a save in between only leaves a key unused
    return _REPORT_READINGS.get((str(settings.reviews_path), stamp, source_sha256, reader), choose)


def report_download(settings: Settings, analysis: CaseAnalysis, reader: str) -> None:
    """Download the printable report (PDF, A4 or US Letter) of the reader's latest reading of this case; above it,
    the saved reading's agreement with the DNN per class.

    Not offered while the DNN and the device are hidden (a blinded reading, the unaided step):
    the report prints them. The PDF is drawn when the button is pressed, not on every rerun.
    """
    record = analysis.record
    if decision_panel.opinions_hidden(record.source_sha256):
        return
    try:
        chosen = _report_reading(settings, record.source_sha256, reader or "")
    except (EcgReviewError, ValueError) as exc:
        st.caption(f"Report: the review store cannot be read ({exc}).")
        return
    if chosen is not None and any(chosen.agreement.values()):
        st.caption("Your saved reading against the DNN: " + " · ".join(
            f"{name} {AGREEMENT_MARKS[mark]}" for name, mark in chosen.agreement.items()))
    with st.popover("Printable report (PDF)", icon=":material/print:"):
        paper = st.segmented_control("Page", list(PAGE_SIZES_MM), default="A4", key=state.REPORT_PAPER,
                                     required=True) or "A4"
        st.caption(f"Your reading saved {chosen.saved_at_utc:%Y-%m-%d %H:%M} UTC, the ECG at 25 mm/s and 10 mm/mV "
                   "(print at 100 %)." if chosen else
                   "You have not saved a reading of this case yet: the report shows the ECG, the device and the DNN.")
        st.download_button(
            "Download PDF", data=lambda: reading_report_pdf(analysis, chosen, page_size=paper),
            file_name=f"ecg-report-{record.pseudonym or record.source_sha256[:12]}-{paper}.pdf",
            mime="application/pdf", on_click="ignore", key="download-report", icon=":material/download:")
