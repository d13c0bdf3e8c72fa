"""Philips Sierra ECG XML of every version (:mod:`ecgreview.io.sierra_xml`): 1.04 through our reader, 1.03
through ecgdatakit after our own bounds, on files written here (XLI writer: ``test_sierra_104.py``).
The same recording in 1.03 and 1.04 from the corpus file is in ``test_vendor_formats.py``."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io import read_ecg
from ecgreview.io import _sierra_104, _xml, sierra_xml
from ecgreview.io._sierra_104 import read_sierra_104
from ecgreview.io.sierra_xml import read_sierra_xml
from ecgreview.record import LEAD_ORDER
from tests.io import vendor_fixtures as fixtures
from tests.io.test_sierra_104 import RESOLUTION_UV, _xli_chunk, _xli_stored, philips_xml

RATE_HZ = 500


def sierra_103(counts: np.ndarray, *, duration_ms: int | None = None, signal: str | None = None) -> bytes:
    """A Sierra 1.03 document: rate and resolution in signalcharacteristics, XLI rhythm of ``counts`` (samples, 12)."""
    payload = b"".join(_xli_chunk(values) for values in _xli_stored(counts))
    duration_ms = counts.shape[0] * 1000 // RATE_HZ if duration_ms is None else duration_ms
    signal = signal if signal is not None else (
        f"<samplingrate>{RATE_HZ}</samplingrate><signalresolution>{RESOLUTION_UV:g}</signalresolution>"
        "<acquisitiontype>STD-12</acquisitiontype><bitspersample>16</bitspersample><signaloffset>0</signaloffset>"
        "<signalsigned>True</signalsigned><numberchannelsallocated>12</numberchannelsallocated>"
        "<numberchannelsvalid>12</numberchannelsvalid>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<restingecgdata xmlns="http://www3.medical.philips.com">
<documentinfo><documenttype>SierraECG</documenttype><documentversion>1.03</documentversion></documentinfo>
<dataacquisition date="2010-01-19" time="15:19:22"><machine machineid="1">PageWriter Trim III</machine>
<signalcharacteristics>{signal}</signalcharacteristics></dataacquisition>
<patient><generalpatientdata><patientid>PSEUDO-103</patientid><name><lastname>Rossi</lastname></name>
</generalpatientdata></patient>
<interpretations><interpretation><statement><statementcode>S1</statementcode><leftstatement>Sinus rhythm</leftstatement>
<rightstatement></rightstatement></statement></interpretation></interpretations>
<waveforms><parsedwaveforms durationperchannel="{duration_ms}" dataencoding="Base64" compressflag="True"
 compressmethod="XLI">{base64.b64encode(payload).decode()}</parsedwaveforms></waveforms>
</restingecgdata>""".encode()


def _with_version(data: bytes, version: str) -> bytes:
    return data.replace(b'<restingecgdata xmlns="http://www3.medical.philips.com">',
                        b'<restingecgdata xmlns="http://www3.medical.philips.com"><documentinfo>'
                        b"<documentversion>" + version.encode() + b"</documentversion></documentinfo>")


def test_version_104_goes_through_our_reader_and_is_named():
    data = _with_version(philips_xml(fixtures.synthetic_counts(1000, seed=21), compression="XLI"), "1.04.01")
    record = read_sierra_xml(data, name="s.xml")
    assert record.source_format == "Philips Sierra ECG XML 1.04.01"
    np.testing.assert_array_equal(record.signal_mv, read_sierra_104(data).signal_mv)
    unversioned = read_sierra_xml(philips_xml(fixtures.synthetic_counts(1000, seed=21)))
    assert unversioned.source_format == "Philips Sierra ECG XML"


def test_a_104_file_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parses = []
    real = _xml._parse_xml
    for module in (sierra_xml, _sierra_104):
        monkeypatch.setattr(module, "_parse_xml", lambda *args: parses.append(1) or real(*args))
    read_sierra_xml(philips_xml(fixtures.synthetic_counts(1000, seed=22), compression="XLI"), name="s.xml")
    assert len(parses) == 1  # the version is read from the tree the record is read from


def test_version_103_reads_the_xli_rhythm_as_written():
    counts = fixtures.synthetic_counts(5000, seed=22)
    record = read_sierra_xml(sierra_103(counts), name="trim.xml")
    assert record.source_format == "Philips Sierra ECG XML 1.03" and record.manufacturer == "Philips"
    assert record.lead_names == LEAD_ORDER and record.sampling_rate_hz == RATE_HZ
    np.testing.assert_allclose(record.signal_mv, counts * RESOLUTION_UV / 1000, atol=1e-6)
    assert record.statements == ("Sinus rhythm",) and record.pseudonym == "PSEUDO-103"
    assert "Rossi" not in repr(record)
    assert read_ecg(sierra_103(counts), name="trim.xml").source_format == "Philips Sierra ECG XML 1.03"


@pytest.mark.parametrize(("data", "message"), [
    (lambda counts: sierra_103(counts, signal="<numberchannelsallocated>12</numberchannelsallocated>"),
     r"parsedwaveforms: 1\.03 needs signalcharacteristics/samplingrate, numberchannelsallocated and parsedwaveforms "
     r"durationperchannel"),
    (lambda counts: sierra_103(counts, duration_ms=1000),  # half the samples the chunks hold
     r"parsedwaveforms: XLI chunk 1 inflates beyond the declared 500 samples per lead"),
    (lambda counts: sierra_103(counts).replace(b"parsedwaveforms", b"parsed"),
     r"no waveforms/parsedwaveforms element \(no rhythm waveforms\)"),
])
def test_version_103_is_bounded_before_ecgdatakit_decodes_it(data, message):
    with pytest.raises(EcgReadError, match=r"^t\.xml: " + message):
        read_sierra_xml(data(fixtures.synthetic_counts(1000, seed=23)), name="t.xml")
