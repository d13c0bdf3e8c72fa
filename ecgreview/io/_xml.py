"""Helpers shared by the XML ECG readers (HL7 aECG, GE MUSE, Philips Sierra).

XML from outside is untrusted: it is parsed with ``defusedxml``, which refuses
entity declarations (billion laughs) and external entities (XXE), and parsing
stops at :data:`~ecgreview.io._limits.MAX_XML_ELEMENTS` elements (millions of tiny
elements cost far more memory than the file). Namespaces are stripped after
parsing, so readers use plain local names in their paths.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from datetime import datetime

import defusedxml
import defusedxml.ElementTree as SafeElementTree
import numpy as np

from ecgreview.errors import EcgReadError
from ecgreview.io._limits import MAX_XML_ELEMENTS, check_signal_shape
from ecgreview.io.leads import millivolts_per_unit, standard_leads
from ecgreview.record import Measurement, Waveform

__all__: list[str] = []

_WHITESPACE = re.compile(r"\s+")


def _root_tag(data: bytes, source: str | None) -> str | None:
    """The root element's tag (``{namespace}local``) of XML bytes, or None if it is not XML.

    Only the start of the document is parsed, so a truncated file still gets its
    root recognised (and its reader then reports the truncation).

    Raises
    ------
    EcgReadError
        If the document declares entities (refused before any element is read).
    """
    if not data.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").startswith(b"<"):
        return None
    try:
        for _, element in SafeElementTree.iterparse(io.BytesIO(data), events=("start",)):
            return element.tag
    except defusedxml.DefusedXmlException as exc:
        raise EcgReadError(source, f"XML refused: it declares entities ({exc})") from exc
    except (ElementTree.ParseError, ValueError):
        return None
    return None


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(data: bytes, source: str | None, format_name: str) -> ElementTree.Element:
    """Parse untrusted XML safely and strip namespaces from every tag.

    Raises
    ------
    EcgReadError
        If the XML is malformed or truncated (the message gives line and column),
        declares entities (refused as untrusted), or holds more than
        :data:`~ecgreview.io._limits.MAX_XML_ELEMENTS` elements.
    """
    root = None
    try:
        events = SafeElementTree.iterparse(
            io.BytesIO(data), events=("start",), forbid_dtd=False, forbid_entities=True, forbid_external=True)
        for count, (_, element) in enumerate(events, 1):
            if count > MAX_XML_ELEMENTS:
                raise EcgReadError(source, f"{format_name} XML holds more than {MAX_XML_ELEMENTS:,} elements "
                                           "(the limit for one file)")
            root = element if root is None else root
    except ElementTree.ParseError as exc:
        raise EcgReadError(source, f"malformed or truncated {format_name} XML ({exc})") from exc
    except defusedxml.DefusedXmlException as exc:
        raise EcgReadError(source, f"{format_name} XML refused: it declares entities ({exc})") from exc
    if root is None:
        raise EcgReadError(source, f"malformed or truncated {format_name} XML (no root element)")
    for element in root.iter():
        if isinstance(element.tag, str):
            element.tag = _local_name(element.tag)
        element.attrib = {_local_name(key): value for key, value in element.attrib.items()}
    return root


def _text(element: ElementTree.Element | None, path: str = ".") -> str:
    """Whitespace-normalised text at ``path`` under ``element`` ("" when absent)."""
    if element is None:
        return ""
    found = element.find(path)
    return "" if found is None or found.text is None else " ".join(found.text.split())


def _compact_text(element: ElementTree.Element | None, path: str = ".") -> str:
    """The text at ``path`` with all whitespace removed (base64 payloads), without splitting it into words."""
    found = None if element is None else element.find(path)
    return "" if found is None or found.text is None else _WHITESPACE.sub("", found.text)


def _number(text: object) -> float | None:
    """``text`` as a finite float, or None."""
    try:
        number = float(str(text).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _mv_per_unit(unit: str, where: str, source: str | None) -> float:
    """Millivolts per amplitude unit (``uV``, ``MICROVOLTS``, ``mV`` …)."""
    factor = millivolts_per_unit(unit)
    if factor is None:
        raise EcgReadError(source, f"{where}: unsupported amplitude unit '{unit}' (expected uV or mV)")
    return factor


def _measurements(values: Mapping[str, tuple[str, str]]) -> tuple[Measurement, ...]:
    """Measurements from ``{name: (text, unit)}``, skipping empty or non-numeric values."""
    found = []
    for name, (text, unit) in values.items():
        number = _number(text)
        if number is not None:
            found.append(Measurement(name, number, unit))
    return tuple(found)


def _statements(texts: list[str]) -> tuple[str, ...]:
    """Non-empty statements, whitespace-normalised, de-duplicated, in file order."""
    cleaned = (" ".join(text.split()) for text in texts)
    return tuple(dict.fromkeys(text for text in cleaned if text))


def _waveform(
    leads_mv: Mapping[str, np.ndarray], sampling_rate_hz: float, where: str, source: str | None, *,
    missing_allowed: bool = False,
) -> tuple[Waveform, frozenset[str]]:
    """12 leads in ``LEAD_ORDER`` (float32 mV) from named leads, deriving absent limb leads.

    Parameters
    ----------
    leads_mv : mapping of str to numpy.ndarray
        Canonical lead name -> 1-D signal in mV; all the same length.
    sampling_rate_hz : float
        Samples per second.
    missing_allowed : bool
        Whether NaN marks samples the file declares as padding (see :func:`~ecgreview.io.leads.standard_leads`).
    """
    if not math.isfinite(sampling_rate_hz) or sampling_rate_hz <= 0:
        raise EcgReadError(source, f"{where}: sampling rate {sampling_rate_hz!r} Hz is not a positive number")
    lengths = {name: len(signal) for name, signal in leads_mv.items()}
    if not lengths or min(lengths.values()) == 0:
        raise EcgReadError(source, f"{where}: no samples")
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} {count}" for name, count in lengths.items())
        raise EcgReadError(source, f"{where}: leads have different sample counts ({described})")
    check_signal_shape(source, max(lengths.values()), len(lengths), sampling_rate_hz, where=where)
    signal_mv = np.stack([np.asarray(signal, dtype=np.float64) for signal in leads_mv.values()], axis=1)
    signal_mv, names, derived = standard_leads(signal_mv, tuple(leads_mv), source=source,
                                               missing_allowed=missing_allowed)
    return Waveform(signal_mv, sampling_rate_hz, names), derived


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _datetime(text: str, formats: tuple[str, ...]) -> datetime | None:
    """The first of ``formats`` that parses ``text``; None if none does."""
    for date_format in formats:
        try:
            return datetime.strptime(text.strip(), date_format)
        except ValueError:
            continue
    return None
