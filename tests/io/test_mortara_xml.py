"""Mortara ELI XML (:mod:`ecgreview.io.mortara_xml`): scaling by UNITS_PER_MV, the rate, the typical cycle, and
what is refused before anything is decoded (the export itself: ``tests/io/vendor_fixtures.py``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io.mortara_xml import read_mortara_xml
from ecgreview.record import LEAD_ORDER
from tests.io import vendor_fixtures as fixtures


def test_units_per_millivolt_and_rate_are_the_file_s():
    counts = fixtures.synthetic_counts(2500, seed=8)
    record = read_mortara_xml(fixtures.mortara_xml(counts, units_per_mv=400, rate_hz=250), name="eli.xml")
    assert record.sampling_rate_hz == 250 and record.lead_names == LEAD_ORDER
    np.testing.assert_allclose(record.signal_mv, counts / 400, atol=1e-6)
    assert record.source_name == "eli.xml" and record.source_format == "Mortara ELI XML"


def test_typical_cycle_is_the_median_beat():
    counts = fixtures.synthetic_counts(2500, seed=9)
    record = read_mortara_xml(fixtures.mortara_xml(counts), name="eli.xml")
    assert record.median_beats is not None and record.median_beats.lead_names == LEAD_ORDER
    np.testing.assert_allclose(record.median_beats.signal_mv, counts[:600] / 200, atol=1e-6)


def test_statements_in_file_order():
    record = read_mortara_xml(fixtures.mortara_xml(fixtures.synthetic_counts(1000),
                                                   statements=("Atrial fibrillation", "Right bundle branch block")))
    assert record.statements == ("Atrial fibrillation", "Right bundle branch block")


def _without_channels(text: str) -> str:
    return re.sub(r"<CHANNEL [^>]*/>", "", text)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: text.replace("<ECG ", "<EKG ").replace("</ECG>", "</EKG>"),
     r"not a Mortara ELI XML: root element is <EKG>, expected <ECG>"),
    (_without_channels, r"no CHANNEL element \(no rhythm waveforms\)"),
    (lambda text: text.replace('DURATION="1000" SAMPLE_FREQ="500" ENCODING="BASE64" NAME="V6"',
                               'DURATION="99999999" SAMPLE_FREQ="500" ENCODING="BASE64" NAME="V6"'),
     r"CHANNEL V6: declares 99,999,999 samples per lead"),
])
def test_refused_before_decoding(edit, message):
    text = fixtures.mortara_xml(fixtures.synthetic_counts(1000)).decode()
    with pytest.raises(EcgReadError, match=r"^m\.xml: " + message):
        read_mortara_xml(edit(text).encode(), name="m.xml")


def test_entity_declarations_are_refused():
    text = fixtures.mortara_xml(fixtures.synthetic_counts(1000)).decode()
    bomb = text.replace('<?xml version="1.0" encoding="UTF-8"?>',
                        '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE ECG [<!ENTITY a "aaaa">]>')
    with pytest.raises(EcgReadError, match=r"^m\.xml: Mortara ELI XML refused: it declares entities"):
        read_mortara_xml(bomb.encode(), name="m.xml")
