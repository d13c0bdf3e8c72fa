"""Age and sex as files write them, read into :attr:`EcgRecord.age_years` and :attr:`EcgRecord.sex`.

Only age (whole years) and sex are read: at that granularity they do not identify a
patient. A birth date is never read, and neither is any name. Values a reader cannot
understand read as unknown (None, ``""``), never as an error: they are shown, not computed on.
"""

from __future__ import annotations

import math
import re

from ecgreview.record import SEXES

__all__ = ["age_from_dicom", "age_from_text", "sex_from_text"]

#: DICOM Age String (AS): three digits and a unit, ``042Y``, ``006M``, ``003W``, ``010D``.
_DICOM_AGE = re.compile(r"^(\d{3})([DWMY])$")
_DAYS_PER_UNIT = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}
_SEX_WORDS = {"f": "female", "female": "female", "w": "female", "woman": "female",
              "m": "male", "male": "male", "man": "male", "o": "other", "other": "other"}
#: Older than anyone has lived: a placeholder, not an age.
_MAX_AGE_YEARS = 130


def age_from_text(text: str | None) -> int | None:
    """Whole years from a number (``"81"``, ``"63.0"``, ``"81 years"``); None for ``NaN``, blank or nonsense.

    Examples
    --------
    >>> age_from_text("81"), age_from_text("NaN"), age_from_text("Unknown")
    (81, None, None)
    """
    match = re.match(r"^\s*(\d+(?:\.\d*)?)\s*(?:y|yr|yrs|years?)?\s*$", text or "", flags=re.IGNORECASE)
    if match is None:
        return None
    value = float(match.group(1))
    return int(value) if math.isfinite(value) and value <= _MAX_AGE_YEARS else None


def age_from_dicom(text: str | None) -> int | None:
    """Whole years from a DICOM Age String (``042Y``; ``006M`` is 0); None when absent or malformed.

    Examples
    --------
    >>> age_from_dicom("042Y"), age_from_dicom("018M"), age_from_dicom("")
    (42, 1, None)
    """
    match = _DICOM_AGE.match((text or "").strip().upper())
    if match is None:
        return None
    years = int(match.group(1)) * _DAYS_PER_UNIT[match.group(2)] / _DAYS_PER_UNIT["Y"]
    return int(years) if years <= _MAX_AGE_YEARS else None


def sex_from_text(text: str | None) -> str:
    """One of :data:`~ecgreview.record.SEXES` from ``F``/``M``/``O`` or the words; ``""`` when unknown.

    Examples
    --------
    >>> sex_from_text("Female"), sex_from_text("M"), sex_from_text("Unknown")
    ('female', 'male', '')
    """
    sex = _SEX_WORDS.get((text or "").strip().lower(), "")
    return sex if sex in SEXES else ""
