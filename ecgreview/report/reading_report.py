"""The printable report of one reading: one page, A4 landscape or US Letter, as a PDF.

What an ECG management system prints: the 12-lead ECG on true-scale paper (25 mm/s,
10 mm/mV, 3 x 4 with a lead II rhythm strip, a calibration pulse per row, 1 mm / 5 mm
grid), the pseudonym with age and sex (never a name, birth date or other ID: the record
never holds them), the device's measurements and statements, the DNN's probabilities
against their thresholds with the model's fingerprint, and the reader's calls beside the
DNN's (agree / disagree per class), name, time and comment.

The reading printed is a clinical reading chosen by :func:`report_reading` (the one
"latest clinical reading" rule, :func:`ecgreview.review.protocol.latest_readings`). The
DNN and device columns are those stored with that reading, what the reader saw; without
a reading they come from the analysis. The page is drawn with matplotlib in millimetres
(:mod:`ecgreview.report._paper_pdf`) and saved without cropping, so that a printer at
100 % prints the grid at 1 mm.
"""

from __future__ import annotations

import io
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ecgreview import __version__
from ecgreview._files import write_atomically
from ecgreview.ecg_paper import (
    CALIBRATION_MV,
    CALIBRATION_S,
    LAYOUTS,
    STANDARD_GAIN_MM_MV,
    STANDARD_SPEED_MM_S,
    page_starts_s,
    paper_layout,
)
from ecgreview.record import CLASSES, dnn_calls
from ecgreview.review.case import CaseAnalysis
from ecgreview.review.protocol import latest_readings
from ecgreview.review.store import Review, latest_reviews
from ecgreview.security.auth import ADJUDICATOR

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["AGREEMENT_MARKS", "PAGE_SIZES_MM", "reading_report_pdf", "report_reading", "write_reading_report"]

#: Page sizes, landscape, (width, height) in mm.
PAGE_SIZES_MM: dict[str, tuple[float, float]] = {"A4": (297.0, 210.0), "Letter": (279.4, 215.9)}
#: Rows 35 mm apart: four rows of the 3 x 4 + II layout fit a landscape page with the text above.
_ROW_PITCH_MV = 3.5
_MARGIN_MM = 7.0
_TEXT_PT = 7.0
_LINE_MM = 3.1
#: Average width of a character of the text, in mm (DejaVu Sans at _TEXT_PT).
_CHARACTER_MM = 0.195 * _TEXT_PT
#: How the reader's call against the DNN's is printed and shown (:attr:`Review.agreement`; "" undecidable).
AGREEMENT_MARKS: dict[str, str] = {"agree": "\u2713 agree", "disagree": "\u2717 disagree", "": "\u2014"}


def report_reading(reviews: pd.DataFrame, source_sha256: str, *, reader: str | None = None) -> Review | None:
    """The reading a report of this case prints, or None when there is none.

    Among the case's latest clinical readings (:func:`~ecgreview.review.protocol.latest_readings`):
    ``reader``'s when given (None if that reader has none); else the adjudicator's latest, else
    the latest saved.
    """
    if reviews.empty:
        return None
    readings = latest_readings(reviews, source_sha256)
    if reader is not None:
        readings = readings[readings["reader"] == reader]
    elif len(readings) and (readings["role"] == ADJUDICATOR).any():
        readings = readings[readings["role"] == ADJUDICATOR]
    latest = latest_reviews(readings, by=("source_sha256",))  # of the readings kept: the last saved
    return Review.from_row(latest.iloc[0].to_dict()) if len(latest) else None


def reading_report_pdf(analysis: CaseAnalysis, reading: Review | None = None, *, page_size: str = "A4",
                       generated_at: datetime | None = None) -> bytes:
    """The one-page report of ``reading`` of ``analysis``'s ECG, as PDF bytes.

    Parameters
    ----------
    analysis : CaseAnalysis
        The case: record, device interpretation and (without a reading) the DNN's output.
    reading : Review, optional
        The reading printed (:func:`report_reading`); None prints the ECG and the opinions
        with "not read yet".
    page_size : {"A4", "Letter"}
        Landscape page.
    generated_at : datetime, optional
        Printed in the footer; default now (UTC).

    Raises
    ------
    ValueError
        An unknown ``page_size``, or a reading of another ECG.
    """
    if page_size not in PAGE_SIZES_MM:
        raise ValueError(f"page_size must be one of {', '.join(PAGE_SIZES_MM)}; got {page_size!r}")
    record = analysis.record
    if reading is not None and reading.source_sha256 != record.source_sha256:
        raise ValueError(f"reading is of ECG {reading.source_sha256[:16]}…, not of this one "
                         f"({record.source_sha256[:16]}…)")
    import matplotlib  # imported here: only a report needs it (the app's pages load without it)
    from matplotlib.figure import Figure

    from ecgreview.report._paper_pdf import MM_PER_INCH, draw_paper

    page_mm = PAGE_SIZES_MM[page_size]
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans", "font.size": _TEXT_PT}):
        figure = Figure(figsize=(page_mm[0] / MM_PER_INCH, page_mm[1] / MM_PER_INCH))
        paper = paper_layout(record, LAYOUTS["3x4+II"], speed_mm_s=STANDARD_SPEED_MM_S,
                             gain_mm_mv=STANDARD_GAIN_MM_MV, start_s=page_starts_s(record.duration_s)[0],
                             row_pitch_mv=_ROW_PITCH_MV, grow=False)
        left_mm = (page_mm[0] - paper.width_mm) / 2
        bottom_mm = _MARGIN_MM + 4.0
        draw_paper(figure, page_mm, left_mm, bottom_mm, paper, record)
        _text_band(figure, page_mm, analysis, reading, top_mm=page_mm[1] - _MARGIN_MM,
                   bottom_mm=bottom_mm + paper.height_mm + 2.0)
        _footer(figure, page_mm, record.duration_s, generated_at or datetime.now(timezone.utc))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="pdf", metadata={
            "Title": f"ECG reading report {record.pseudonym or record.source_sha256[:16]}",
            "Creator": f"ecgreview {__version__}", "CreationDate": None})
    return buffer.getvalue()


def write_reading_report(path: str | Path, analysis: CaseAnalysis, reading: Review | None = None, *,
                         page_size: str = "A4") -> Path:
    """Write :func:`reading_report_pdf` to ``path`` (atomically); returns the path."""
    path = Path(path)
    write_atomically(path, reading_report_pdf(analysis, reading, page_size=page_size))
    return path


def _put(figure: Figure, page_mm: tuple[float, float], x_mm: float, y_mm: float, text: str, *, ha: str = "left",
         fontsize: float = _TEXT_PT, fontweight: str = "normal") -> None:
    """Text with its top-left (``ha="right"``: top-right) corner at (x, y) mm of the page, y from the bottom."""
    figure.text(x_mm / page_mm[0], y_mm / page_mm[1], text, va="top", ha=ha, fontsize=fontsize, fontweight=fontweight)


def _lines(figure: Figure, page_mm: tuple[float, float], x_mm: float, top_mm: float, lines: list[str],
           max_lines: int) -> None:
    """Lines of text from ``top_mm`` down, the last one saying how many were left out."""
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [f"… {len(lines) - max_lines + 1} more line(s) not printed"]
    for number, line in enumerate(lines):
        bold = line.startswith("**")
        _put(figure, page_mm, x_mm, top_mm - number * _LINE_MM, line.strip("*"),
             fontweight="bold" if bold else "normal")


def _wrap(text: str, width_mm: float) -> list[str]:
    return textwrap.wrap(text, width=max(10, int(width_mm / _CHARACTER_MM))) or [""]


def _text_band(figure: Figure, page_mm: tuple[float, float], analysis: CaseAnalysis, reading: Review | None, *,
               top_mm: float, bottom_mm: float) -> None:
    """Title, then three columns: the recording and the reading; the device; the opinions per class."""
    record = analysis.record
    left, width = _MARGIN_MM, page_mm[0] - 2 * _MARGIN_MM
    _put(figure, page_mm, left, top_mm, f"ECG reading · {record.pseudonym or 'no pseudonym'} · {record.age_sex}",
         fontsize=10, fontweight="bold")
    _put(figure, page_mm, left + width, top_mm, "25 mm/s · 10 mm/mV · print at 100 % (no 'fit to page')",
         fontsize=8, ha="right")
    top = top_mm - 6.0
    columns = (left, left + 0.27 * width, left + 0.55 * width)
    max_lines = int((top - bottom_mm) / _LINE_MM)
    _lines(figure, page_mm, columns[0], top, _recording_lines(analysis, reading, 0.26 * width), max_lines)
    _lines(figure, page_mm, columns[1], top, _device_lines(analysis, 0.27 * width), max_lines)
    _opinion_table(figure, page_mm, columns[2], top, analysis, reading)


def _recording_lines(analysis: CaseAnalysis, reading: Review | None, width_mm: float) -> list[str]:
    record = analysis.record
    when = record.acquisition_time.strftime("%Y-%m-%d %H:%M") if record.acquisition_time else "unknown"
    lines = ["**Recording", f"Acquired {when}", f"Device {record.device or 'unknown'}",
             *_wrap(f"File {record.source_name} · SHA-256 {record.source_sha256[:16]}…", width_mm),
             f"{record.sampling_rate_hz:g} Hz · {record.duration_s:.1f} s · {len(record.lead_names)} leads",
             "**Reading"]
    if reading is None:
        return lines + ["Not read yet."]
    saved = reading.saved_at_utc.strftime("%Y-%m-%d %H:%M UTC")
    confidence = f" · confidence {reading.confidence}/5" if reading.confidence is not None else ""
    lines += _wrap(f"{reading.reader} ({reading.role}, {reading.reading_mode}) · {saved}{confidence}", width_mm)
    return lines + _wrap(f"Comment: {reading.comment}" if reading.comment else "No comment.", width_mm)


def _device_lines(analysis: CaseAnalysis, width_mm: float) -> list[str]:
    record = analysis.record
    measured = [str(measurement) for measurement in record.measurements if measurement.measured]
    lines = ["**Device measurements", *(_wrap(" · ".join(measured), width_mm) if measured else ["None in the file."]),
             "**Device statements"]
    if not record.statements:
        return lines + ["None in the file: the device's calls are not available."]
    return lines + [line for statement in record.statements for line in _wrap(f"– {statement}", width_mm)]


def _opinion_rows(analysis: CaseAnalysis, reading: Review | None) -> tuple[list[list[str]], str]:
    """One row per class (DNN p, threshold, DNN call, device call, reader's call, agreement) and the model line."""
    if reading is not None:
        probabilities = [reading.probabilities[name] for name in CLASSES]
        thresholds, device = reading.thresholds, [reading.device_calls[name] or "—" for name in CLASSES]
        calls, agreement = reading.reader_calls, reading.agreement
        model = (f"{reading.model_name or 'no model'} · {reading.model_status}"
                 + (f" · SHA-256 {reading.model_sha256[:16]}… · git blob {reading.model_git_blob_sha1[:12]}"
                    if reading.model_sha256 else "") + " · as shown at the reading")
    else:
        raw = analysis.probabilities
        probabilities = [None] * len(CLASSES) if raw is None else [float(value) for value in raw]
        thresholds, device = analysis.thresholds, [analysis.device.calls[name].strength for name in CLASSES]
        calls, agreement = {name: "not read" for name in CLASSES}, {name: "" for name in CLASSES}
        identity = analysis.identity
        model = "no DNN weights installed" if identity is None else (
            f"{identity.name} · {identity.status} · SHA-256 {identity.sha256[:16]}… "
            f"· git blob {identity.git_blob_sha1[:12]}")
    present = dnn_calls([float("nan") if p is None else p for p in probabilities], thresholds)
    rows = [[name, "—" if p is None else f"{p:.3f}", f"{threshold:g}",
             "—" if p is None else ("present" if call else "absent"), device[index], calls[name],
             AGREEMENT_MARKS[agreement[name]]]
            for index, (name, p, threshold, call) in enumerate(zip(CLASSES, probabilities, thresholds, present))]
    return rows, "Ribeiro et al. 2020 DNN: " + model


def _opinion_table(figure: Figure, page_mm: tuple[float, float], x_mm: float, top_mm: float, analysis: CaseAnalysis,
                   reading: Review | None) -> None:
    rows, model = _opinion_rows(analysis, reading)
    header = ["Class", "DNN p", "Threshold", "DNN call", "Device", "Reader", "Reader vs DNN"]
    offsets = (0.0, 13.0, 25.0, 41.0, 56.0, 77.0, 95.0)
    for number, row in enumerate([header, *rows]):
        for offset, cell in zip(offsets, row):
            _put(figure, page_mm, x_mm + offset, top_mm - number * _LINE_MM, cell,
                 fontweight="bold" if number == 0 or offset == 0 else "normal")
    width_mm = page_mm[0] - _MARGIN_MM - x_mm
    below = top_mm - (len(rows) + 1) * _LINE_MM - 1.0
    _lines(figure, page_mm, x_mm, below, [*_wrap(model, width_mm), "DNN call: p › threshold. Decision support, "
                                          "not a diagnosis."], 4)


def _footer(figure: Figure, page_mm: tuple[float, float], duration_s: float, generated_at: datetime) -> None:
    shown = "" if duration_s <= 10.0 + 1e-9 else f" · first 10 s of {duration_s:.1f} s"
    _put(figure, page_mm, _MARGIN_MM, _MARGIN_MM + 2.0,
         f"Paper at true scale: 1 mm grid, 5 mm bold lines · 25 mm/s, 10 mm/mV · calibration pulse "
         f"{CALIBRATION_MV:g} mV × {CALIBRATION_S * 1000:g} ms = 10 mm × 5 mm{shown} · * derived lead · "
         f"ecgreview {__version__} · printed {generated_at.strftime('%Y-%m-%d %H:%M UTC')}", fontsize=6)
