"""Where each lead goes on ECG paper, in millimetres: the one layout that the screen figure
(:mod:`ecgreview.plots`) and the printed report (:mod:`ecgreview.report`) both draw.

Paper runs at ``speed_mm_s`` across (25 mm/s standard) and ``gain_mm_mv`` up (10 mm/mV), on a
1 mm / 5 mm grid whose origin is the paper's lower-left corner; y grows upwards. Every row
starts with a 1 mV, 200 ms calibration pulse. Rows are :data:`ROW_PITCH_MV` apart, so the row
spacing follows the gain, and a tall complex runs into the neighbouring row as on paper rather
than being cut at its row's edge. The paper grows at the top and bottom by what the first and
last rows need, so no complex leaves the paper (up to :data:`MAX_EXCURSION_MV` from the
baseline: beyond that it is not a complex but an artefact, and the paper stops growing).

A page of paper shows :data:`PAGE_S` (10 s). A longer recording is shown in pages
(:func:`page_starts_s`): every page is a full 10 s, the last one ending with the recording,
so that every sample is on some page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ecgreview.record import LEAD_ORDER, EcgRecord, Waveform

__all__ = [
    "CALIBRATION_MV", "CALIBRATION_S", "LAYOUTS", "MAX_EXCURSION_MV", "PAGE_S", "ROW_PITCH_MV", "STANDARD_GAIN_MM_MV",
    "STANDARD_SPEED_MM_S", "LeadSegment", "PaperLayout", "page_starts_s", "paper_layout",
]

#: Lead grids: rows of columns; each row splits the page's time among its leads.
LAYOUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "3x4+II": (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"), ("II",)),
    "6x2": (("I", "V1"), ("II", "V2"), ("III", "V3"), ("aVR", "V4"), ("aVL", "V5"), ("aVF", "V6")),
    "12x1": tuple((lead,) for lead in LEAD_ORDER),
}

STANDARD_SPEED_MM_S = 25.0
STANDARD_GAIN_MM_MV = 10.0
#: Seconds of recording on one page of paper.
PAGE_S = 10.0
#: The calibration pulse: 1 mV for 200 ms.
CALIBRATION_MV = 1.0
CALIBRATION_S = 0.2
#: Distance between the baselines of two rows, in mV of signal (40 mm at 10 mm/mV).
ROW_PITCH_MV = 4.0
#: The paper grows to show a deflection up to this far from the baseline, and no further.
MAX_EXCURSION_MV = 8.0
#: Blank paper, in mm, left and right of the pulse and around the traces.
_PAPER_MARGIN_MM = 1.0
#: Extensions of the paper are whole major squares, so baselines stay on 5 mm lines.
_MAJOR_MM = 5.0


@dataclass(frozen=True)
class LeadSegment:
    """One lead's stretch of recording and where it sits on the paper.

    Attributes
    ----------
    lead : str
        Lead name (a column of the record).
    row : int
        Row of the layout, 0 at the top.
    first_sample, stop_sample : int
        Samples ``[first_sample, stop_sample)`` of the record.
    x_mm : float
        Paper x of ``first_sample``.
    baseline_mm : float
        Paper y of 0 mV.
    """

    lead: str
    row: int
    first_sample: int
    stop_sample: int
    x_mm: float
    baseline_mm: float


@dataclass(frozen=True)
class PaperLayout:
    """The paper: its size (mm), scales, and where every lead segment and calibration pulse goes.

    Attributes
    ----------
    width_mm, height_mm : float
        Size of the paper; the grid's origin is its lower-left corner.
    speed_mm_s, gain_mm_mv : float
        Paper speed and gain.
    sampling_rate_hz : float
        Of the record drawn.
    start_s, shown_s : float
        The page: recording time at its left edge and seconds shown.
    segments : tuple of LeadSegment
        In row order, left to right.
    row_baselines_mm : tuple of float
        Baseline of each row, top row first; each row starts with a calibration pulse.
    row_pitch_mm : float
        Distance between two rows' baselines.
    """

    width_mm: float
    height_mm: float
    speed_mm_s: float
    gain_mm_mv: float
    sampling_rate_hz: float
    start_s: float
    shown_s: float
    segments: tuple[LeadSegment, ...]
    row_baselines_mm: tuple[float, ...]
    row_pitch_mm: float

    @property
    def trace_left_mm(self) -> float:
        """Paper x where the traces start, right of the calibration pulse."""
        return 2 * _PAPER_MARGIN_MM + CALIBRATION_S * self.speed_mm_s

    def width_at_speed_mm(self, speed_mm_s: float) -> float:
        """Width of this paper at another speed (same page, layout and gain), e.g. the 25 mm/s paper."""
        traces_mm = self.width_mm - self.trace_left_mm - _PAPER_MARGIN_MM
        return 2 * _PAPER_MARGIN_MM + CALIBRATION_S * speed_mm_s + traces_mm / self.speed_mm_s * speed_mm_s \
            + _PAPER_MARGIN_MM

    def calibration_mm(self, baseline_mm: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(x, y) in mm of the 1 mV, 200 ms pulse of the row at ``baseline_mm``."""
        left, pulse = _PAPER_MARGIN_MM, CALIBRATION_S * self.speed_mm_s
        top = baseline_mm + CALIBRATION_MV * self.gain_mm_mv
        return ((0.0, left, left, left + pulse, left + pulse, 2 * left + pulse),
                (baseline_mm, baseline_mm, top, top, baseline_mm, baseline_mm))

    def segment_mm(self, segment: LeadSegment, values_mv: np.ndarray, sample_indices: np.ndarray) -> tuple[
            np.ndarray, np.ndarray]:
        """(x, y) in mm of ``values_mv`` taken at ``sample_indices`` (indices into the record) of ``segment``."""
        x_mm = segment.x_mm + (sample_indices - segment.first_sample) / self.sampling_rate_hz * self.speed_mm_s
        return x_mm, segment.baseline_mm + np.asarray(values_mv, dtype=np.float64) * self.gain_mm_mv

    def x_mm(self, time_s: float) -> float:
        """Paper x of recording time ``time_s`` on a one-lead-per-row paper (the single-lead view)."""
        return self.trace_left_mm + (time_s - self.start_s) * self.speed_mm_s


def page_starts_s(duration_s: float, *, page_s: float = PAGE_S) -> tuple[float, ...]:
    """Start times (s) of the pages that show a recording of ``duration_s`` whole.

    One page up to ``page_s``; beyond, pages every ``page_s`` and a last page that ends with the
    recording (it overlaps the one before), so that every page is a full ``page_s``.

    Examples
    --------
    >>> page_starts_s(10.0), page_starts_s(15.0), page_starts_s(30.0)
    ((0.0,), (0.0, 5.0), (0.0, 10.0, 20.0))
    """
    if not duration_s > 0 or not page_s > 0:
        raise ValueError(f"duration_s and page_s must be positive; got {duration_s!r} and {page_s!r}")
    count = max(1, math.ceil(round(duration_s / page_s, 9)))
    starts = [index * page_s for index in range(count - 1)]
    if count > 1:
        starts.append(round(duration_s - page_s, 6))
    else:
        starts.append(0.0)
    return tuple(starts)


def paper_layout(
    source: EcgRecord | Waveform, rows: tuple[tuple[str, ...], ...], *, speed_mm_s: float = STANDARD_SPEED_MM_S,
    gain_mm_mv: float = STANDARD_GAIN_MM_MV, start_s: float = 0.0, split: bool = True,
    row_pitch_mv: float = ROW_PITCH_MV, grow: bool = True,
) -> PaperLayout:
    """Lay ``rows`` of leads of ``source`` out on paper, the page starting at ``start_s``.

    Parameters
    ----------
    source : EcgRecord or Waveform
        Signal (samples, leads) in mV.
    rows : tuple of tuple of str
        Lead names per row, top row first (e.g. ``LAYOUTS["3x4+II"]``).
    speed_mm_s, gain_mm_mv : float
        Paper speed (mm/s) and gain (mm/mV); both must be positive.
    start_s : float
        Recording time at the page's left edge (one of :func:`page_starts_s`).
    split : bool
        True: a row's leads share the page's time, one after the other (the 3 x 4 layout).
        False: each lead shows the whole of it, side by side (median beats).
    row_pitch_mv : float
        Distance between two rows' baselines, in mV of signal.
    grow : bool
        Add paper above the first and below the last row for the complexes that reach past
        half a row (True, on screen); False keeps the paper to its rows (a printed page,
        where such a complex runs into the margin instead).

    Raises
    ------
    ValueError
        A speed or gain that is not positive, a start outside the recording, or a lead the
        source does not have.
    """
    for name, value in (("speed_mm_s", speed_mm_s), ("gain_mm_mv", gain_mm_mv), ("row_pitch_mv", row_pitch_mv)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive; got {value!r}")
    duration_s = source.signal_mv.shape[0] / source.sampling_rate_hz
    if not 0 <= start_s < duration_s:
        raise ValueError(f"start_s must be in [0, {duration_s:g}) s, the recording; got {start_s!r}")
    missing = sorted({lead for row in rows for lead in row} - set(source.lead_names))
    if missing:
        raise ValueError(f"lead must be one of {', '.join(source.lead_names)}; got {', '.join(missing)}")
    shown_s = min(duration_s - start_s, PAGE_S) if split else duration_s
    rate = source.sampling_rate_hz
    pitch_mm = row_pitch_mv * gain_mm_mv
    trace_left_mm = 2 * _PAPER_MARGIN_MM + CALIBRATION_S * speed_mm_s
    columns = 1 if split else max(len(row) for row in rows)
    placed: list[tuple[str, int, int, int, float]] = []  # lead, row, first, stop, x
    for row_index, leads in enumerate(rows):
        column_s = shown_s / len(leads) if split else shown_s
        for column_index, lead in enumerate(leads):
            offset_s = column_index * column_s
            first = int(round(((start_s + offset_s) if split else 0.0) * rate))
            end_s = (start_s + offset_s + column_s) if split else shown_s
            stop = min(source.signal_mv.shape[0], int(round(end_s * rate)))
            placed.append((lead, row_index, first, stop, trace_left_mm + offset_s * speed_mm_s))
    top_mm, bottom_mm = (_extension_mm(source, [item for item in placed if item[1] == row], gain_mm_mv, pitch_mm, sign)
                         if grow else 0.0 for row, sign in ((0, 1.0), (len(rows) - 1, -1.0)))
    height_mm = top_mm + pitch_mm * len(rows) + bottom_mm
    baselines = tuple(height_mm - top_mm - pitch_mm * (row + 0.5) for row in range(len(rows)))
    segments = tuple(LeadSegment(lead, row, first, stop, x_mm, baselines[row])
                     for lead, row, first, stop, x_mm in placed)
    width_mm = trace_left_mm + shown_s * speed_mm_s * columns + _PAPER_MARGIN_MM
    return PaperLayout(width_mm=width_mm, height_mm=height_mm, speed_mm_s=float(speed_mm_s),
                       gain_mm_mv=float(gain_mm_mv), sampling_rate_hz=rate, start_s=float(start_s),
                       shown_s=shown_s, segments=segments, row_baselines_mm=baselines, row_pitch_mm=pitch_mm)


def _extension_mm(source: EcgRecord | Waveform, placed: list[tuple[str, int, int, int, float]], gain_mm_mv: float,
                  pitch_mm: float, sign: float) -> float:
    """Paper to add above (``sign`` 1) the first or below (-1) the last row so its traces stay on the paper."""
    reach_mv = CALIBRATION_MV if sign > 0 else 0.0
    for lead, _, first, stop, _ in placed:
        values = source.signal_mv[first:stop, source.lead_names.index(lead)].astype(np.float64) * sign
        finite = values[np.isfinite(values)]
        if finite.size:
            reach_mv = max(reach_mv, min(float(finite.max()), MAX_EXCURSION_MV))
    needed_mm = reach_mv * gain_mm_mv + _PAPER_MARGIN_MM - pitch_mm / 2
    return _MAJOR_MM * math.ceil(needed_mm / _MAJOR_MM) if needed_mm > 0 else 0.0
