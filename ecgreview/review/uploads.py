"""Uploaded cases kept for the worklist, under the site's PHI policy (issue #22 item 6).

An upload is audited for PHI before anything is written (:func:`ecgreview.security.phi.audit_file`);
what is kept is either clean as uploaded or a de-identified DICOM copy, never the identifying
original. With sign-in, an upload waits in ``home/uploads-pending/<uploader>`` (listed by no
worklist) until an administrator moves it into the case folder.

Several files uploaded at once are several cases (:func:`uploaded_cases`), except the files of one
WFDB record (a header with the signal files it names). Each case keeps the file name the user
chose (:func:`upload_file_name`: no folder, safe characters) beside its internal id, for messages,
pickers and the kept file's name (``<first 12 hex digits of its SHA-256>-<file name>``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from ecgreview._files import write_atomically
from ecgreview.config import Settings
from ecgreview.errors import EcgReadError, ReviewStoreError
from ecgreview.io import bundle_files, group_record_files
from ecgreview.review.case import CaseSource
from ecgreview.security.phi import audit_file
from ecgreview.security.phi.dicom import deidentify_bytes

__all__ = ["PENDING_UPLOADS_DIR", "UPLOADS_DIR", "UploadedCase", "save_upload", "upload_file_name", "uploaded_cases"]

#: Uploads in ``name`` mode (one workstation), listed by the worklist.
UPLOADS_DIR = "uploads"
#: Uploads of signed-in users, listed by no worklist until an administrator moves them into the case folder.
PENDING_UPLOADS_DIR = "uploads-pending"


#: Longest file name kept (characters, before the 13-character content prefix of the kept file).
_MAX_NAME_CHARACTERS = 100


def upload_file_name(name: str) -> str:
    """The file name the user chose, safe to show and to keep: no folder (``/`` or ``\\``), runs of other
    characters than letters, digits, ``.``, ``_`` and ``-`` become ``_``, no leading dot, at most 100
    characters (the suffix kept); ``upload`` when nothing is left.

    >>> upload_file_name("C:\\ECGs\\../rest ECG (2).dcm")
    'rest_ECG_2_.dcm'
    """
    base = PureWindowsPath(Path(name).name).name
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".") or "upload"
    if len(safe) > _MAX_NAME_CHARACTERS:
        stem, dot, suffix = safe.rpartition(".")
        keep = suffix if dot and stem and len(suffix) <= 10 else ""
        safe = safe[:_MAX_NAME_CHARACTERS - len(keep) - bool(keep)] + ("." + keep if keep else "")
    return safe


@dataclass(frozen=True)
class UploadedCase:
    """One case of an upload: the file name the user chose (:func:`upload_file_name`; a WFDB record's
    files joined by ``+``) and the case to open (:class:`~ecgreview.review.case.CaseSource`, named by
    its internal id ``upload-<hash>``)."""

    file_name: str
    source: CaseSource = field(repr=False)
    #: The name its kept file ends with (:func:`save_upload`): the file's, or a WFDB record's ``<record>.zip``.
    kept_name: str = ""


def uploaded_cases(files: Sequence[tuple[str, bytes]]) -> list[UploadedCase]:
    """The cases of files uploaded together: each file is one case, except the files of one WFDB record
    (:func:`ecgreview.io.group_record_files`: a header with the signal files it names), which are one.

    Parameters
    ----------
    files : sequence of (str, bytes)
        ``(file name as uploaded, content)`` pairs, in upload order.

    Returns
    -------
    list of UploadedCase
        In the order of each case's first file.

    Raises
    ------
    EcgReadError
        A WFDB record's files together are larger than the readers' file limit.
    """
    cases = []
    for group in group_record_files(files):
        data, bundle_name = bundle_files(group)
        cases.append(UploadedCase(" + ".join(upload_file_name(file) for file, _ in group),
                                  CaseSource.from_upload(data, bundle_name), upload_file_name(bundle_name)))
    return cases


def save_upload(settings: Settings, data: bytes, name: str, source_sha256: str, *, uploader: str | None = None) -> Path:
    """Keep an uploaded case (once per content) as the site's PHI policy allows; returns where it is kept.

    The file's PHI audit (:func:`ecgreview.security.phi.audit_file`) decides: a clean file is
    kept as it is; a file with findings is refused, or with ``Settings.upload_phi == "deidentify"``
    a DICOM file is kept as its de-identified copy only (an XML file has no de-identification and
    is refused); a format without a PHI audit (WFDB, SCP-ECG …) is refused, as it cannot be checked.
    The kept file is named ``<first 12 hex digits of source_sha256>-<name>`` (``name``, the file name
    the user chose, through :func:`upload_file_name`); a de-identified copy is named
    ``<…>-deidentified.dcm``, as the name of a file with PHI may identify the patient too.
    In ``name`` mode (one workstation) the file goes to ``home/uploads``, which the worklist lists;
    with sign-in it goes to ``home/uploads-pending/<uploader>``, which no worklist lists, until an
    administrator moves it into the case folder. Files are written 0600, folders 0700.

    Raises
    ------
    ReviewStoreError
        The upload is refused by the PHI policy (the reason names the audit's categories, never a value).
    OSError
        The folder cannot be written.
    """
    safe = upload_file_name(name)
    folder = settings.home / UPLOADS_DIR
    if settings.auth_mode != "name":
        user_folder = re.sub(r"[^A-Za-z0-9._@+-]+", "_", uploader or "").lstrip(".") or "unknown"
        folder = settings.home / PENDING_UPLOADS_DIR / user_folder
    target = folder / f"{source_sha256[:12]}-{safe}"
    # a file that held PHI is kept without its name too (a name like Doe_John_19500101.dcm identifies)
    deidentified = folder / f"{source_sha256[:12]}-deidentified.dcm"
    kept_before = sorted(folder.glob(f"{source_sha256[:12]}-*")) if folder.is_dir() else []
    if kept_before:  # once per content, whatever its name this time
        return target if target in kept_before else kept_before[0]
    kept = _upload_without_phi(settings, data, name)
    target = target if kept is data else deidentified
    for directory in (folder.parent, folder) if settings.auth_mode != "name" else (folder,):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
    write_atomically(target, kept, mode=0o600)
    return target


def _upload_without_phi(settings: Settings, data: bytes, name: str) -> bytes:
    """The bytes to keep of an upload under the site's PHI policy (see :func:`save_upload`)."""
    try:
        audit = audit_file(data, name)
    except EcgReadError as exc:
        raise ReviewStoreError(name, f"not kept: its PHI cannot be checked ({exc.reason})") from exc
    if audit.status == "clean":
        return data
    policy = f"the site keeps no upload with PHI: ECGREVIEW_UPLOAD_PHI={settings.upload_phi}"
    if settings.upload_phi != "deidentify":
        raise ReviewStoreError(name, f"not kept: {audit.summary()} ({policy})")
    try:
        cleaned, cleaned_audit = deidentify_bytes(data, name=name)
    except EcgReadError as exc:
        raise ReviewStoreError(name, f"not kept: {audit.summary()}, and only DICOM files can be de-identified "
                                     f"({exc.reason})") from exc
    if cleaned_audit.status != "clean":
        raise ReviewStoreError(name, f"not kept: its de-identified copy still has {cleaned_audit.summary()} ({policy})")
    return cleaned
