"""SCP-ECG, Philips Sierra 1.03, GE CardioSoft, Mortara ELI XML and DICOM Hemodynamic ECG: real or generated files.

Generated files come from :mod:`tests.io.vendor_fixtures` (real corpus payloads where the
format allows, see there). Tests reading ``../shared`` skip with the conftest's reason when it is absent.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest

from ecgreview.device.statements import map_statements
from ecgreview.errors import EcgReadError
from ecgreview.io import read_ecg
from ecgreview.io._sierra_104 import read_sierra_104
from ecgreview.io.scp import read_scp_ecg
from ecgreview.record import LEAD_ORDER, THRESHOLDS
from tests.io import vendor_fixtures as fixtures
from tests.io.dicom_fixtures import build_ecg_dataset, write_dataset

HEMODYNAMIC = "1.2.840.10008.5.1.4.1.1.9.2.1"


@pytest.fixture(scope="module")
def other_dir(corpus_dir: Path) -> Path:
    return corpus_dir / "other"


def test_corpus_scp_opens_and_matches_the_same_recording_in_hl7_and_dicom(other_dir: Path, corpus_dir: Path) -> None:
    record = read_ecg(other_dir / fixtures.SCP)
    assert record.source_format == "SCP-ECG" and record.lead_names == LEAD_ORDER
    assert record.signal_mv.shape == (5000, 12) and record.sampling_rate_hz == 500
    hl7 = read_ecg(other_dir / "ecgtoolkit_Example_HL7aECG.xml")
    dicom = read_ecg(corpus_dir / "dicom" / "ecgtoolkit_Example.dcm")
    for other in (hl7, dicom):  # the ECG Toolkit wrote one recording in three formats
        np.testing.assert_allclose(record.signal_mv, other.signal_mv, atol=1e-6)
    # section 7 boundaries give the same intervals the converter wrote into HL7 and DICOM
    ours = {item.name: item.value for item in record.measurements}
    theirs = {item.name: item.value for item in hl7.measurements}
    assert {name: ours[name] for name in ("PR", "QRS", "QT", "QTc", "QRS axis")} == {
        name: theirs[name] for name in ("PR", "QRS", "QT", "QTc", "QRS axis")}
    assert record.median_beats is not None and record.median_beats.lead_names == LEAD_ORDER
    assert record.pseudonym and record.device == "ECGConversion ELI250"


def test_scp_statements_of_sections_8_and_11(other_dir: Path) -> None:
    data = fixtures.scp_with_statements(other_dir / fixtures.SCP, ["Sinus bradycardia", "Otherwise normal ECG"],
                                        ["SBRAD", "IVCD"])
    record = read_ecg(data, name="coded.scp")
    assert record.statements == ("Sinus bradycardia", "Otherwise normal ECG", "SCP SBRAD", "SCP IVCD")
    interpretation = map_statements(record.statements)
    assert interpretation.unmapped == () and interpretation.calls["SB"].strength == "definite"
    assert interpretation.calls["LBBB"].strength == "absent"  # a conduction delay is not LBBB


def test_truncated_or_forged_scp_is_a_clear_error(other_dir: Path) -> None:
    data = (other_dir / fixtures.SCP).read_bytes()
    with pytest.raises(EcgReadError, match=r"^cut\.scp: SCP-ECG record declares 34144 bytes but the file has 20000"):
        read_scp_ecg(data[:20000], name="cut.scp")
    forged = bytearray(data)
    sections = {int.from_bytes(forged[p:p + 2], "little"): int.from_bytes(forged[p + 6:p + 10], "little")
                for p in range(22, 22 + 10 * 12, 10)}
    body = sections[3] - 1 + 16
    forged[body + 6:body + 10] = (2**31).to_bytes(4, "little")  # lead 1 ends at sample 2^31
    with pytest.raises(EcgReadError, match=r"^big\.scp: SCP-ECG: declares 2,147,483,648 samples per lead"):
        read_ecg(bytes(forged), name="big.scp")
    with pytest.raises(EcgReadError, match=r"^x\.scp: not an SCP-ECG file"):
        read_scp_ecg(b"\0" * 100, name="x.scp")


def test_sierra_103_reads_like_the_same_waveforms_in_104(other_dir: Path) -> None:
    data = fixtures.sierra_103_from_104(other_dir / fixtures.SIERRA_104)
    record = read_ecg(data, name="trim3.xml")
    reference = read_sierra_104(other_dir / fixtures.SIERRA_104)
    assert record.source_format == "Philips Sierra ECG XML 1.03"
    np.testing.assert_array_equal(record.signal_mv, reference.signal_mv)
    np.testing.assert_array_equal(record.median_beats.signal_mv, reference.median_beats.signal_mv)
    assert record.statements == fixtures.SIERRA_103_STATEMENTS and record.pseudonym == "PSEUDO-103"
    assert {"Ventricular rate", "PR", "QRS", "QT"} <= {item.name for item in record.measurements}
    assert "Rossi" not in repr(record)  # names never reach the record
    interpretation = map_statements(record.statements, record.measurements)
    assert interpretation.unmapped == () and interpretation.calls["SB"].strength == "definite"
    assert interpretation.calls["LBBB"].strength == "absent"
    assert read_ecg(other_dir / fixtures.SIERRA_104).source_format == "Philips Sierra ECG XML 1.04"


def test_sierra_103_with_a_forged_xli_chunk_is_refused_before_decoding(other_dir: Path) -> None:
    data = fixtures.sierra_103_from_104(other_dir / fixtures.SIERRA_104).decode()
    payload = data.split('compressmethod="XLI">')[1].split("<")[0]
    raw = bytearray(base64.b64decode(payload))
    raw[0:4] = (10**6).to_bytes(4, "little")
    forged = data.replace(payload, base64.b64encode(bytes(raw)).decode()).encode()
    with pytest.raises(EcgReadError, match=r"^f\.xml: parsedwaveforms: XLI chunk 1 declares 1,000,000 bytes"):
        read_ecg(forged, name="f.xml")


def test_cardiosoft_xml() -> None:
    counts = fixtures.synthetic_counts(5000)
    record = read_ecg(fixtures.cardiosoft_xml(counts), name="cs.xml")
    assert record.source_format == "GE CardioSoft XML" and record.device == "GE Healthcare MAC5500"
    np.testing.assert_allclose(record.signal_mv, counts * 0.005, atol=1e-6)
    assert record.statements == ("Sinus rhythm", "Normal ECG") and record.pseudonym == "PSEUDO-CS-7"
    assert {str(item) for item in record.measurements} >= {"PR 156 ms", "QRS 94 ms", "QTc 421 ms", "QRS axis 41 deg"}
    assert record.median_beats.signal_mv.shape == (600, 12)
    assert "Rossi" not in repr(record) and record.acquisition_time.year == 2015


def test_cardiosoft_xml_errors() -> None:
    counts = fixtures.synthetic_counts(500)
    text = fixtures.cardiosoft_xml(counts).decode("latin-1")
    with pytest.raises(EcgReadError, match=r"^c\.xml: StripData lead I: 499 samples, but ChannelSampleCountTotal is 500"):
        read_ecg(text.replace(f'lead="I">{counts[0, 0]},', 'lead="I">').encode("latin-1"), name="c.xml")
    with pytest.raises(EcgReadError, match=r"^c\.xml: StripData lead I: sample 'x1' is not an integer count"):
        read_ecg(text.replace(f'lead="I">{counts[0, 0]},', 'lead="I">x1,').encode("latin-1"), name="c.xml")
    with pytest.raises(EcgReadError, match=r"^c\.xml: StripData: needs a positive Resolution"):
        read_ecg(text.replace('uVperLsb">5<', 'uVperLsb">0<').encode("latin-1"), name="c.xml")


def test_mortara_xml() -> None:
    counts = fixtures.synthetic_counts(5000)
    record = read_ecg(fixtures.mortara_xml(counts), name="eli.xml")
    assert record.source_format == "Mortara ELI XML" and record.device == "Mortara Instrument, Inc. ELI 280"
    np.testing.assert_allclose(record.signal_mv, counts / 200, atol=1e-6)
    assert record.statements == ("Sinus rhythm", "Normal ECG") and record.pseudonym == "PSEUDO-MO-3"
    assert record.median_beats.signal_mv.shape == (600, 12) and "Rossi" not in repr(record)
    assert {"Ventricular rate", "PR", "QRS", "QT"} <= {item.name for item in record.measurements}


def test_mortara_xml_errors() -> None:
    text = fixtures.mortara_xml(fixtures.synthetic_counts(5000)).decode()
    assert text.count('DURATION="5000"') == 12
    with pytest.raises(EcgReadError, match=r"^m\.xml: CHANNEL I: declares 10,000,000 samples per lead"):
        read_ecg(text.replace('DURATION="5000"', 'DURATION="10000000"', 1).encode(), name="m.xml")
    with pytest.raises(EcgReadError, match=r"^m\.xml: malformed Mortara ELI XML"):
        read_ecg(text.replace('<CHANNEL OFFSET="0" BITS="16"', '<CHANNEL OFFSET="0" BITS="12"', 1).encode(), name="m.xml")
    with pytest.raises(EcgReadError, match=r"^m\.xml: malformed or truncated Mortara ELI XML \("):
        read_ecg(text[:len(text) // 2].encode(), name="m.xml")


def test_hemodynamic_waveform_storage_with_modality_ecg(tmp_path: Path) -> None:
    dataset = build_ecg_dataset(sop_class_uid=HEMODYNAMIC, sampling_rate_hz=240.0, median=False)
    record = read_ecg(write_dataset(dataset, tmp_path / "mac1999.dcm"))
    assert record.source_format == "DICOM Hemodynamic Waveform Storage (Modality ECG)"
    assert record.sampling_rate_hz == 240 and record.lead_names == LEAD_ORDER
    dataset.Modality = "HD"
    with pytest.raises(EcgReadError, match=r"^hd\.dcm: Hemodynamic Waveform Storage .* Modality \(0008,0060\) HD: "
                                           r"pressure waveforms, not an ECG"):
        read_ecg(write_dataset(dataset, tmp_path / "hd.dcm"))


@pytest.mark.parametrize(("content", "name", "detected"), [
    (b"%PDF-1.7\n" + bytes(100), "report.pdf", "a PDF document"),
    (b"0       " + b" " * 228 + b"1       " + b" " * 8 + b"12  " + bytes(100), "rec.edf", "an EDF/EDF+ file"),
    (b"\x40\x20MFR " + bytes(100), "rec.mwf", "MFER (Medical waveform Format Encoding Rules)"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "photo.bin", "a PNG image"),
])
def test_unsupported_format_is_named_with_the_formats_we_read(content: bytes, name: str, detected: str) -> None:
    pattern = rf"^{re.escape(name)}: {re.escape(detected)} is not a supported ECG format; supported: DICOM.*SCP-ECG.*CardioSoft"
    with pytest.raises(EcgReadError, match=pattern):
        read_ecg(content, name=name)


def test_sierra_103_chunk_inflating_beyond_the_declared_samples_never_reaches_the_library(
    other_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecgreview.io import _ecgdatakit

    data = fixtures.sierra_103_from_104(other_dir / fixtures.SIERRA_104).decode()
    short = data.replace('durationperchannel="11000"', 'durationperchannel="5000"').encode()

    def library_must_not_run(*arguments: object, **options: object) -> None:
        raise AssertionError("ecgdatakit ran on an XLI chunk that inflates beyond the declared samples")

    monkeypatch.setattr(_ecgdatakit, "_parse", library_must_not_run)
    with pytest.raises(EcgReadError, match=r"^s\.xml: parsedwaveforms: XLI chunk 1 inflates beyond the declared "
                                           r"2,500 samples per lead"):
        read_ecg(short, name="s.xml")


@pytest.fixture(scope="module")
def vendor_folder(tmp_path_factory: pytest.TempPathFactory, other_dir: Path) -> Path:
    """One file of every format added for issue 14, real or generated, in one case folder."""
    folder = tmp_path_factory.mktemp("vendor")
    counts = fixtures.synthetic_counts(5000)
    (folder / "corpus.scp").write_bytes((other_dir / fixtures.SCP).read_bytes())
    (folder / "coded.scp").write_bytes(fixtures.scp_with_statements(
        other_dir / fixtures.SCP, ["Sinus bradycardia"], ["SBRAD", "IVCD", "1AVB"]))
    (folder / "trim3.xml").write_bytes(fixtures.sierra_103_from_104(other_dir / fixtures.SIERRA_104))
    (folder / "cardiosoft.xml").write_bytes(fixtures.cardiosoft_xml(counts, statements=(
        "Sinus rhythm with 1st degree A-V block", "Nonspecific intraventricular conduction delay")))
    (folder / "eli.xml").write_bytes(fixtures.mortara_xml(counts, statements=(
        "Sinus tachycardia", "Right bundle branch block")))
    dataset = build_ecg_dataset(sop_class_uid=HEMODYNAMIC, sampling_rate_hz=240.0, median=False,
                                statements=("Sinus rhythm",))
    write_dataset(dataset, folder / "mac1999.dcm")
    return folder


def test_statements_command_maps_every_new_vendor_statement(vendor_folder: Path, capsys: pytest.CaptureFixture) -> None:
    from ecgreview.cli import main

    code = main(["statements", str(vendor_folder)])
    output = capsys.readouterr().out
    assert output.startswith("6 ECGs read, 0 skipped") and code == 0, output
    assert "0 unmapped: 0 rhythm/conduction" in output
    for statement, mapped in (("SCP SBRAD", "SB:definite"), ("SCP 1AVB", "1dAVb:definite"),
                              ("Right bundle branch block", "RBBB:definite"), ("SCP IVCD", "known, no class")):
        assert any(mapped in line and line.endswith(statement) for line in output.splitlines()), statement


def test_score_reads_every_new_vendor_format(vendor_folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from ecgreview.model.batch import score_ecgs
    from ecgreview.model.network import build_model, load_model
    from tests.model_fixtures import random_weights, weight_specs_from_keras, write_keras224_hdf5

    specs = weight_specs_from_keras(build_model())
    write_keras224_hdf5(tmp_path / "model.hdf5", specs, random_weights(specs, seed=3))
    summary = score_ecgs(vendor_folder, model=load_model(tmp_path / "model.hdf5"), thresholds=THRESHOLDS, out_csv=tmp_path / "p.csv",
                         )
    assert (summary.files, summary.scored, summary.failed) == (6, 6, 0)


def test_hemodynamic_ecg_group_is_chosen_over_a_longer_pressure_group(tmp_path: Path) -> None:
    import copy

    dataset = build_ecg_dataset(sop_class_uid=HEMODYNAMIC, sampling_rate_hz=240.0, median=False, sample_count=2400)
    pressure = copy.deepcopy(dataset.WaveformSequence[0])
    pressure.MultiplexGroupLabel = "PRESSURE"
    pressure.SamplingFrequency = 120.0  # same samples at half the rate: the longer group
    for channel in pressure.ChannelDefinitionSequence:
        channel.ChannelSourceSequence[0].CodeValue = "2:18944"
        channel.ChannelSourceSequence[0].CodeMeaning = "Aortic pressure"
        channel.ChannelSensitivityUnitsSequence[0].CodeValue = "mm[Hg]"
    ecg = dataset.WaveformSequence[0]
    ecg.MultiplexGroupLabel = "ECG"
    dataset.WaveformSequence = [pressure, ecg]
    record = read_ecg(write_dataset(dataset, tmp_path / "cath.dcm"))
    assert record.sampling_rate_hz == 240 and record.signal_mv.shape == (2400, 12)
    assert record.source_format == "DICOM Hemodynamic Waveform Storage (Modality ECG)"
