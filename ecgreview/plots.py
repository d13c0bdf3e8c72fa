"""Plotly figures: the 12-lead ECG on ECG paper, and the DNN probabilities.

The ECG is drawn in millimetres of paper, like a printout: ``speed_mm_s`` (25 mm/s)
across and ``gain_mm_mv`` (10 mm/mV) up, on a 1 mm / 5 mm grid, with a 1 mV
calibration pulse at the start of each row. Zoom and pan are plotly's.

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

from ecgreview.record import CLASSES, THRESHOLDS, EcgRecord, Waveform, dnn_calls

__all__ = ["DisplayFilters", "LAYOUTS", "display_indices", "filter_for_display", "plot_ecg", "plot_lead", "plot_median_beats",
           "plot_probabilities"]

#: Lead grids: rows of columns; each row splits the shown window into equal parts.
LAYOUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "3x4+II": (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"), ("II",)),
    "6x2": (("I", "V1"), ("II", "V2"), ("III", "V3"), ("aVR", "V4"), ("aVL", "V5"), ("aVF", "V6")),
    "12x1": tuple((lead,) for lead in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")),
}

_PAPER = "#fff5f5"
_MINOR = "#f7cfcf"
_MAJOR = "#e89a9a"
_INK = "#111111"
_CALIBRATION_S = 0.2
_ROW_HEIGHT_MV = 3.5
_MAX_SHOWN_S = 10.0
#: Points drawn per pixel column (the minimum and the maximum sample under it).
_POINTS_PER_PIXEL = 2


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
    width_px: int = 1150,
    note: str = "",
) -> go.Figure:
    """The ECG on paper.

    Parameters
    ----------
    record : EcgRecord
        Signal (samples, leads) in mV.
    layout : {"3x4+II", "6x2", "12x1"}
        Lead grid; ``3x4+II`` is the standard 3 x 4 with a lead II rhythm strip.
    speed_mm_s, gain_mm_mv : float
        Paper speed (mm/s) and gain (mm/mV).
    note : str
        Text printed under the trace (e.g. the display filters in use).
    width_px : int
        Width of the figure in pixels; traces are drawn at that resolution
        (:func:`display_indices`).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, got {layout!r}")
    return _plot_rows(record, record.derived_leads, LAYOUTS[layout], speed_mm_s=speed_mm_s,
                      gain_mm_mv=gain_mm_mv, width_px=width_px, note=note)


def plot_lead(
    record: EcgRecord, lead: str, *, speed_mm_s: float = 25.0, gain_mm_mv: float = 10.0,
    width_px: int = 1150, note: str = "", marks_s: Sequence[float] = (), caliper_rate_hz: float = 250.0,
) -> go.Figure:
    """One lead over the whole shown window (single-lead zoom), ready for calipers.

    Parameters as :func:`plot_ecg`, and:

    marks_s : sequence of float
        Caliper positions (s), drawn as vertical lines.
    caliper_rate_hz : float
        Density of the invisible, clickable caliper points (a trace named ``"calipers"``
        whose ``customdata`` is the time in s); 0 leaves them out.
    """
    if lead not in record.lead_names:
        raise ValueError(f"lead must be one of {', '.join(record.lead_names)}; got {lead!r}")
    figure = _plot_rows(record, record.derived_leads, ((lead,),), speed_mm_s=speed_mm_s,
                        gain_mm_mv=gain_mm_mv, width_px=width_px, note=note, full_resolution=True)
    trace = figure.data[1]
    offset_mm = float(trace.x[0])  # the lead starts at 0 s
    if caliper_rate_hz > 0:
        step = max(1, int(round(record.sampling_rate_hz / caliper_rate_hz)))
        caliper_times_s = (np.asarray(trace.x[::step]) - offset_mm) / speed_mm_s
        figure.add_trace(go.Scatter(
            x=trace.x[::step], y=trace.y[::step], customdata=caliper_times_s[:, None], mode="markers",
            marker={"size": 9, "color": "rgba(31, 95, 191, 0)"}, name="calipers", showlegend=False,
            hovertemplate=f"{lead}<br>%{{customdata[0]:.3f}} s<extra>click to place a caliper</extra>",
        ))
        trace.hovertemplate, trace.hoverinfo = None, "skip"  # hover and clicks go to the (selectable) caliper points
        figure.update_layout(clickmode="event+select")
    for time_s in marks_s:
        x_mm = offset_mm + time_s * speed_mm_s
        figure.add_shape(type="line", x0=x_mm, x1=x_mm, y0=0, y1=_ROW_HEIGHT_MV * gain_mm_mv,
                         line={"color": "#1f5fbf", "width": 2, "dash": "dash"})
    return figure


def plot_median_beats(
    median: Waveform, *, speed_mm_s: float = 50.0, gain_mm_mv: float = 10.0, width_px: int = 1150, note: str = "",
) -> go.Figure:
    """The device's median beats, twelve leads side by side in a 3 x 4 grid."""
    rows = tuple(tuple(lead for lead in row if lead in median.lead_names) for row in LAYOUTS["3x4+II"][:3])
    return _plot_rows(median, frozenset(), tuple(row for row in rows if row), speed_mm_s=speed_mm_s,
                      gain_mm_mv=gain_mm_mv, width_px=width_px, note=note or "median beats", split=False)


def _plot_rows(
    source: EcgRecord | Waveform, derived: frozenset[str], rows: tuple[tuple[str, ...], ...], *,
    speed_mm_s: float, gain_mm_mv: float, width_px: int, note: str, split: bool = True, full_resolution: bool = False,
) -> go.Figure:
    """Draw ``rows`` of leads; ``split`` divides the time window among a row's leads (else each shows all of it).

    Traces are drawn at the figure's pixel resolution unless ``full_resolution``.
    """
    for name, value in (("speed_mm_s", speed_mm_s), ("gain_mm_mv", gain_mm_mv)):
        if not value > 0:
            raise ValueError(f"{name} must be positive; got {value!r}")
    shown_s = min(source.duration_s, _MAX_SHOWN_S)
    columns = max(len(row) for row in rows) if not split else 1
    row_mm = _ROW_HEIGHT_MV * gain_mm_mv
    calibration_mm = _CALIBRATION_S * speed_mm_s + 2
    width_mm = calibration_mm + shown_s * speed_mm_s * columns
    height_mm = row_mm * len(rows)
    pixels_per_mm = 0.0 if full_resolution else width_px / (width_mm + 4)
    traces, labels, separators = [], [], []
    for row_index, leads in enumerate(rows):
        baseline_mm = height_mm - row_mm * (row_index + 0.5)
        traces.append(_calibration_trace(baseline_mm, speed_mm_s, gain_mm_mv))
        column_s = shown_s / len(leads) if split else shown_s
        for column_index, lead in enumerate(leads):
            start_s = column_index * column_s if split else 0.0
            offset_mm = calibration_mm + (0.0 if split else column_index * shown_s * speed_mm_s)
            traces.append(
                _lead_trace(source, lead, start_s, column_s, offset_mm, baseline_mm, speed_mm_s, gain_mm_mv,
                            columns_px=int(column_s * speed_mm_s * pixels_per_mm)))
            x_mm = offset_mm + start_s * speed_mm_s
            labels.append({"x": x_mm + 1, "y": baseline_mm + 0.42 * row_mm, "showarrow": False, "xanchor": "left",
                           "text": f"<b>{lead}</b>" + ("*" if lead in derived else ""),
                           "font": {"size": 13, "color": _INK}})
            if column_index:
                separators.append({"type": "line", "x0": x_mm, "x1": x_mm, "y0": baseline_mm - 3,
                                   "y1": baseline_mm + 3, "line": {"color": _INK, "width": 1.5}})
    figure = go.Figure(data=traces, layout={"annotations": labels, "shapes": separators})
    caption = f"{speed_mm_s:g} mm/s · {gain_mm_mv:g} mm/mV · {source.sampling_rate_hz:g} Hz"
    if derived:
        caption += " · * derived lead"
    if note:
        caption += f" · {note}"
    _paper_layout(figure, width_mm, height_mm, width_px, caption)
    return figure


def _lead_trace(
    record: EcgRecord | Waveform, lead: str, start_s: float, length_s: float,
    offset_mm: float, baseline_mm: float, speed_mm_s: float, gain_mm_mv: float, *, columns_px: int = 0,
) -> go.Scatter:
    """One lead's segment; ``columns_px`` > 0 draws it at that many pixel columns (:func:`display_indices`)."""
    rate = record.sampling_rate_hz
    first, last = int(round(start_s * rate)), int(round((start_s + length_s) * rate))
    values_mv = record.signal_mv[first:last, record.lead_names.index(lead)]
    kept = display_indices(values_mv, columns_px)
    time_s = (first + kept) / rate
    return go.Scatter(  # float32 is exact to well under a pixel and halves what is sent
        x=(offset_mm + time_s * speed_mm_s).astype(np.float32),
        y=(baseline_mm + values_mv[kept].astype(np.float64) * gain_mm_mv).astype(np.float32),
        mode="lines", line={"color": _INK, "width": 1.1}, name=lead, showlegend=False, hoverinfo="skip",
    )


def _calibration_trace(baseline_mm: float, speed_mm_s: float, gain_mm_mv: float) -> go.Scatter:
    """A 1 mV, 200 ms square pulse starting 1 mm into the row."""
    pulse_mm = _CALIBRATION_S * speed_mm_s
    x = [0, 1, 1, 1 + pulse_mm, 1 + pulse_mm, 2 + pulse_mm]
    y = [baseline_mm] * 2 + [baseline_mm + gain_mm_mv] * 2 + [baseline_mm] * 2
    return go.Scatter(x=x, y=y, mode="lines", line={"color": _INK, "width": 1.4}, hoverinfo="skip", showlegend=False)


def _paper_layout(figure: go.Figure, width_mm: float, height_mm: float, width_px: int, caption: str) -> None:
    """ECG paper: 1 mm minor and 5 mm major grid, equal scales, the caption under the trace."""
    pixels_per_mm = width_px / (width_mm + 4)
    grid = {"showgrid": True, "gridcolor": _MAJOR, "gridwidth": 1, "dtick": 5, "zeroline": False,
            "showticklabels": False, "ticks": "", "minor": {"dtick": 1, "gridcolor": _MINOR, "gridwidth": 0.5, "showgrid": True}}
    figure.update_xaxes(range=[0, width_mm], tick0=0, **grid)
    figure.update_yaxes(range=[0, height_mm], tick0=0, scaleanchor="x", scaleratio=1, **grid)
    figure.update_layout(
        width=width_px, height=int(height_mm * pixels_per_mm) + 60,
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        plot_bgcolor=_PAPER, paper_bgcolor="white", dragmode="pan", hovermode="closest",
        annotations=[*figure.layout.annotations, {"text": caption, "xref": "paper", "yref": "paper", "x": 0, "y": -0.02,
                     "xanchor": "left", "yanchor": "top", "showarrow": False, "font": {"size": 12, "color": "#555"}}],
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
