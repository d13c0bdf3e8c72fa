"""Tests of format detection by content in ecgreview.io.read_ecg and list_case_files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io import list_case_files, read_ecg, read_ecg_files
from ecgreview.record import LEAD_ORDER

DEMO_DIR = Path(__file__).resolve().parents[2] / "ecgreview" / "data" / "demo_cases"


def test_dicom_renamed_xml_still_reads_as_dicom(corpus_dir: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "looks_like.xml"
    shutil.copyfile(corpus_dir / "dicom" / "pydicom_waveform_ecg.dcm", renamed)
    record = read_ecg(renamed)
    assert record.sampling_rate_hz == 1000 and record.device.startswith("Mortara")


def test_xml_renamed_dcm_reads_as_xml(corpus_dir: Path) -> None:
    data = (corpus_dir / "other" / "ecgtoolkit_Example_HL7aECG.xml").read_bytes()
    assert read_ecg(data, name="scan.dcm").statements == ("Sinus Rhythm",)


def test_wfdb_header_renamed_txt_reads_as_wfdb(tmp_path: Path) -> None:
    shutil.copyfile(DEMO_DIR / "A0003.mat", tmp_path / "A0003.mat")
    shutil.copyfile(DEMO_DIR / "A0003.hea", tmp_path / "A0003.txt")
    record = read_ecg(tmp_path / "A0003.txt")
    assert record.pseudonym == "A0003" and record.reference_labels["AF"]


def test_mixed_upload_groups_wfdb_files(corpus_dir: Path) -> None:
    files = [
        ("A0003.mat", (DEMO_DIR / "A0003.mat").read_bytes()),
        ("ecg.dcm", (corpus_dir / "dicom" / "pydicom_waveform_ecg.dcm").read_bytes()),
        ("A0003.hea", (DEMO_DIR / "A0003.hea").read_bytes()),
    ]
    records = read_ecg_files(files)
    assert [record.source_name for record in records] == ["ecg.dcm", "A0003.hea"]


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(EcgReadError, match=r"^x\.bin: not a supported ECG file .*WFDB.*Philips Sierra XML.*Mortara ELI XML"):
        read_ecg(b"\x89PNG\r\n" + bytes(300), name="x.bin")
    with pytest.raises(EcgReadError, match=r"^notes\.txt: not a supported ECG file"):
        read_ecg(b"just some notes about the patient\n", name="notes.txt")


def test_list_case_files_lists_headers_not_signal_files() -> None:
    listed = list_case_files(DEMO_DIR)
    assert len(listed) == 20 and all(path.suffix == ".hea" for path in listed)


def test_bundled_wfdb_upload_reads_like_the_pair(corpus_dir):
    from ecgreview.io import bundle_files, read_ecg

    header = corpus_dir / "wfdb" / "A0003.hea"
    files = [(header.name, header.read_bytes()), ("A0003.mat", header.with_suffix(".mat").read_bytes())]
    data, name = bundle_files(files)
    assert name == "A0003.zip" and bundle_files(list(reversed(files)))[0] == data  # same bytes every time
    bundled, direct = read_ecg(data, name=name), read_ecg(header)
    assert bundled.source_sha256 == direct.source_sha256
    assert (bundled.signal_mv == direct.signal_mv).all()
    assert bundle_files(files[:1]) == (files[0][1], "A0003.hea")


#: Corpus files that cannot open, and why (documented in docs/formats.md).
_CORPUS_UNREADABLE = {
    "ecgtoolkit_Example_2008-09.dcm": r"truncated or corrupt DICOM file",
    "E00015.hea": r"signal file E00015\.mat named in the header is missing",
    "E00018.hea": r"signal file E00018\.mat named in the header is missing",
    "E00793.hea": r"signal file E00793\.mat named in the header is missing",
}


def test_every_corpus_file_opens_or_fails_for_its_documented_reason(corpus_dir: Path) -> None:
    from ecgreview.io import list_case_files

    files = list_case_files(corpus_dir)
    names = {path.name for path in files}
    assert {"ecgtoolkit_Example.scp", *_CORPUS_UNREADABLE} <= names  # SCP is listed as a case now
    opened = 0
    for path in files:
        if path.name in _CORPUS_UNREADABLE:
            with pytest.raises(EcgReadError, match=rf"^{re.escape(path.name)}: .*{_CORPUS_UNREADABLE[path.name]}"):
                read_ecg(path)
            continue
        record = read_ecg(path)
        assert record.lead_names == LEAD_ORDER and record.signal_mv.shape[1] == 12, path.name
        assert record.source_format, path.name
        opened += 1
    assert opened == len(files) - len(_CORPUS_UNREADABLE)


def test_statements_command_over_the_corpus_reports_no_unmapped_rhythm_statement(corpus_dir: Path, capsys) -> None:
    from ecgreview.cli import main

    code = main(["statements", str(corpus_dir)])
    output = capsys.readouterr().out
    assert "0 unmapped: 0 rhythm/conduction" in output and code == 0
    assert "窦性心律" in output and "RITMO SINUSALE" in output
