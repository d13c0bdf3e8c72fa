"""A reading as a DICOM Comprehensive SR (highdicom), referencing the ECG waveform instance.

The content tree, modelled on DICOM TID 3700 "ECG Report" (not a conformant implementation of it):

.. code-block:: text

    CONTAINER (LN 11524-6 "EKG study")
      HAS OBS CONTEXT  observer context (TID 1002): each reader, a person
      CONTAINS WAVEFORM (DCM 121112 "Source of Measurement") -> the waveform instance
      CONTAINS CONTAINER (LN 59776-5 "Findings")                    the reader's (or consensus) calls
        CONTAINS CODE <finding, SCT> = Present | Absent | Undetermined      one per class
        CONTAINS TEXT (DCM 121106 "Comment") = how the calls were made
      CONTAINS CONTAINER (LN 59776-5 "Findings")                    the DNN, when it gave output
        HAS OBS CONTEXT  observer context: a device, its UID derived from the model's SHA-256
        HAS CONCEPT MOD  algorithm identification (TID 4019): name, version (SHA-256 prefix), parameters
        CONTAINS NUM <finding, SCT> = probability (UCUM "1")               one per class
      CONTAINS CONTAINER (LN 19005-8 "Impressions")                 the recording device's statements
        CONTAINS TEXT (DCM 121073 "Impression") = statement                 one per statement

Patient module: PatientID is the case's pseudonym and PatientName is empty; no birth date, sex,
other IDs, accession number, study date or referring physician is copied from the waveform.
The SR joins the waveform's study in one series per study (``ecgreview readings``); its UIDs are
derived from the review rows behind the reading, so exporting the same reading again gives the
same instance.
"""

from __future__ import annotations

import io
from datetime import timezone
from typing import TYPE_CHECKING

from ecgreview import __version__
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES
from ecgreview.review.export_reading import CONSENSUS, PRESENCE, REPORT_CODE, ReadingToExport, finding_code

if TYPE_CHECKING:
    import highdicom.sr
    from pydicom.dataset import Dataset

__all__ = ["SERIES_DESCRIPTION", "build_reading_sr", "read_reading_sr", "sr_bytes"]

#: Series Description of the SRs ecgreview writes (one series per study).
SERIES_DESCRIPTION = "ecgreview readings"
SERIES_NUMBER = 900
_MANUFACTURER = "ecgreview"
#: The only attributes of the waveform an SR takes (its UIDs; PatientID is replaced by the pseudonym).
_REFERENCE_KEYWORDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
#: Empty in the SR whatever the waveform holds (type 2 attributes that highdicom takes from the evidence).
_EMPTY_KEYWORDS = ("PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID", "StudyDate",
                   "StudyTime", "ReferringPhysicianName")


def _uid(*parts: str) -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=["ecgreview", *parts]))


def _evidence(waveform: Dataset, pseudonym: str) -> Dataset:
    """A stand-in for the waveform holding only its UIDs and the pseudonym: highdicom copies the patient
    and study module from its evidence, and nothing identifying may come along."""
    from pydicom.dataset import Dataset

    missing = [keyword for keyword in _REFERENCE_KEYWORDS if not str(waveform.get(keyword, "")).strip()]
    if missing:
        raise EcgReviewError(None, f"the waveform lacks {', '.join(missing)}: an SR cannot reference it")
    reference = Dataset()
    for keyword in _REFERENCE_KEYWORDS:
        setattr(reference, keyword, waveform.data_element(keyword).value)  # type: ignore[union-attr]
    reference.PatientID = pseudonym
    for keyword in _EMPTY_KEYWORDS:
        setattr(reference, keyword, "")
    return reference


def _person_name(name: str) -> str:
    """A reader's name as a DICOM PN: a name without components becomes the family name (trailing caret)."""
    return name if "^" in name else f"{name}^"


def _code(value: str, scheme: str, meaning: str) -> highdicom.sr.CodedConcept:
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


def _observers(reading: ReadingToExport) -> list[highdicom.sr.ContentItem]:
    from highdicom.sr import ObserverContext, PersonObserverIdentifyingAttributes
    from pydicom.sr.codedict import codes

    items: list = []
    for observer in reading.observers:
        items += ObserverContext(observer_type=codes.DCM.Person, observer_identifying_attributes=(
            PersonObserverIdentifyingAttributes(name=_person_name(observer))))
    return items


def _calls_container(reading: ReadingToExport) -> highdicom.sr.ContainerContentItem:
    from highdicom.sr import CodeContentItem, ContainerContentItem, ContentSequence, TextContentItem
    from pydicom.sr.codedict import codes

    items: list = []
    for name in CLASSES:
        finding, presence = finding_code(name), PRESENCE[reading.calls[name]]
        items.append(CodeContentItem(name=_code(finding[0], "SCT", finding[1]),
                                     value=_code(presence[0], "SCT", presence[1]), relationship_type="CONTAINS"))
    how = (f"Consensus of {len(reading.observers)} reading(s): the readers' strict majority per class, an "
           "adjudicator's decided call overriding it" if reading.kind == CONSENSUS else "The reader's saved reading")
    items.append(TextContentItem(name=codes.DCM.Comment, value=how, relationship_type="CONTAINS"))
    container = ContainerContentItem(name=codes.LN.Findings, relationship_type="CONTAINS")
    container.ContentSequence = ContentSequence(items)
    return container


def _dnn_container(reading: ReadingToExport) -> highdicom.sr.ContainerContentItem:
    from highdicom.sr import (
        AlgorithmIdentification,
        ContainerContentItem,
        ContentSequence,
        DeviceObserverIdentifyingAttributes,
        NumContentItem,
        ObserverContext,
    )
    from pydicom.sr.codedict import codes

    name = reading.model_name or "Ribeiro et al. 2020 DNN"
    items: list = [*ObserverContext(observer_type=codes.DCM.Device, observer_identifying_attributes=(
        DeviceObserverIdentifyingAttributes(uid=_uid("model", reading.model_sha256), name=name[:64])))]
    parameters = [f"model_sha256={reading.model_sha256}", f"model_git_blob_sha1={reading.model_git_blob_sha1}",
                  f"model_status={reading.model_status}",
                  "thresholds=" + ";".join(f"{name}:{value:g}" for name, value in zip(CLASSES, reading.thresholds))]
    items += AlgorithmIdentification(name=name, version=f"sha256:{reading.model_sha256[:16]}", parameters=parameters)
    for name in CLASSES:
        probability = reading.probabilities.get(name)
        if probability is not None:
            code, meaning = finding_code(name)
            items.append(NumContentItem(name=_code(code, "SCT", meaning), value=float(probability),
                                        unit=codes.UCUM.NoUnits, relationship_type="CONTAINS"))
    container = ContainerContentItem(name=codes.LN.Findings, relationship_type="CONTAINS")
    container.ContentSequence = ContentSequence(items)
    return container


def _statements_container(reading: ReadingToExport) -> highdicom.sr.ContainerContentItem:
    from highdicom.sr import ContainerContentItem, ContentSequence, TextContentItem
    from pydicom.sr.codedict import codes

    items = [TextContentItem(name=codes.DCM.Impression, value=statement, relationship_type="CONTAINS")
             for statement in reading.device_statements if statement.strip()]
    container = ContainerContentItem(name=codes.LN.Impressions, relationship_type="CONTAINS")
    container.ContentSequence = ContentSequence(items)
    return container


def build_reading_sr(reading: ReadingToExport, waveform: Dataset) -> highdicom.sr.ComprehensiveSR:
    """The reading as a DICOM Comprehensive SR referencing ``waveform`` (see the module docstring).

    Parameters
    ----------
    reading : ReadingToExport
        From :func:`~ecgreview.review.export.reading_to_export` or ``consensus_to_export``.
    waveform : pydicom.dataset.Dataset
        The case's waveform (only its UIDs are used).

    Raises
    ------
    EcgReviewError
        The waveform lacks a UID.
    """
    from highdicom.sr import ComprehensiveSR, ContainerContentItem, ContentSequence, WaveformContentItem
    from pydicom.sr.codedict import codes
    from pydicom.valuerep import DA, TM

    evidence = _evidence(waveform, reading.case_pseudonym)
    observers = _observers(reading)
    content: list = [*observers, _calls_container(reading)]
    if reading.has_dnn:
        content.append(_dnn_container(reading))
    if any(statement.strip() for statement in reading.device_statements):
        content.append(_statements_container(reading))
    root = ContainerContentItem(name=_code(REPORT_CODE[0], "LN", REPORT_CODE[1]))
    root.ContentSequence = ContentSequence(content)
    sr = ComprehensiveSR(  # the evidence goes to the Current Requested Procedure Evidence Sequence
        evidence=[evidence], content=root, series_instance_uid=_uid("series", evidence.StudyInstanceUID),
        series_number=SERIES_NUMBER, sop_instance_uid=_uid(reading.kind, *reading.review_ids), instance_number=1,
        manufacturer=_MANUFACTURER, is_complete=True, is_final=True, series_description=SERIES_DESCRIPTION,
        specific_character_set="ISO_IR 192", software_versions=__version__)
    # highdicom 0.28 builds a WAVEFORM item but cannot parse one back (its SR classes re-parse their
    # content), so the reference to the waveform joins the tree after construction.
    sr.ContentSequence.insert(len(observers), WaveformContentItem(
        name=codes.DCM.SourceOfMeasurement, referenced_sop_class_uid=evidence.SOPClassUID,
        referenced_sop_instance_uid=evidence.SOPInstanceUID, relationship_type="CONTAINS"))
    saved = reading.saved_at_utc.astimezone(timezone.utc)
    sr.ContentDate, sr.ContentTime = DA(saved.strftime("%Y%m%d")), TM(saved.strftime("%H%M%S"))
    sr.TimezoneOffsetFromUTC = "+0000"
    return sr


def sr_bytes(sr: Dataset) -> bytes:
    """The SR as a DICOM Part 10 file."""
    buffer = io.BytesIO()
    sr.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def read_reading_sr(data: bytes) -> Dataset:
    """Read an SR file back and check it: the round trip an export must survive.

    pydicom reads the file; its one WAVEFORM item must reference an instance of the Current
    Requested Procedure Evidence Sequence; highdicom's SR model then parses the rest of the content
    tree (highdicom 0.28 has no class to parse a WAVEFORM item with).

    Returns
    -------
    pydicom.dataset.Dataset
        The SR as read.

    Raises
    ------
    EcgReviewError
        Not a Comprehensive SR, no (or an unlisted) waveform reference, or a tree highdicom refuses.
    """
    import copy

    import pydicom
    from highdicom.sr import ComprehensiveSR
    from pydicom.uid import ComprehensiveSRStorage

    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
        if dataset.SOPClassUID != ComprehensiveSRStorage:
            raise ValueError(f"SOP Class UID is {dataset.SOPClassUID}, not Comprehensive SR")
        waveforms = [item for item in dataset.ContentSequence if item.ValueType == "WAVEFORM"]
        evidence = {str(item.ReferencedSOPInstanceUID) for study in dataset.CurrentRequestedProcedureEvidenceSequence
                    for series in study.ReferencedSeriesSequence for item in series.ReferencedSOPSequence}
        referenced = [str(item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID) for item in waveforms]
        if len(referenced) != 1 or referenced[0] not in evidence:
            raise ValueError(f"expected one WAVEFORM item referencing the evidence; found {len(referenced)}")
        rest = copy.deepcopy(dataset)
        rest.ContentSequence = [item for item in rest.ContentSequence if item.ValueType != "WAVEFORM"]
        ComprehensiveSR.from_dataset(rest)
    except Exception as exc:  # pydicom and highdicom raise many kinds
        raise EcgReviewError(None, f"not a readable reading SR ({type(exc).__name__}: {exc})") from exc
    return dataset
