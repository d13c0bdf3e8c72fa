"""Read SCP-ECG files (EN 1064 / ISO 11073-91064) into an :class:`EcgRecord`.

Layout (EN 1064): a 2-byte CRC and a 4-byte record length, then sections, each
with a 16-byte header (CRC, section id, section length, versions, reserved
``SCPECG`` in later versions). Section 0 lists where every section starts
(10-byte pointers: id, length, 1-based byte index). Section 3 defines the
leads, 2 the Huffman tables, 5 and 6 the median beats and the rhythm (often
with reference-beat subtraction and bimodal compression), 7 the global
measurements, 8 the device's full-text statements and 11 its universal
statement codes.

The signal sections are decoded by ecgdatakit (see
:mod:`ecgreview.io._ecgdatakit`). Statements are read here, because the codes
of section 11 must stay recognisable as codes: each becomes ``"SCP <code>"``
(e.g. ``"SCP SBRAD"``), which the statement table maps like DICOM's
``"SCT <code>"``; section 8 texts are kept as written.
"""

from __future__ import annotations

import os
import struct

from ecgreview.errors import EcgReadError
from ecgreview.io import _ecgdatakit
from ecgreview.io._limits import check_signal_shape
from ecgreview.io._source import _load_source
from ecgreview.record import EcgRecord, Measurement

__all__ = ["looks_like_scp", "read_scp_ecg"]

FORMAT_NAME = "SCP-ECG"
_SECTION_HEADER_BYTES = 16
_POINTER_BYTES = 10
#: Statement type byte of a section 11 statement (EN 1064): 1 coded, 2 full text, 3 statement logic.
_CODED, _TEXT = 1, 2
#: Section 7 values that mean "not measured".
_UNDEFINED = (29999, 0xFFFF)


def looks_like_scp(data: bytes) -> bool:
    """Whether ``data`` starts like an SCP-ECG record: section 0 first, its pointer to itself at byte 7."""
    if len(data) < 6 + _SECTION_HEADER_BYTES + 2 * _POINTER_BYTES:
        return False
    record_length = int.from_bytes(data[2:6], "little")
    section_id = int.from_bytes(data[8:10], "little")
    section_length = int.from_bytes(data[10:14], "little")
    if section_id != 0 or section_length < _SECTION_HEADER_BYTES + _POINTER_BYTES:
        return False
    if (section_length - _SECTION_HEADER_BYTES) % _POINTER_BYTES or record_length < 6 + section_length:
        return False
    first_pointer = 6 + _SECTION_HEADER_BYTES
    return (
        int.from_bytes(data[first_pointer:first_pointer + 2], "little") == 0
        and int.from_bytes(data[first_pointer + 6:first_pointer + 10], "little") == 7
    )


def read_scp_ecg(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> EcgRecord:
    """Read an SCP-ECG file.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A file path, or the file's bytes.
    name : str, optional
        File name for the record and for error messages.

    Returns
    -------
    EcgRecord
        ``signal_mv`` (samples, 12) float32 in mV in ``LEAD_ORDER`` (limb leads
        derived when only I, II and V1-V6 are stored), the sampling rate in Hz,
        statements (section 8 text, section 11 codes as ``"SCP <code>"``),
        measurements and the median beats when present.

    Raises
    ------
    EcgReadError
        If the file is not SCP-ECG, is truncated, or its sections cannot be decoded.
    """
    data, source_name = _load_source(path_or_bytes, name)
    source = source_name or None
    if not looks_like_scp(data):
        raise EcgReadError(source, "not an SCP-ECG file (no section 0 pointer table at byte 7)")
    sections = _section_offsets(data, source)
    _check_declared_shape(data, sections, source)
    statements = _statement_texts(data, sections, source)
    parsed = _ecgdatakit._parse(data, "scp", source, FORMAT_NAME)
    record = _ecgdatakit._record_from_parsed(
        parsed, data, source_name, format_name=FORMAT_NAME, statements=statements
    )
    return record.replace(measurements=_intervals(parsed.raw_metadata) + record.measurements)


def _intervals(raw: dict) -> tuple[Measurement, ...]:
    """PR, QRS, QT (ms) from the reference beat's wave boundaries in section 7, and its QTc.

    Section 7 stores boundaries (ms from the start of the reference beat), not
    intervals: PR = QRS onset − P onset, QRS = QRS offset − QRS onset,
    QT = T offset − QRS onset. Undefined boundaries (29999 or 0xFFFF) give no interval.
    """
    blocks = raw.get("measurement_blocks") or []
    found = []
    if blocks and isinstance(blocks[0], dict):
        beat = {key: value for key, value in blocks[0].items() if isinstance(value, int) and value not in _UNDEFINED}
        for name, end, start in (("PR", "qrs_onset", "p_onset"), ("QRS", "qrs_offset", "qrs_onset"),
                                 ("QT", "t_offset", "qrs_onset")):
            if end in beat and start in beat and beat[end] > beat[start]:
                found.append(Measurement(name, float(beat[end] - beat[start]), "ms"))
    qtc = raw.get("qtc_ms")
    if isinstance(qtc, int) and 0 < qtc not in _UNDEFINED:
        found.append(Measurement("QTc", float(qtc), "ms"))
    return tuple(found)


def _section_offsets(data: bytes, source: str | None) -> dict[int, tuple[int, int]]:
    """Section id -> (byte offset, length) from the section 0 pointers, checked against the file."""
    record_length = int.from_bytes(data[2:6], "little")
    if record_length > len(data):
        raise EcgReadError(source, f"SCP-ECG record declares {record_length} bytes but the file has {len(data)}; "
                                   "the file may be truncated")
    section_length = int.from_bytes(data[10:14], "little")
    sections = {}
    for position in range(6 + _SECTION_HEADER_BYTES, 6 + section_length, _POINTER_BYTES):
        section_id, length, index = struct.unpack_from("<HII", data, position)
        if length == 0 or index == 0:
            continue  # section not present
        offset = index - 1
        if length < _SECTION_HEADER_BYTES or offset + length > record_length:
            raise EcgReadError(source, f"SCP-ECG section {section_id}: {length} bytes at byte {index} "
                                       f"lie outside the {record_length}-byte record")
        sections[section_id] = (offset, length)
    return sections


def _check_declared_shape(data: bytes, sections: dict[int, tuple[int, int]], source: str | None) -> None:
    """Leads and samples declared in section 3, the rate in section 6: within the limits before decoding."""
    for section_id in (3, 6):
        if section_id not in sections:
            raise EcgReadError(source, f"SCP-ECG section {section_id} "
                                       f"({'lead definition' if section_id == 3 else 'rhythm data'}) is missing")
    offset, length = sections[3]
    body = data[offset + _SECTION_HEADER_BYTES:offset + length]
    lead_count = body[0] if body else 0
    if lead_count == 0 or len(body) < 2 + 9 * lead_count:
        raise EcgReadError(source, f"SCP-ECG section 3 declares {lead_count} leads in {len(body)} bytes")
    samples = 0
    for position in range(2, 2 + 9 * lead_count, 9):
        start, end = struct.unpack_from("<II", body, position)
        samples = max(samples, end - start + 1)
    offset, length = sections[6]
    body = data[offset + _SECTION_HEADER_BYTES:offset + length]
    interval_us = int.from_bytes(body[2:4], "little") if len(body) >= 4 else 0
    check_signal_shape(source, samples, lead_count, 1e6 / interval_us if interval_us else None, where="SCP-ECG")


def _statement_texts(data: bytes, sections: dict[int, tuple[int, int]], source: str | None) -> list[str]:
    """Section 8 texts, then section 11 codes as ``"SCP <code>"`` (texts of type 2 kept as written)."""
    texts: list[str] = []
    for section_id in (8, 11):
        if section_id not in sections:
            continue
        offset, length = sections[section_id]
        body = data[offset + _SECTION_HEADER_BYTES:offset + length]
        for statement_type, value in _statements(body, section_id, source):
            parts = [_decode(part) for part in value.split(b"\0")]
            parts = [part for part in parts if part]
            if section_id == 11 and statement_type == _CODED:
                texts.extend(f"SCP {part}" for part in parts)
            else:
                texts.extend(line.strip() for part in parts for line in part.splitlines() if line.strip())
    return texts


def _statements(body: bytes, section_id: int, source: str | None) -> list[tuple[int, bytes]]:
    """(statement type, bytes) of each statement of section 8 or 11 (type 2 for section 8 text)."""
    where = f"SCP-ECG section {section_id}"
    if len(body) < 9:
        raise EcgReadError(source, f"{where} is too short for its header ({len(body)} bytes)")
    count, position, found = body[8], 9, []
    for number in range(1, count + 1):
        if position + 3 > len(body):
            raise EcgReadError(source, f"{where}: statement {number} of {count} is truncated")
        size = int.from_bytes(body[position + 1:position + 3], "little")
        value = body[position + 3:position + 3 + size]
        if len(value) < size:
            raise EcgReadError(source, f"{where}: statement {number} of {count} is truncated")
        position += 3 + size
        if section_id == 11:
            found.append((value[0] if value else _TEXT, value[1:]))
        else:
            found.append((_TEXT, value))
    return found


def _decode(value: bytes) -> str:
    """Statement bytes as text: UTF-8 when valid, else ISO 8859-1 (the EN 1064 default)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("latin-1")
    return text.replace("\r", "\n").strip()
