"""Read Mortara (Welch Allyn, Hillrom) ELI XML (root ``ECG``) into an :class:`EcgRecord`.

ELI 250/280 and ELI Link write ``<CHANNEL NAME="I" UNITS_PER_MV=... SAMPLE_FREQ=...
DATA="base64 int16">`` per lead, the median beats as ``TYPICAL_CYCLE``, statements
as ``AUTOMATIC_INTERPRETATION/STATEMENT@TEXT`` and the rate on the root. There is
no public specification; ecgdatakit's reader follows the open readers
(BRAVEHEART, EDFbrowser) and is used here (see :mod:`ecgreview.io._ecgdatakit`),
after our own safe XML parse, which refuses entity declarations.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree

from ecgreview.errors import EcgReadError
from ecgreview.io import _ecgdatakit
from ecgreview.io._limits import MAX_SAMPLES_PER_LEAD, check_base64_length, check_signal_shape
from ecgreview.io._source import _load_source
from ecgreview.io._xml import _number, _parse_xml
from ecgreview.record import EcgRecord

__all__ = ["read_mortara_xml"]

FORMAT_NAME = "Mortara ELI XML"
ROOT = "ECG"


def read_mortara_xml(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> EcgRecord:
    """Read a Mortara ELI XML resting ECG.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A file path, or the file's bytes.
    name : str, optional
        File name for the record and for error messages.

    Returns
    -------
    EcgRecord
        (samples, 12) float32 in mV in ``LEAD_ORDER``, sampling rate in Hz,
        statements, measurements and the median beats (``TYPICAL_CYCLE``).

    Raises
    ------
    EcgReadError
        If the XML is malformed or refused, its root is not ``ECG``, it has no
        ``CHANNEL`` data, or a channel cannot be decoded.
    """
    data, source_name = _load_source(path_or_bytes, name)
    source = source_name or None
    root = _parse_xml(data, source, FORMAT_NAME.removesuffix(" XML"))
    if root.tag != ROOT:
        raise EcgReadError(source, f"not a Mortara ELI XML: root element is <{root.tag}>, expected <{ROOT}>")
    channels = root.findall("CHANNEL")
    if not channels:
        raise EcgReadError(source, "no CHANNEL element (no rhythm waveforms)")
    _check_declared_shape(channels, root.findall("TYPICAL_CYCLE/TYPICAL_CYCLE_CHANNEL"), source)
    parsed = _ecgdatakit._parse(data, "mortara", source, FORMAT_NAME)
    return _ecgdatakit._record_from_parsed(parsed, data, source_name, format_name=FORMAT_NAME, manufacturer="Mortara")


def _check_declared_shape(
    channels: list[ElementTree.Element], beats: list[ElementTree.Element], source: str | None
) -> None:
    """Every channel's base64 DATA within the per-lead limit, before anything is decoded."""
    check_signal_shape(source, 0, len(channels), None, where="CHANNEL")
    largest_bytes = 2 * MAX_SAMPLES_PER_LEAD
    for element in (*channels, *beats):
        where = f"{element.tag} {element.get('NAME') or ''}".strip()
        data = element.get("DATA")
        text = data if data is not None else element.text or ""
        check_base64_length(source, where, len(text), largest_bytes)
        rate_hz = _number(element.get("SAMPLE_FREQ"))
        declared = _number(element.get("DURATION"))
        if declared is not None and declared > 0:
            check_signal_shape(source, int(declared), 1, rate_hz, where=where)

