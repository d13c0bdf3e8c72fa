"""Uploaded cases kept for the worklist, under the site's PHI policy (issue #22 item 6).

An upload is audited for PHI before anything is written (:func:`ecgreview.security.audit.audit_file`);
what is kept is either clean as uploaded or a de-identified DICOM copy, never the identifying
original. With sign-in, an upload waits in ``home/uploads-pending/<uploader>`` (listed by no
worklist) until an administrator moves it into the case folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from ecgreview._files import write_atomically
from ecgreview.config import Settings
from ecgreview.errors import EcgReadError, ReviewStoreError
from ecgreview.security.audit import audit_file, deidentify_bytes

__all__ = ["PENDING_UPLOADS_DIR", "UPLOADS_DIR", "save_upload"]

#: Uploads in ``name`` mode (one workstation), listed by the worklist.
UPLOADS_DIR = "uploads"
#: Uploads of signed-in users, listed by no worklist until an administrator moves them into the case folder.
PENDING_UPLOADS_DIR = "uploads-pending"


def save_upload(settings: Settings, data: bytes, name: str, source_sha256: str, *, uploader: str | None = None) -> Path:
    """Keep an uploaded case (once per content) as the site's PHI policy allows; returns where it is kept.

    The file's PHI audit (:func:`ecgreview.security.audit.audit_file`) decides: a clean file is
    kept as it is; a file with findings is refused, or with ``Settings.upload_phi == "deidentify"``
    a DICOM file is kept as its de-identified copy only (an XML file has no de-identification and
    is refused); a format without a PHI audit (WFDB, SCP-ECG …) is refused, as it cannot be checked.
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
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).lstrip(".") or "upload"
    folder = settings.home / UPLOADS_DIR
    if settings.auth_mode != "name":
        user_folder = re.sub(r"[^A-Za-z0-9._@+-]+", "_", uploader or "").lstrip(".") or "unknown"
        folder = settings.home / PENDING_UPLOADS_DIR / user_folder
    target = folder / f"{source_sha256[:12]}-{safe}"
    if target.exists():
        return target
    kept = _upload_without_phi(settings, data, name)
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
