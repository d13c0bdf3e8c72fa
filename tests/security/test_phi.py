"""Tests of the PHI audit (ecgreview.security.phi): DICOM audit and de-identification, XML audit, audit_file."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np
import pytest
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from ecgreview.cli.audit import audit_main
from ecgreview.cli.audit import register as register_cli
from ecgreview.errors import EcgReadError
from ecgreview.examples import demo_ecg_path
from ecgreview.io import read_ecg
from ecgreview.security.phi import PhiAudit
from ecgreview.security.phi.dicom import audit_dicom, deidentify_dicom
from tests.io.dicom_fixtures import (
    OTHER_PATIENT_ID,
    PATIENT_BIRTH_DATE,
    PATIENT_NAME,
    PSEUDONYM,
    build_ecg_dataset,
    write_dataset,
)

INSTITUTION = "Ospedale San Gerardo Cardiologia"
PHYSICIAN = "Bianchi^Luca"
PRIVATE_NAME = "Verdi^Giuseppe"
ISSUER = "HOSP-ISSUER-77"
REQUEST_PHYSICIAN = "Neri^Anna"
PLANTED = (PATIENT_NAME, PATIENT_BIRTH_DATE, OTHER_PATIENT_ID, INSTITUTION, PHYSICIAN, PRIVATE_NAME, ISSUER,
           REQUEST_PHYSICIAN, "Rossi", "19461231")


def planted_dataset() -> Dataset:
    """The fixture ECG with identifying data planted at top level, in a sequence and in a private tag."""
    dataset = build_ecg_dataset()
    dataset.InstitutionName = INSTITUTION
    dataset.ReferringPhysicianName = PHYSICIAN
    dataset.IssuerOfPatientID = ISSUER
    dataset.AccessionNumber = "ACC-123456"
    request = Dataset()
    request.PersonName = REQUEST_PHYSICIAN  # a generic PN inside a sequence the table does not list
    dataset.AcquisitionContextSequence = [request]
    block = dataset.private_block(0x0099, "ACME ECG", create=True)
    block.add_new(0x01, "LO", PRIVATE_NAME)
    return dataset


@pytest.fixture
def planted_file(tmp_path: Path) -> Path:
    return write_dataset(planted_dataset(), tmp_path / "planted.dcm")


def keywords(audit: PhiAudit) -> set[str]:
    return {finding.keyword for finding in audit.findings}


def test_every_planted_identifier_is_found(planted_file: Path) -> None:
    audit = audit_dicom(planted_file)
    assert audit.status == "findings"
    assert {"PatientName", "PatientBirthDate", "OtherPatientIDs", "IssuerOfPatientID", "AccessionNumber",
            "InstitutionName", "ReferringPhysicianName", "AcquisitionDateTime", "ContentDate"} <= keywords(audit)
    private = [finding for finding in audit.findings if finding.category == "private tag"]
    assert {finding.tag for finding in private} == {"(0099,0010)", "(0099,1001)"}
    nested = [finding for finding in audit.findings if finding.keyword == "PersonName"]
    assert nested and nested[0].location == "AcquisitionContextSequence[0]"
    assert "PatientID" not in keywords(audit)  # the pseudonym is kept
    assert any("WaveformAnnotationSequence" in kept for kept in audit.kept)


def test_no_value_is_ever_printed(planted_file: Path) -> None:
    audit = audit_dicom(planted_file)
    out = io.StringIO()
    assert audit_main([planted_file], out=out) == 1
    shown = "\n".join([out.getvalue(), audit.summary(), repr(audit), *map(str, audit.findings)])
    for value in PLANTED:
        assert value not in shown
    assert "(0010,0010) PatientName PN" in out.getvalue()
    assert audit.summary().startswith("PHI audit: ") and "patient name" in audit.summary()


def test_audit_accepts_a_dataset() -> None:
    assert "PatientName" in keywords(audit_dicom(planted_dataset()))


def test_clean_dataset_is_clean() -> None:
    dataset = build_ecg_dataset()
    for keyword in ("PatientName", "PatientBirthDate", "OtherPatientIDs", "AcquisitionDateTime", "ContentDate",
                    "ContentTime", "SOPInstanceUID"):
        del dataset[keyword]
    audit = audit_dicom(dataset)
    assert audit.status == "clean", audit.findings
    assert audit.summary() == "PHI audit: clean"


def test_profile_table_keywords_match_the_dictionary() -> None:
    text = (Path(__file__).parents[2] / "ecgreview" / "data" / "phi_attributes.csv").read_text("utf-8")
    rows = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    assert len(rows) > 90
    for row in rows:
        assert f"{tag_for_keyword(row['keyword']):08X}" == row["tag"], row
        assert row["action"] in {"X", "Z", "D", "U", "keep"}


def test_deidentified_copy_is_clean_and_reads_the_same(planted_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "out" / "clean.dcm"
    audit = deidentify_dicom(planted_file, copy, pseudonym="CASE-0001")
    assert audit.status == "clean", [str(finding) for finding in audit.findings]
    raw = copy.read_bytes()
    for value in PLANTED:
        assert value.encode() not in raw
    before, after = read_ecg(planted_file), read_ecg(copy)
    np.testing.assert_array_equal(before.signal_mv, after.signal_mv)
    assert after.statements == before.statements and after.measurements == before.measurements
    assert after.pseudonym == "CASE-0001" and after.sampling_rate_hz == before.sampling_rate_hz


def test_uids_are_replaced_consistently_with_one_salt(planted_file: Path, tmp_path: Path) -> None:
    first = deidentify_dicom(planted_file, tmp_path / "a.dcm", salt=b"site-secret")
    second = deidentify_dicom(planted_file, tmp_path / "b.dcm", salt=b"site-secret")
    other = deidentify_dicom(planted_file, tmp_path / "c.dcm", salt=b"another")
    assert first.status == second.status == other.status == "clean"
    uids = [audit_source.SOPInstanceUID for audit_source in map(_dataset, ("a.dcm", "b.dcm", "c.dcm"), [tmp_path] * 3)]
    original = _dataset("planted.dcm", tmp_path).SOPInstanceUID
    assert uids[0] == uids[1] != uids[2] and original not in uids
    assert _dataset("a.dcm", tmp_path).PatientID == _dataset("b.dcm", tmp_path).PatientID != PSEUDONYM


def _dataset(name: str, folder: Path) -> Dataset:
    import pydicom

    return pydicom.dcmread(folder / name)


def test_demo_and_corpus_files_deidentify_clean(corpus_dir: Path, tmp_path: Path) -> None:
    files = sorted((corpus_dir / "dicom").glob("*.dcm")) + [demo_ecg_path()]
    assert len(files) >= 3
    for number, path in enumerate(files):
        assert audit_dicom(path).status == "findings", path  # the real files carry dates, names, UIDs
        copy = tmp_path / f"{number}.dcm"
        assert deidentify_dicom(path, copy).status == "clean", path
        before, after = read_ecg(path), read_ecg(copy)
        np.testing.assert_array_equal(before.signal_mv, after.signal_mv)
        assert after.statements == before.statements, path


def test_corpus_folder_audit_exit_codes(corpus_dir: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    assert audit_main([corpus_dir / "dicom"], out=out) == 2  # broken/ holds an unreadable file
    assert "unreadable" in out.getvalue() and "PHI audit: " in out.getvalue()
    assert audit_main([corpus_dir / "dicom" / "pydicom_waveform_ecg.dcm"], out=io.StringIO()) == 1


def test_audit_main_exit_codes(tmp_path: Path, planted_file: Path) -> None:
    clean = tmp_path / "clean.dcm"
    deidentify_dicom(planted_file, clean)
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\x00" * 10)
    assert audit_main([clean], out=io.StringIO()) == 0
    assert audit_main([clean, planted_file], out=io.StringIO()) == 1
    assert audit_main([junk], out=io.StringIO()) == 2
    assert audit_main([tmp_path / "missing.dcm"], out=io.StringIO()) == 2
    with pytest.raises(EcgReadError, match="junk.dcm"):
        audit_dicom(junk)


def test_cli_registration(tmp_path: Path, planted_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["deidentify", str(planted_file), str(tmp_path / "copy.dcm")])
    assert args.handler(args) == 0
    args = parser.parse_args(["audit", str(tmp_path / "copy.dcm")])
    assert args.handler(args) == 0
    assert "PHI audit: clean" in capsys.readouterr().out


def test_audit_of_uploaded_bytes_matches_the_file():
    from ecgreview.examples import demo_ecg_path
    from ecgreview.security.phi.dicom import audit_dicom

    path = demo_ecg_path()
    from_bytes = audit_dicom(path.read_bytes(), name=path.name)
    assert from_bytes.findings == audit_dicom(path).findings
    assert from_bytes.source == path.name and from_bytes.status == "findings"


# -- XML ECGs (ecgreview.security.phi.xml) -----------------------------------------------------------------------------

XML_NAME, XML_FIRST_NAME, XML_BIRTH_DATE = "Mustermann", "Erika", "19640812"


def _aecg(name: str = XML_NAME, birth: str = XML_BIRTH_DATE) -> bytes:
    return (f'<AnnotatedECG xmlns="urn:hl7-org:v3"><componentOf><timepointEvent><componentOf><subjectAssignment>'
            f'<subject><trialSubject><id root="1.2.3" extension="SUBJ-01"/><subjectDemographicPerson><name>{name}'
            f'</name><birthTime value="{birth}"/></subjectDemographicPerson></trialSubject></subject>'
            f"</subjectAssignment></componentOf></timepointEvent></componentOf></AnnotatedECG>").encode()


def _muse(name: str = XML_NAME, birth: str = "08-12-1964") -> bytes:
    return (f"<RestingECG><PatientDemographics><PatientID>CASE-7</PatientID><PatientLastName>{name}</PatientLastName>"
            f"<PatientFirstName>{XML_FIRST_NAME}</PatientFirstName><DateofBirth>{birth}</DateofBirth>"
            "</PatientDemographics></RestingECG>").encode()


def _philips(name: str = XML_NAME, birth: str = "1964-08-12") -> bytes:
    return (f'<restingecgdata><dataacquisition date="2024-03-05" time="14:30:15"/><patient><generalpatientdata>'
            f"<patientid>CASE-7</patientid><name><lastname>{name}</lastname><firstname>{XML_FIRST_NAME}</firstname>"
            f"</name><age><dateofbirth>{birth}</dateofbirth></age></generalpatientdata></patient>"
            "</restingecgdata>").encode("utf-16")


@pytest.mark.parametrize(("make", "name_path", "birth_path", "values"), [
    (_aecg, "subjectDemographicPerson/name", "subjectDemographicPerson/birthTime", (XML_NAME, XML_BIRTH_DATE)),
    (_muse, "PatientDemographics/PatientLastName", "PatientDemographics/DateofBirth", (XML_NAME, "08-12-1964")),
    (_philips, "generalpatientdata/name/lastname", "generalpatientdata/age/dateofbirth", (XML_NAME, "1964-08-12")),
])
def test_xml_audit_names_the_elements_and_never_their_values(make, name_path, birth_path, values, tmp_path) -> None:
    from ecgreview.security.phi import audit_file

    path = tmp_path / "planted.xml"
    path.write_bytes(make())
    audit = audit_file(path.read_bytes(), "planted.xml")
    found = {finding.category: finding.tag for finding in audit.findings
             if finding.tag.endswith((name_path, birth_path))}
    assert found["patient name"].endswith(name_path) and found["birth date"].endswith(birth_path)
    assert audit.status == "findings" and audit.source == "planted.xml"
    assert "birth date" in audit.summary() and "patient name" in audit.summary()
    out = io.StringIO()
    assert audit_main([path], out=out) == 1  # the CLI audits XML too
    shown = "\n".join([out.getvalue(), audit.summary(), repr(audit), *map(str, audit.findings), *audit.kept])
    for value in (*values, XML_FIRST_NAME, "SUBJ-01", "CASE-7"):
        assert value not in shown
    assert name_path in out.getvalue()
    assert any("pseudonym" in kept for kept in audit.kept)  # the patient id is kept, as in DICOM


def test_xml_without_identifying_values_is_clean() -> None:
    from ecgreview.security.phi import audit_file

    for data in (_aecg(name="", birth=""), _muse(name="", birth="").replace(b"Erika", b"")):
        audit = audit_file(data, "empty.xml")
        assert audit.status == "clean", [str(finding) for finding in audit.findings]
        assert audit.summary() == "PHI audit: clean"


def test_audit_file_dispatches_by_content(planted_file: Path) -> None:
    from ecgreview.security.phi import audit_file

    assert audit_file(planted_file.read_bytes(), "upload.bin").findings == audit_dicom(planted_file).findings
    assert audit_file(planted_file).status == "findings"
    with pytest.raises(EcgReadError, match="a.hea: no PHI audit for this format"):
        audit_file(b"a 12 500 5000\n", "a.hea")
    with pytest.raises(EcgReadError, match="declares entities"):
        audit_file(b'<!DOCTYPE r [<!ENTITY e "x">]><RestingECG>&e;</RestingECG>', "bomb.xml")


def test_real_xml_files_are_audited(corpus_dir: Path) -> None:
    from ecgreview.security.phi import audit_file

    for path in sorted((corpus_dir / "other").glob("*.xml")):
        audit = audit_file(path)
        assert audit.status == "findings" and "date or time" in audit.summary(), path
        assert {"patient name", "birth date"} <= {finding.category for finding in audit.findings}, path
