"""The printable report of a reading: page sizes, the grid at 1 mm (measured in the PDF and in a
rendering), what is printed (and what never is), and which reading is printed."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from ecgreview.examples import DEMO_CASES_DIR, demo_ecg_path
from ecgreview.io import read_ecg
from ecgreview.record import CLASSES
from ecgreview.report import PAGE_SIZES_MM, reading_report_pdf, report_reading, write_reading_report
from ecgreview.report.reading_report import _opinion_rows, _recording_lines
from ecgreview.review.case import CaseAnalysis, analyse_case
from ecgreview.review.store import Review, append_review, read_reviews

POINTS_PER_MM = 72 / 25.4
#: The model fingerprint stored with the reading (as the app stores a weights file's hashes).
MODEL_SHA256, MODEL_BLOB = "ab" * 32, "cd" * 20


@pytest.fixture(scope="module")
def analysis() -> CaseAnalysis:
    return analyse_case(read_ecg(demo_ecg_path()))


def _reading(analysis: CaseAnalysis, reader: str = "Dr Print", *, role: str = "reader", minutes: int = 0,
             **options: object) -> Review:
    calls = {name: "absent" for name in CLASSES} | {"AF": "present", "SB": "uncertain"}
    return Review.create(
        reader=reader, reader_calls=calls, source_sha256=analysis.record.source_sha256, opinions_seen=True,
        case_pseudonym=analysis.record.pseudonym, probabilities=[0.01, 0.02, 0.03, 0.5, 0.9, 0.05],
        model_name="model.hdf5", model_sha256=MODEL_SHA256, model_git_blob_sha1=MODEL_BLOB, model_status="verified",
        role=role, comment="Atrial fibrillation, rate controlled.",
        saved_at_utc=datetime(2026, 5, 4, 9, 30, tzinfo=timezone.utc) + timedelta(minutes=minutes), **options)


def _streams(pdf: bytes) -> str:
    """The page's drawing commands (the PDF's Flate streams, decompressed).

    Each stream is taken up to ``endstream`` with the end of line before it, and the decompressor stops at the end
    of the compressed data: stripping a ``\r`` before that end of line cut the data whenever its last byte was 0x0D
    (3 % of the print times in the footer: the grid test failed in a CI run).
    """
    texts = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            texts.append(zlib.decompressobj().decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    return "\n".join(texts)


def _segments(commands: str) -> list[tuple[float, float, float, float]]:
    """Every straight two-point path ``x0 y0 m x1 y1 l`` (points, from the page's lower-left corner)."""
    number = r"(-?\d+(?:\.\d+)?)"
    pattern = re.compile(rf"{number} {number} m\s+{number} {number} l\s+S")
    return [tuple(map(float, match.groups())) for match in pattern.finditer(commands)]  # type: ignore[misc]


@pytest.mark.parametrize("page_size", ["A4", "Letter"])
def test_the_page_is_landscape_a4_or_letter(analysis, page_size):
    pdf = reading_report_pdf(analysis, _reading(analysis), page_size=page_size)
    width_mm, height_mm = PAGE_SIZES_MM[page_size]
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", pdf)
    assert box is not None
    assert float(box.group(1)) == pytest.approx(width_mm * POINTS_PER_MM, abs=0.01)
    assert float(box.group(2)) == pytest.approx(height_mm * POINTS_PER_MM, abs=0.01)
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type /Page>") >= 1
    assert PAGE_SIZES_MM == {"A4": (297.0, 210.0), "Letter": (279.4, 215.9)}


@pytest.mark.parametrize("page_size", ["A4", "Letter"])
def test_the_grid_is_drawn_at_one_millimetre_and_the_pulse_at_ten_by_five(analysis, page_size):
    printed = datetime(2026, 12, 4, 10, 21, tzinfo=timezone.utc)  # A4: its page stream's last byte is 0x0D (_streams)
    commands = _streams(reading_report_pdf(analysis, _reading(analysis), page_size=page_size, generated_at=printed))
    segments = _segments(commands)
    vertical = [(x0, abs(y1 - y0)) for x0, y0, x1, y1 in segments if x0 == x1]
    grid_height = max(length for _, length in vertical)
    positions = np.unique([round(x, 3) for x, length in vertical if length == grid_height])
    spacing_mm = np.diff(positions) / POINTS_PER_MM
    assert len(positions) > 250  # 1 mm lines across 258 mm of paper
    assert np.median(spacing_mm) == pytest.approx(1.0, rel=0.01)
    assert (positions[-1] - positions[0]) / POINTS_PER_MM / (len(positions) - 1) == pytest.approx(1.0, rel=0.01)
    assert grid_height / POINTS_PER_MM == pytest.approx(4 * 35.0, rel=0.01)  # four rows, 35 mm apart
    # The calibration pulse: a path 0,b → 1,b → 1,b+10 → 6,b+10 → 6,b → 7,b (mm): 10 mm tall, 5 mm wide.
    number = r"(-?\d+(?:\.\d+)?)"
    pulse = re.compile(rf"{number} {number} m\s+" + r"\s+".join([rf"{number} {number} l"] * 5) + r"\s+S")
    shapes = [np.array(list(map(float, match.groups()))).reshape(6, 2) / POINTS_PER_MM
              for match in pulse.finditer(commands)]
    pulses = [shape for shape in shapes if np.ptp(shape[:, 0]) == pytest.approx(7.0, abs=0.1)]
    assert len(pulses) == 4  # one per row
    for shape in pulses:
        assert np.ptp(shape[:, 1]) == pytest.approx(10.0, rel=0.01)  # 1 mV at 10 mm/mV
        assert shape[3, 0] - shape[2, 0] == pytest.approx(5.0, rel=0.01)  # 200 ms at 25 mm/s


def _grid_lines_px(values: np.ndarray, minimum_run: float) -> np.ndarray:
    """Centres (px) of the runs of columns (or rows) of ``values`` that are mostly the grid's 5 mm red."""
    columns = np.flatnonzero(values.mean(axis=0) > minimum_run)
    runs = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
    return np.array([run.mean() for run in runs if run.size])


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_rendered_with_pdftoppm_the_grid_measures_one_millimetre(analysis, tmp_path):
    pdf = write_reading_report(tmp_path / "report.pdf", analysis, _reading(analysis))
    dots_per_inch = 254  # 10 px per mm
    subprocess.run(["pdftoppm", "-r", str(dots_per_inch), "-singlefile", str(pdf), str(tmp_path / "page")], check=True)
    raw = (tmp_path / "page.ppm").read_bytes()
    width, height = map(int, raw.split(b"\n")[1].split())
    image = np.frombuffer(raw, dtype=np.uint8, offset=len(raw) - width * height * 3).reshape(height, width, 3)
    red, green, blue = (image[..., channel].astype(int) for channel in range(3))
    major = (red > 200) & (green < 160) & (blue < 160)  # the 5 mm lines' red
    assert width == pytest.approx(297 / 25.4 * dots_per_inch, abs=1)  # pdftoppm rounds the page up to whole pixels
    assert height == pytest.approx(210 / 25.4 * dots_per_inch, abs=1)
    vertical = _grid_lines_px(major, 0.5)
    horizontal = _grid_lines_px(major.T, 0.5)
    pixels_per_mm = dots_per_inch / 25.4
    for lines in (vertical, horizontal):
        assert len(lines) >= 25
        spacing_mm = (lines[-1] - lines[0]) / (len(lines) - 1) / pixels_per_mm
        assert spacing_mm == pytest.approx(5.0, rel=0.01)
    assert (vertical[-1] - vertical[0]) / pixels_per_mm == pytest.approx(255.0, rel=0.01)  # 51 lines, 5 mm apart


def test_what_is_printed(analysis):
    reading = _reading(analysis)
    rows, model = _opinion_rows(analysis, reading)
    by_class = {row[0]: row for row in rows}
    assert [row[0] for row in rows] == list(CLASSES)
    assert by_class["AF"][1:4] == ["0.900", "0.39", "present"] and by_class["AF"][5:] == ["present", "\u2713 agree"]
    assert by_class["SB"][3] == "present" and by_class["SB"][6] == "\u2014"  # uncertain: no agreement either way
    assert by_class["RBBB"][6] == "\u2713 agree"
    assert by_class["ST"][1:4] == ["0.050", "0.174", "absent"]
    assert MODEL_SHA256[:16] in model and MODEL_BLOB[:12] in model and "verified" in model
    lines = _recording_lines(analysis, reading, 80.0)
    assert any("Dr Print (reader, adjudication) · 2026-05-04 09:30 UTC" in line for line in lines)
    assert any("Atrial fibrillation, rate controlled." in line for line in lines)
    disagreeing = Review.create(
        reader="Dr No", reader_calls={name: "present" for name in CLASSES}, source_sha256=analysis.record.source_sha256,
        opinions_seen=True, probabilities=[0.01] * len(CLASSES))
    assert {row[6] for row in _opinion_rows(analysis, disagreeing)[0]} == {"\u2717 disagree"}
    unread_rows, unread_model = _opinion_rows(analysis, None)
    assert {row[5] for row in unread_rows} == {"not read"} and "no DNN weights installed" in unread_model


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_page_shows_pseudonym_age_sex_device_and_reading_never_a_name_or_birth_date(analysis, tmp_path):
    import pydicom

    pdf = write_reading_report(tmp_path / "report.pdf", analysis, _reading(analysis), page_size="Letter")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    for shown in ("642341", "42 y, female", "RITMO SINUSALE", "QRS 75 ms", "Dr Print", "rate controlled",
                  "0.900", "agree", MODEL_SHA256[:16], "25 mm/s", "10 mm/mV"):
        assert shown in text, shown
    dataset = pydicom.dcmread(demo_ecg_path())
    for identifying in (str(dataset.PatientBirthDate), *str(dataset.PatientName).replace("^", " ").split()):
        assert identifying not in text


def test_which_reading_is_printed(analysis, tmp_path):
    store = tmp_path / "reviews.csv"
    sha = analysis.record.source_sha256
    assert report_reading(read_reviews(store), sha) is None
    append_review(store, _reading(analysis, "Dr A", minutes=0))
    append_review(store, _reading(analysis, "Dr B", minutes=1))
    append_review(store, _reading(analysis, "Student S", role="student", minutes=2, reading_mode="teaching",
                                  session_id="t-1"))
    assert report_reading(read_reviews(store), sha).reader == "Dr B"  # the latest clinical reading, not the student's
    assert report_reading(read_reviews(store), sha, reader="Dr A").reader == "Dr A"
    assert report_reading(read_reviews(store), sha, reader="Student S") is None
    append_review(store, _reading(analysis, "Dr Adjudicator", role="adjudicator", minutes=3))
    append_review(store, _reading(analysis, "Dr C", minutes=4))
    assert report_reading(read_reviews(store), sha).reader == "Dr Adjudicator"
    assert report_reading(read_reviews(store), "ef" * 32) is None


def test_bad_page_size_and_a_reading_of_another_ecg_are_refused(analysis):
    with pytest.raises(ValueError, match="page_size must be one of A4, Letter"):
        reading_report_pdf(analysis, page_size="A3")
    other = analyse_case(read_ecg(next(Path(DEMO_CASES_DIR).glob("*.hea"))))
    with pytest.raises(ValueError, match="reading is of ECG"):
        reading_report_pdf(other, _reading(analysis))
