"""Read ECG files into :class:`~ecgreview.record.EcgRecord`, choosing the reader by content.

The format is recognised from the bytes (DICOM: ``DICM`` at byte 128, or a
preamble-less dataset starting with a group 0002/0008 element); the file suffix
is only a hint that makes a DICOM parse worth attempting.
"""

from __future__ import annotations

import os
from pathlib import Path

from ecgreview.errors import EcgReadError
from ecgreview.io.dicom import _load_source, read_dicom_ecg
from ecgreview.record import EcgRecord

__all__ = ["list_case_files", "read_dicom_ecg", "read_ecg"]

_DICOM_SUFFIXES = (".dcm", ".dicom")
#: First tag group of a preamble-less dataset (file meta 0002 or identifying 0008), little endian.
_DICOM_FIRST_GROUPS = (b"\x02\x00", b"\x08\x00")


def read_ecg(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> EcgRecord:
    """Read an ECG file in any supported format (for now: DICOM waveforms).

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A file path, or the file's bytes (e.g. a Streamlit upload).
    name : str, optional
        File name of the bytes (its suffix is a format hint); defaults to the
        path's basename.

    Returns
    -------
    EcgRecord
        (samples, 12) float32 signal in mV, ``LEAD_ORDER``, with ``source_name``
        and ``source_sha256`` of the bytes.

    Raises
    ------
    EcgReadError
        If the content is not a supported ECG format, or the reader fails.
    """
    data, source_name = _load_source(path_or_bytes, name)
    suffix = os.path.splitext(source_name)[1].lower()
    if _looks_like_dicom(data) or suffix in _DICOM_SUFFIXES:
        return read_dicom_ecg(data, name=source_name)
    raise EcgReadError(
        source_name or None,
        "not a supported ECG file (expected a DICOM waveform: no 'DICM' marker at byte 128 "
        "and no DICOM data element at the start)",
    )


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
        Regular, non-hidden files that :func:`read_ecg` would try to read.
    """
    if directory is None or not Path(directory).is_dir():
        return []
    found = []
    for path in sorted(Path(directory).rglob("*")):
        relative_parts = path.relative_to(directory).parts
        if not path.is_file() or any(part.startswith(".") for part in relative_parts):
            continue
        if path.suffix.lower() in _DICOM_SUFFIXES or _starts_like_dicom(path):
            found.append(path)
    return found


def _starts_like_dicom(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return _looks_like_dicom(handle.read(132))
    except OSError:
        return False
