"""Synthetic DICOM ECG waveform files, built in ``tmp_path`` (no binary fixtures are committed).

``build_ecg_dataset`` returns a pydicom ``Dataset`` that a test may alter before
``write_dataset`` saves it; ``write_ecg_dicom`` does both in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ecgreview.record import LEAD_ORDER

TWELVE_LEAD_ECG = "1.2.840.10008.5.1.4.1.1.9.1.1"
GENERAL_ECG = "1.2.840.10008.5.1.4.1.1.9.1.2"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
EIGHT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")

#: SCP-ECG lead codes (5.6.3-9-n) of the fixture channels.
_SCPECG_NUMBERS = {"I": 1, "II": 2, "V1": 3, "V2": 4, "V3": 5, "V4": 6, "V5": 7, "V6": 8,
                   "III": 61, "aVR": 62, "aVL": 63, "aVF": 64}
_UNIT_MEANINGS = {"uV": "microvolt", "mV": "millivolt", "V": "volt", "mm[Hg]": "millimeter of mercury"}

#: Identifying values that must never reach an EcgRecord.
PATIENT_NAME = "Rossi^Maria"
PATIENT_BIRTH_DATE = "19461231"
OTHER_PATIENT_ID = "HOSP-998877"
PSEUDONYM = "PSEUDO-0042"


def synthetic_raw(sample_count: int, channel_count: int, *, bits: int = 16, seed: int = 0) -> np.ndarray:
    """Deterministic (samples, channels) integer samples, ECG-like in amplitude, for ``bits`` of 16 or 8."""
    generator = np.random.default_rng(seed)
    limit = 2 ** (bits - 1) - 2
    amplitude = 600 if bits == 16 else 100  # 1.5 mV at 2.5 µV per count (16 bit)
    time_s = np.arange(sample_count) / 500.0
    phases = generator.uniform(0, 2 * np.pi, channel_count)
    waves = np.sin(2 * np.pi * 1.2 * time_s[:, None] + phases) * amplitude
    noise = generator.integers(-amplitude // 10, amplitude // 10, size=(sample_count, channel_count))
    dtype = np.int16 if bits == 16 else np.int8
    return np.clip(np.round(waves) + noise, -limit, limit).astype(dtype)


def _channel(lead: str, *, sensitivity: float, correction_factor: float, baseline: float, units: str) -> Dataset:
    source = Dataset()
    source.CodeValue = f"5.6.3-9-{_SCPECG_NUMBERS[lead]}"
    source.CodingSchemeDesignator = "SCPECG"
    source.CodeMeaning = f"Lead {lead}"
    unit = Dataset()
    unit.CodeValue = units
    unit.CodingSchemeDesignator = "UCUM"
    unit.CodeMeaning = _UNIT_MEANINGS.get(units, units)
    channel = Dataset()
    channel.ChannelSourceSequence = [source]
    channel.ChannelSensitivity = sensitivity
    channel.ChannelSensitivityUnitsSequence = [unit]
    channel.ChannelSensitivityCorrectionFactor = correction_factor
    channel.ChannelBaseline = baseline
    channel.ChannelSampleSkew = 0
    channel.WaveformBitsStored = 16
    return channel


def build_group(
    raw: np.ndarray,
    lead_names: Sequence[str],
    *,
    label: str = "RHYTHM",
    sampling_rate_hz: float = 500.0,
    sensitivity: float = 2.5,
    correction_factor: float = 1.0,
    baseline: float = 0.0,
    units: str = "uV",
    bits: int = 16,
    interpretation: str | None = None,
    padding_value: bytes | None = None,
) -> Dataset:
    """One multiplex group (Waveform Sequence item) holding ``raw`` (samples, channels)."""
    group = Dataset()
    group.MultiplexGroupTimeOffset = 0
    group.WaveformOriginality = "ORIGINAL" if label == "RHYTHM" else "DERIVED"
    group.NumberOfWaveformChannels = raw.shape[1]
    group.NumberOfWaveformSamples = raw.shape[0]
    group.SamplingFrequency = sampling_rate_hz
    group.MultiplexGroupLabel = label
    group.ChannelDefinitionSequence = [
        _channel(lead, sensitivity=sensitivity, correction_factor=correction_factor, baseline=baseline, units=units)
        for lead in lead_names
    ]
    group.WaveformBitsAllocated = bits
    group.WaveformSampleInterpretation = interpretation or ("SS" if bits == 16 else "SB")
    if padding_value is not None:
        group.WaveformPaddingValue = padding_value
    data = raw.astype("<i2" if bits == 16 else "i1").tobytes()
    group.WaveformData = data + b"\x00" * (len(data) % 2)
    return group


def _annotations(statements: Sequence[str], measurements: Sequence[tuple[str, float, str]]) -> list[Dataset]:
    items = []
    for text in statements:
        item = Dataset()
        item.UnformattedTextValue = text
        item.ReferencedWaveformChannels = [1, 0]
        items.append(item)
    for meaning, value, unit in measurements:
        concept, units, item = Dataset(), Dataset(), Dataset()
        concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = "99X", "99LOCAL", meaning
        units.CodeValue, units.CodingSchemeDesignator, units.CodeMeaning = unit, "UCUM", unit
        item.ConceptNameCodeSequence = [concept]
        item.NumericValue = value
        item.MeasurementUnitsCodeSequence = [units]
        item.ReferencedWaveformChannels = [1, 0]
        items.append(item)
    return items


def build_ecg_dataset(
    *,
    lead_names: Sequence[str] = LEAD_ORDER,
    raw: np.ndarray | None = None,
    sample_count: int = 2000,
    median: bool = True,
    sop_class_uid: str = TWELVE_LEAD_ECG,
    statements: Sequence[str] = ("SINUS RHYTHM", "NORMAL ECG", "SINUS RHYTHM"),
    measurements: Sequence[tuple[str, float, str]] = (
        ("QRS Duration", 96, "ms"), ("QTc Interval", 412, "ms"), ("Ventricular Heart Rate", 72, "{H.B.}/min"),
        ("QRS Axis", -30, "ms"), ("Frobnication Index", 3.5, "1"),
    ),
    **group_options: object,
) -> Dataset:
    """A 12-lead (or ``lead_names``) ECG dataset with a rhythm and a median group.

    ``group_options`` go to :func:`build_group` for the rhythm group (sensitivity,
    correction_factor, baseline, units, bits, interpretation, padding_value,
    sampling_rate_hz); the median group uses the same calibration.
    """
    bits = int(group_options.get("bits", 16))  # type: ignore[call-overload]
    if raw is None:
        raw = synthetic_raw(sample_count, len(lead_names), bits=bits)
    dataset = Dataset()
    dataset.SOPClassUID = sop_class_uid
    dataset.SOPInstanceUID = generate_uid()
    dataset.Modality = "ECG"
    dataset.PatientName = PATIENT_NAME
    dataset.PatientID = PSEUDONYM
    dataset.PatientBirthDate = PATIENT_BIRTH_DATE
    dataset.OtherPatientIDs = OTHER_PATIENT_ID
    dataset.AcquisitionDateTime = "20240305143015"
    dataset.ContentDate, dataset.ContentTime = "20240306", "080000"
    dataset.Manufacturer = "Synthetic Devices"
    dataset.ManufacturerModelName = "SYN-12"
    groups = [build_group(raw, lead_names, **group_options)]  # type: ignore[arg-type]
    if median:
        median_options = {key: value for key, value in group_options.items() if key != "padding_value"}
        groups.append(build_group(raw[:300], lead_names, label="MEDIAN BEAT", **median_options))  # type: ignore[arg-type]
    dataset.WaveformSequence = groups
    dataset.WaveformAnnotationSequence = _annotations(statements, measurements)
    return dataset


def write_dataset(dataset: Dataset, path: Path, *, preamble: bool = True) -> Path:
    """Save ``dataset`` as Explicit VR Little Endian; ``preamble=False`` writes a bare dataset.

    Without preamble the file has neither the 128-byte preamble and ``DICM`` nor a
    file meta group: it starts with the (0008,xxxx) elements.
    """
    if not preamble:
        dataset.save_as(path, enforce_file_format=False, implicit_vr=False, little_endian=True)
        return path
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.save_as(path, enforce_file_format=True, implicit_vr=False, little_endian=True)
    return path


def write_ecg_dicom(directory: Path, filename: str = "synthetic.dcm", *, preamble: bool = True, **options: object) -> Path:
    """Build a dataset with ``options`` (see :func:`build_ecg_dataset`) and save it in ``directory``."""
    return write_dataset(build_ecg_dataset(**options), directory / filename, preamble=preamble)  # type: ignore[arg-type]
