"""A reading as HL7 FHIR R5 resources (``fhir.resources``): a ``DiagnosticReport`` and its ``Observation``\\ s.

One ``Bundle`` (type ``collection``) holds:

* the ``DiagnosticReport`` (status ``final``, code LOINC 11524-6 "EKG study"), its ``result`` the
  observations below, its ``conclusion`` the calls in words; its ``study`` names the waveform's
  DICOM study and its ``identifier`` the DICOM SR exported with it (``urn:dicom:uid``), when there is one;
* one ``Observation`` per class of the reader's (or the consensus) calls: code the class's SNOMED CT
  finding, ``valueCodeableConcept`` Present, Absent or Undetermined (an ``uncertain`` call),
  ``method`` the reading, ``performer`` the readers by name;
* one ``Observation`` per class of the DNN's probability (``valueQuantity``, UCUM ``1``), ``method``
  naming the model, its SHA-256 and the site's threshold, when the reader saw DNN output;
* one ``Observation`` of the recording device's statements (``valueString``), when there are any.

The subject is named only by the case's pseudonym, as an identifier (system
:data:`PSEUDONYM_SYSTEM`); a case without one has no subject. Resource ids are UUIDs derived from the
review rows behind the reading, so exporting the same reading again gives the same resources.
"""

from __future__ import annotations

import uuid
from datetime import timezone
from typing import TYPE_CHECKING, Any

from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES
from ecgreview.review.export_reading import CONSENSUS, PRESENCE, REPORT_CODE, ReadingToExport, finding_code

if TYPE_CHECKING:
    from fhir.resources.bundle import Bundle
    from pydicom.dataset import Dataset

__all__ = ["PSEUDONYM_SYSTEM", "build_reading_fhir", "fhir_json", "read_reading_fhir"]

#: The identifier system of the case pseudonym (the subject's only identifier).
PSEUDONYM_SYSTEM = "urn:ecgreview:pseudonym"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
#: FHIR's identifier system for DICOM UIDs (values ``urn:oid:<uid>``).
DICOM_UID = "urn:dicom:uid"
_CATEGORY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                         "code": "procedure", "display": "Procedure"}]}
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ecgreview:readings")


def _id(reading: ReadingToExport, part: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join([reading.kind, *reading.review_ids, part])))


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _observation(reading: ReadingToExport, part: str, common: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": _id(reading, part), "status": "final", "category": [_CATEGORY],
            **common, **fields}


def _reader_observations(reading: ReadingToExport, common: dict[str, Any]) -> list[dict[str, Any]]:
    method = ("Consensus of the readers' latest readings (strict majority per class; an adjudicator's decided call "
              "overrides it)" if reading.kind == CONSENSUS else "Reader's saved reading")
    performers = [{"display": name} for name in reading.observers]
    observations = []
    for name in CLASSES:
        code, meaning = finding_code(name)
        value, display = PRESENCE[reading.calls[name]]
        observations.append(_observation(
            reading, f"call-{name}", common, code=_coding(SNOMED, code, meaning), performer=performers,
            valueCodeableConcept=_coding(SNOMED, value, display), method={"text": method}))
    return observations


def _dnn_observations(reading: ReadingToExport, common: dict[str, Any]) -> list[dict[str, Any]]:
    name = reading.model_name or "Ribeiro et al. 2020 DNN"
    device = {"display": f"{name} (SHA-256 {reading.model_sha256 or 'unknown'}; git blob SHA-1 "
                         f"{reading.model_git_blob_sha1 or 'unknown'}; {reading.model_status})"}
    observations = []
    for index, class_name in enumerate(CLASSES):
        probability = reading.probabilities.get(class_name)
        if probability is None:
            continue
        code, meaning = finding_code(class_name)
        threshold = (f"; called present when p > {reading.thresholds[index]:g}"
                     if len(reading.thresholds) == len(CLASSES) else "")
        observations.append(_observation(
            reading, f"dnn-{class_name}", common, code=_coding(SNOMED, code, meaning), device=device,
            valueQuantity={"value": float(probability), "unit": "probability", "system": UCUM, "code": "1"},
            method={"text": f"DNN {name}, version sha256:{reading.model_sha256[:16]}{threshold}"}))
    return observations


def _conclusion(reading: ReadingToExport) -> str:
    groups = {call: [name for name in CLASSES if reading.calls[name] == call] for call in PRESENCE}
    who = "Consensus" if reading.kind == CONSENSUS else "Reader"
    return f"{who}: " + "; ".join(f"{call}: {', '.join(names)}" for call, names in groups.items() if names)


def build_reading_fhir(reading: ReadingToExport, *, waveform: Dataset | None = None,
                       sr: Dataset | None = None) -> Bundle:
    """The reading as a FHIR R5 ``Bundle`` (see the module docstring), validated by ``fhir.resources``.

    Parameters
    ----------
    waveform : pydicom.dataset.Dataset, optional
        The case's DICOM waveform: the report's ``study`` names its Study Instance UID.
    sr : pydicom.dataset.Dataset, optional
        The DICOM SR of the same reading: the report's ``identifier`` names its SOP Instance UID.
    """
    from fhir.resources.bundle import Bundle

    issued = reading.saved_at_utc.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    common: dict[str, Any] = {"issued": issued}
    if reading.case_pseudonym:
        common["subject"] = {"identifier": {"system": PSEUDONYM_SYSTEM, "value": reading.case_pseudonym}}
    observations = _reader_observations(reading, common)
    if reading.has_dnn:
        observations += _dnn_observations(reading, common)
    statements = [statement for statement in reading.device_statements if statement.strip()]
    if statements:
        observations.append(_observation(
            reading, "device-statements", common, code={"text": "ECG device interpretation statements"},
            valueString="\n".join(statements), method={"text": "Printed by the recording device"}))
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": _id(reading, "report"), "status": "final",
        "code": _coding(LOINC, *REPORT_CODE), **common, "performer": [{"display": name} for name in reading.observers],
        "result": [{"reference": f"urn:uuid:{item['id']}"} for item in observations],
        "conclusion": _conclusion(reading)}
    if sr is not None:
        report["identifier"] = [{"system": DICOM_UID, "value": f"urn:oid:{sr.SOPInstanceUID}"}]
    if waveform is not None:
        report["study"] = [{"type": "ImagingStudy",
                            "identifier": {"system": DICOM_UID, "value": f"urn:oid:{waveform.StudyInstanceUID}"}}]
    entries = [{"fullUrl": f"urn:uuid:{item['id']}", "resource": item} for item in (report, *observations)]
    return Bundle.model_validate({"resourceType": "Bundle", "id": _id(reading, "bundle"), "type": "collection",
                                  "timestamp": issued, "entry": entries})


def fhir_json(bundle: Bundle) -> str:
    """The bundle as FHIR JSON (empty elements left out)."""
    return bundle.model_dump_json(exclude_none=True, indent=2)


def read_reading_fhir(text: str) -> Bundle:
    """Read an exported bundle back with the ``fhir.resources`` models and check that it holds one
    ``DiagnosticReport`` whose results are all in the bundle (the round trip an export must survive).

    Raises
    ------
    EcgReviewError
        Not valid FHIR, or not a report bundle.
    """
    from fhir.resources.bundle import Bundle
    from fhir.resources.diagnosticreport import DiagnosticReport
    from pydantic import ValidationError

    try:
        bundle = Bundle.model_validate_json(text)
    except (ValidationError, ValueError) as exc:
        raise EcgReviewError(None, f"not a valid FHIR Bundle ({str(exc).splitlines()[0]})") from exc
    resources = {entry.fullUrl: entry.resource for entry in bundle.entry or []}
    reports = [resource for resource in resources.values() if isinstance(resource, DiagnosticReport)]
    if len(reports) != 1:
        raise EcgReviewError(None, f"a reading bundle holds one DiagnosticReport; this one holds {len(reports)}")
    missing = [result.reference for result in reports[0].result or [] if result.reference not in resources]
    if missing:
        raise EcgReviewError(None, f"the report's results {missing} are not in the bundle")
    return bundle
