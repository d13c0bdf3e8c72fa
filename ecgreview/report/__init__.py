"""Printed output of a reading: the one-page PDF report with the ECG at true scale."""

from ecgreview.report.reading_report import (
    AGREEMENT_MARKS,
    PAGE_SIZES_MM,
    reading_report_pdf,
    report_reading,
    write_reading_report,
)

__all__ = ["AGREEMENT_MARKS", "PAGE_SIZES_MM", "reading_report_pdf", "report_reading", "write_reading_report"]
