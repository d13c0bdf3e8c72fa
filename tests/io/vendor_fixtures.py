"""Faithfully generated vendor ECG files (no binary fixtures are committed).

* ``sierra_103_from_104``: a Philips Sierra 1.03 document carrying the real XLI
  rhythm and representative beats of the corpus 1.04 file, laid out the 1.03 way
  (rate/resolution in ``signalcharacteristics``, ``acquisitiontype`` instead of
  ``leadlabels``, beats inline in ``<repbeat>``, ``mean*`` measurements).
* ``scp_with_statements``: the corpus SCP-ECG record with sections 8 (text) and
  11 (universal statement codes) appended, section 0 pointers, lengths and CRCs
  rewritten per EN 1064.
* ``cardiosoft_xml`` and ``mortara_xml``: GE CardioSoft and Mortara ELI XML built
  from a synthetic 12-lead signal in the element layout those devices export.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from pathlib import Path

import defusedxml.ElementTree as SafeElementTree
import numpy as np

from ecgreview.record import LEAD_ORDER

SIERRA_104 = "sierra-ecg-tools_3191723_ZZDEMOPTONLY_PhilipsSierra1.04.xml"
SCP = "ecgtoolkit_Example.scp"
SIERRA_103_STATEMENTS = ("Sinus bradycardia", "Nonspecific intraventricular conduction delay", "Abnormal ECG")
_NS = "{http://www3.medical.philips.com}"


def sierra_103_from_104(path_104: Path, statements: Sequence[str] = SIERRA_103_STATEMENTS) -> bytes:
    """A Sierra 1.03 document (UTF-8) with the rhythm and beats of the real 1.04 file at ``path_104``."""
    root = SafeElementTree.fromstring(path_104.read_bytes())
    parsed = root.find(f"{_NS}waveforms/{_NS}parsedwaveforms")
    repbeats = root.find(f"{_NS}waveforms/{_NS}repbeats")
    beats = "".join(
        f'<repbeat leadname="{beat.get("leadname")}" duration="{beat.find(f"{_NS}waveform").get("duration")}">'
        f'{"".join(beat.find(f"{_NS}waveform").text.split())}</repbeat>'
        for beat in repbeats.findall(f"{_NS}repbeat")
    )
    statement_xml = "".join(
        f"<statement><statementcode>S{number}</statementcode><leftstatement>{text}</leftstatement>"
        "<rightstatement></rightstatement></statement>"
        for number, text in enumerate(statements, 1)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<restingecgdata xmlns="http://www3.medical.philips.com">
  <documentinfo><documentname>generated-1-03.xml</documentname><documenttype>SierraECG</documenttype>
    <documentversion>1.03</documentversion></documentinfo>
  <dataacquisition date="2010-01-19" time="15:19:22">
    <machine machineid="1">PageWriter Trim III</machine>
    <signalcharacteristics><samplingrate>{parsed.get("samplespersecond")}</samplingrate>
      <signalresolution>{parsed.get("resolution")}</signalresolution><signalbandwidth>0.05-150</signalbandwidth>
      <acquisitiontype>STD-12</acquisitiontype><bitspersample>16</bitspersample><signaloffset>0</signaloffset>
      <signalsigned>True</signalsigned><numberchannelsallocated>12</numberchannelsallocated>
      <numberchannelsvalid>12</numberchannelsvalid></signalcharacteristics>
  </dataacquisition>
  <patient><generalpatientdata><patientid>PSEUDO-103</patientid>
    <name><lastname>Rossi</lastname><firstname>Maria</firstname></name></generalpatientdata></patient>
  <interpretations><interpretation date="2010-01-19" time="15:19:22">{statement_xml}
    <severity code="AB">- ABNORMAL ECG -</severity></interpretation></interpretations>
  <measurements><globalmeasurements><meanventrate>48</meanventrate><meanprint>144</meanprint>
    <meanqrsdur>112</meanqrsdur><meanqtint>352</meanqtint><meanqtc>417</meanqtc></globalmeasurements></measurements>
  <waveforms>
    <repbeats dataencoding="Base64" samplespersec="{repbeats.get("samplespersec")}"
      resolution="{repbeats.get("resolution")}">{beats}</repbeats>
    <parsedwaveforms durationperchannel="{parsed.get("durationperchannel")}" dataencoding="Base64"
      compressflag="True" compressmethod="XLI">{"".join(parsed.text.split())}</parsedwaveforms>
  </waveforms>
</restingecgdata>
""".encode()


def _crc_ccitt(data: bytes) -> int:
    """CRC-CCITT (polynomial 0x1021, initial 0xFFFF), the SCP-ECG checksum."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _scp_section(section_id: int, body: bytes) -> bytes:
    body += b"\0" * (len(body) % 2)  # sections have an even length
    header = struct.pack("<HI", section_id, 16 + len(body)) + bytes([20, 20]) + b"SCPECG"
    return struct.pack("<H", _crc_ccitt(header + body)) + header + body


def _statement_body(items: Sequence[bytes]) -> bytes:
    """Section 8/11 body: machine, date 2002-11-22, time 09:10:00, count, then (number, length, value)."""
    head = bytes([0]) + struct.pack("<HBB", 2002, 11, 22) + bytes([9, 10, 0]) + bytes([len(items)])
    return head + b"".join(struct.pack("<BH", number, len(value)) + value for number, value in enumerate(items, 1))


def scp_with_statements(path: Path, texts: Sequence[str], codes: Sequence[str]) -> bytes:
    """The SCP-ECG record at ``path`` with section 8 (``texts``) and 11 (``codes``, type 1) appended."""
    data = bytearray(path.read_bytes())
    record_length = int.from_bytes(data[2:6], "little")
    data = data[:record_length]
    section8 = _scp_section(8, _statement_body([text.encode("latin-1") + b"\0" for text in texts]))
    section11 = _scp_section(11, _statement_body([bytes([1]) + code.encode("ascii") + b"\0" for code in codes]))
    section_length = int.from_bytes(data[10:14], "little")
    for position in range(22, 6 + section_length, 10):
        section_id = int.from_bytes(data[position:position + 2], "little")
        if section_id == 8:
            struct.pack_into("<HII", data, position, 8, len(section8), len(data) + 1)
        elif section_id == 11:
            struct.pack_into("<HII", data, position, 11, len(section11), len(data) + 1 + len(section8))
    data += section8 + section11
    section0 = bytes(data[8:6 + section_length])
    struct.pack_into("<H", data, 6, _crc_ccitt(section0))
    struct.pack_into("<I", data, 2, len(data))
    struct.pack_into("<H", data, 0, _crc_ccitt(bytes(data[2:])))
    return bytes(data)


def synthetic_counts(sample_count: int, *, seed: int = 0) -> np.ndarray:
    """(samples, 12) int16 counts in ``LEAD_ORDER``, limb leads consistent with I and II."""
    generator = np.random.default_rng(seed)
    time_s = np.arange(sample_count) / 500.0
    base = np.sin(2 * np.pi * 1.1 * time_s[:, None] + generator.uniform(0, 6, 8)) * 400
    lead_i, lead_ii = base[:, 0], base[:, 1]
    limb = np.stack([lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2], axis=1)
    return np.round(np.concatenate([base[:, :2], limb, base[:, 2:]], axis=1)).astype(np.int16)


def cardiosoft_xml(counts: np.ndarray, *, resolution_uv: float = 5.0, rate_hz: int = 500,
                   statements: Sequence[str] = ("Sinus rhythm", "Normal ECG")) -> bytes:
    """GE CardioSoft XML (``CardiologyXML``): StripData and FullDisclosure-free resting ECG, as CardioSoft 6.x exports."""
    strip = "".join(
        f'<WaveformData lead="{lead}">{",".join(str(value) for value in counts[:, column])}</WaveformData>'
        for column, lead in enumerate(LEAD_ORDER)
    )
    median = "".join(
        f'<WaveformData lead="{lead}">{",".join(str(value) for value in counts[:600, column])}</WaveformData>'
        for column, lead in enumerate(LEAD_ORDER)
    )
    diagnosis = "".join(f"<DiagnosisText>{text}</DiagnosisText>" for text in statements)
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE CardiologyXML SYSTEM "CardiologyXML.dtd">
<CardiologyXML>
  <ObservationType>RestECG</ObservationType>
  <ObservationDateTime><Hour>9</Hour><Minute>41</Minute><Second>2</Second><Day>17</Day><Month>3</Month><Year>2015</Year></ObservationDateTime>
  <PatientInfo><PID>PSEUDO-CS-7</PID><Name><FamilyName>Rossi</FamilyName><GivenName>Maria</GivenName></Name>
    <BirthDateTime><Day>31</Day><Month>12</Month><Year>1946</Year></BirthDateTime></PatientInfo>
  <Interpretation><Diagnosis>{diagnosis}</Diagnosis><Conclusion><ConclusionText>Normal ECG</ConclusionText></Conclusion></Interpretation>
  <RestingECGMeasurements>
    <VentricularRate units="BPM">72</VentricularRate><PQInterval units="ms">156</PQInterval>
    <PDuration units="ms">98</PDuration><QRSDuration units="ms">94</QRSDuration><QTInterval units="ms">384</QTInterval>
    <QTCInterval units="ms">421</QTCInterval><RRInterval units="ms">833</RRInterval>
    <PAxis units="degrees">54</PAxis><RAxis units="degrees">41</RAxis><TAxis units="degrees">37</TAxis>
    <MedianSamples><NumberOfLeads>12</NumberOfLeads><SampleRate units="Hz">{rate_hz}</SampleRate>
      <ChannelSampleCountTotal>600</ChannelSampleCountTotal><Resolution units="uVperLsb">{resolution_uv:g}</Resolution>
      <FirstValid units="samples">0</FirstValid><LastValid units="samples">599</LastValid>{median}</MedianSamples>
  </RestingECGMeasurements>
  <StripData><NumberOfLeads>12</NumberOfLeads><SampleRate units="Hz">{rate_hz}</SampleRate>
    <ChannelSampleCountTotal>{counts.shape[0]}</ChannelSampleCountTotal>
    <Resolution units="uVperLsb">{resolution_uv:g}</Resolution>{strip}</StripData>
  <DeviceType>MAC5500</DeviceType>
</CardiologyXML>
""".encode("latin-1")


def mortara_xml(counts: np.ndarray, *, units_per_mv: int = 200, rate_hz: int = 500,
                statements: Sequence[str] = ("Sinus rhythm", "Normal ECG")) -> bytes:
    """Mortara ELI XML (root ``ECG``), as ELI 250/280 export it: base64 int16 per CHANNEL."""
    def channel(tag: str, lead: str, values: np.ndarray) -> str:
        data = base64.b64encode(values.astype("<i2").tobytes()).decode()
        return (f'<{tag} OFFSET="0" BITS="16" FORMAT="SIGNED" UNITS_PER_MV="{units_per_mv}" '
                f'DURATION="{len(values)}" SAMPLE_FREQ="{rate_hz}" ENCODING="BASE64" NAME="{lead}" DATA="{data}"/>')

    channels = "".join(channel("CHANNEL", lead, counts[:, column]) for column, lead in enumerate(LEAD_ORDER))
    cycle = "".join(channel("TYPICAL_CYCLE_CHANNEL", lead, counts[:600, column]) for column, lead in enumerate(LEAD_ORDER))
    texts = "".join(f'<STATEMENT TEXT="{text}" REASON=""/>' for text in statements)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by ELI Link 5.2.0 -->
<ECG ACQUISITION_TIME="20150317094102" VENT_RATE="72" AVERAGE_RR="833" NUM_QRS="12" SEVERITY="NORMAL">
  <SUBJECT LAST_NAME="Rossi" FIRST_NAME="Maria" ID="PSEUDO-MO-3" GENDER="FEMALE" DOB="19461231"/>
  <SOURCE TYPE="ECG" MANUFACTURER="Mortara Instrument, Inc." MODEL="ELI 280" ACQUIRING_DEVICE_SW_VERSION="1.3.0"/>
  <AUTOMATIC_INTERPRETATION>{texts}</AUTOMATIC_INTERPRETATION>
  <TYPICAL_CYCLE BITS="16" FORMAT="SIGNED" UNITS_PER_MV="{units_per_mv}" DURATION="600" SAMPLE_FREQ="{rate_hz}"
    ENCODING="BASE64" P_ONSET="210" P_OFFSET="300" Q_ONSET="366" Q_OFFSET="460" T_OFFSET="750"
    PR_DURATION="156" QRS_DURATION="94" QT="384" QTC="421" P_AXIS="54" QRS_AXIS="41" T_AXIS="37">{cycle}</TYPICAL_CYCLE>
  {channels}
</ECG>
""".encode()

