"""Printed output of a reading: the one-page PDF report with the ECG at true scale."""

from ecgreview.report.reading_report import PAGE_SIZES_MM, reading_report_pdf, report_reading, write_reading_report

__all__ = ["PAGE_SIZES_MM", "reading_report_pdf", "report_reading", "write_reading_report"]
