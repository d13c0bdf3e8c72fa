"""Read ECG files into :class:`~ecgreview.record.EcgRecord`, choosing the reader by content.

Formats and how they are recognised (the file suffix is only a hint):

* DICOM waveforms: ``DICM`` at byte 128, or a preamble-less dataset starting
  with a group 0002/0008 element (or a ``.dcm``/``.dicom`` suffix);
* WFDB: a text header whose first line reads ``NAME signals rate samples``,
  or a ``.zip`` holding one; the signal files are found beside a header path,
  inside the zip, or among the files given to :func:`read_ecg_files`;
* SCP-ECG: section 0 first, its pointer table starting at byte 7 (EN 1064);
* XML by root element: ``AnnotatedECG`` in ``urn:hl7-org:v3`` (HL7 aECG),
  ``RestingECG`` (GE MUSE), ``CardiologyXML`` (GE CardioSoft),
  ``restingecgdata`` (Philips Sierra 1.03-1.04.x), ``ECG`` (Mortara ELI).

Any other file is refused with a message naming the format it looks like (EDF,
MFER, PDF, ...) and the formats read. Formats, readers and the libraries behind
them: ``docs/formats.md``.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ecgreview.errors import EcgReadError
from ecgreview.io._detect import READ_FORMATS, unsupported_message
from ecgreview.io._limits import MAX_FILE_BYTES, MAX_HEADER_BYTES, check_file_size
from ecgreview.io._source import _load_source
from ecgreview.io._xml import _local_name, _root_tag
from ecgreview.io.cardiosoft_xml import read_cardiosoft_xml
from ecgreview.io.dicom import read_dicom_ecg
from ecgreview.io.hl7_aecg import HL7_NAMESPACE, read_hl7_aecg
from ecgreview.io.mortara_xml import read_mortara_xml
from ecgreview.io.muse_xml import read_muse_xml
from ecgreview.io.scp import looks_like_scp, read_scp_ecg
from ecgreview.io.sierra_xml import read_sierra_xml
from ecgreview.io.wfdb import read_wfdb_ecg, read_wfdb_files
from ecgreview.record import EcgRecord

__all__ = [
    "READ_FORMATS", "bundle_files", "group_record_files", "list_case_files", "read_cardiosoft_xml", "read_dicom_ecg", "read_ecg",
    "read_ecg_files", "read_hl7_aecg", "read_mortara_xml", "read_muse_xml", "read_scp_ecg",
    "read_sierra_xml", "read_wfdb_ecg", "read_wfdb_files", "record_files",
]

_DICOM_SUFFIXES = (".dcm", ".dicom")
#: First tag group of a preamble-less dataset (file meta 0002 or identifying 0008), little endian.
_DICOM_FIRST_GROUPS = (b"\x02\x00", b"\x08\x00")
_WFDB_SIGNAL_SUFFIXES = (".mat", ".dat")
_CASE_SUFFIXES = (*_DICOM_SUFFIXES, ".hea", ".xml", ".zip", ".scp")
_ZIP_MAGIC = b"PK\x03\x04"
#: A WFDB record line: name, number of signals, sampling rate (with optional counter/base), samples.
_WFDB_RECORD_LINE = re.compile(rb"^[A-Za-z0-9_.\-]+\s+\d+\s+\d+(?:\.\d*)?(?:/[\d.]+)?(?:\([^)]*\))?\s+\d+(?:\s|$)")
_XML_READERS: dict[str, Callable[..., EcgRecord]] = {
    f"{{{HL7_NAMESPACE}}}AnnotatedECG": read_hl7_aecg,
    "RestingECG": read_muse_xml,
    "CardiologyXML": read_cardiosoft_xml,
    "restingecgdata": read_sierra_xml,
    "ECG": read_mortara_xml,
}
_XML_FORMAT_NAMES: dict[Callable[..., EcgRecord], str] = {
    read_hl7_aecg: "HL7 aECG XML", read_muse_xml: "GE MUSE XML", read_cardiosoft_xml: "GE CardioSoft XML",
    read_sierra_xml: "Philips Sierra ECG XML", read_mortara_xml: "Mortara ELI XML",
}


def read_ecg(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> EcgRecord:
    """Read an ECG file in any supported format, recognised by its content.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A file path, or the file's bytes (e.g. a Streamlit upload). For WFDB,
        give the header path (its signal files beside it), a signal file path
        (its header beside it), or a ``.zip`` of the record; for several uploaded
        files use :func:`read_ecg_files`.
    name : str, optional
        File name of the bytes (its suffix is a format hint); defaults to the
        path's basename.

    Returns
    -------
    EcgRecord
        (samples, 12) float32 signal in mV, ``LEAD_ORDER``, with ``source_name``
        and ``source_sha256``.

    Raises
    ------
    EcgReadError
        If the content is not a supported ECG format, or the reader fails.
    """
    if isinstance(path_or_bytes, (str, os.PathLike)):
        path_or_bytes = _header_beside_signal(Path(path_or_bytes))
    data, source_name = _load_source(path_or_bytes, name)
    suffix = os.path.splitext(source_name)[1].lower()
    if _looks_like_dicom(data):
        return read_dicom_ecg(data, name=source_name)
    if _looks_like_wfdb_header(data) or data.startswith(_ZIP_MAGIC):
        record = read_wfdb_ecg(path_or_bytes if not isinstance(path_or_bytes, bytes) else data, name=source_name)
        return record if record.source_format else record.replace(source_format="WFDB")
    if looks_like_scp(data):
        return read_scp_ecg(data, name=source_name)
    tag = _root_tag(data, source_name or None)
    if tag is not None:
        return _read_xml(data, source_name, tag)
    if suffix in _DICOM_SUFFIXES:
        return read_dicom_ecg(data, name=source_name)
    raise EcgReadError(source_name or None, unsupported_message(data, name=source_name))


def bundle_files(files: Sequence[tuple[str, bytes]]) -> tuple[bytes, str]:
    """One case ``(bytes, name)`` from uploaded files, for :func:`read_ecg`.

    A single file is returned as is. Several files (a WFDB header with its signal
    files) are stored in one zip, named after the header, with fixed timestamps so
    that the same files always give the same bytes.

    Raises
    ------
    EcgReadError
        If the files together are larger than the readers' file limit (64 MiB).
    """
    check_file_size(None, sum(len(data) for _, data in files), limit_bytes=MAX_FILE_BYTES, what="the upload")
    if len(files) == 1:
        name, data = files[0]
        return bytes(data), os.path.basename(name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in sorted(files):
            archive.writestr(zipfile.ZipInfo(os.path.basename(name), date_time=(1980, 1, 1, 0, 0, 0)), bytes(data))
    stem = next((Path(name).stem for name, data in files if _looks_like_wfdb_header(bytes(data))), "upload")
    return buffer.getvalue(), f"{stem}.zip"


def read_ecg_files(files: Sequence[tuple[str, bytes]]) -> list[EcgRecord]:
    """Read several uploaded files, grouping each WFDB header with its signal files.

    Parameters
    ----------
    files : sequence of (str, bytes)
        ``(file name, content)`` pairs, e.g. from a multi-file upload. A WFDB
        record is its header plus the signal files it names; every other file
        is one ECG on its own (DICOM, XML, or a zipped WFDB record).

    Returns
    -------
    list of EcgRecord
        One record per ECG, in the order of their first file.

    Raises
    ------
    EcgReadError
        For the first file that cannot be read, or a WFDB signal file whose
        header is not among ``files``.
    """
    records = []
    for (name, data), *signal_files in group_record_files(files):
        if signal_files or _looks_like_wfdb_header(data):
            records.append(read_wfdb_ecg(data, name=name, signal_files=dict(signal_files)))
        else:
            if name.lower().endswith(_WFDB_SIGNAL_SUFFIXES) and not _looks_like_dicom(data):
                raise EcgReadError(name, "WFDB signal file without its header (.hea) among the uploaded files")
            records.append(read_ecg(data, name=name))
    return records


def group_record_files(files: Sequence[tuple[str, bytes]]) -> list[list[tuple[str, bytes]]]:
    """Files grouped into ECG records: a WFDB header (by content) first, with the signal files it names
    that are among ``files``; every other file alone (DICOM, XML, a zipped WFDB record …).

    Parameters
    ----------
    files : sequence of (str, bytes)
        ``(file name, content)`` pairs, e.g. from a multi-file upload; names are reduced to their base name.

    Returns
    -------
    list of list of (str, bytes)
        One group per record, in the order of their first file.
    """
    by_name = {os.path.basename(name): bytes(data) for name, data in files}
    headers = [name for name, data in by_name.items() if _looks_like_wfdb_header(data)]
    claimed = {signal for header in headers for signal in _signal_file_names(by_name[header]) if signal != header}
    groups = []
    for name, data in by_name.items():
        if name in headers:
            signals = [file for file in _signal_file_names(data) if file in by_name and file != name]
            groups.append([(name, data), *((file, by_name[file]) for file in signals)])
        elif name not in claimed:
            groups.append([(name, data)])
    return groups


def _read_xml(data: bytes, source_name: str, tag: str) -> EcgRecord:
    reader = _XML_READERS.get(tag) or _XML_READERS.get(_local_name(tag))
    if reader is None or (reader is read_hl7_aecg and tag != f"{{{HL7_NAMESPACE}}}AnnotatedECG"):
        raise EcgReadError(
            source_name or None,
            f"XML root element <{tag}> is not a supported ECG format (expected AnnotatedECG in {HL7_NAMESPACE}, "
            f"RestingECG, CardiologyXML, restingecgdata or ECG); supported: {', '.join(READ_FORMATS)}",
        )
    record = reader(data, name=source_name)
    return record if record.source_format else record.replace(source_format=_XML_FORMAT_NAMES[reader])


def _header_beside_signal(path: Path) -> Path:
    """For a WFDB signal file path, the header of the same name beside it; else ``path``."""
    if path.suffix.lower() in _WFDB_SIGNAL_SUFFIXES and path.with_suffix(".hea").is_file():
        return path.with_suffix(".hea")
    return path


def _looks_like_wfdb_header(data: bytes) -> bool:
    """Whether ``data`` is WFDB header text: the first non-comment line is a record line."""
    if b"\0" in data[:4096]:
        return False
    for line in data[:4096].splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(b"#"):
            return _WFDB_RECORD_LINE.match(stripped) is not None
    return False


def _signal_file_names(header: bytes) -> list[str]:
    """File names in the signal lines of a WFDB header (best effort; the reader validates)."""
    lines = [line.split() for line in header[:MAX_HEADER_BYTES].decode("ascii", "replace").splitlines()]
    body = [fields for fields in lines if fields and not fields[0].startswith("#")]
    return list(dict.fromkeys(fields[0] for fields in body[1:]))


def _looks_like_dicom(data: bytes) -> bool:
    return data[128:132] == b"DICM" or data[:2] in _DICOM_FIRST_GROUPS


def list_case_files(directory: str | os.PathLike[str] | None) -> list[Path]:
    """The ECG files under ``directory`` (recursive, sorted), recognised by suffix or content.

    Parameters
    ----------
    directory : str, os.PathLike or None
        The case folder; ``None`` or a missing folder gives an empty list.

    Returns
    -------
    list of pathlib.Path
        Regular, non-hidden files that :func:`read_ecg` would try to read: DICOM,
        WFDB headers (not their signal files), zips and XML files.
    """
    if directory is None or not Path(directory).is_dir():
        return []
    found = []
    for path in sorted(Path(directory).rglob("*")):
        relative_parts = path.relative_to(directory).parts
        if not path.is_file() or any(part.startswith(".") for part in relative_parts):
            continue
        if path.suffix.lower() in _CASE_SUFFIXES or _starts_like_ecg(path):
            found.append(path)
    return found


def _starts_like_ecg(path: Path) -> bool:
    """Whether the file starts like DICOM or a WFDB header (XML and zips are listed by suffix)."""
    try:
        with path.open("rb") as handle:
            start = handle.read(4096)
    except OSError:
        return False
    return _looks_like_dicom(start) or _looks_like_wfdb_header(start) or looks_like_scp(start)


def record_files(path: str | os.PathLike[str]) -> tuple[Path, ...]:
    """The files one case at ``path`` is read from: the file itself, and for a WFDB header its signal files.

    A case is a record, not a file: a WFDB record is its ``.hea`` plus the ``.mat``/``.dat``
    files it names, read from beside it. Used to tell when a case changed on disk (any of
    its files' size or modification time). Signal files that do not exist are left out
    (reading the record then fails with a clear message).
    """
    path = _header_beside_signal(Path(path))
    try:
        with path.open("rb") as handle:
            start = handle.read(4096)
    except OSError:
        return (path,)
    if not _looks_like_wfdb_header(start):
        return (path,)
    try:
        header = path.read_bytes()[:1 << 20]
    except OSError:
        return (path,)
    signals = [path.parent / name for name in _signal_file_names(header) if os.path.basename(name) == name]
    return (path, *(signal for signal in signals if signal.is_file()))
