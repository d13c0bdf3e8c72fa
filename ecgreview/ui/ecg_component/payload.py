"""What the ECG paper component draws: the paper laid out in Python, as compact arrays for the browser.

The layout decisions are :mod:`ecgreview.ecg_paper`'s (rows, baselines, the paper's size, calibration
pulses) and the points are :mod:`ecgreview.plots`' (:func:`~ecgreview.plots.segment_points_mm`: the
minimum and maximum sample per pixel column), so the component shows what the plotly figure shows.
Coordinates are mm of paper, origin at its lower-left corner, y up; the caption strip lies below
y = 0 (:data:`~ecgreview.plots.CAPTION_MM`). Each lead's x and y go as little-endian float32, base64
(about 5 kB per lead at Fit); a gap in the signal (NaN) breaks the line there.

No streamlit here: :mod:`ecgreview.ui.ecg_component.component` mounts it.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import numpy as np

from ecgreview.ecg_paper import LAYOUTS, paper_layout
from ecgreview.plots import CAPTION_MM, paper_caption, paper_meta, segment_points_mm
from ecgreview.record import EcgRecord

__all__ = ["decode_points", "encode_points", "paper_payload"]


def encode_points(values: np.ndarray) -> str:
    """``values`` as little-endian float32, base64 (what the component's JS decodes)."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def decode_points(text: str) -> np.ndarray:
    """The float32 array :func:`encode_points` wrote."""
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def paper_payload(
    record: EcgRecord, *, layout: str = "3x4+II", speed_mm_s: float = 25.0, gain_mm_mv: float = 10.0,
    pixels_per_mm: float, start_s: float = 0.0, note: str = "",
) -> dict[str, Any]:
    """The ECG paper of ``record`` as the component draws it (a JSON-serialisable dict).

    Parameters
    ----------
    record : EcgRecord
        Signal (samples, leads) in mV (already filtered for display, if at all).
    layout : {"3x4+II", "6x2", "12x1"}
        Lead grid (:data:`ecgreview.ecg_paper.LAYOUTS`).
    speed_mm_s, gain_mm_mv : float
        Paper speed (mm/s) and gain (mm/mV).
    pixels_per_mm : float
        CSS px per mm the paper is drawn at: the points kept per lead (:func:`ecgreview.plots.display_indices`).
    start_s : float
        The page: recording time at the paper's left edge.
    note : str
        Text added to the caption (the display filters).

    Returns
    -------
    dict
        ``id`` (a digest of everything below: the browser redraws only when it changes),
        ``width_mm``, ``height_mm`` (the paper with its caption strip), ``caption_mm``, ``meta`` (the
        box's sizes, as the plotly figure's ``layout.meta``), ``caption``, ``pulses`` (per row: x and y
        in mm), ``segments`` (per lead: ``label``, ``label_x_mm``, ``label_y_mm``, ``separator``
        (a lead boundary mark within the row), ``x_mm``, ``baseline_mm``, ``x``, ``y``: encoded points).

    Raises
    ------
    ValueError
        An unknown layout, or a speed, gain or pixels per mm that is not positive (as :func:`ecgreview.plots.plot_ecg`).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, got {layout!r}")
    if not (isinstance(pixels_per_mm, (int, float)) and np.isfinite(pixels_per_mm) and pixels_per_mm > 0):
        raise ValueError(f"pixels_per_mm must be positive; got {pixels_per_mm!r}")
    paper = paper_layout(record, LAYOUTS[layout], speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv, start_s=start_s)
    segments = []
    for segment in paper.segments:
        x_mm, y_mm = segment_points_mm(record, paper, segment, pixels_per_mm=pixels_per_mm)
        segments.append({
            "row": segment.row, "label": segment.lead + ("*" if segment.lead in record.derived_leads else ""),
            "label_x_mm": segment.x_mm + 1, "label_y_mm": segment.baseline_mm + 0.42 * paper.row_pitch_mm,
            "separator": bool(segment.x_mm > paper.trace_left_mm + 1e-9), "x_mm": segment.x_mm,
            "baseline_mm": segment.baseline_mm, "x": encode_points(x_mm), "y": encode_points(y_mm)})
    pulses = [[list(axis) for axis in paper.calibration_mm(baseline)] for baseline in paper.row_baselines_mm]
    payload: dict[str, Any] = {
        "width_mm": paper.width_mm, "height_mm": paper.height_mm + CAPTION_MM, "caption_mm": CAPTION_MM,
        "meta": paper_meta(paper), "pulses": pulses, "segments": segments,
        "caption": paper_caption(record, paper, derived=bool(record.derived_leads), note=note)}
    digest = hashlib.sha256(repr(sorted((key, repr(value)) for key, value in payload.items())).encode())
    payload["id"] = digest.hexdigest()[:20]
    return payload
