"""The study report: one self-contained HTML file and one PDF of a reader study, to attach to a manuscript.

:func:`write_study_report` writes ``<stem>.html`` and ``<stem>.pdf`` of a
:class:`~ecgreview.study.study_analysis.StudyAnalysis`; :func:`study_report_files` gives the same
bytes (for a download button). Both come from one list of :class:`Block` (:func:`report_blocks`):

the analysis plan (or that there was none: every result exploratory), deviations from it, the flow
of cases and readers, the primary OR–Hillis table, the secondary endpoints, per reader, the
secondary percentile bootstrap, any labelled sensitivity analysis, the call changes (helpful vs
automation bias), Fleiss' kappa unaided vs aided, confidence and reading time, the DNN and the
device alone, the figures (ROC with the readers' operating points, each reader unaided vs aided,
the forest plot), a methods paragraph naming every method and software version, the provenance
of every number, and the notes.

The HTML has no external reference: figures are inline PNG (base64), the style is inline, and
every text from a file goes through :func:`html.escape`. The PDF (matplotlib's ``PdfPages``)
prints the same text and tables on A4 landscape pages and the figures as vector pages.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from ecgreview.study import report_tables as tables
from ecgreview.study.report_methods import methods_paragraph, plan_items
from ecgreview.study.study_analysis import StudyAnalysis

__all__ = ["Block", "report_blocks", "study_report_files", "study_report_html", "study_report_pdf",
           "write_study_report"]

_PAGE_IN = (11.69, 8.27)  # A4 landscape
_MARGIN_PT = 40.0
_CELL_LIMIT = 100  # longer cells become numbered notes under the table in the PDF
_STYLE = """body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1rem}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.2rem .45rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}p.caption{font-size:.8rem;color:#555}
img{max-width:100%}li{margin:.15rem 0}"""


@dataclass(frozen=True)
class Block:
    """One piece of the report: ``kind`` is ``heading``, ``text``, ``items``, ``table`` or ``figure``."""

    kind: str
    text: str = ""
    items: tuple[str, ...] = ()
    table: pd.DataFrame | None = None
    figure: Figure | None = field(default=None, compare=False)


def _table(frame: pd.DataFrame, caption: str) -> list[Block]:
    return [Block("table", caption, table=frame)] if len(frame) else [Block("text", f"{caption} (no rows)")]


def _run_blocks(analysis: StudyAnalysis) -> list[Block]:
    result, plan = analysis.primary, analysis.plan
    blocks = [Block("heading", "Primary analysis: OR–Hillis" if plan else "Analysis: OR–Hillis (exploratory)"),
              *_table(tables.mrmc_table(result, primary=True if plan else None), tables.mrmc_caption(result))]
    if plan:
        blocks += [Block("heading", "Secondary endpoints: OR–Hillis"),
                   *_table(tables.mrmc_table(result, primary=False), tables.mrmc_caption(result))]
    reasons = [text for text in result.mrmc["not_computed"] if text]
    per_reader = tables.reader_table(result)
    blocks += [Block("heading", "Per reader: OR–Hillis"),
               *(_table(per_reader, tables.reader_caption(result)) if len(per_reader) else
                 [Block("text", f"Not computed for any class; e.g. {reasons[0] if reasons else 'no analysis'}.")]),
               Block("heading", "Secondary: percentile bootstrap, all readers"),
               *_table(tables.bootstrap_table(result, scores=("sensitivity", "specificity")),
                       tables.bootstrap_caption(result))]
    for run in analysis.runs[1:]:
        blocks += [Block("heading", run.label.capitalize()),
                   Block("text", f"Not the pre-specified analysis. Reference: {run.reference_label}; uncertain "
                                 f"counted as {run.uncertain_as}."),
                   *_table(tables.mrmc_table(run), tables.mrmc_caption(run))]
    return blocks


def _detail_blocks(analysis: StudyAnalysis) -> list[Block]:
    result = analysis.primary
    agreement = tables.agreement_table(result)
    blocks = [Block("heading", "Calls changed after seeing the DNN"),
              *_table(tables.changes_table(result), "All readers; pairs with a reference and a DNN call. Helpful: the "
                      "aided call moved to the DNN's call and the DNN was right; automation bias: it moved to the "
                      "DNN's call and the DNN was wrong."),
              Block("heading", "Inter-reader agreement: Fleiss' kappa, unaided vs aided")]
    blocks += _table(agreement, result.agreement["ci_method"].iloc[0] + ".") if len(agreement) else [
        Block("text", f"Not computed: {len(result.readers)} reader(s); Fleiss' kappa needs three or more.")]
    points = analysis_points(analysis)
    blocks += [Block("heading", "Confidence and reading time"),
               *_table(tables.time_table(result), "All readers; confidence 1–5, reading time in seconds."),
               Block("heading", "The DNN and the device alone on the study cases"),
               *_table(tables.alone_table(result), f"{result.confidence * 100:g}% CI, percentile bootstrap over "
                                                   "cases."),
               *_table(tables.operating_points_table(points), "DNN at the thresholds the readers were shown; 95% CI, "
                                                               "Wilson score.")]
    return blocks


def analysis_points(analysis: StudyAnalysis) -> pd.DataFrame:
    """The DNN's operating points on the study cases at the thresholds the readers were shown."""
    from ecgreview.study.operating_points import operating_points

    cases = list(analysis.primary.cases)
    return operating_points(analysis.cohort.reference.reindex(cases), analysis.cohort.probabilities.reindex(cases),
                            thresholds=analysis.cohort.thresholds)


def _figure_blocks(analysis: StudyAnalysis) -> list[Block]:
    from ecgreview.study import report_figures

    result, cases = analysis.primary, list(analysis.primary.cases)
    roc = report_figures.roc_figure(analysis.cohort.reference.reindex(cases),
                                    analysis.cohort.probabilities.reindex(cases), result,
                                    thresholds=analysis.cohort.thresholds)
    return [Block("heading", "Figures"),
            Block("figure", "Figure 1. The DNN's ROC curve per class on the study cases with its operating point at "
                            "the threshold the readers were shown; each reader's operating point unaided (circle) and "
                            "aided (triangle), joined by an arrow.", figure=roc),
            Block("figure", "Figure 2. Each reader's sensitivity and specificity unaided and aided (grey lines); "
                            "squares: the OR–Hillis reader average with its interval.",
                  figure=report_figures.reader_figure(result)),
            Block("figure", "Figure 3. Aided − unaided per class: OR–Hillis (primary, blue) and the percentile "
                            "bootstrap (secondary, grey); shaded rows are the plan's primary endpoints.",
                  figure=report_figures.forest_figure(result))]


def report_blocks(analysis: StudyAnalysis) -> list[Block]:
    """Every block of the report, in order (module docstring)."""
    result = analysis.primary
    status = (f"Pre-specified analysis (plan sha256 {analysis.plan.fingerprint[:16]}…)" if analysis.plan else
              "No pre-specified analysis plan: every result in this report is exploratory")
    blocks = [Block("heading", f"Added value of the DNN to ECG reading: {analysis.title}"),
              Block("text", f"{status}. Reference: {result.reference_label}; {len(result.cases)} cases, "
                            f"{len(result.readers)} readers. Generated {analysis.analysed_at_utc} by ecgreview."),
              Block("heading", "Analysis plan"), Block("items", items=tuple(plan_items(analysis))),
              Block("heading", "Deviations from the plan"),
              Block("items", items=analysis.deviations or ("None found in the review rows.",)),
              Block("heading", "Flow of cases and readers"), *_table(analysis.flow, "Cases and readings."),
              *_table(analysis.reader_flow, "Per reader.")]
    blocks += _run_blocks(analysis) + _detail_blocks(analysis) + _figure_blocks(analysis)
    notes = tuple(dict.fromkeys((*result.notes, *analysis.cohort.notes)))
    blocks += [Block("heading", "Methods"), Block("text", methods_paragraph(analysis)),
               Block("heading", "Provenance"),
               *_table(analysis.provenance.assign(readings=analysis.provenance["readings"].map(
                   lambda n: "" if pd.isna(n) else str(int(n)))), "Where every number comes from."),
               Block("heading", "Notes"), Block("items", items=notes or ("None.",))]
    return blocks


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=130)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _html_table(frame: pd.DataFrame, caption: str) -> str:
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><p class="caption">' \
           f"{html.escape(caption)}</p>"


def study_report_html(blocks: list[Block]) -> str:
    """The blocks as one self-contained HTML page (inline style and PNG figures, everything escaped)."""
    title = next((block.text for block in blocks if block.kind == "heading"), "Study report")
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
             f"<style>{_STYLE}</style></head><body>"]
    for index, block in enumerate(blocks):
        if block.kind == "heading":
            parts.append(f"<h{1 if index == 0 else 2}>{html.escape(block.text)}</h{1 if index == 0 else 2}>")
        elif block.kind == "text":
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif block.kind == "items":
            parts.append("<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in block.items) + "</ul>")
        elif block.kind == "table" and block.table is not None:
            parts.append(_html_table(block.table, block.text))
        elif block.kind == "figure" and block.figure is not None:
            parts.append(f'<figure><img alt="{html.escape(block.text)}" src="data:image/png;base64,'
                         f'{_png(block.figure)}"><figcaption class="caption">{html.escape(block.text)}'
                         "</figcaption></figure>")
    return "\n".join(parts) + "\n</body></html>\n"


def _text_table(frame: pd.DataFrame) -> list[str]:
    """A frame of text as aligned monospace lines: text columns left, number columns right, a rule under the head."""
    numeric = [bool(frame[column].str.fullmatch(r"[-+]?[0-9.]+").all()) if len(frame) else False
               for column in frame.columns]
    widths = [max([len(str(column)), *frame[column].str.len()]) for column in frame.columns]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(width) if right else cell.ljust(width)
                         for cell, width, right in zip(cells, widths, numeric)).rstrip()

    return [line([str(column) for column in frame.columns]), "  ".join("─" * width for width in widths),
            *(line(list(row)) for row in frame.itertuples(index=False))]


class _Pages:
    """Lines of text set top-down on A4 landscape pages; a figure takes a page of its own."""

    def __init__(self, pdf: PdfPages, footer: str) -> None:
        self.pdf, self.footer, self.used_pt, self.number = pdf, footer, 0.0, 0
        self.lines: list[tuple[str, float, str, str]] = []

    def room_pt(self) -> float:
        """Height left on this page, in points."""
        return _PAGE_IN[1] * 72 - 2 * _MARGIN_PT - 14 - self.used_pt

    def add(self, text: str, *, size: float = 8.0, family: str = "sans-serif", weight: str = "normal") -> bool:
        """Set one line; True when it had to start a new page."""
        height = size * 1.45
        broke = height > self.room_pt()
        if broke:
            self.flush()
        self.lines.append((text, size, family, weight))
        self.used_pt += height
        return broke

    def heading(self, text: str, *, size: float) -> None:
        if self.room_pt() < 10 * 8 * 1.45:  # a heading keeps a few lines of what follows with it
            self.flush()
        self.add("", size=6)
        self.add(text, size=size, weight="bold")

    def paragraph(self, text: str, *, size: float = 8.0, indent: str = "") -> None:
        width = int((_PAGE_IN[0] * 72 - 2 * _MARGIN_PT) / (size * 0.52))
        for line in textwrap.wrap(text, width=width, initial_indent=indent,
                                  subsequent_indent=" " * len(indent)) or [""]:
            self.add(line, size=size)

    def table(self, frame: pd.DataFrame, caption: str) -> None:
        shown, notes = frame.astype(str).copy(), []
        for column in shown.columns:
            for row, cell in shown[column].items():
                if len(cell) > _CELL_LIMIT:
                    notes.append(cell)
                    shown.at[row, column] = f"(note {len(notes)})"
        lines = _text_table(shown)
        size = min(7.5, (_PAGE_IN[0] * 72 - 2 * _MARGIN_PT) / (0.61 * max(len(line) for line in lines)))
        if self.room_pt() < min(len(lines), 5) * size * 1.45:
            self.flush()  # the head stays with the first rows
        for line in lines[:2]:
            self.add(line, size=size, family="monospace")
        for line in lines[2:]:
            if self.add(line, size=size, family="monospace"):  # a new page repeats the head
                row = self.lines.pop()
                self.used_pt = 0.0
                for repeated in (*lines[:2], row[0]):
                    self.add(repeated, size=size, family="monospace")
        for number, note in enumerate(notes, start=1):
            self.paragraph(f"note {number}: {note}", size=7.0)
        self.paragraph(caption, size=7.0)
        self.add("", size=5)

    def figure(self, figure: Figure, caption: str) -> None:
        self.flush()
        engine = figure.get_layout_engine()
        if engine is not None:
            engine.set(rect=(0, 0.08, 1, 0.92))  # type: ignore[call-arg]
        figure.text(0.01, 0.01, "\n".join(textwrap.wrap(caption, 190)), fontsize=7, va="bottom")
        self.pdf.savefig(figure)
        self.number += 1

    def flush(self) -> None:
        if not self.lines:
            return
        page = Figure(figsize=_PAGE_IN)
        top, left = 1 - _MARGIN_PT / (_PAGE_IN[1] * 72), _MARGIN_PT / (_PAGE_IN[0] * 72)
        y = top
        for text, size, family, weight in self.lines:
            page.text(left, y, text, fontsize=size, family=family, weight=weight, va="top")
            y -= size * 1.45 / (_PAGE_IN[1] * 72)
        self.number += 1
        page.text(0.5, 0.02, f"{self.footer} · page {self.number}", fontsize=6.5, ha="center", color="#666666")
        self.pdf.savefig(page)
        self.lines, self.used_pt = [], 0.0


def study_report_pdf(blocks: list[Block], stream: io.BytesIO | Path) -> None:
    """Write the blocks as a PDF to ``stream`` (text and tables on A4 landscape pages, figures on their own)."""
    title = next((block.text for block in blocks if block.kind == "heading"), "Study report")
    with PdfPages(stream, metadata={"Title": title, "Creator": "ecgreview"}) as pdf:
        pages = _Pages(pdf, title)
        for index, block in enumerate(blocks):
            following = blocks[index + 1].kind if index + 1 < len(blocks) else ""
            if block.kind == "heading" and following != "figure":  # a figure has its page and caption
                pages.heading(block.text, size=13 if index == 0 else 10.5)
            elif block.kind == "text":
                pages.paragraph(block.text)
            elif block.kind == "items":
                for item in block.items:
                    pages.paragraph(item, indent="• ")
            elif block.kind == "table" and block.table is not None:
                pages.table(block.table, block.text)
            elif block.kind == "figure" and block.figure is not None:
                pages.figure(block.figure, block.text)
        pages.flush()


def study_report_files(analysis: StudyAnalysis) -> tuple[bytes, bytes]:
    """The report as (HTML bytes, PDF bytes)."""
    blocks = report_blocks(analysis)
    buffer = io.BytesIO()
    study_report_pdf(blocks, buffer)
    return study_report_html(blocks).encode("utf-8"), buffer.getvalue()


def write_study_report(analysis: StudyAnalysis, out_dir: str | Path, *, stem: str = "study_report") -> list[Path]:
    """Write ``<stem>.html`` and ``<stem>.pdf`` in ``out_dir`` (created); returns their paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    page, document = study_report_files(analysis)
    targets = [folder / f"{stem}.html", folder / f"{stem}.pdf"]
    for target, data in zip(targets, (page, document)):
        target.write_bytes(data)
    return targets
