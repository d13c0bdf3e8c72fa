"""Readings exported as DICOM SR and FHIR: the calls as coded findings, the DNN with its fingerprint, the
device statements; the patient only by pseudonym; a consensus only when there is one; the export command."""

from __future__ import annotations

import io
import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pydicom
import pytest
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from ecgreview.cli import main
from ecgreview.config import Settings
from ecgreview.examples import DEMO_CASES_DIR
from ecgreview.io import read_ecg
from ecgreview.io.wfdb import SNOMED_CODES
from ecgreview.record import CLASSES
from ecgreview.review.export import (
    ExportError,
    consensus_to_export,
    export_reading,
    reading_documents,
    reading_to_export,
    store_reading_sr,
)
from ecgreview.review.export_fhir import PSEUDONYM_SYSTEM, build_reading_fhir, fhir_json, read_reading_fhir
from ecgreview.review.export_reading import PRESENCE, finding_code
from ecgreview.review.export_sr import build_reading_sr, read_reading_sr, sr_bytes
from ecgreview.review.index_updater import update_case_index
from ecgreview.review.store import Review, append_review, read_reviews
from tests.io.dicom_fixtures import (
    OTHER_PATIENT_ID,
    PATIENT_BIRTH_DATE,
    PATIENT_NAME,
    PSEUDONYM,
    build_ecg_dataset,
    write_dataset,
)

MODEL_SHA256 = "ab" * 32
MODEL_BLOB_SHA1 = "cd" * 20
PROBABILITIES = (0.61, 0.02, 0.013, 0.4, 0.0071, 0.25)
STATEMENTS = ("SINUS RHYTHM", "FIRST DEGREE AV BLOCK")
#: Identifying values the source carries that no export may contain.
IDENTIFYING = {"ReferringPhysicianName": "House^Gregory", "InstitutionName": "Ospedale San Raffaele",
               "AccessionNumber": "ACC-77123", "IssuerOfPatientID": "HOSPITAL-MRN", "StudyID": "STUDY-4711"}
COMMENT = "discussed with Mrs Rossi's GP"


@pytest.fixture
def case(tmp_path) -> tuple[Settings, Path, str]:
    """A case folder with one identified DICOM ECG (name, birth date, other IDs), indexed."""
    folder = tmp_path / "cases"
    folder.mkdir()
    dataset = build_ecg_dataset(statements=STATEMENTS)
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.StudyDate, dataset.StudyTime, dataset.PatientSex = "20240305", "143015", "F"
    for keyword, value in IDENTIFYING.items():
        setattr(dataset, keyword, value)
    path = write_dataset(dataset, folder / "identified.dcm")
    settings = Settings(home=tmp_path / "home", models_dir=tmp_path / "models", reviews_path=tmp_path / "reviews.csv",
                        cases_dir=folder)
    update_case_index(settings)
    return settings, path, read_ecg(path).source_sha256


def _save(settings: Settings, sha: str, reader: str, calls: dict[str, str], *, role: str = "reader",
          minutes: int = 0, resolves: tuple[str, ...] = ()) -> Review:
    review = Review.create(
        reader=reader, role=role, reader_calls={name: calls.get(name, "absent") for name in CLASSES},
        source_sha256=sha, opinions_seen=True, case_pseudonym=PSEUDONYM, source_name="identified.dcm",
        probabilities=PROBABILITIES, model_name="model.hdf5", model_sha256=MODEL_SHA256,
        model_git_blob_sha1=MODEL_BLOB_SHA1, model_status="verified", device_statements=STATEMENTS,
        comment=COMMENT, resolves_review_ids=resolves,
        saved_at_utc=datetime(2026, 1, 2, 9, 0, tzinfo=timezone.utc) + timedelta(minutes=minutes))
    return append_review(settings.reviews_path, review)


def _items(sequence) -> list:
    found = []
    for item in sequence:
        found.append(item)
        found += _items(item.get("ContentSequence", []))
    return found


def test_the_codes_are_the_challenge_codes_and_dicom_presence_codes():
    """The findings are the CinC 2020 codes the WFDB reader maps; presence is DICOM CID 240 (pydicom's copy of
    PS3.16); where DICOM's CID 3230 "ECG Finding" lists a class under the same code, the codes agree."""
    assert {name: finding_code(name)[0] for name in CLASSES} == {name: SNOMED_CODES[name][0] for name in CLASSES}
    assert PRESENCE["present"][0] == codes.SCT.Present.value and PRESENCE["absent"][0] == codes.SCT.Absent.value
    assert PRESENCE["uncertain"][0] == codes.SCT.Undetermined.value
    assert finding_code("1dAVb")[0] == codes.SCT.FirstDegreeAtrioventricularBlock.value
    assert finding_code("RBBB")[0] == codes.SCT.RightBundleBranchBlock.value
    with pytest.raises(ValueError, match="name must be one of"):
        finding_code("LVH")


def test_the_sr_carries_calls_dnn_and_statements_and_references_the_waveform(case):
    settings, path, sha = case
    calls = {"1dAVb": "present", "AF": "uncertain"}
    _save(settings, sha, "Dr A", calls)
    documents = reading_documents(settings, sha, reader="Dr A")
    sr = read_reading_sr(documents.sr_file)
    waveform = pydicom.dcmread(path)
    assert sr.StudyInstanceUID == waveform.StudyInstanceUID and sr.Modality == "SR"
    items = _items(sr.ContentSequence)
    reference = next(item for item in items if item.ValueType == "WAVEFORM")
    assert reference.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == waveform.SOPInstanceUID
    coded = {item.ConceptNameCodeSequence[0].CodeValue: item.ConceptCodeSequence[0].CodeValue
             for item in items if item.ValueType == "CODE" and item.ConceptNameCodeSequence[0].CodingSchemeDesignator
             == "SCT"}
    assert coded == {finding_code(name)[0]: PRESENCE[calls.get(name, "absent")][0] for name in CLASSES}
    numbers = {item.ConceptNameCodeSequence[0].CodeValue: item.MeasuredValueSequence[0].FloatingPointValue
               for item in items if item.ValueType == "NUM"}
    assert numbers == {finding_code(name)[0]: p for name, p in zip(CLASSES, PROBABILITIES)}
    texts = {(item.ConceptNameCodeSequence[0].CodeMeaning, item.TextValue)
             for item in items if item.ValueType == "TEXT"}
    assert ("Algorithm Version", f"sha256:{MODEL_SHA256[:16]}") in texts
    assert ("Algorithm Parameters", f"model_git_blob_sha1={MODEL_BLOB_SHA1}") in texts
    assert {text for meaning, text in texts if meaning == "Impression"} == set(STATEMENTS)
    names = [str(item.PersonName) for item in items if item.ValueType == "PNAME"]
    assert names == ["Dr A^"]


def test_no_export_names_the_patient_but_by_pseudonym(case):
    settings, path, sha = case
    _save(settings, sha, "Dr A", {})
    documents = reading_documents(settings, sha, reader="Dr A")
    sr = pydicom.dcmread(io.BytesIO(documents.sr_file))
    assert sr.PatientID == PSEUDONYM and str(sr.PatientName) == "" and sr.PatientBirthDate == ""
    for keyword in ("OtherPatientIDs", "IssuerOfPatientID", "InstitutionName", "PatientAge"):
        assert keyword not in sr
    leaks = [PATIENT_NAME, *PATIENT_NAME.split("^"), PATIENT_BIRTH_DATE, OTHER_PATIENT_ID, "20240305",
             "Mrs Rossi", *IDENTIFYING.values()]
    reading = reading_to_export(read_reviews(settings.reviews_path), sha, reader="Dr A")
    whole = sr_bytes(build_reading_sr(reading, pydicom.dcmread(path)))  # built from the whole identified file
    fhir = fhir_json(build_reading_fhir(reading, waveform=pydicom.dcmread(path)))
    for document in (documents.sr_file.decode("latin-1"), documents.fhir_json, whole.decode("latin-1"), fhir):
        assert [leak for leak in leaks if leak in document] == []
    bundle = json.loads(documents.fhir_json)
    subjects = {json.dumps(entry["resource"].get("subject"), sort_keys=True) for entry in bundle["entry"]}
    assert subjects == {json.dumps({"identifier": {"system": PSEUDONYM_SYSTEM, "value": PSEUDONYM}}, sort_keys=True)}


def test_the_fhir_report_validates_and_holds_one_observation_per_class(case):
    settings, _, sha = case
    _save(settings, sha, "Dr A", {"LBBB": "present"})
    documents = reading_documents(settings, sha, reader="Dr A")
    bundle = read_reading_fhir(documents.fhir_json)
    resources = [entry.resource for entry in bundle.entry]
    report = resources[0]
    assert report.get_resource_type() == "DiagnosticReport" and report.status == "final"
    assert (report.code.coding[0].system, report.code.coding[0].code) == ("http://loinc.org", "11524-6")
    assert report.identifier[0].value == f"urn:oid:{documents.sr.SOPInstanceUID}"
    calls = {item.code.coding[0].code: item.valueCodeableConcept.coding[0].code
             for item in resources[1:] if item.valueCodeableConcept is not None}
    assert calls == {finding_code(name)[0]: PRESENCE["present" if name == "LBBB" else "absent"][0] for name in CLASSES}
    probabilities = [float(item.valueQuantity.value) for item in resources[1:] if item.valueQuantity is not None]
    assert probabilities == list(PROBABILITIES)
    assert "present: LBBB" in report.conclusion
    with pytest.raises(Exception, match="not a valid FHIR Bundle"):
        read_reading_fhir(documents.fhir_json.replace('"final"', '{"not": "a code"}', 1))


def test_the_same_reading_exports_the_same_documents(case):
    settings, _, sha = case
    _save(settings, sha, "Dr A", {})
    first, second = (reading_documents(settings, sha, reader="Dr A") for _ in range(2))
    assert first.sr.SOPInstanceUID == second.sr.SOPInstanceUID and first.fhir_json == second.fhir_json


def test_the_latest_clinical_reading_is_exported_and_students_do_not_count(case):
    settings, _, sha = case
    _save(settings, sha, "Dr A", {"AF": "present"})
    _save(settings, sha, "Dr A", {"AF": "absent"}, minutes=5)  # a correction: a new row
    _save(settings, sha, "Student S", {"AF": "present"}, role="student", minutes=6)
    reviews = read_reviews(settings.reviews_path)
    assert reading_to_export(reviews, sha, reader="Dr A").calls["AF"] == "absent"
    with pytest.raises(ExportError, match="Student S has no saved clinical reading"):
        reading_to_export(reviews, sha, reader="Student S")
    with pytest.raises(ExportError, match="no saved clinical reading of this case"):
        reading_to_export(reviews, "0" * 64, reader="Dr A")


def test_a_consensus_needs_a_decision_and_an_adjudicator_decides(case):
    settings, _, sha = case
    first = _save(settings, sha, "Dr A", {"AF": "present", "ST": "uncertain"})
    second = _save(settings, sha, "Dr B", {"AF": "absent", "ST": "uncertain"}, minutes=1)
    with pytest.raises(ExportError, match=r"no consensus on AF \(tie\)"):
        consensus_to_export(read_reviews(settings.reviews_path), sha)
    _save(settings, sha, "Dr C", {"AF": "present", "ST": "uncertain"}, role="adjudicator", minutes=2,
          resolves=(first.review_id, second.review_id))
    consensus = consensus_to_export(read_reviews(settings.reviews_path), sha)
    assert consensus.kind == "consensus" and consensus.observers == ("Dr A", "Dr B", "Dr C")
    # the adjudicator decides AF; an adjudicator's "uncertain" leaves the readers' (uncertain) vote on ST
    assert consensus.calls["AF"] == "present" and consensus.calls["ST"] == "uncertain"
    documents = reading_documents(settings, sha, reader=None)
    assert documents.stem.endswith("-consensus") and "Consensus: present: AF" in documents.fhir_json


def test_export_writes_the_files_and_the_command_names_them(case, tmp_path, capsys):
    settings, _, sha = case
    _save(settings, sha, "Dr A", {})
    files = export_reading(settings, sha, folder=tmp_path / "out", reader="Dr A")
    assert files.sr_path.name == f"{sha[:12]}-reading.sr.dcm" and files.stored_uids == ()
    assert oct(files.sr_path.stat().st_mode & 0o777) == oct(0o640)
    read_reading_sr(files.sr_path.read_bytes())
    read_reading_fhir(files.fhir_path.read_text(encoding="utf-8"))
    with pytest.raises(ExportError, match="only the SR of a case from the DICOMweb server"):
        store_reading_sr(settings, reading_documents(settings, sha, reader="Dr A"))
    with pytest.raises(ValueError, match="formats must name"):
        export_reading(settings, sha, folder=tmp_path, reader="Dr A", formats=("pdf",))
    environment = {"ECGREVIEW_HOME": str(settings.home), "ECGREVIEW_REVIEWS": str(settings.reviews_path),
                   "ECGREVIEW_CASES": str(settings.cases_dir)}
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in environment.items():
            patch.setenv(variable, value)
        assert main(["export", sha[:10], "--reader", "Dr A", "--output", str(tmp_path / "cli")]) == 0
        assert main(["export", sha[:10], "--consensus", "--format", "fhir", "--output", str(tmp_path / "cli")]) == 0
        assert main(["export", "ffffffff", "--reader", "Dr A"]) == 2
        assert main(["export", sha, "--reader", "Dr Nobody"]) == 2
    output = capsys.readouterr()
    assert f"wrote {tmp_path / 'cli' / sha[:12]}-reading.sr.dcm" in output.out
    assert (tmp_path / "cli" / f"{sha[:12]}-consensus.fhir.json").is_file()
    assert "no indexed case with SHA-256 ffffffff" in output.err and "Dr Nobody has no saved" in output.err


def test_a_case_that_is_not_dicom_exports_fhir_only(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    for suffix in (".hea", ".mat"):
        shutil.copy(DEMO_CASES_DIR / f"A0003{suffix}", folder)
    settings = Settings(home=tmp_path / "home", models_dir=tmp_path / "models", reviews_path=tmp_path / "reviews.csv",
                        cases_dir=folder)
    update_case_index(settings)
    sha = read_ecg(folder / "A0003.hea").source_sha256
    _save(settings, sha, "Dr A", {})
    with pytest.raises(ExportError, match="not an indexed DICOM waveform"):
        export_reading(settings, sha, folder=tmp_path / "out", reader="Dr A")
    files = export_reading(settings, sha, folder=tmp_path / "out", reader="Dr A", formats=("fhir",))
    assert files.sr_path is None and "study" not in json.loads(files.fhir_path.read_text())["entry"][0]["resource"]
