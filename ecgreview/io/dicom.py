"""Read DICOM 12-lead and General ECG waveforms into an :class:`EcgRecord`.

Supported: 12-lead ECG Waveform Storage (1.2.840.10008.5.1.4.1.1.9.1.1),
General ECG Waveform Storage (1.2.840.10008.5.1.4.1.1.9.1.2), and Hemodynamic
Waveform Storage (1.2.840.10008.5.1.4.1.1.9.2.1) when its Modality is ``ECG`` and
it carries the ECG leads (some devices, e.g. GE MAC, store resting 12-leads so;
the record's ``source_format`` then says so). 16-bit ``SS`` or 8-bit ``SB``
samples, in any uncompressed transfer syntax pydicom reads. Channels that are
not standard leads (pressures, respiration) are ignored.

Only PatientID (the pseudonym), PatientAge (whole years) and PatientSex are taken
from the patient module: names, birth dates and other IDs are never copied onto the record.
"""

from __future__ import annotations

import hashlib
import io
import os
from datetime import datetime

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID
from pydicom.valuerep import DA, DT, TM

from ecgreview.errors import EcgReadError
from ecgreview.io._demographics import age_from_dicom, sex_from_text
from ecgreview.io._dicom_annotations import _number, _read_annotations, _text
from ecgreview.io._dicom_channels import channel_calibration, channel_lead
from ecgreview.io._limits import check_signal_shape
from ecgreview.io._source import _load_source
from ecgreview.io.leads import standard_leads
from ecgreview.record import EcgRecord, Waveform

# pydicom's reading-validation warnings quote element values verbatim (a malformed
# PatientName or UID would land in the server log). The reader validates what it uses and
# reports problems without values, so value validation on reading is switched off, once,
# process-wide (it is a global pydicom setting; writing validation is left as it is).
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

__all__ = ["read_dicom_ecg"]

SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG Waveform Storage",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG Waveform Storage",
}
#: Hemodynamic Waveform Storage: read only with Modality ECG (it usually holds pressures).
HEMODYNAMIC_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.9.2.1"

#: Waveform Sample Interpretation -> (Waveform Bits Allocated, numpy type code).
_SAMPLE_TYPES: dict[str, tuple[int, str]] = {"SS": (16, "i2"), "SB": (8, "i1")}

_GROUP_ELEMENTS = {
    "NumberOfWaveformChannels": "Number of Waveform Channels (003A,0005)",
    "NumberOfWaveformSamples": "Number of Waveform Samples (003A,0010)",
    "SamplingFrequency": "Sampling Frequency (003A,001A)",
    "WaveformBitsAllocated": "Waveform Bits Allocated (5400,1004)",
    "WaveformSampleInterpretation": "Waveform Sample Interpretation (5400,1006)",
    "WaveformData": "Waveform Data (5400,1010)",
    "ChannelDefinitionSequence": "Channel Definition Sequence (003A,0200)",
}


def read_dicom_ecg(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> EcgRecord:
    """Read a DICOM ECG waveform file.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A file path, or the file's bytes (e.g. a Streamlit upload).
    name : str, optional
        File name for the record and for error messages; defaults to the
        basename of the path. Directories are always stripped.

    Returns
    -------
    EcgRecord
        ``signal_mv`` (samples, 12) float32 in mV in ``LEAD_ORDER``, the sampling
        rate in Hz, the device's statements and measurements, and its median
        beats when the file has them.

    Raises
    ------
    EcgReadError
        If the file is not DICOM, not an ECG waveform, truncated or malformed;
        the message names the file, the element and the reason.
    """
    data, source_name = _load_source(path_or_bytes, name)
    source = source_name or None
    try:
        dataset = _parse_dataset(data, source)
        return _build_record(dataset, data, source_name)
    except EcgReadError:
        raise
    except Exception as exc:  # the API boundary: no pydicom/numpy error escapes unexplained
        raise EcgReadError(source, f"malformed DICOM ECG ({type(exc).__name__}: {exc})") from exc


def _parse_dataset(data: bytes, source: str | None) -> Dataset:
    has_preamble = data[128:132] == b"DICM"
    not_dicom = "not a DICOM file (no 'DICM' marker at byte 128 and no DICOM data elements found)"
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=not has_preamble)
    except Exception as exc:
        reason = f"truncated or corrupt DICOM file ({exc})" if has_preamble else not_dicom
        raise EcgReadError(source, reason) from exc
    if not has_preamble and "SOPClassUID" not in dataset:
        raise EcgReadError(source, not_dicom)
    return dataset


def _build_record(dataset: Dataset, data: bytes, source_name: str) -> EcgRecord:
    source = source_name or None
    source_format = _check_sop_class(dataset, source)
    groups = _waveform_groups(dataset, source)
    rhythm_index = _rhythm_group_index(groups, source)
    little_endian = dataset.original_encoding[1] is not False
    rhythm, derived = _read_leads(groups, rhythm_index, little_endian, source)
    median_index = next(
        (index for index, group in enumerate(groups) if index != rhythm_index and "MEDIAN" in _group_label(group)),
        None,
    )
    median = None if median_index is None else _read_leads(groups, median_index, little_endian, source)[0]
    statements, measurements = _read_annotations(dataset)
    return EcgRecord(
        signal_mv=rhythm.signal_mv,
        sampling_rate_hz=rhythm.sampling_rate_hz,
        lead_names=rhythm.lead_names,
        source_name=source_name,
        source_sha256=hashlib.sha256(data).hexdigest(),
        pseudonym=_text(dataset, "PatientID"),
        acquisition_time=_acquisition_time(dataset),
        manufacturer=_text(dataset, "Manufacturer"),
        device_model=_text(dataset, "ManufacturerModelName"),
        statements=statements,
        measurements=measurements,
        derived_leads=derived,
        median_beats=median,
        source_format=source_format,
        age_years=age_from_dicom(_text(dataset, "PatientAge")),
        sex=sex_from_text(_text(dataset, "PatientSex")),
    )


def _check_sop_class(dataset: Dataset, source: str | None) -> str:
    """The format to show (``"DICOM <SOP class title>"``); EcgReadError for a class we do not read."""
    uid = _text(dataset, "SOPClassUID")
    if uid in SOP_CLASSES:
        return f"DICOM {SOP_CLASSES[uid]}"
    if uid == HEMODYNAMIC_SOP_CLASS:
        modality = _text(dataset, "Modality")
        if modality.upper() == "ECG":
            return "DICOM Hemodynamic Waveform Storage (Modality ECG)"
        raise EcgReadError(
            source,
            f"Hemodynamic Waveform Storage ({uid}) with Modality (0008,0060) {modality or 'absent'}: "
            "pressure waveforms, not an ECG; only Modality ECG is read",
        )
    described = uid or "absent"
    if uid and UID(uid).name != uid:
        described += f" ({UID(uid).name})"
    raise EcgReadError(
        source,
        f"not an ECG waveform: SOP Class UID (0008,0016) is {described}; expected "
        + " or ".join(f"{title} ({sop})" for sop, title in SOP_CLASSES.items()),
    )


def _waveform_groups(dataset: Dataset, source: str | None) -> list[Dataset]:
    if "WaveformSequence" not in dataset:
        raise EcgReadError(source, "no Waveform Sequence (5400,0100)")
    groups = list(dataset.WaveformSequence or [])
    if not groups:
        raise EcgReadError(source, "Waveform Sequence (5400,0100) is empty")
    return groups


def _group_label(group: Dataset) -> str:
    return _text(group, "MultiplexGroupLabel").upper()


def _rhythm_group_index(groups: list[Dataset], source: str | None) -> int:
    """The group labelled RHYTHM, else the longest group that is not median beats."""
    labels = [_group_label(group) for group in groups]
    if "RHYTHM" in labels:
        return labels.index("RHYTHM")
    candidates = [index for index, text in enumerate(labels) if "MEDIAN" not in text]
    if not candidates:
        raise EcgReadError(source, "Waveform Sequence (5400,0100) has median beats but no rhythm multiplex group")
    with_leads = [index for index in candidates if _lead_channel_count(groups[index]) >= 2]
    return max(with_leads or candidates, key=lambda index: _duration_s(groups[index]))


def _lead_channel_count(group: Dataset) -> int:
    """How many channels of ``group`` are standard ECG leads (a hemodynamic group may hold none)."""
    return sum(channel_lead(channel) is not None for channel in group.get("ChannelDefinitionSequence") or [])


def _duration_s(group: Dataset) -> float:
    """Samples / sampling frequency in s; 0 when either is unreadable (decoding then reports it)."""
    sample_count = _number(group.get("NumberOfWaveformSamples")) or 0.0
    sampling_rate_hz = _number(group.get("SamplingFrequency")) or 0.0
    return sample_count / sampling_rate_hz if sampling_rate_hz > 0 else 0.0


def _read_leads(
    groups: list[Dataset], index: int, little_endian: bool, source: str | None
) -> tuple[Waveform, frozenset[str]]:
    """Group ``index`` as 12 leads in ``LEAD_ORDER`` (float32 mV), and the names of the derived leads."""
    group = _decode_group(groups[index], index, little_endian, source)
    # NaN marks declared padding (_raw_samples); overflow was refused in _decode_group.
    signal_mv, lead_names, derived = standard_leads(group.signal_mv, group.lead_names, source=source,
                                                    missing_allowed=True)
    return Waveform(signal_mv, group.sampling_rate_hz, lead_names), derived


def _decode_group(group: Dataset, index: int, little_endian: bool, source: str | None) -> Waveform:
    """One multiplex group in mV (float64, NaN where padded), keeping the channels that are standard leads."""
    where = f"multiplex group {index + 1}"
    if "MultiplexGroupLabel" in group:
        where += f" ({_text(group, 'MultiplexGroupLabel')})"
    channels, sample_count, sampling_rate_hz = _group_layout(group, where, source)
    dtype = _sample_dtype(group, little_endian, where, source)
    raw = _raw_samples(group, dtype, sample_count, len(channels), where, source)
    calibrations = [
        channel_calibration(channel, f"{where}, channel {number}", source)
        for number, channel in enumerate(channels, 1)
    ]
    gains_mv = np.array([gain for _, gain, _ in calibrations])
    offsets_mv = np.array([offset for _, _, offset in calibrations])
    with np.errstate(over="ignore", invalid="ignore"):
        signal_mv = raw * gains_mv + offsets_mv
    # Padding is NaN; anything else must fit the float32 record (huge calibrations overflow).
    overflowing = np.flatnonzero(np.any(np.abs(signal_mv) > np.finfo(np.float32).max, axis=0))
    if overflowing.size:
        raise EcgReadError(source, f"{where}, channel {overflowing[0] + 1}: calibration gives samples beyond "
                                   "any ECG range (check ChannelSensitivity, correction factor and baseline)")
    named = [(column, lead) for column, (lead, _, _) in enumerate(calibrations) if lead is not None]
    keep = [column for column, _ in named]
    return Waveform(signal_mv[:, keep], sampling_rate_hz, tuple(lead for _, lead in named))


def _group_layout(group: Dataset, where: str, source: str | None) -> tuple[list[Dataset], int, float]:
    """The channel definitions, the samples per channel and the sampling rate (Hz), validated."""
    for keyword, element in _GROUP_ELEMENTS.items():
        if group.get(keyword) is None:
            raise EcgReadError(source, f"{where}: no {element}")
    channel_count = int(group.NumberOfWaveformChannels)
    sample_count = int(group.NumberOfWaveformSamples)
    if channel_count < 1 or sample_count < 1:
        raise EcgReadError(source, f"{where}: {channel_count} channels × {sample_count} samples is empty")
    sampling_rate_hz = _number(group.SamplingFrequency)
    if sampling_rate_hz is None or sampling_rate_hz <= 0:
        frequency = group.SamplingFrequency
        raise EcgReadError(source, f"{where}: Sampling Frequency (003A,001A) is {frequency!r}, not a positive number")
    channels = list(group.ChannelDefinitionSequence)
    if not channels:
        raise EcgReadError(source, f"{where}: Channel Definition Sequence (003A,0200) is empty")
    if len(channels) != channel_count:
        raise EcgReadError(
            source,
            f"{where}: channel count mismatch: Number of Waveform Channels (003A,0005) is {channel_count} "
            f"but Channel Definition Sequence (003A,0200) has {len(channels)} items",
        )
    return channels, sample_count, sampling_rate_hz


def _sample_dtype(group: Dataset, little_endian: bool, where: str, source: str | None) -> np.dtype:
    interpretation = _text(group, "WaveformSampleInterpretation")
    bits_allocated = int(group.WaveformBitsAllocated)
    if interpretation not in _SAMPLE_TYPES:
        raise EcgReadError(
            source, f"{where}: unsupported WaveformSampleInterpretation '{interpretation}' (supported: SS, SB)"
        )
    expected_bits, type_code = _SAMPLE_TYPES[interpretation]
    if bits_allocated != expected_bits:
        raise EcgReadError(
            source,
            f"{where}: unsupported WaveformBitsAllocated {bits_allocated} for WaveformSampleInterpretation "
            f"'{interpretation}' (supported: 16 with SS, 8 with SB)",
        )
    return np.dtype(("<" if little_endian else ">") + type_code)


def _raw_samples(
    group: Dataset, dtype: np.dtype, sample_count: int, channel_count: int, where: str, source: str | None
) -> np.ndarray:
    """(samples, channels) float64 sample values; NaN where the device declared padding.

    Padding policy: Waveform Padding Value (5400,100A) marks samples inserted
    "when input is absent or invalid" (PS3.3 Table C.10-9). It is honoured only
    when it is the minimum or maximum of the sample type (e.g. -32768), which no
    on-scale ECG sample takes. A mid-range value such as ECG Toolkit's 0 would
    wipe out every genuine baseline crossing, so it is ignored. Undeclared
    extreme values (ECG Toolkit's unflagged -32768 in its median beats) are not
    padding by the standard and are kept as samples.
    """
    data = bytes(group.WaveformData)
    expected = sample_count * channel_count * dtype.itemsize
    if len(data) < expected:
        raise EcgReadError(
            source,
            f"{where}: Waveform Data (5400,1010) has {len(data)} bytes, expected {expected} "
            f"({channel_count} channels × {sample_count} samples × {dtype.itemsize} bytes); "
            "the file may be truncated",
        )
    check_signal_shape(source, sample_count, channel_count, _number(group.get("SamplingFrequency")), where=where)
    samples = np.frombuffer(data, dtype=dtype, count=sample_count * channel_count).reshape(sample_count, channel_count)
    values = samples.astype(np.float64)
    padding = _padding_value(group, dtype)
    if padding is not None:
        values[samples == padding] = np.nan
    return values


def _padding_value(group: Dataset, dtype: np.dtype) -> int | None:
    declared = group.get("WaveformPaddingValue")
    if declared is None:
        return None
    if isinstance(declared, (bytes, bytearray)):
        declared = np.frombuffer(bytes(declared), dtype=dtype, count=1)[0] if len(declared) >= dtype.itemsize else None
    value = None if declared is None else int(declared)
    limits = np.iinfo(dtype)
    return value if value in (limits.min, limits.max) else None


def _acquisition_time(dataset: Dataset) -> datetime | None:
    """AcquisitionDateTime, else ContentDate + ContentTime; None if absent or invalid."""
    try:
        if _text(dataset, "AcquisitionDateTime"):
            return datetime.fromisoformat(DT(_text(dataset, "AcquisitionDateTime")).isoformat())
        if _text(dataset, "ContentDate"):
            day = DA(_text(dataset, "ContentDate"))
            time = TM(_text(dataset, "ContentTime") or "000000")
            return datetime.combine(day, time)
    except (TypeError, ValueError):
        return None
    return None
