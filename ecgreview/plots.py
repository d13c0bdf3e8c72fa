"""Plotly figures: the 12-lead ECG on ECG paper, and the DNN probabilities.

The ECG is drawn in millimetres of paper, like a printout, laid out by
:func:`ecgreview.ecg_paper.paper_layout` (the layout the printed report uses too):
``speed_mm_s`` (25 mm/s) across and ``gain_mm_mv`` (10 mm/mV) up, on a 1 mm / 5 mm grid,
with a 1 mV calibration pulse at the start of each row. The figure's size in pixels is the
paper's size in mm times ``pixels_per_mm``, so speed and gain magnify, and at a screen's
true pixels per mm the paper is true size. All leads share one pair of axes: a tall complex
runs into the neighbouring row as on paper, and the paper grows so that none is cut off.

Traces are drawn at display resolution: each lead keeps, per pixel column of the
figure, the minimum and the maximum sample (:func:`display_indices`), so that every
QRS peak and pacing spike a full-resolution trace would show is still drawn, at a
fraction of the points sent to the browser. The single-lead view used for calipers
(:func:`plot_lead`) keeps every sample.

Display filters (:class:`DisplayFilters`, :func:`filter_for_display`) work on a copy
of the signal for drawing only; what the model sees is never filtered here. Their
state is printed on the trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from scipy import signal as scipy_signal

from ecgreview.ecg_paper import (
    LAYOUTS, STANDARD_GAIN_MM_MV, STANDARD_SPEED_MM_S, LeadSegment, PaperLayout, paper_layout,
)
from ecgreview.record import CLASSES, THRESHOLDS, EcgRecord, Waveform, dnn_calls

__all__ = ["CAPTION_MM", "CSS_PIXELS_PER_MM", "DEFAULT_PIXELS_PER_MM", "DisplayFilters", "LAYOUTS", "display_indices",
           "figure_size_px", "filter_for_display", "paper_caption", "paper_meta",
           "segment_points_mm",
           "plot_ecg", "plot_lead", "plot_median_beats", "plot_probabilities"]

_PAPER = "#fff5f5"
_MINOR = "#f7cfcf"
_MAJOR = "#e89a9a"
_INK = "#111111"
#: Points drawn per pixel column (the minimum and the maximum sample under it).
_POINTS_PER_PIXEL = 2
#: Pixels per mm of paper when the caller does not say: the 25 mm/s, 3 x 4 paper fills
#: the Review page's ECG column on a 1600 px wide screen.
DEFAULT_PIXELS_PER_MM = 2.75
#: CSS's reference pixel: 96 per inch. Browsers show it at about true size on a ~96 dpi screen only;
#: a site sets its screens' real value (``Settings.screen_px_per_mm``).
CSS_PIXELS_PER_MM = 96 / 25.4
#: Paper below the traces that holds the caption (speed, gain, filters), in mm.
CAPTION_MM = 6.0


def display_indices(values_mv: np.ndarray, columns: int) -> np.ndarray:
    """Indices of the samples to draw so that a trace looks the same in ``columns`` pixel columns.

    The samples are cut into ``columns`` equal runs; of each run the minimum and the
    maximum are kept, in time order, so no peak is lost. With no more samples than
    twice the columns, every sample is kept.

    Parameters
    ----------
    values_mv : numpy.ndarray
        (samples,) the trace.
    columns : int
        Pixel columns the trace spans on screen.

    Returns
    -------
    numpy.ndarray
        Sorted, unique int64 indices into the trace, including its first and last sample.
    """
    samples = values_mv.size
    if columns <= 0 or samples <= _POINTS_PER_PIXEL * columns:
        return np.arange(samples, dtype=np.int64)
    run = -(-samples // columns)
    padded = np.pad(values_mv, (0, run * columns - samples), mode="edge").reshape(columns, run)
    base = np.arange(columns, dtype=np.int64)[:, None] * run
    extremes = np.sort(np.stack([padded.argmin(axis=1), padded.argmax(axis=1)], axis=1), axis=1) + base
    indices = np.concatenate([[0], np.minimum(extremes.ravel(), samples - 1), [samples - 1]])
    return np.unique(indices).astype(np.int64)


def plot_ecg(
    record: EcgRecord,
    *,
    layout: str = "3x4+II",
    speed_mm_s: float = 25.0,
    gain_mm_mv: float = 10.0,
    pixels_per_mm: float = DEFAULT_PIXELS_PER_MM,
    start_s: float = 0.0,
    note: str = "",
) -> go.Figure:
    """The ECG on paper, ``pixels_per_mm`` pixels to the millimetre.

    Parameters
    ----------
    record : EcgRecord
        Signal (samples, leads) in mV.
    layout : {"3x4+II", "6x2", "12x1"}
        Lead grid; ``3x4+II`` is the standard 3 x 4 with a lead II rhythm strip.
    speed_mm_s, gain_mm_mv : float
        Paper speed (mm/s) and gain (mm/mV): doubling either doubles the paper, and the figure.
    pixels_per_mm : float
        Screen pixels (CSS px) per mm of paper; the figure is the paper's size in mm times
        this, with no margin, so at a screen's true value the paper is true size.
        Traces are drawn at that resolution (:func:`display_indices`).
    start_s : float
        The page: recording time at the left edge (:func:`ecgreview.ecg_paper.page_starts_s`).
    note : str
        Text printed under the trace (e.g. the display filters in use).

    Raises
    ------
    ValueError
        An unknown layout, or a speed, gain or pixels per mm that is not positive.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, got {layout!r}")
    paper = paper_layout(record, LAYOUTS[layout], speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv, start_s=start_s)
    return _plot_paper(record, paper, record.derived_leads, pixels_per_mm=pixels_per_mm, note=note)


def plot_lead(
    record: EcgRecord, lead: str, *, speed_mm_s: float = 25.0, gain_mm_mv: float = 10.0,
    pixels_per_mm: float = DEFAULT_PIXELS_PER_MM, start_s: float = 0.0, note: str = "",
    marks_s: Sequence[float] = (), caliper_rate_hz: float = 250.0,
) -> go.Figure:
    """One lead over the whole page (single-lead zoom), every sample drawn, ready for calipers.

    Parameters as :func:`plot_ecg`, and:

    marks_s : sequence of float
        Caliper positions (s of the recording), drawn as vertical lines.
    caliper_rate_hz : float
        Density of the invisible, clickable caliper points (a trace named ``"calipers"``
        whose ``customdata`` is the recording time in s); 0 leaves them out.
    """
    if lead not in record.lead_names:
        raise ValueError(f"lead must be one of {', '.join(record.lead_names)}; got {lead!r}")
    paper = paper_layout(record, ((lead,),), speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv, start_s=start_s)
    figure = _plot_paper(record, paper, record.derived_leads, pixels_per_mm=pixels_per_mm, note=note,
                         full_resolution=True)
    trace, segment = figure.data[1], paper.segments[0]
    if caliper_rate_hz > 0:
        step = max(1, int(round(record.sampling_rate_hz / caliper_rate_hz)))
        caliper_times_s = (segment.first_sample + np.arange(len(trace.x))[::step]) / record.sampling_rate_hz
        figure.add_trace(go.Scatter(
            x=trace.x[::step], y=trace.y[::step], customdata=caliper_times_s[:, None], mode="markers",
            marker={"size": 9, "color": "rgba(31, 95, 191, 0)"}, name="calipers", showlegend=False,
            hovertemplate=f"{lead}<br>%{{customdata[0]:.3f}} s<extra>click to place a caliper</extra>",
        ))
        trace.hovertemplate, trace.hoverinfo = None, "skip"  # hover and clicks go to the (selectable) caliper points
        figure.update_layout(clickmode="event+select")
    for time_s in marks_s:
        x_mm = paper.x_mm(time_s)
        figure.add_shape(type="line", x0=x_mm, x1=x_mm, y0=0, y1=paper.height_mm,
                         line={"color": "#1f5fbf", "width": 2, "dash": "dash"})
    return figure


def plot_median_beats(
    median: Waveform, *, speed_mm_s: float = 50.0, gain_mm_mv: float = 10.0,
    pixels_per_mm: float = DEFAULT_PIXELS_PER_MM, note: str = "",
) -> go.Figure:
    """The device's median beats, twelve leads side by side in a 3 x 4 grid."""
    rows = tuple(tuple(lead for lead in row if lead in median.lead_names) for row in LAYOUTS["3x4+II"][:3])
    paper = paper_layout(median, tuple(row for row in rows if row), speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv,
                         split=False)
    return _plot_paper(median, paper, frozenset(), pixels_per_mm=pixels_per_mm, note=note or "median beats")


def _plot_paper(
    source: EcgRecord | Waveform, paper: PaperLayout, derived: frozenset[str], *, pixels_per_mm: float, note: str,
    full_resolution: bool = False,
) -> go.Figure:
    """Draw the laid-out ``paper``: a calibration pulse per row, then the leads, labelled.

    Traces are drawn at the figure's pixel resolution unless ``full_resolution``.
    """
    if not (isinstance(pixels_per_mm, (int, float)) and np.isfinite(pixels_per_mm) and pixels_per_mm > 0):
        raise ValueError(f"pixels_per_mm must be positive; got {pixels_per_mm!r}")
    traces: list[go.Scatter] = []
    labels, separators = [], []
    pitch_mm = paper.row_pitch_mm
    for row, baseline_mm in enumerate(paper.row_baselines_mm):
        pulse_x_mm, pulse_y_mm = paper.calibration_mm(baseline_mm)
        traces.append(go.Scatter(x=pulse_x_mm, y=pulse_y_mm, mode="lines", line={"color": _INK, "width": 1.4},
                                 hoverinfo="skip", showlegend=False))
        for segment in (item for item in paper.segments if item.row == row):
            x_mm, y_mm = segment_points_mm(source, paper, segment,
                                           pixels_per_mm=0 if full_resolution else pixels_per_mm)
            traces.append(go.Scatter(  # float32 is exact to well under a pixel and halves what is sent
                x=x_mm.astype(np.float32), y=y_mm.astype(np.float32), mode="lines",
                line={"color": _INK, "width": 1.1}, name=segment.lead, showlegend=False, hoverinfo="skip"))
            text = f"<b>{segment.lead}</b>" + ("*" if segment.lead in derived else "")
            labels.append({"x": segment.x_mm + 1, "y": segment.baseline_mm + 0.42 * pitch_mm, "showarrow": False,
                           "xanchor": "left", "text": text, "font": {"size": 13, "color": _INK}})
            if segment.x_mm > paper.trace_left_mm + 1e-9:
                separators.append({"type": "line", "x0": segment.x_mm, "x1": segment.x_mm,
                                   "y0": segment.baseline_mm - 3, "y1": segment.baseline_mm + 3,
                                   "line": {"color": _INK, "width": 1.5}})
    figure = go.Figure(data=traces, layout={"annotations": labels, "shapes": separators})
    _paper_layout(figure, paper, pixels_per_mm, paper_caption(source, paper, derived=bool(derived), note=note))
    return figure


def paper_caption(source: EcgRecord | Waveform, paper: PaperLayout, *, derived: bool, note: str) -> str:
    """The line printed under the traces: speed, gain, sampling rate, the page of a longer recording,
    the derived-lead mark (``derived``: some lead shown is derived) and ``note``."""
    caption = f"{paper.speed_mm_s:g} mm/s · {paper.gain_mm_mv:g} mm/mV · {source.sampling_rate_hz:g} Hz"
    duration_s = source.signal_mv.shape[0] / source.sampling_rate_hz
    if paper.start_s > 0 or paper.start_s + paper.shown_s < duration_s - 1e-9:
        caption += f" · {paper.start_s:g}–{paper.start_s + paper.shown_s:g} s of {duration_s:g} s"
    if derived:
        caption += " · * derived lead"
    if note:
        caption += f" · {note}"
    return caption


def paper_meta(paper: PaperLayout) -> dict[str, object]:
    """Sizes (mm) the screen box of a paper needs: the paper with its caption strip, and the 25 mm/s,
    10 mm/mV paper of the same page (what Fit fills the column with)."""
    return {"paper_mm": [paper.width_mm, paper.height_mm + CAPTION_MM],
            "standard_width_mm": paper.width_at_speed_mm(STANDARD_SPEED_MM_S),
            "standard_height_mm": paper.height_mm * STANDARD_GAIN_MM_MV / paper.gain_mm_mv + CAPTION_MM}


def segment_points_mm(source: EcgRecord | Waveform, paper: PaperLayout, segment: LeadSegment, *,
                      pixels_per_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) in mm of paper of the samples of ``segment`` drawn at ``pixels_per_mm`` (:func:`display_indices`
    over the pixel columns it spans); ``pixels_per_mm`` 0 keeps every sample."""
    values_mv = source.signal_mv[segment.first_sample:segment.stop_sample, source.lead_names.index(segment.lead)]
    columns = int((segment.stop_sample - segment.first_sample) / paper.sampling_rate_hz * paper.speed_mm_s
                  * pixels_per_mm)
    kept = display_indices(values_mv, columns)
    return paper.segment_mm(segment, values_mv[kept], segment.first_sample + kept)


def figure_size_px(paper_width_mm: float, paper_height_mm: float, pixels_per_mm: float) -> tuple[int, int]:
    """(width, height) in px of the figure of a paper of this size in mm, caption strip included."""
    return (int(round(paper_width_mm * pixels_per_mm)), int(round((paper_height_mm + CAPTION_MM) * pixels_per_mm)))


def _paper_layout(figure: go.Figure, paper: PaperLayout, pixels_per_mm: float, caption: str) -> None:
    """ECG paper: 1 mm minor and 5 mm major grid, equal scales, no margin, the caption on the paper under the trace."""
    grid = {"showgrid": True, "gridcolor": _MAJOR, "gridwidth": 1, "dtick": 5, "zeroline": False,
            "showticklabels": False, "ticks": "", "fixedrange": False,
            "minor": {"dtick": 1, "gridcolor": _MINOR, "gridwidth": 0.5, "showgrid": True}}
    width_px, height_px = figure_size_px(paper.width_mm, paper.height_mm, pixels_per_mm)
    figure.update_xaxes(range=[0, paper.width_mm], tick0=0, constrain="domain", **grid)
    figure.update_yaxes(range=[-CAPTION_MM, paper.height_mm], tick0=0, scaleanchor="x", scaleratio=1,
                        constrain="domain", **grid)
    figure.update_layout(
        width=width_px, height=height_px, margin={"l": 0, "r": 0, "t": 0, "b": 0, "pad": 0}, autosize=False,
        plot_bgcolor=_PAPER, paper_bgcolor=_PAPER, dragmode="pan", hovermode="closest",
        meta={**paper_meta(paper), "pixels_per_mm": pixels_per_mm},
        annotations=[*figure.layout.annotations, {
            "text": caption, "x": 1, "y": -CAPTION_MM / 2, "xanchor": "left", "yanchor": "middle",
            "showarrow": False, "font": {"size": 12, "color": "#555"}}],
    )


def plot_probabilities(
    probabilities: Sequence[float], *, thresholds: Sequence[float] = THRESHOLDS, classes: Sequence[str] = CLASSES
) -> go.Figure:
    """Horizontal bars of the DNN probabilities with each class's threshold marked."""
    values = np.asarray(probabilities, dtype=float)
    positive = dnn_calls(values, thresholds)
    figure = go.Figure(go.Bar(
        x=values, y=list(classes), orientation="h",
        marker_color=["#c0392b" if flag else "#7f8c8d" for flag in positive],
        text=[f"{p:.3f}" for p in values], textposition="outside",
        hovertemplate="%{y}: p = %{x:.4f}<extra></extra>",
    ))
    for index, threshold in enumerate(thresholds):
        figure.add_shape(type="line", x0=threshold, x1=threshold, y0=index - 0.45, y1=index + 0.45,
                         line={"color": "#2c3e50", "width": 2, "dash": "dot"})
    figure.update_layout(
        height=230, margin={"l": 60, "r": 40, "t": 10, "b": 30}, showlegend=False,
        xaxis={"range": [0, 1.08], "title": "DNN probability (dotted: threshold)"},
        yaxis={"autorange": "reversed"},
    )
    return figure


@dataclass(frozen=True)
class DisplayFilters:
    """Filters for drawing only; all off by default.

    Attributes
    ----------
    highpass_hz : float or None
        Baseline-wander high-pass cut-off (e.g. 0.5 Hz); None: off.
    notch_hz : float or None
        Mains notch, 50 or 60 Hz; None: off.
    lowpass_hz : float or None
        Low-pass cut-off (e.g. 40 Hz); None: off.
    """

    highpass_hz: float | None = None
    notch_hz: float | None = None
    lowpass_hz: float | None = None

    @property
    def active(self) -> bool:
        return any(value is not None for value in (self.highpass_hz, self.notch_hz, self.lowpass_hz))

    def describe(self) -> str:
        """The filter state as printed on the trace."""
        if not self.active:
            return "display filters off"
        parts = ([f"high-pass {self.highpass_hz:g} Hz"] if self.highpass_hz else []) + (
            [f"notch {self.notch_hz:g} Hz"] if self.notch_hz else []) + (
            [f"low-pass {self.lowpass_hz:g} Hz"] if self.lowpass_hz else [])
        return "display filters: " + ", ".join(parts) + " (display only; the DNN sees the unfiltered signal)"


def filter_for_display(record: EcgRecord, filters: DisplayFilters) -> EcgRecord:
    """A filtered copy of ``record`` for drawing; ``record`` itself is left untouched.

    Zero-phase Butterworth filters (order 2 high-pass, order 4 low-pass) and an IIR
    notch (Q 30), each only when its frequency is below the Nyquist frequency.

    Raises
    ------
    ValueError
        A cut-off that is not positive.
    """
    if not filters.active:
        return record
    rate = record.sampling_rate_hz
    nyquist = rate / 2.0
    values = np.array(record.signal_mv, dtype=np.float64, copy=True)
    for name, cutoff in (("highpass_hz", filters.highpass_hz), ("notch_hz", filters.notch_hz),
                         ("lowpass_hz", filters.lowpass_hz)):
        if cutoff is not None and not cutoff > 0:
            raise ValueError(f"{name} must be positive or None; got {cutoff!r}")
    padding = min(values.shape[0] - 1, 3 * int(rate))
    if filters.highpass_hz and filters.highpass_hz < nyquist:
        sections = scipy_signal.butter(2, filters.highpass_hz, btype="highpass", fs=rate, output="sos")
        values = scipy_signal.sosfiltfilt(sections, values, axis=0, padlen=padding)
    if filters.notch_hz and filters.notch_hz < nyquist:
        numerator, denominator = scipy_signal.iirnotch(filters.notch_hz, 30.0, fs=rate)
        values = scipy_signal.filtfilt(numerator, denominator, values, axis=0, padlen=padding)
    if filters.lowpass_hz and filters.lowpass_hz < nyquist:
        sections = scipy_signal.butter(4, filters.lowpass_hz, btype="lowpass", fs=rate, output="sos")
        values = scipy_signal.sosfiltfilt(sections, values, axis=0, padlen=padding)
    return record.replace(signal_mv=values.astype(np.float32))
