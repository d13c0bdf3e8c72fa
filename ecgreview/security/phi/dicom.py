"""PHI audit and de-identification of DICOM ECG files (DICOM PS3.15 Annex E).

:func:`audit_dicom` lists the attributes of a file that the Basic Application Level
Confidentiality Profile (PS3.15 Table E.1-1) would remove, empty or replace, plus
every private tag and every person name, date or time found anywhere. A finding
gives the tag, keyword, VR and the profile action, **never the value**, so audit
output can be shown and logged freely.

:func:`deidentify_dicom` writes a cleaned copy: ``X`` attributes and private tags
removed, ``Z`` emptied, ``D`` given a dummy value, ``U`` UIDs replaced consistently
(the same source UID and salt give the same new UID), then re-audits the copy.

The profile's subset relevant to ECG waveforms is data, in
``ecgreview/data/phi_attributes.csv``. One explicit exception: the Waveform
Annotation Sequence (0040,B020), action ``X`` in the profile, is kept, because it
holds the device's interpretation statements and measurements that readers review.
PatientID (0010,0020) is the pseudonym of a pseudonymized file and is kept
(de-identification sets it to the given or a salted-hash pseudonym).

The XML ECGs have theirs (:func:`ecgreview.security.phi.xml.audit_xml`, the same findings and
summary); :func:`ecgreview.security.phi.audit_file` picks one of the two by content.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ecgreview._files import write_atomically
from ecgreview.errors import EcgReadError, EcgReviewError
from ecgreview.security.findings import DUMMY_VALUES, PhiAudit, PhiFinding

__all__ = ["audit_dicom", "deidentify_bytes", "deidentify_dicom"]

#: VRs whose values are identifying wherever they occur (PS3.15 lists nearly every PN, DA, DT, TM).
_GENERIC_VRS: dict[str, str] = {"PN": "person name", "DA": "date or time", "DT": "date or time", "TM": "date or time"}
_PATIENT_IDENTITY_REMOVED = 0x00120062
_METHOD = ("DICOM PS3.15 E.1.1 Basic Application Level Confidentiality Profile (ecgreview, simplified); "
           "Waveform Annotation Sequence kept")


@dataclass(frozen=True)
class _Rule:
    keyword: str
    profile_action: str
    action: str  # X, Z, D, U or keep
    category: str


@lru_cache(maxsize=1)
def _rules() -> dict[int, _Rule]:
    text = resources.files("ecgreview").joinpath("data/phi_attributes.csv").read_text("utf-8")
    lines = (line for line in io.StringIO(text) if not line.startswith("#"))
    return {int(row["tag"], 16): _Rule(row["keyword"], row["profile_action"], row["action"], row["category"])
            for row in csv.DictReader(lines)}


def _tag_text(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _has_value(element: DataElement) -> bool:
    value = element.value
    if value is None:
        return False
    if isinstance(value, (str, bytes, list, DicomSequence)) or hasattr(value, "__len__"):
        return len(value) > 0 and str(value).strip() != ""
    return True


def _is_dummy(element: DataElement) -> bool:
    dummy = DUMMY_VALUES.get(element.VR)
    return dummy is not None and str(element.value).strip() == dummy


def audit_dicom(path_or_dataset: str | os.PathLike[str] | bytes | Dataset, *, name: str | None = None) -> PhiAudit:
    """Audit a DICOM file (or dataset) for protected health information.

    Parameters
    ----------
    path_or_dataset : str, os.PathLike, bytes or pydicom.dataset.Dataset
        The file, its bytes (an upload), or a dataset already read.
    name : str, optional
        File name for the result and error messages when bytes are given.

    Returns
    -------
    PhiAudit
        ``status`` ``"clean"`` or ``"findings"``; findings name tag, keyword, VR and the
        profile action, never a value. UIDs count as findings unless the file is marked
        Patient Identity Removed (0012,0062) ``YES`` (the mark :func:`deidentify_dicom` sets).

    Raises
    ------
    EcgReadError
        If the file cannot be read as DICOM.
    """
    if isinstance(path_or_dataset, Dataset):
        dataset, source = path_or_dataset, str(getattr(path_or_dataset, "filename", "") or "")
    elif isinstance(path_or_dataset, bytes):
        source = name or "upload"
        dataset = _read(io.BytesIO(path_or_dataset), source)
    else:
        source = os.fspath(path_or_dataset)
        dataset = _read(source, source)
    try:
        marked = str(dataset.get(_PATIENT_IDENTITY_REMOVED, DataElement(0, "CS", "")).value).upper() == "YES"
        findings: list[PhiFinding] = []
        kept: list[str] = []
        _walk(dataset, "", findings, kept, uids_replaced=marked)
    except EcgReviewError:
        raise
    except Exception as exc:  # deferred parsing of a malformed element
        raise EcgReadError(source or None, f"malformed DICOM ({type(exc).__name__}: {exc})") from exc
    return PhiAudit(os.path.basename(source), tuple(findings), tuple(kept))


def _read(source: str | io.BytesIO, label: str) -> Dataset:
    try:
        dataset = pydicom.dcmread(source, force=True)
    except Exception as exc:
        raise EcgReadError(label, f"cannot read as DICOM ({type(exc).__name__}: {exc})") from exc
    has_preamble = getattr(dataset, "preamble", None) is not None
    if not has_preamble and "SOPClassUID" not in dataset:
        raise EcgReadError(label, "not a DICOM file (no 'DICM' marker at byte 128 and no SOP Class UID (0008,0016))")
    return dataset


def _walk(dataset: Dataset, location: str, findings: list[PhiFinding], kept: list[str], *, uids_replaced: bool) -> None:
    """Append the findings of ``dataset`` (recursing into sequences) to ``findings``."""
    for element in dataset:
        tag = element.tag
        where = f"{location}." if location else ""
        if tag.is_private:
            findings.append(PhiFinding(_tag_text(tag), "", element.VR, "private tag", "X", location))
            continue
        rule = _rules().get(int(tag))
        if rule is not None and rule.action == "keep":
            kept.append(f"{_tag_text(tag)} {rule.keyword}: kept by explicit exception ({rule.category})")
            continue
        if rule is not None:
            if _rule_finds(element, rule, uids_replaced=uids_replaced):
                findings.append(PhiFinding(_tag_text(tag), rule.keyword, element.VR, rule.category,
                                           rule.profile_action, location))
            continue
        if element.VR == "SQ":
            for number, item in enumerate(element.value or []):
                _walk(item, f"{where}{element.keyword or _tag_text(tag)}[{number}]", findings, kept,
                      uids_replaced=uids_replaced)
        elif element.VR in _GENERIC_VRS and _has_value(element) and not _is_dummy(element):
            findings.append(PhiFinding(_tag_text(tag), element.keyword, element.VR, _GENERIC_VRS[element.VR],
                                       "D", location))


def _rule_finds(element: DataElement, rule: _Rule, *, uids_replaced: bool) -> bool:
    if not _has_value(element):
        return False
    if rule.action == "U":
        return not uids_replaced
    return not (rule.action == "D" and _is_dummy(element))


# -- de-identification -----------------------------------------------------------------------------------------------

def deidentify_dicom(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
    pseudonym: str | None = None, salt: bytes | str | None = None,
) -> PhiAudit:
    """Write a de-identified copy of ``src`` to ``dst`` and return the audit of the copy.

    Parameters
    ----------
    src, dst : path-like
        Source file and destination file (written atomically; folders are created).
    pseudonym : str, optional
        PatientID (0010,0020) of the copy. Default: ``ANON-`` and 16 hex digits of a
        salted SHA-256 of the source PatientID.
    salt : bytes or str, optional
        Secret key of UID replacement and the default pseudonym: the same salt maps the
        same source UID to the same new UID across files. Default: random per call.

    Returns
    -------
    PhiAudit
        The audit of the written copy (``status`` ``"clean"`` when de-identification worked).

    Raises
    ------
    EcgReadError
        If ``src`` cannot be read as DICOM, or ``dst`` cannot be written.
    """
    data = _deidentified(_read(os.fspath(src), os.fspath(src)), os.fspath(src), pseudonym=pseudonym, salt=salt)
    try:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(dst, data)
    except OSError as exc:
        raise EcgReadError(dst, f"cannot write the de-identified copy ({type(exc).__name__}: {exc})") from exc
    return audit_dicom(dst)


def deidentify_bytes(data: bytes, *, name: str = "upload", pseudonym: str | None = None,
                     salt: bytes | str | None = None) -> tuple[bytes, PhiAudit]:
    """The de-identified copy of a DICOM file's bytes (an upload), and its audit; nothing is written.

    As :func:`deidentify_dicom` (same parameters), for bytes that must never reach a disk as they are.

    Raises
    ------
    EcgReadError
        If ``data`` cannot be read as DICOM or cannot be de-identified; names ``name``.
    """
    cleaned = _deidentified(_read(io.BytesIO(data), name), name, pseudonym=pseudonym, salt=salt)
    return cleaned, audit_dicom(cleaned, name=name)


def _deidentified(dataset: Dataset, label: str, *, pseudonym: str | None, salt: bytes | str | None) -> bytes:
    """``dataset`` cleaned (profile actions, private tags, pseudonym, marks) and serialised as a DICOM file."""
    key = salt.encode() if isinstance(salt, str) else (salt or secrets.token_bytes(32))
    try:
        original_id = str(dataset.get("PatientID", "") or "")
        dataset.remove_private_tags()
        _clean(dataset, key)
        dataset.PatientID = pseudonym or "ANON-" + hashlib.sha256(key + original_id.encode()).hexdigest()[:16]
        _mark(dataset)
        return _serialised(dataset)
    except Exception as exc:
        raise EcgReadError(label, f"cannot de-identify ({type(exc).__name__}: {exc})") from exc


def _clean(dataset: Dataset, key: bytes) -> None:
    """Apply the profile actions to ``dataset`` in place, recursing into sequences."""
    for element in list(dataset):
        rule = _rules().get(int(element.tag))
        action = rule.action if rule is not None else None
        if action == "keep":
            continue
        if action == "X":
            del dataset[element.tag]
        elif action == "U":
            element.value = _new_uid(element.value, key)
        elif action in ("Z", "D") and element.VR == "SQ":
            element.value = DicomSequence()
        elif action == "Z":
            element.value = ""
        elif action == "D" or (element.VR in _GENERIC_VRS and _has_value(element)):
            element.value = DUMMY_VALUES.get(element.VR, "")
        elif element.VR == "SQ":
            for item in element.value or []:
                _clean(item, key)


def _new_uid(value: object, key: bytes) -> object:
    if isinstance(value, (list, tuple)) or hasattr(value, "__iter__") and not isinstance(value, str):
        return [_new_uid(item, key) for item in value]
    text = str(value or "").strip()
    return generate_uid(entropy_srcs=[key.hex(), text]) if text else value


def _mark(dataset: Dataset) -> None:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "113100", "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = _METHOD
    dataset.DeidentificationMethodCodeSequence = [code]
    dataset.LongitudinalTemporalInformationModified = "REMOVED"


def _serialised(dataset: Dataset) -> bytes:
    """The file's bytes, with a file meta group matching the new SOP Instance UID."""
    meta = getattr(dataset, "file_meta", None) or FileMetaDataset()
    fresh = FileMetaDataset()
    fresh.MediaStorageSOPClassUID = dataset.get("SOPClassUID", meta.get("MediaStorageSOPClassUID", ""))
    fresh.MediaStorageSOPInstanceUID = dataset.get("SOPInstanceUID", generate_uid())
    fresh.TransferSyntaxUID = meta.get("TransferSyntaxUID") or ExplicitVRLittleEndian
    dataset.file_meta = fresh
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


# -- command line ----------------------------------------------------------------------------------------------------
