"""Tests of the DICOM ECG reader (ecgreview.io.dicom) and the dispatcher read_ecg."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import examples
from pydicom.waveforms.numpy_handler import multiplex_array

from ecgreview.errors import EcgReadError
from ecgreview.io import list_case_files, read_dicom_ecg, read_ecg
from ecgreview.record import LEAD_ORDER, EcgRecord, Measurement
from tests.io.dicom_fixtures import (
    CT_IMAGE,
    EIGHT_LEADS,
    GENERAL_ECG,
    OTHER_PATIENT_ID,
    PATIENT_BIRTH_DATE,
    PATIENT_NAME,
    PSEUDONYM,
    build_ecg_dataset,
    write_dataset,
    write_ecg_dicom,
)

CORPUS_FILES = (
    "pydicom_waveform_ecg.dcm",
    "ecg2dcm_guangxi_teaching_sinus_rhythm.dcm",
    "ecgtoolkit_Example.dcm",
)


def _constant_raw(values: list[int], sample_count: int = 400) -> np.ndarray:
    """(samples, channels) raw samples, channel ``k`` constant at ``values[k]``."""
    return np.tile(np.array(values, dtype=np.int16), (sample_count, 1))


# --- Real files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_record() -> EcgRecord:
    return read_ecg(examples.get_path("waveform"))


def test_pydicom_demo_reads_as_mortara_12_lead(demo_record: EcgRecord) -> None:
    assert demo_record.signal_mv.shape == (10000, 12)
    assert demo_record.signal_mv.dtype == np.float32
    assert demo_record.sampling_rate_hz == 1000.0
    assert demo_record.duration_s == pytest.approx(10.0)
    assert demo_record.lead_names == LEAD_ORDER
    assert demo_record.derived_leads == frozenset()
    assert demo_record.source_name == "waveform_ecg.dcm"
    assert demo_record.manufacturer == "Mortara Instrument, Inc."
    assert demo_record.device_model == "el250"
    assert demo_record.pseudonym == "642341"
    assert demo_record.acquisition_time == datetime(2013, 1, 25, 10, 59, 19)


def test_pydicom_demo_amplitudes_are_plausible_millivolts(demo_record: EcgRecord) -> None:
    assert np.all(np.isfinite(demo_record.signal_mv))
    assert np.abs(demo_record.signal_mv).max() < 10.0
    assert 0.5 < np.ptp(demo_record.lead("II")) < 5.0  # a QRS complex, in mV


def test_pydicom_demo_matches_pydicom_scaling_with_zero_baseline(demo_record: EcgRecord) -> None:
    dataset = pydicom.dcmread(examples.get_path("waveform"))
    reference_mv = multiplex_array(dataset, 0, as_raw=False) / 1000.0  # µV -> mV; baselines are 0 here
    np.testing.assert_allclose(demo_record.signal_mv, reference_mv, atol=1e-6)


def test_pydicom_demo_statements_and_measurements(demo_record: EcgRecord) -> None:
    assert demo_record.statements[:2] == ("RITMO SINUSALE", "ECG NORMALE")
    assert len(set(demo_record.statements)) == len(demo_record.statements)
    measurements = {m.name: m for m in demo_record.measurements}
    assert measurements["RR"] == Measurement("RR", 982.0, "ms")
    assert measurements["QRS"] == Measurement("QRS", 75.0, "ms")
    assert measurements["QTc"] == Measurement("QTc", 370.0, "ms")
    assert measurements["QRS axis"] == Measurement("QRS axis", 52.0, "deg")
    assert {"PR", "QT", "P axis", "T axis"} <= set(measurements)


def test_pydicom_demo_keeps_median_beats(demo_record: EcgRecord) -> None:
    median = demo_record.median_beats
    assert median is not None
    assert median.signal_mv.shape == (1200, 12)
    assert median.signal_mv.dtype == np.float32
    assert median.lead_names == LEAD_ORDER
    assert median.sampling_rate_hz == 1000.0


@pytest.mark.parametrize("filename", CORPUS_FILES)
def test_corpus_dicom_files_read(corpus_dir: Path, filename: str) -> None:
    path = corpus_dir / "dicom" / filename
    record = read_ecg(path)
    assert record.signal_mv.shape[1] == 12 and record.lead_names == LEAD_ORDER
    assert record.signal_mv.dtype == np.float32
    assert record.duration_s == pytest.approx(10.0)
    assert np.all(np.isfinite(record.signal_mv))
    assert np.abs(record.signal_mv).max() < 10.0
    assert 0.3 < np.ptp(record.lead("II")) < 5.0
    assert record.source_name == filename
    assert record.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record.median_beats is not None and record.median_beats.lead_names == LEAD_ORDER
    assert {"QRS", "QT", "QTc"} <= {m.name for m in record.measurements}


def test_general_ecg_applies_correction_factor(corpus_dir: Path) -> None:
    path = corpus_dir / "dicom" / "ecg2dcm_guangxi_teaching_sinus_rhythm.dcm"
    record = read_ecg(path)
    raw = multiplex_array(pydicom.dcmread(path), 0, as_raw=True)
    np.testing.assert_allclose(record.signal_mv, raw * 1.0 * 4.88 / 1000.0, rtol=1e-6)  # 1 µV × 4.88
    measurements = {m.name: m for m in record.measurements}
    assert measurements["Ventricular rate"] == Measurement("Ventricular rate", 97.0, "bpm")
    assert measurements["PR"] == Measurement("PR", 122.0, "ms")


def test_ecg_toolkit_padding_zero_does_not_mask_samples(corpus_dir: Path) -> None:
    path = corpus_dir / "dicom" / "ecgtoolkit_Example.dcm"
    record = read_ecg(path)
    raw = multiplex_array(pydicom.dcmread(path), 0, as_raw=True)
    assert (raw == 0).sum() > 1000  # declared Waveform Padding Value is 0
    assert not np.isnan(record.signal_mv).any()
    assert (record.signal_mv == 0).sum() == (raw == 0).sum()
    axes = {m.name: m.unit for m in record.measurements if m.name.endswith("axis")}
    assert axes == {"P axis": "deg", "QRS axis": "deg", "T axis": "deg"}  # the file says "ms"


def test_ecg_toolkit_unflagged_minimum_in_median_is_kept(corpus_dir: Path) -> None:
    record = read_ecg(corpus_dir / "dicom" / "ecgtoolkit_Example.dcm")
    assert record.median_beats is not None
    np.testing.assert_allclose(record.median_beats.signal_mv[-1], -32768 * 2.5 / 1000.0)


@pytest.mark.parametrize("filename", CORPUS_FILES)
def test_corpus_identifying_data_stays_out_of_the_record(corpus_dir: Path, filename: str) -> None:
    path = corpus_dir / "dicom" / filename
    dataset = pydicom.dcmread(path)
    record = read_ecg(path)
    text = repr(record) + str(record.__dict__)
    secrets = [str(dataset.get(keyword) or "") for keyword in ("PatientName", "PatientBirthDate", "OtherPatientIDs")]
    for secret in filter(None, secrets):
        assert secret not in text
    assert record.pseudonym == str(dataset.PatientID)


def test_truncated_corpus_file_raises(corpus_dir: Path) -> None:
    path = corpus_dir / "dicom" / "broken" / "ecgtoolkit_Example_2008-09.dcm"
    with pytest.raises(EcgReadError, match=r"^ecgtoolkit_Example_2008-09\.dcm: truncated or corrupt DICOM file"):
        read_ecg(path)


# --- Scaling ---------------------------------------------------------------------------------


def test_nonzero_baseline_is_added_in_sensitivity_units(tmp_path: Path) -> None:
    # PS3.3 Table C.10-9: Channel Baseline is in Channel Sensitivity Units (µV here).
    # raw 400 × 2.5 µV × 1.0 + 100 µV = 1100 µV = 1.1 mV; raw -200 -> -500 + 100 = -400 µV.
    raw = _constant_raw([400, -200] + [0] * 10)
    path = write_ecg_dicom(tmp_path, raw=raw, sensitivity=2.5, baseline=100.0, units="uV")
    record = read_dicom_ecg(path)
    np.testing.assert_allclose(record.lead("I"), 1.1, rtol=1e-6)
    np.testing.assert_allclose(record.lead("II"), -0.4, rtol=1e-6)
    np.testing.assert_allclose(record.lead("V6"), 0.1, rtol=1e-6)
    # pydicom >= 2.4 agrees; the pre-fix formula (raw + baseline) × sensitivity would give 1.25 mV.
    reference_mv = multiplex_array(pydicom.dcmread(path), 0, as_raw=False) / 1000.0
    np.testing.assert_allclose(record.signal_mv, reference_mv, rtol=1e-6)


def test_correction_factor_multiplies_sensitivity(tmp_path: Path) -> None:
    raw = _constant_raw([400] * 12)
    path = write_ecg_dicom(tmp_path, raw=raw, sensitivity=2.5, correction_factor=1.2, baseline=-50.0)
    record = read_dicom_ecg(path)
    np.testing.assert_allclose(record.signal_mv, (400 * 2.5 * 1.2 - 50.0) / 1000.0, rtol=1e-6)


@pytest.mark.parametrize(("units", "sensitivity", "baseline"), [("uV", 2.5, 10.0), ("mV", 0.0025, 0.01), ("V", 2.5e-6, 1e-5)])
def test_sensitivity_units_convert_to_millivolts(tmp_path: Path, units: str, sensitivity: float, baseline: float) -> None:
    raw = _constant_raw([400, -400] + [4] * 10)
    record = read_dicom_ecg(write_ecg_dicom(tmp_path, raw=raw, sensitivity=sensitivity, baseline=baseline, units=units))
    np.testing.assert_allclose(record.lead("I"), 1.01, rtol=1e-6)
    np.testing.assert_allclose(record.lead("II"), -0.99, rtol=1e-6)


def test_eight_bit_signed_samples(tmp_path: Path) -> None:
    raw = np.tile(np.array([100, -100] + [0] * 10, dtype=np.int8), (51, 1))  # odd byte count
    record = read_dicom_ecg(write_ecg_dicom(tmp_path, raw=raw, bits=8, sensitivity=10.0, median=False))
    np.testing.assert_allclose(record.lead("I"), 1.0, rtol=1e-6)
    np.testing.assert_allclose(record.lead("II"), -1.0, rtol=1e-6)
    assert record.median_beats is None


def test_eight_lead_device_derives_limb_leads(tmp_path: Path) -> None:
    record = read_dicom_ecg(write_ecg_dicom(tmp_path, lead_names=EIGHT_LEADS))
    assert record.lead_names == LEAD_ORDER
    assert np.abs(record.signal_mv).max() < 5.0
    assert record.derived_leads == frozenset({"III", "aVR", "aVL", "aVF"})
    lead_i, lead_ii = record.lead("I"), record.lead("II")
    np.testing.assert_allclose(record.lead("III"), lead_ii - lead_i, atol=1e-6)
    np.testing.assert_allclose(record.lead("aVR"), -(lead_i + lead_ii) / 2, atol=1e-6)
    np.testing.assert_allclose(record.lead("aVL"), lead_i - lead_ii / 2, atol=1e-6)
    np.testing.assert_allclose(record.lead("aVF"), lead_ii - lead_i / 2, atol=1e-6)
    assert record.median_beats is not None and record.median_beats.lead_names == LEAD_ORDER


# --- Padding and group selection ---------------------------------------------------------------


def test_extreme_padding_value_marks_missing_samples(tmp_path: Path) -> None:
    raw = _constant_raw([400] * 12)
    raw[10:20, 3] = -32768
    path = write_ecg_dicom(tmp_path, raw=raw, padding_value=np.int16(-32768).tobytes())
    signal = read_dicom_ecg(path).signal_mv
    assert np.isnan(signal[10:20, 3]).all()
    assert np.isnan(signal).sum() == 10


def test_mid_range_padding_value_is_ignored(tmp_path: Path) -> None:
    raw = _constant_raw([0] * 12)
    path = write_ecg_dicom(tmp_path, raw=raw, padding_value=np.int16(0).tobytes())
    assert not np.isnan(read_dicom_ecg(path).signal_mv).any()


def test_longest_unlabelled_group_is_rhythm(tmp_path: Path) -> None:
    dataset = build_ecg_dataset(sample_count=1000)
    rhythm, median = dataset.WaveformSequence
    del rhythm.MultiplexGroupLabel
    median.MultiplexGroupLabel = "Median"
    dataset.WaveformSequence = [median, rhythm]
    record = read_dicom_ecg(write_dataset(dataset, tmp_path / "order.dcm"))
    assert record.signal_mv.shape == (1000, 12)
    assert record.median_beats is not None and record.median_beats.signal_mv.shape == (300, 12)


# --- Header, annotations, privacy ----------------------------------------------------------------


def test_header_and_annotations_of_synthetic_file(tmp_path: Path) -> None:
    record = read_dicom_ecg(write_ecg_dicom(tmp_path, sop_class_uid=GENERAL_ECG))
    assert record.pseudonym == PSEUDONYM
    assert record.acquisition_time == datetime(2024, 3, 5, 14, 30, 15)
    assert record.device == "Synthetic Devices SYN-12"
    assert record.statements == ("SINUS RHYTHM", "NORMAL ECG")
    assert record.measurements == (
        Measurement("QRS", 96.0, "ms"),
        Measurement("QTc", 412.0, "ms"),
        Measurement("Ventricular rate", 72.0, "bpm"),
        Measurement("QRS axis", -30.0, "deg"),
        Measurement("Frobnication Index", 3.5, "1"),
    )


def test_acquisition_time_falls_back_to_content_date_and_time(tmp_path: Path) -> None:
    dataset = build_ecg_dataset()
    del dataset.AcquisitionDateTime
    record = read_dicom_ecg(write_dataset(dataset, tmp_path / "content.dcm"))
    assert record.acquisition_time == datetime(2024, 3, 6, 8, 0, 0)


def test_identifying_data_never_reaches_the_record(tmp_path: Path) -> None:
    record = read_dicom_ecg(write_ecg_dicom(tmp_path))
    text = repr(record) + str(record.__dict__)
    for secret in (PATIENT_NAME, "Rossi", "Maria", PATIENT_BIRTH_DATE, OTHER_PATIENT_ID):
        assert secret not in text


def test_bytes_upload_without_preamble(tmp_path: Path) -> None:
    path = write_ecg_dicom(tmp_path, preamble=False)
    data = path.read_bytes()
    assert data[128:132] != b"DICM"
    record = read_ecg(data, name="uploads/patient dir/upload.dcm")
    assert record.source_name == "upload.dcm"
    assert record.source_sha256 == hashlib.sha256(data).hexdigest()
    assert record.signal_mv.shape == (2000, 12)


def test_list_case_files_finds_dicom_by_suffix_or_content(tmp_path: Path) -> None:
    (tmp_path / "ward" / ".cache").mkdir(parents=True)
    named = write_ecg_dicom(tmp_path / "ward", "b.dcm")
    bare = write_ecg_dicom(tmp_path, "a_without_suffix")
    write_ecg_dicom(tmp_path / "ward" / ".cache", "hidden.dcm")
    (tmp_path / "notes.txt").write_text("not an ECG")
    assert list_case_files(tmp_path) == [bare, named]
    assert list_case_files(None) == [] and list_case_files(tmp_path / "absent") == []


# --- Errors --------------------------------------------------------------------------------------


def _write_modified(tmp_path: Path, change: object, **options: object) -> Path:
    dataset = build_ecg_dataset(**options)  # type: ignore[arg-type]
    change(dataset)  # type: ignore[operator]
    return write_dataset(dataset, tmp_path / "bad.dcm")


def test_unknown_content_is_not_supported(tmp_path: Path) -> None:
    with pytest.raises(EcgReadError, match=r"^x\.bin: not a supported ECG file \(format not recognised\); supported: DICOM ECG"):
        read_ecg(b"\x89PNG\r\n" + bytes(300), name="x.bin")


def test_dicom_suffix_with_other_content_is_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "notes.dcm"
    path.write_text("this is a text file, not an ECG " * 20)
    with pytest.raises(EcgReadError, match=r"^notes\.dcm: not a DICOM file"):
        read_ecg(path)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(EcgReadError, match=r"^absent\.dcm: cannot read file"):
        read_ecg(tmp_path / "absent.dcm")


def test_non_waveform_sop_class_is_named(tmp_path: Path) -> None:
    path = write_ecg_dicom(tmp_path, sop_class_uid=CT_IMAGE)
    pattern = r"synthetic\.dcm: not an ECG waveform: SOP Class UID \(0008,0016\) is 1\.2\.840\.10008\.5\.1\.4\.1\.1\.2 \(CT Image Storage\)"
    with pytest.raises(EcgReadError, match=pattern):
        read_dicom_ecg(path)


def test_truncated_synthetic_file_raises(tmp_path: Path) -> None:
    data = write_ecg_dicom(tmp_path).read_bytes()
    for cut in (200, 600, len(data) // 2, len(data) - 7):
        with pytest.raises(EcgReadError, match=r"^cut\.dcm: "):
            read_ecg(data[:cut], name="cut.dcm")


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda ds: delattr(ds, "WaveformSequence"), r"no Waveform Sequence \(5400,0100\)"),
        (lambda ds: setattr(ds, "WaveformSequence", []), r"Waveform Sequence \(5400,0100\) is empty"),
        (lambda ds: setattr(ds.WaveformSequence[0], "ChannelDefinitionSequence", []),
         r"multiplex group 1 \(RHYTHM\): Channel Definition Sequence \(003A,0200\) is empty"),
        (lambda ds: delattr(ds.WaveformSequence[0], "NumberOfWaveformSamples"),
         r"multiplex group 1 \(RHYTHM\): no Number of Waveform Samples \(003A,0010\)"),
        (lambda ds: setattr(ds.WaveformSequence[0], "NumberOfWaveformChannels", 11),
         r"channel count mismatch: Number of Waveform Channels \(003A,0005\) is 11 but Channel Definition Sequence \(003A,0200\) has 12 items"),
        (lambda ds: setattr(ds.WaveformSequence[0], "WaveformBitsAllocated", 32),
         r"unsupported WaveformBitsAllocated 32 for WaveformSampleInterpretation 'SS'"),
        (lambda ds: setattr(ds.WaveformSequence[0], "WaveformData", ds.WaveformSequence[0].WaveformData[:1000]),
         r"Waveform Data \(5400,1010\) has 1000 bytes, expected 48000 \(12 channels × 2000 samples × 2 bytes\)"),
        (lambda ds: setattr(ds.WaveformSequence[0], "SamplingFrequency", 0),
         r"Sampling Frequency \(003A,001A\) is .*not a positive number"),
        (lambda ds: delattr(ds.WaveformSequence[0].ChannelDefinitionSequence[2], "ChannelSensitivity"),
         r"multiplex group 1 \(RHYTHM\), channel 3: no Channel Sensitivity \(003A,0210\)"),
        (lambda ds: delattr(ds.WaveformSequence[0].ChannelDefinitionSequence[0], "ChannelSensitivityUnitsSequence"),
         r"channel 1: no Channel Sensitivity Units Sequence \(003A,0211\)"),
        (lambda ds: setattr(ds.WaveformSequence[1], "MultiplexGroupLabel", "MEDIAN BEAT")
         or setattr(ds, "WaveformSequence", [ds.WaveformSequence[1]]),
         r"has median beats but no rhythm multiplex group"),
    ],
)
def test_malformed_waveform_module_is_reported(tmp_path: Path, change: object, pattern: str) -> None:
    with pytest.raises(EcgReadError, match=r"^bad\.dcm: .*" + pattern):
        read_dicom_ecg(_write_modified(tmp_path, change))


def test_unsupported_sample_interpretation(tmp_path: Path) -> None:
    path = write_ecg_dicom(tmp_path, bits=8, interpretation="UB")
    with pytest.raises(EcgReadError, match=r"unsupported WaveformSampleInterpretation 'UB' \(supported: SS, SB\)"):
        read_dicom_ecg(path)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"sensitivity": math.nan}, r"Channel Sensitivity \(003A,0210\) is .*nan.*; it must be a finite non-zero number"),
        ({"sensitivity": 0.0}, r"Channel Sensitivity \(003A,0210\) is .*0.*; it must be a finite non-zero number"),
        ({"correction_factor": 0.0}, r"Channel Sensitivity Correction Factor \(003A,0212\) is .*; it must be a finite non-zero"),
        ({"baseline": math.inf}, r"Channel Baseline \(003A,0213\) is .*inf.*; it must be a finite number"),
        ({"units": "mm[Hg]"}, r"unsupported Channel Sensitivity units 'mm\[Hg\]' \(expected uV, mV or V\)"),
    ],
)
def test_invalid_calibration_is_reported(tmp_path: Path, options: dict[str, object], pattern: str) -> None:
    with pytest.raises(EcgReadError, match=r"^synthetic\.dcm: multiplex group 1 \(RHYTHM\), channel 1: " + pattern):
        read_dicom_ecg(write_ecg_dicom(tmp_path, **options))


def test_missing_leads_are_named(tmp_path: Path) -> None:
    path = write_ecg_dicom(tmp_path, lead_names=("I", "V1", "V2", "V3", "V4", "V5", "V6"))
    with pytest.raises(EcgReadError, match=r"^synthetic\.dcm: missing leads II, III, aVR, aVL, aVF \(found I, V1"):
        read_dicom_ecg(path)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about the damaged values
def test_damaged_bytes_raise_only_ecg_read_errors(tmp_path: Path) -> None:
    data = bytearray(write_ecg_dicom(tmp_path).read_bytes())
    generator = np.random.default_rng(7)
    for _ in range(60):
        damaged = bytearray(data)
        for position in generator.integers(132, 1200, size=4):
            damaged[int(position)] = int(generator.integers(0, 256))
        try:
            read_ecg(bytes(damaged), name="damaged.dcm")
        except EcgReadError as exc:
            assert str(exc).startswith("damaged.dcm: ")


def test_reading_logs_no_element_values(tmp_path, caplog, recwarn):
    """A malformed identifying value must not reach warnings or the log when the file is read."""
    from ecgreview.io import read_ecg
    from tests.io.dicom_fixtures import build_ecg_dataset, write_dataset

    dataset = build_ecg_dataset()
    dataset.StudyInstanceUID = "1.2.840.Secret.7"  # invalid UI: pydicom's warning would quote it
    path = write_dataset(dataset, tmp_path / "bad-uid.dcm")
    with caplog.at_level("DEBUG"):
        read_ecg(path)
    said = " ".join(str(warning.message) for warning in recwarn) + caplog.text
    assert "Secret" not in said
