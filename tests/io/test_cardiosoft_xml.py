"""GE CardioSoft XML (:mod:`ecgreview.io.cardiosoft_xml`): resolution and rate, derived limb leads, the median
beats, statements and time, and a clear message for each malformed part (the export itself:
``tests/io/vendor_fixtures.py``; the round trip through ``read_ecg``: ``test_vendor_formats.py``)."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io.cardiosoft_xml import read_cardiosoft_xml
from ecgreview.record import LEAD_ORDER
from tests.io import vendor_fixtures as fixtures


def _text(counts: np.ndarray, **options) -> str:
    return fixtures.cardiosoft_xml(counts, **options).decode("latin-1")


def _read(text: str):
    return read_cardiosoft_xml(text.encode("latin-1"), name="c.xml")


def test_resolution_and_rate_are_the_file_s():
    counts = fixtures.synthetic_counts(2500, seed=4)
    record = read_cardiosoft_xml(fixtures.cardiosoft_xml(counts, resolution_uv=2.5, rate_hz=250), name="c.xml")
    assert record.sampling_rate_hz == 250 and record.lead_names == LEAD_ORDER
    np.testing.assert_allclose(record.signal_mv, counts * 0.0025, atol=1e-6)
    assert record.derived_leads == frozenset()


def test_resolution_in_millivolts_per_count():
    counts = fixtures.synthetic_counts(1000, seed=5)
    text = _text(counts).replace('<Resolution units="uVperLsb">5<', '<Resolution units="mVperLsb">0.005<')
    np.testing.assert_allclose(_read(text).signal_mv, counts * 0.005, atol=1e-6)


def test_limb_leads_are_derived_when_only_i_and_ii_are_stored():
    counts = fixtures.synthetic_counts(1000, seed=6)
    text = _text(counts)
    for lead in ("III", "aVR", "aVL", "aVF"):
        text = re.sub(f'<WaveformData lead="{lead}">[^<]*</WaveformData>', "", text)
    record = _read(text)
    assert record.derived_leads == frozenset({"III", "aVR", "aVL", "aVF"})
    lead_i, lead_ii = (counts[:, LEAD_ORDER.index(lead)] * 0.005 for lead in ("I", "II"))
    np.testing.assert_allclose(record.signal_mv[:, LEAD_ORDER.index("III")], lead_ii - lead_i, atol=1e-5)
    np.testing.assert_allclose(record.signal_mv[:, LEAD_ORDER.index("aVR")], -(lead_i + lead_ii) / 2, atol=1e-5)


def test_statements_time_and_device():
    record = _read(_text(fixtures.synthetic_counts(1000), statements=("Sinus bradycardia", "Otherwise normal ECG")))
    assert record.statements == ("Sinus bradycardia", "Otherwise normal ECG", "Normal ECG")  # Diagnosis, Conclusion
    assert record.acquisition_time == datetime(2015, 3, 17, 9, 41, 2)
    assert record.device_model == "MAC5500" and record.manufacturer == "GE Healthcare"
    no_device = _text(fixtures.synthetic_counts(1000)).replace("<DeviceType>MAC5500</DeviceType>", "")
    assert _read(no_device).device_model == "CardioSoft"
    impossible_day = _text(fixtures.synthetic_counts(1000)).replace("<Day>17</Day>", "<Day>31</Day>").replace(
        "<Month>3</Month>", "<Month>2</Month>")
    assert _read(impossible_day).acquisition_time is None


def test_malformed_median_beats_do_not_block_the_rhythm():
    counts = fixtures.synthetic_counts(1000)
    text = _text(counts).replace("<ChannelSampleCountTotal>600<", "<ChannelSampleCountTotal>601<")
    record = _read(text)
    assert record.median_beats is None
    np.testing.assert_allclose(record.signal_mv, counts * 0.005, atol=1e-6)


def _strip_lead_emptied(text: str, lead: str) -> str:
    """The rhythm strip's samples of ``lead`` replaced by a blank (the median beats keep theirs)."""
    head, strip = text.split("<StripData>")
    return head + "<StripData>" + re.sub(f'(<WaveformData lead="{lead}">)[^<]*(</WaveformData>)', r"\1 \2", strip)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: text.replace("CardiologyXML>", "OtherXML>").replace("DOCTYPE CardiologyXML", "DOCTYPE OtherXML"),
     r"not a GE CardioSoft XML: root element is <OtherXML>, expected <CardiologyXML>"),
    (lambda text: re.sub(r"<StripData>.*</StripData>", "", text, flags=re.S), r"no StripData element"),
    (lambda text: text.replace('<SampleRate units="Hz">500</SampleRate>\n    <ChannelSampleCountTotal>1000',
                               '<SampleRate units="Hz">-500</SampleRate>\n    <ChannelSampleCountTotal>1000'),
     r"StripData: SampleRate '-500' is not a positive number"),
    (lambda text: re.sub(r'lead="([^"]+)">', r'lead="X\1">', text), r"StripData: no WaveformData of a standard lead"),
    (lambda text: _strip_lead_emptied(text, "V6"), r"StripData lead V6: no samples"),
])
def test_malformed_parts_are_named(edit, message):
    text = _text(fixtures.synthetic_counts(1000))
    with pytest.raises(EcgReadError, match=r"^c\.xml: " + message):
        _read(edit(text))
