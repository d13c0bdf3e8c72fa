"""Tests of the WFDB reader (ecgreview.io.wfdb) on synthetic records and the shared corpus."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io import read_ecg, read_ecg_files
from ecgreview.io.wfdb import SNOMED_CODES, read_wfdb_ecg, read_wfdb_files, reference_labels_from_codes
from ecgreview.record import CLASSES, LEAD_ORDER

DEMO_DIR = Path(__file__).resolve().parents[2] / "ecgreview" / "data" / "demo_cases"
SAMPLES = 1000
RATE_HZ = 500


def _header(name: str = "TEST", *, gain: str = "1000/mV", signal_file: str | None = None, dx: str = "426177001,164889003",
            leads: tuple[str, ...] = LEAD_ORDER) -> bytes:
    """A Challenge-style header for a format-16 signal file (no byte offset)."""
    signal_file = signal_file or f"{name}.dat"
    lines = [f"{name} {len(leads)} {RATE_HZ} {SAMPLES} 12-May-2020 12:33:59"]
    lines += [f"{signal_file} 16 {gain} 16 0 0 0 0 {lead}" for lead in leads]
    lines += ["#Age: 81", "#Sex: Female", f"#Dx: {dx}"]
    return ("\n".join(lines) + "\n").encode("ascii")


def _signal_adu(lead_count: int = 12) -> np.ndarray:
    time_s = np.arange(SAMPLES) / RATE_HZ
    columns = [np.round(1000 * (0.1 * (k + 1)) * np.sin(2 * np.pi * 1.0 * time_s)) for k in range(lead_count)]
    return np.stack(columns, axis=1).astype("<i2")


def _write_record(folder: Path, name: str = "TEST", **options: object) -> Path:
    header = _header(name, **options)  # type: ignore[arg-type]
    leads = options.get("leads", LEAD_ORDER)
    (folder / f"{name}.hea").write_bytes(header)
    (folder / f"{name}.dat").write_bytes(_signal_adu(len(leads)).tobytes())  # type: ignore[arg-type]
    return folder / f"{name}.hea"


def test_synthetic_record_scales_to_mv_and_maps_dx(tmp_path: Path) -> None:
    record = read_wfdb_ecg(_write_record(tmp_path))
    assert record.signal_mv.shape == (SAMPLES, 12) and record.signal_mv.dtype == np.float32
    assert record.sampling_rate_hz == RATE_HZ and record.lead_names == LEAD_ORDER
    np.testing.assert_allclose(np.abs(record.signal_mv).max(axis=0), 0.1 * np.arange(1, 13), rtol=1e-3)
    assert record.reference_labels == {label: label in ("SB", "AF") for label in CLASSES}
    assert record.pseudonym == "TEST" and record.source_name == "TEST.hea"
    assert record.acquisition_time is not None and record.acquisition_time.year == 2020
    assert "81" not in repr(record.pseudonym) and not hasattr(record, "age")


def test_microvolt_units_are_scaled(tmp_path: Path) -> None:
    record = read_wfdb_ecg(_write_record(tmp_path, gain="1/uV"))
    np.testing.assert_allclose(np.abs(record.signal_mv).max(axis=0), 0.1 * np.arange(1, 13), rtol=1e-3)


def test_eight_leads_get_limb_leads_derived(tmp_path: Path) -> None:
    leads = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    record = read_wfdb_ecg(_write_record(tmp_path, leads=leads))
    assert record.derived_leads == frozenset({"III", "aVR", "aVL", "aVF"})
    np.testing.assert_allclose(record.lead("III"), record.lead("II") - record.lead("I"), atol=1e-6)


def test_reference_labels_from_codes_covers_every_class() -> None:
    assert set(SNOMED_CODES) == set(CLASSES)
    assert reference_labels_from_codes(["713427006"])["RBBB"] and reference_labels_from_codes(["733534002"])["LBBB"]
    assert not any(reference_labels_from_codes(["426783006"]).values())


def test_bytes_zip_and_file_list_give_the_same_record(tmp_path: Path) -> None:
    header_path = _write_record(tmp_path)
    header, signal = header_path.read_bytes(), (tmp_path / "TEST.dat").read_bytes()
    expected = read_ecg(header_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("case/TEST.hea", header)
        archive.writestr("case/TEST.dat", signal)
    (tmp_path / "case.zip").write_bytes(buffer.getvalue())
    variants = [
        read_wfdb_ecg(header, name="TEST.hea", signal_files={"TEST.dat": signal}),
        read_ecg(buffer.getvalue(), name="upload.zip"),
        read_ecg(tmp_path / "case.zip"),
        read_ecg(tmp_path / "TEST.dat"),  # the header beside it is found
        read_wfdb_files([("TEST.dat", signal), ("TEST.hea", header)]),
        *read_ecg_files([("TEST.hea", header), ("TEST.dat", signal)]),
    ]
    for record in variants:
        np.testing.assert_array_equal(record.signal_mv, expected.signal_mv)
        assert record.source_sha256 == expected.source_sha256 and record.pseudonym == "TEST"


def test_header_renamed_txt_is_read_by_content(tmp_path: Path) -> None:
    _write_record(tmp_path)
    renamed = tmp_path / "TEST.txt"
    (tmp_path / "TEST.hea").rename(renamed)
    assert read_ecg(renamed).signal_mv.shape == (SAMPLES, 12)


def test_header_without_signal_file_is_a_clear_error(tmp_path: Path) -> None:
    header = _write_record(tmp_path)
    (tmp_path / "TEST.dat").unlink()
    with pytest.raises(EcgReadError, match=r"^TEST\.hea: signal file TEST\.dat named in the header is missing"):
        read_ecg(header)
    with pytest.raises(EcgReadError, match=r"signal file TEST\.dat named in the header is missing"):
        read_ecg(header.read_bytes(), name="TEST.hea")


def test_mismatched_record_name_is_an_error(tmp_path: Path) -> None:
    _write_record(tmp_path)
    (tmp_path / "OTHER.hea").write_bytes((tmp_path / "TEST.hea").read_bytes())
    with pytest.raises(EcgReadError, match=r"record name 'TEST' in the header does not match the file name 'OTHER\.hea'"):
        read_ecg(tmp_path / "OTHER.hea")


@pytest.mark.parametrize("gain", ["0/mV", "-5/mV", "abc/mV"])
def test_bad_gain_is_an_error(tmp_path: Path, gain: str) -> None:
    with pytest.raises(EcgReadError, match=rf"signal 1 \(I\): ADC gain '{gain}' is not a positive number"):
        read_ecg(_write_record(tmp_path, gain=gain))


def test_unknown_units_and_truncated_signal_are_errors(tmp_path: Path) -> None:
    with pytest.raises(EcgReadError, match=r"unsupported units 'mmHg'"):
        read_ecg(_write_record(tmp_path, gain="1000/mmHg"))
    header = _write_record(tmp_path)
    (tmp_path / "TEST.dat").write_bytes((tmp_path / "TEST.dat").read_bytes()[:5000])
    with pytest.raises(EcgReadError, match=r"TEST\.hea: (cannot decode signal file TEST\.dat|decoded signal has shape)"):
        read_ecg(header)


def test_zip_and_upload_errors(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(EcgReadError, match=r"^up\.zip: zip holds no WFDB header"):
        read_ecg(buffer.getvalue(), name="up.zip")
    with pytest.raises(EcgReadError, match=r"^up\.zip: corrupt or unreadable zip"):
        read_ecg(b"PK\x03\x04" + bytes(40), name="up.zip")
    with pytest.raises(EcgReadError, match=r"^TEST\.mat: WFDB signal file without its header"):
        read_ecg_files([("TEST.mat", bytes(100))])


def test_unsafe_signal_file_name_is_refused(tmp_path: Path) -> None:
    header = _header(signal_file="../secret.dat")
    with pytest.raises(EcgReadError, match=r"unsupported signal file name '\.\./secret\.dat'"):
        read_ecg(header, name="TEST.hea")


# --- The shared corpus ---------------------------------------------------------------------------------


def _corpus_labels(corpus: Path) -> dict[str, set[str]]:
    with (corpus / "wfdb" / "labels.csv").open(newline="") as handle:
        return {row["record"]: set(row["labels"].split()) for row in csv.DictReader(handle)}


def _corpus_headers() -> list[str]:
    from tests.conftest import _shared_root

    folder = _shared_root() / "ecg-corpus" / "wfdb"
    return sorted(path.name for path in folder.glob("*.hea")) or ["(corpus absent)"]


@pytest.mark.parametrize("header_name", _corpus_headers())
def test_every_corpus_record_reads(corpus_dir: Path, header_name: str) -> None:
    header = corpus_dir / "wfdb" / header_name
    signal_file = header.read_text().splitlines()[1].split()[0]
    if not (header.parent / signal_file).exists():  # three Georgia headers were published without their .mat
        with pytest.raises(EcgReadError, match=rf"signal file {signal_file} named in the header is missing"):
            read_ecg(header)
        return
    record = read_ecg(header)
    assert record.signal_mv.shape[1] == 12 and record.sampling_rate_hz in (500, 1000)
    assert record.signal_mv.shape[0] >= 5 * record.sampling_rate_hz
    peak_mv = np.nanmax(np.abs(record.signal_mv))
    assert 0.05 < peak_mv < 35, f"implausible peak {peak_mv} mV"
    expected = _corpus_labels(corpus_dir)[header.stem]
    assert {label for label, present in record.reference_labels.items() if present} == expected - {"NSR"}
    assert record.pseudonym == header.stem


def test_demo_cases_match_their_labels() -> None:
    with (DEMO_DIR / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert 15 <= len(rows) <= 25
    for row in rows:
        record = read_ecg(DEMO_DIR / f"{row['record']}.hea")
        assert record.reference_labels == {label: row[label] == "1" for label in CLASSES}
    assert all(any(row[label] == "1" for row in rows) for label in CLASSES)
    assert sum(path.stat().st_size for path in DEMO_DIR.iterdir()) < 5 * 2**20
