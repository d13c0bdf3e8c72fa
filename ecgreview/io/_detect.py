"""Name the format of a file that ``read_ecg`` does not read, so the message can say what it is.

Only cheap checks on the first bytes (magic numbers and fixed header fields); the
file is never parsed. Used for the error message only, never to pick a reader.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__: list[str] = []

#: The formats read_ecg reads, for messages.
READ_FORMATS = (
    "DICOM ECG waveforms (12-lead, General ECG, Hemodynamic with Modality ECG)",
    "WFDB (header with its signal files, or a zip)",
    "SCP-ECG",
    "HL7 aECG XML",
    "GE MUSE XML",
    "GE CardioSoft XML",
    "Philips Sierra XML 1.03-1.04",
    "Mortara ELI XML",
)

_NOWHERE = Path("/nonexistent-ecgreview-upload")
_INTEGER = re.compile(rb"^\s*-?\d+\s*$")

#: (name, test on the first bytes), most specific first.
_SIGNATURES: tuple[tuple[str, object], ...] = (
    ("a PDF document", lambda start: start.startswith(b"%PDF-")),
    ("a BDF file (BioSemi)", lambda start: start.startswith(b"\xffBIOSEMI")),
    ("an EDF/EDF+ file", lambda start: _looks_like_edf(start)),
    ("an ISHNE Holter file", lambda start: start.startswith((b"ISHNE1.0", b"ANN  1.0"))),
    ("a PNG image", lambda start: start.startswith(b"\x89PNG\r\n\x1a\n")),
    ("a JPEG image", lambda start: start.startswith(b"\xff\xd8\xff")),
    ("a TIFF image", lambda start: start.startswith((b"II*\x00", b"MM\x00*"))),
    ("a GIF image", lambda start: start.startswith((b"GIF87a", b"GIF89a"))),
    ("a zip archive without a WFDB record", lambda start: start.startswith(b"PK\x03\x04")),
    ("a gzip archive", lambda start: start.startswith(b"\x1f\x8b")),
    ("an HL7 v2 message", lambda start: start.startswith(b"MSH|")),
    ("a JSON document", lambda start: start.lstrip()[:1] in (b"{", b"[")),
    ("MFER (Medical waveform Format Encoding Rules)", lambda start: _looks_like_mfer(start)),
)


def _looks_like_mfer(start: bytes) -> bool:
    """MFER (ISO 22077-1) with its preamble: tag 0x40, a length, then ``"MFR "``."""
    return len(start) >= 6 and start[0] == 0x40 and start[2:6] == b"MFR "


def _looks_like_edf(start: bytes) -> bool:
    """EDF/EDF+: version ``"0"`` padded to 8 bytes; record count and signal count are integers."""
    return (len(start) >= 256 and start[:8] == b"0       " and _INTEGER.match(start[236:244]) is not None
            and _INTEGER.match(start[252:256]) is not None)


def _library_format(data: bytes, name: str) -> str | None:
    """The format ecgdatakit's sniffers name (formats we have no signature for), or None."""
    try:
        from ecgdatakit import FileParser
    except ImportError:  # pragma: no cover - the pin is in requirements.txt
        return None
    for parser in FileParser().parsers:
        try:
            # A path in no folder: sniffers that look for companion files find none.
            if parser.can_parse(_NOWHERE / os.path.basename(name or "upload"), data[:4096]):
                return f"{parser.FORMAT_NAME} ({parser.FORMAT_DESCRIPTION})"
        except Exception:  # a sniffer that fails on odd bytes names nothing
            continue
    return None


def detected_format(data: bytes, xml_root: str | None, name: str = "") -> str | None:
    """What ``data`` looks like (``"an EDF/EDF+ file"``, ``"MFER ..."``, ``"a PDF document"``), or None."""
    if xml_root is not None:
        return f"an XML document with root element <{xml_root}>"
    start = data[:512]
    for label, test in _SIGNATURES:
        if test(start):  # type: ignore[operator]
            return label
    found = _library_format(data, name)
    return f"a file in {found}" if found else None


def unsupported_message(data: bytes, xml_root: str | None = None, name: str = "") -> str:
    """The reason for a file no reader takes: its detected format (if any) and the formats we read."""
    found = detected_format(data, xml_root, name)
    prefix = f"{found} is not a supported ECG format" if found else "not a supported ECG file (format not recognised)"
    return f"{prefix}; supported: {', '.join(READ_FORMATS)}"
