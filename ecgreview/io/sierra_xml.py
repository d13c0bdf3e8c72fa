"""Philips Sierra ECG XML of every version: 1.04.x by our reader, 1.03 through ecgdatakit.

Version 1.03 (PageWriter Trim/Touch firmware before 1.04) keeps what 1.04 puts on
``parsedwaveforms`` elsewhere: the sampling rate and resolution in
``dataacquisition/signalcharacteristics`` (``samplingrate``,
``signalresolution``), the lead set as ``acquisitiontype`` (``STD-12``,
``10-WIRE``) instead of ``leadlabels``, the representative beats directly in
``<repbeat>``, and the measurements as ``mean*`` elements. ecgdatakit reads all
of that (and the same XLI compression), so 1.03 goes through
:mod:`ecgreview.io._ecgdatakit`; 1.04 and later stay on
:func:`~ecgreview.io._sierra_104.record_from_root`, which agrees with ecgdatakit
sample for sample on the corpus file (see ``docs/formats.md``).
"""

from __future__ import annotations

import base64
import binascii
import os
import xml.etree.ElementTree as ElementTree

from ecgreview.errors import EcgReadError
from ecgreview.io import _ecgdatakit
from ecgreview.io._limits import check_base64_length, check_signal_shape
from ecgreview.io._source import _load_source
from ecgreview.io._xml import _compact_text, _number, _parse_xml, _text
from ecgreview.io._sierra_104 import REPBEAT_PADDING, record_from_root
from ecgreview.io._xli import XLI_CHUNK_HEADER_BYTES, xli_decode
from ecgreview.record import EcgRecord

__all__ = ["read_sierra_xml"]

#: Document versions read through ecgdatakit (older than our reader's 1.04).
_LEGACY_VERSIONS = ("1.03",)


def read_sierra_xml(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> EcgRecord:
    """Read a Philips Sierra ECG XML file (``restingecgdata``), version 1.03 to 1.04.x.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A file path, or the file's bytes (any XML encoding, e.g. UTF-16).
    name : str, optional
        File name for the record and for error messages.

    Returns
    -------
    EcgRecord
        (samples, 12) float32 in mV in ``LEAD_ORDER``, sampling rate in Hz,
        statements (left and right statement joined), measurements and the
        representative beats; ``source_format`` names the version.

    Raises
    ------
    EcgReadError
        If the XML is malformed, refused (entity declarations), not Sierra ECG
        XML, or its waveforms cannot be decoded.
    """
    data, source_name = _load_source(path_or_bytes, name)
    source = source_name or None
    root = _parse_xml(data, source, "Philips Sierra")  # our safe parse first: entities are refused here
    version = _text(root, "documentinfo/documentversion")
    if version not in _LEGACY_VERSIONS:
        record = record_from_root(root, data, source_name)  # parsed once
        return record.replace(source_format=f"Philips Sierra ECG XML {version}".rstrip())
    parsed_element = root.find("waveforms/parsedwaveforms")
    if parsed_element is None:
        raise EcgReadError(source, "no waveforms/parsedwaveforms element (no rhythm waveforms)")
    _check_declared_shape(root, parsed_element, source)
    format_name = f"Philips Sierra ECG XML {version}"
    parsed = _ecgdatakit._parse(data, "sierra", source, format_name)
    return _ecgdatakit._record_from_parsed(
        parsed, data, source_name, format_name=format_name, manufacturer="Philips", median_padding_count=REPBEAT_PADDING
    )


def _check_declared_shape(root: ElementTree.Element, parsed: ElementTree.Element, source: str | None) -> None:
    """The 1.03 rhythm's declared shape, and its payload, within the limits before ecgdatakit decodes it.

    Declared: ``numberchannelsallocated`` leads of ``durationperchannel`` (ms) at
    ``samplingrate``. The base64 payload may hold at most twice the raw int16
    size of that shape (XLI output is smaller than raw), each XLI chunk at most
    twice one lead's raw size, and every chunk must decode, with our bounded LZW,
    to no more than the declared samples.
    """
    where = "parsedwaveforms"
    signal = root.find("dataacquisition/signalcharacteristics")
    rate_hz = _number(_text(signal, "samplingrate"))
    duration_ms = _number(parsed.get("durationperchannel"))
    leads = _number(_text(signal, "numberchannelsallocated")) or _number(_text(signal, "numberchannelsvalid"))
    if rate_hz is None or rate_hz <= 0 or duration_ms is None or duration_ms <= 0 or leads is None or leads < 1:
        raise EcgReadError(source, f"{where}: 1.03 needs signalcharacteristics/samplingrate, "
                                   "numberchannelsallocated and parsedwaveforms durationperchannel")
    samples = int(round(duration_ms * rate_hz / 1000))
    check_signal_shape(source, samples, int(leads), rate_hz, where=where)
    lead_bytes = 2 * samples
    text = _compact_text(parsed)
    check_base64_length(source, where, len(text), 2 * lead_bytes * int(leads))
    compression = (parsed.get("compressmethod") or parsed.get("compression") or "").upper()
    if compression != "XLI":
        return
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EcgReadError(source, f"{where}: waveform data is not valid base64 ({exc})") from exc
    offset, number = 0, 0
    while offset + XLI_CHUNK_HEADER_BYTES <= len(raw):
        number += 1
        size = int.from_bytes(raw[offset:offset + 4], "little", signed=True)
        if size <= 0 or size > 2 * lead_bytes:
            raise EcgReadError(source, f"{where}: XLI chunk {number} declares {size:,} bytes; a lead of "
                                       f"{samples:,} samples needs at most {2 * lead_bytes:,}")
        offset += XLI_CHUNK_HEADER_BYTES + size
    # Our LZW stops at the declared size (ecgdatakit's has no output bound): run it first, so no chunk
    # that inflates beyond the declared samples ever reaches the library. Same codec as 1.04.
    xli_decode(raw, number, samples, source)

