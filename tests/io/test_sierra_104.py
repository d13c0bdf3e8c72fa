"""Philips Sierra ECG XML 1.04 (:mod:`ecgreview.io._sierra_104`, XLI: :mod:`ecgreview.io._xli`) on files written
here: plain and XLI-compressed waveforms, the limb leads XLI stores as residuals, the header, and a clear
message for each malformed part.

The XLI writer below follows the format as the decoder's docstring (:mod:`ecgreview.io._xli`) states it
(per lead: an 8-byte header, LZW with 10-bit codes most significant bit first, high bytes then low bytes,
a second-difference prediction with residual + 64); the corpus file is read in ``test_xml_formats.py``.
"""

from __future__ import annotations

import base64
import struct

import numpy as np
import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io import read_ecg
from ecgreview.io._sierra_104 import read_sierra_104
from ecgreview.record import LEAD_ORDER
from tests.io import vendor_fixtures as fixtures

RESOLUTION_UV = 5.0
RATE_HZ = 500
_MAX_CODE = 1022  # 10-bit codes; 1023 ends a chunk


def _lzw_encode(data: bytes) -> bytes:
    """LZW with fixed 10-bit codes, most significant bit first, no dictionary reset."""
    table = {bytes([value]): value for value in range(256)}
    codes, word = [], b""
    for value in data:
        grown = word + bytes([value])
        if grown in table:
            word = grown
            continue
        codes.append(table[word])
        if len(table) <= _MAX_CODE:
            table[grown] = len(table)
        word = bytes([value])
    codes.append(table[word])
    bits = "".join(f"{code:010b}" for code in codes)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[at:at + 8], 2) for at in range(0, len(bits), 8))


def _xli_chunk(samples: np.ndarray) -> bytes:
    """One lead: residuals of the second-difference prediction, split into high then low bytes, LZW-coded."""
    values = [int(value) for value in samples]
    first_value = 2 * values[1] - values[0] - values[2]
    residuals = values[:2] + [2 * values[j] - values[j - 1] - values[j + 1] + 64 for j in range(2, len(values) - 1)]
    residuals.append(64)  # the last residual is never used
    words = np.array(residuals, dtype=np.int16).view(np.uint16)
    packed = _lzw_encode(bytes((words >> 8).astype(np.uint8)) + bytes((words & 0xFF).astype(np.uint8)))
    return struct.pack("<ihh", len(packed), 0, first_value) + packed


def _xli_stored(counts: np.ndarray) -> list[np.ndarray]:
    """The 12 leads as XLI stores them: III, aVR, aVL and aVF as residuals of their estimates from I and II."""
    lead = {name: counts[:, LEAD_ORDER.index(name)].astype(np.int64) for name in LEAD_ORDER}
    stored = dict(lead)
    stored["III"] = lead["II"] - lead["I"] - lead["III"]
    stored["aVR"] = -lead["aVR"] - (lead["I"] + lead["II"]) // 2
    stored["aVL"] = (lead["I"] - lead["III"]) // 2 - lead["aVL"]
    stored["aVF"] = (lead["II"] + lead["III"]) // 2 - lead["aVF"]
    return [stored[name] for name in LEAD_ORDER]


def philips_xml(counts: np.ndarray, *, compression: str = "Uncompressed", offset: int = 0,
                attributes: str = "", encoding: str = "utf-8") -> bytes:
    """A Sierra ECG XML 1.04 resting ECG with the 12 leads of ``counts`` (samples, 12), in LEAD_ORDER."""
    samples = counts.shape[0]
    if compression == "XLI":
        payload = b"".join(_xli_chunk(values) for values in _xli_stored(counts))
    else:
        payload = b"".join((counts[:, column] + offset).astype("<i2").tobytes() for column in range(12))
    duration_ms = samples * 1000 // RATE_HZ
    text = f"""<?xml version="1.0" encoding="{encoding}"?>
<restingecgdata xmlns="http://www3.medical.philips.com">
<dataacquisition date="2019-03-14" time="09:26:53"><machine>PageWriter TC70</machine></dataacquisition>
<patient><generalpatientdata><patientid>PSEUDO-PH-2</patientid><name><lastname>Rossi</lastname></name>
</generalpatientdata></patient>
<interpretations><interpretation>
<globalmeasurements><heartrate>72</heartrate><print>160</print><qrsdur>96</qrsdur><qtint>380</qtint>
<qtcb>417</qtcb><qrsfrontaxis>35</qrsfrontaxis></globalmeasurements>
<statement><leftstatement>Sinus rhythm</leftstatement><rightstatement></rightstatement></statement>
<statement><leftstatement>Left axis deviation</leftstatement><rightstatement>- moderate</rightstatement></statement>
</interpretation></interpretations>
<waveforms><parsedwaveforms dataencoding="Base64" compression="{compression}" leadlabels="{' '.join(LEAD_ORDER)}"
 samplespersecond="{RATE_HZ}" durationperchannel="{duration_ms}" resolution="{RESOLUTION_UV:g}" signaloffset="{offset}"
 {attributes}>{base64.b64encode(payload).decode()}</parsedwaveforms></waveforms>
</restingecgdata>"""
    return text.encode(encoding)


@pytest.mark.parametrize("compression", ["Uncompressed", "XLI"])
def test_waveforms_plain_and_xli_read_as_written(compression):
    counts = fixtures.synthetic_counts(5000, seed=11)
    record = read_sierra_104(philips_xml(counts, compression=compression), name="p.xml")
    assert record.lead_names == LEAD_ORDER and record.sampling_rate_hz == RATE_HZ
    np.testing.assert_allclose(record.signal_mv, counts * RESOLUTION_UV / 1000, atol=1e-6)
    assert record.derived_leads == frozenset()


def test_signal_offset_is_removed():
    counts = fixtures.synthetic_counts(1000, seed=12)
    record = read_sierra_104(philips_xml(counts, offset=100))
    np.testing.assert_allclose(record.signal_mv, counts * RESOLUTION_UV / 1000, atol=1e-6)


def test_header_statements_and_measurements():
    record = read_sierra_104(philips_xml(fixtures.synthetic_counts(1000)), name="p.xml")
    assert record.statements[0] == "Sinus rhythm" and "Left axis deviation" in record.statements[1]
    assert record.pseudonym == "PSEUDO-PH-2" and "Rossi" not in repr(record)
    assert record.manufacturer == "Philips" and record.device_model == "PageWriter TC70"
    assert record.acquisition_time is not None and record.acquisition_time.hour == 9
    assert {str(item) for item in record.measurements} >= {"PR 160 ms", "QRS 96 ms", "QTc 417 ms", "QRS axis 35 deg"}
    assert record.median_beats is None


def test_utf16_file_and_content_dispatch():
    counts = fixtures.synthetic_counts(1000, seed=13)
    utf16 = philips_xml(counts, encoding="utf-16")
    np.testing.assert_array_equal(read_sierra_104(utf16).signal_mv, read_sierra_104(philips_xml(counts)).signal_mv)
    plain = philips_xml(counts)
    assert read_ecg(plain, name="no-suffix").source_sha256 == read_sierra_104(plain).source_sha256


def _xli_with_chunk_cut(text: str) -> str:
    """The base64 payload shortened to its first 3 leads' worth of bytes: later chunks are missing."""
    start = text.index(">", text.index("<parsedwaveforms")) + 1
    end = text.index("</parsedwaveforms>")
    payload = base64.b64decode(text[start:end])
    offset = 0
    for _ in range(3):
        offset += 8 + struct.unpack_from("<i", payload, offset)[0]
    return text[:start] + base64.b64encode(payload[:offset]).decode() + text[end:]


@pytest.mark.parametrize(("compression", "edit", "message"), [
    ("Uncompressed", lambda text: text.replace('dataencoding="Base64"', 'dataencoding="Hex"'),
     r"parsedwaveforms: unsupported dataencoding 'Hex' \(expected Base64\)"),
    ("Uncompressed", lambda text: text.replace('compression="Uncompressed"', 'compression="ZIP"'),
     r"parsedwaveforms: unsupported compression 'ZIP' \(supported: XLI, uncompressed\)"),
    ("Uncompressed", lambda text: text.replace('resolution="5"', 'resolution="0"'),
     r"parsedwaveforms: needs leadlabels, samplespersecond, durationperchannel and a positive resolution"),
    ("Uncompressed", lambda text: text.replace(f'samplespersecond="{RATE_HZ}"', 'samplespersecond="-1"'),
     r"parsedwaveforms: samplespersecond -1 and durationperchannel 2000 ms must be positive"),
    ("Uncompressed", lambda text: text.replace('durationperchannel="2000"', 'durationperchannel="4000"'),
     r"parsedwaveforms: 24000 bytes, expected 48000; the file may be truncated"),
    ("Uncompressed", lambda text: text.replace("parsedwaveforms", "parsed"), r"no waveforms/parsedwaveforms element"),
    ("XLI", _xli_with_chunk_cut, r"parsedwaveforms: XLI chunk 4 of 12 is missing or truncated"),
])
def test_malformed_parts_are_named(compression, edit, message):
    text = philips_xml(fixtures.synthetic_counts(1000), compression=compression).decode()
    with pytest.raises(EcgReadError, match=r"^p\.xml: " + message):
        read_sierra_104(edit(text).encode(), name="p.xml")


def test_another_root_is_not_philips():
    with pytest.raises(EcgReadError, match=r"^p\.xml: not a Philips Sierra ECG XML: root element is <ecg>"):
        read_sierra_104(b"<?xml version='1.0'?><ecg/>", name="p.xml")
