"""One DICOM waveform channel: which standard lead it is, and how its samples become millivolts
(PS3.3 C.10.9.1.4; used by :mod:`ecgreview.io.dicom`)."""

from __future__ import annotations

from pydicom.dataset import Dataset

from ecgreview.errors import EcgReadError
from ecgreview.io._dicom_annotations import _number, _text
from ecgreview.io.leads import millivolts_per_unit, normalize_lead_name

__all__ = ["channel_calibration", "channel_lead"]

_CALIBRATION_ELEMENTS = {
    "ChannelSensitivity": "Channel Sensitivity (003A,0210)",
    "ChannelSensitivityCorrectionFactor": "Channel Sensitivity Correction Factor (003A,0212)",
    "ChannelBaseline": "Channel Baseline (003A,0213)",
}


def channel_calibration(channel: Dataset, where: str, source: str | None) -> tuple[str | None, float, float]:
    """Lead name, gain (mV per sample unit) and offset (mV) of one channel.

    Per PS3.3 C.10.9.1.4.2, sample × Channel Sensitivity is the nominal value in
    Channel Sensitivity Units and × Channel Sensitivity Correction Factor the
    calibrated value. Table C.10-9 defines Channel Baseline (003A,0213) as the
    "offset of encoded sample value 0 from actual 0 using the units defined in
    the Channel Sensitivity Units Sequence": it is in µV/mV, not in sample units,
    so it is added after scaling (the fix of pydicom issue #1667):
    value = (sample × sensitivity × correction + baseline) × (mV per unit).
    A channel that is not a standard lead (a pressure, say) is not calibrated:
    ``(None, nan, 0.0)``, and it is dropped.
    """
    lead = channel_lead(channel)
    if lead is None:
        return None, float("nan"), 0.0
    if channel.get("ChannelSensitivity") in (None, ""):
        raise EcgReadError(
            source, f"{where}: no Channel Sensitivity (003A,0210); samples in arbitrary units cannot be converted to mV"
        )
    sensitivity = _calibration_value(channel, "ChannelSensitivity", 1.0, where, source, nonzero=True)
    correction = _calibration_value(channel, "ChannelSensitivityCorrectionFactor", 1.0, where, source, nonzero=True)
    baseline = _calibration_value(channel, "ChannelBaseline", 0.0, where, source, nonzero=False)
    mv_per_unit = _mv_per_unit(channel, where, source)
    return lead, sensitivity * correction * mv_per_unit, baseline * mv_per_unit


def _calibration_value(
    channel: Dataset, keyword: str, default: float, where: str, source: str | None, *, nonzero: bool
) -> float:
    """A finite (and, if ``nonzero``, non-zero) calibration number, or ``default`` when absent."""
    value = channel.get(keyword)
    if value in (None, ""):
        return default
    number = _number(value)
    if number is None or (nonzero and number == 0):
        requirement = "a finite non-zero number" if nonzero else "a finite number"
        raise EcgReadError(source, f"{where}: {_CALIBRATION_ELEMENTS[keyword]} is {value!r}; it must be {requirement}")
    return number


def channel_lead(channel: Dataset) -> str | None:
    codes = channel.get("ChannelSourceSequence") or []
    code = codes[0] if codes else Dataset()
    for text in (code.get("CodeMeaning"), code.get("CodeValue"), channel.get("ChannelLabel")):
        lead = normalize_lead_name(text)
        if lead is not None:
            return lead
    return None


def _mv_per_unit(channel: Dataset, where: str, source: str | None) -> float:
    units = channel.get("ChannelSensitivityUnitsSequence") or []
    if not units:
        raise EcgReadError(source, f"{where}: no Channel Sensitivity Units Sequence (003A,0211)")
    code, meaning = _text(units[0], "CodeValue"), _text(units[0], "CodeMeaning")
    for key in (code, meaning):  # the UCUM code, else the code meaning
        factor = millivolts_per_unit(key)
        if factor is not None:
            return factor
    unit = code or meaning
    raise EcgReadError(source, f"{where}: unsupported Channel Sensitivity units '{unit}' (expected uV, mV or V)")
