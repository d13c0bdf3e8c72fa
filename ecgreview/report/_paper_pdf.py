"""ECG paper drawn with matplotlib in millimetres of the printed page.

An axes placed on the page in mm, with limits equal to its size in mm, makes one data
unit one millimetre of paper, whatever the page size; the page is saved without any
"tight" cropping, so a printer at 100 % prints the grid at 1 mm.
"""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ecgreview.ecg_paper import PaperLayout
from ecgreview.record import EcgRecord

MM_PER_INCH = 25.4
_MINOR_RGB = (0.96, 0.74, 0.74)
_MAJOR_RGB = (0.90, 0.45, 0.45)
#: Line widths in points: the grid's 1 mm and 5 mm lines, the trace.
_MINOR_PT, _MAJOR_PT, _TRACE_PT = 0.25, 0.6, 0.55
_LABEL_PT = 7.0


def draw_paper(figure: Figure, page_mm: tuple[float, float], left_mm: float, bottom_mm: float, paper: PaperLayout,
               record: EcgRecord) -> None:
    """Draw ``paper`` (grid, calibration pulses, leads, labels) with its lower-left corner at
    (``left_mm``, ``bottom_mm``) on a page of ``page_mm`` (width, height)."""
    page_width_mm, page_height_mm = page_mm
    axes = figure.add_axes((left_mm / page_width_mm, bottom_mm / page_height_mm,
                            paper.width_mm / page_width_mm, paper.height_mm / page_height_mm))
    axes.set_xlim(0, paper.width_mm)
    axes.set_ylim(0, paper.height_mm)
    axes.set_axis_off()
    axes.set_gid("ecg-paper")
    _grid(axes, paper.width_mm, paper.height_mm)
    for baseline_mm in paper.row_baselines_mm:
        pulse_x_mm, pulse_y_mm = paper.calibration_mm(baseline_mm)
        axes.plot(pulse_x_mm, pulse_y_mm, color="black", linewidth=_TRACE_PT * 1.2, solid_joinstyle="miter",
                  clip_on=False)
    for segment in paper.segments:
        values_mv = record.signal_mv[segment.first_sample:segment.stop_sample, record.lead_names.index(segment.lead)]
        indices = np.arange(segment.first_sample, segment.stop_sample)
        x_mm, y_mm = paper.segment_mm(segment, values_mv, indices)
        axes.plot(x_mm, y_mm, color="black", linewidth=_TRACE_PT, clip_on=False)  # a tall complex is never cut off
        label = segment.lead + ("*" if segment.lead in record.derived_leads else "")
        axes.text(segment.x_mm + 1, segment.baseline_mm + 0.42 * paper.row_pitch_mm, label, fontsize=_LABEL_PT,
                  fontweight="bold", va="center", ha="left")
        if segment.x_mm > paper.trace_left_mm + 1e-9:
            axes.plot([segment.x_mm] * 2, [segment.baseline_mm - 3, segment.baseline_mm + 3], color="black",
                      linewidth=_TRACE_PT * 1.5)


def _grid(axes, width_mm: float, height_mm: float) -> None:
    """1 mm lines, then 5 mm lines over them, across the whole paper."""
    for step_mm, color, width_pt, order in ((1.0, _MINOR_RGB, _MINOR_PT, 0), (5.0, _MAJOR_RGB, _MAJOR_PT, 1)):
        xs = np.arange(0.0, width_mm + 1e-9, step_mm)
        ys = np.arange(0.0, height_mm + 1e-9, step_mm)
        lines = [((x, 0.0), (x, height_mm)) for x in xs] + [((0.0, y), (width_mm, y)) for y in ys]
        collection = LineCollection(lines, colors=[color], linewidths=width_pt, zorder=order)
        collection.set_gid(f"grid-{step_mm:g}mm")
        axes.add_collection(collection)
