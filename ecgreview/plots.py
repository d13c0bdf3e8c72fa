"""Plotly figures: the 12-lead ECG on ECG paper, and the DNN probabilities.

The ECG is drawn in millimetres of paper, like a printout: ``speed_mm_s`` (25 mm/s)
across and ``gain_mm_mv`` (10 mm/mV) up, on a 1 mm / 5 mm grid, with a 1 mV
calibration pulse at the start of each row. Zoom and pan are plotly's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ecgreview.record import CLASSES, THRESHOLDS, EcgRecord

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
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, got {layout!r}")
    rows = LAYOUTS[layout]
    shown_s = min(record.duration_s, _MAX_SHOWN_S)
    row_mm = _ROW_HEIGHT_MV * gain_mm_mv
    calibration_mm = _CALIBRATION_S * speed_mm_s + 2
    width_mm = calibration_mm + shown_s * speed_mm_s
    height_mm = row_mm * len(rows)
    figure = go.Figure()
    for row_index, leads in enumerate(rows):
        baseline_mm = height_mm - row_mm * (row_index + 0.5)
        figure.add_trace(_calibration_trace(baseline_mm, speed_mm_s, gain_mm_mv))
        column_s = shown_s / len(leads)
        for column_index, lead in enumerate(leads):
            start_s = column_index * column_s
            figure.add_trace(
                _lead_trace(record, lead, start_s, column_s, calibration_mm, baseline_mm, speed_mm_s, gain_mm_mv)
            )
            figure.add_annotation(
                x=calibration_mm + start_s * speed_mm_s + 1, y=baseline_mm + 0.42 * row_mm,
                text=f"<b>{lead}</b>" + ("*" if lead in record.derived_leads else ""),
                showarrow=False, xanchor="left", font={"size": 13, "color": _INK},
            )
            if column_index:
                x_mm = calibration_mm + start_s * speed_mm_s
                figure.add_shape(type="line", x0=x_mm, x1=x_mm, y0=baseline_mm - 3, y1=baseline_mm + 3,
                                 line={"color": _INK, "width": 1.5})
    caption = f"{speed_mm_s:g} mm/s · {gain_mm_mv:g} mm/mV · {record.sampling_rate_hz:g} Hz"
    if record.derived_leads:
        caption += " · * derived lead"
    if note:
        caption += f" · {note}"
    _paper_layout(figure, width_mm, height_mm, width_px, caption)
    return figure


def _lead_trace(
    record: EcgRecord, lead: str, start_s: float, length_s: float,
    offset_mm: float, baseline_mm: float, speed_mm_s: float, gain_mm_mv: float,
) -> go.Scatter:
    rate = record.sampling_rate_hz
    first, last = int(round(start_s * rate)), int(round((start_s + length_s) * rate))
    values_mv = record.lead(lead)[first:last].astype(np.float64)
    time_s = (first + np.arange(values_mv.size)) / rate
    return go.Scatter(
        x=offset_mm + time_s * speed_mm_s,
        y=baseline_mm + values_mv * gain_mm_mv,
        customdata=np.column_stack([time_s, values_mv]),
        mode="lines", line={"color": _INK, "width": 1.1}, name=lead, showlegend=False,
        hovertemplate=f"{lead}<br>%{{customdata[0]:.3f}} s<br>%{{customdata[1]:.2f}} mV<extra></extra>",
    )


def _calibration_trace(baseline_mm: float, speed_mm_s: float, gain_mm_mv: float) -> go.Scatter:
    """A 1 mV, 200 ms square pulse starting 1 mm into the row."""
    pulse_mm = _CALIBRATION_S * speed_mm_s
    x = [0, 1, 1, 1 + pulse_mm, 1 + pulse_mm, 2 + pulse_mm]
    y = [baseline_mm] * 2 + [baseline_mm + gain_mm_mv] * 2 + [baseline_mm] * 2
    return go.Scatter(x=x, y=y, mode="lines", line={"color": _INK, "width": 1.4}, hoverinfo="skip", showlegend=False)


def _paper_layout(figure: go.Figure, width_mm: float, height_mm: float, width_px: int, caption: str) -> None:
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
    probabilities = np.asarray(probabilities, dtype=float)
    positive = probabilities > np.asarray(thresholds)
    figure = go.Figure(go.Bar(
        x=probabilities, y=list(classes), orientation="h",
        marker_color=["#c0392b" if flag else "#7f8c8d" for flag in positive],
        text=[f"{p:.3f}" for p in probabilities], textposition="outside",
        hovertemplate="%{y}: p = %{x:.4f}<extra></extra>",
    ))
    for index, threshold in enumerate(thresholds):
        figure.add_shape(type="line", x0=threshold, x1=threshold, y0=index - 0.45, y1=index + 0.45,
                         line={"color": "#2c3e50", "width": 2, "dash": "dot"})
    figure.update_layout(
        height=230, margin={"l": 10, "r": 40, "t": 10, "b": 30}, showlegend=False,
        xaxis={"range": [0, 1.08], "title": "DNN probability (dotted: threshold)"},
        yaxis={"autorange": "reversed"},
    )
    return figure
