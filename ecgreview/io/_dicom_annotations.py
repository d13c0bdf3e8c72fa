"""DICOM element values, and the Waveform Annotation Sequence (0040,B020): statements and measurements.

Private to :mod:`ecgreview.io.dicom`: the device's free-text statements and its coded
measurements, plus the two element-value helpers (``_text``, ``_number``) that the
waveform decoding shares.
"""

from __future__ import annotations

import math

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from ecgreview.record import Measurement

#: Device measurement names (lower case, " global" removed) -> short names.
_MEASUREMENT_NAMES: dict[str, str] = {
    "rr interval": "RR", "pp interval": "PP", "pr interval": "PR",
    "qrs duration": "QRS", "qt interval": "QT", "qtc interval": "QTc",
    "p axis": "P axis", "qrs axis": "QRS axis", "t axis": "T axis",
    "ventricular heart rate": "Ventricular rate", "ventricular rate": "Ventricular rate",
    "heart rate": "Ventricular rate", "atrial heart rate": "Atrial rate", "atrial rate": "Atrial rate",
}
_MEASUREMENT_UNITS: dict[str, str] = {"{H.B.}/min": "bpm", "{beats}/min": "bpm", "/min": "bpm", "1/min": "bpm"}


def _number(value: object) -> float | None:
    """``value`` as a finite float, or None."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(dataset: Dataset, keyword: str) -> str:
    value = dataset.get(keyword)
    return "" if value is None else str(value).strip()


def _read_annotations(dataset: Dataset) -> tuple[tuple[str, ...], tuple[Measurement, ...]]:
    """Free-text statements (file order, de-duplicated) and coded measurements."""
    statements: list[str] = []
    measurements: list[Measurement] = []
    for item in dataset.get("WaveformAnnotationSequence") or []:
        text = " ".join(_text(item, "UnformattedTextValue").split()) or _coded_statement(item)
        if text:
            if text not in statements:
                statements.append(text)
            continue
        measurement = _measurement(item)
        if measurement is not None and measurement not in measurements:
            measurements.append(measurement)
    return tuple(statements), tuple(measurements)


def _coded_statement(item: Dataset) -> str:
    """A coded statement (ConceptCodeSequence) as ``"<scheme> <code> <meaning>"``, e.g.
    ``"SCT 164889003 Atrial fibrillation"``: the statement table maps scheme and code, or the meaning."""
    codes = item.get("ConceptCodeSequence") or []
    if not codes:
        return ""
    code = codes[0]
    parts = (_text(code, "CodingSchemeDesignator"), _text(code, "CodeValue"), _text(code, "CodeMeaning"))
    return " ".join(" ".join(part for part in parts if part).split())


def _measurement(item: Dataset) -> Measurement | None:
    concepts = item.get("ConceptNameCodeSequence") or []
    value = item.get("NumericValue")
    if not concepts or value in (None, ""):
        return None
    if isinstance(value, MultiValue):
        if len(value) != 1:
            return None
        value = value[0]
    number = _number(value)
    meaning = _text(concepts[0], "CodeMeaning") or _text(concepts[0], "CodeValue")
    if number is None or not meaning:
        return None
    key = " ".join(meaning.lower().split()).removesuffix(" global")
    name = _MEASUREMENT_NAMES.get(key, meaning)
    units = item.get("MeasurementUnitsCodeSequence") or []
    unit = (_text(units[0], "CodeValue") or _text(units[0], "CodeMeaning")) if units else ""
    unit = _MEASUREMENT_UNITS.get(unit, unit)
    if name.endswith(" axis"):
        unit = "deg"  # an axis is an angle; ECG Toolkit writes "ms" for it
    return Measurement(name, number, unit)
