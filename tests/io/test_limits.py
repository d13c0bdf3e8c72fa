"""Hostile files end in a clear EcgReadError in bounded time and memory (ecgreview.io._limits).

Every hostile fixture is generated here (nothing binary is committed) and read in a
child process whose address space is capped with ``RLIMIT_AS`` (1.5 GiB) and whose
run time is bounded: a reader that inflates a bomb dies with MemoryError or times
out instead of taking the test machine down. The fixtures reproduce the security
review's findings (issue 12, finding 5): a zip whose entry sizes are forged small,
a high-ratio zip, a WFDB header declaring hours of samples, a Philips XLI stream
that inflates far beyond its declared sample count, giant waveform payloads.
"""

from __future__ import annotations

import base64
import io
import json
import os
import resource
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pydicom.examples
import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io import bundle_files, list_case_files, read_ecg
from ecgreview.io._limits import (
    MAX_DURATION_S,
    MAX_FILE_BYTES,
    MAX_SAMPLES_PER_LEAD,
    MAX_XML_ELEMENTS,
    MAX_ZIP_RATIO,
    check_signal_shape,
)
from ecgreview.record import LEAD_ORDER
from tests.conftest import REPO
from tests.io.dicom_fixtures import build_ecg_dataset, write_dataset

MEMORY_LIMIT_BYTES = 3 * 2**29  # 1.5 GiB of address space for the reading child
CHILD_TIMEOUT_S = 90.0  # start-up included, on a loaded 2-core machine
DEMO_CASES = REPO / "ecgreview" / "data" / "demo_cases"
_CHILD = """
import json, sys, time
from ecgreview.errors import EcgReadError
from ecgreview.io import read_ecg
start = time.perf_counter()
try:
    record = read_ecg(sys.argv[1])
    result = {"outcome": "record", "shape": list(record.signal_mv.shape)}
except EcgReadError as exc:
    result = {"outcome": "EcgReadError", "message": str(exc)}
except MemoryError:
    result = {"outcome": "MemoryError"}
result["elapsed_s"] = time.perf_counter() - start
# VmHWM is this process's own high-water mark; ru_maxrss would keep the forked pytest parent's across exec.
with open("/proc/self/status") as status:
    result["peak_rss_mib"] = int(status.read().split("VmHWM:")[1].split()[0]) / 1024
print("RESULT" + json.dumps(result))
"""


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def read_in_limited_child(path: Path) -> dict:
    """``read_ecg(path)`` in a child with 1.5 GiB of address space: its outcome, time and peak RSS."""
    # Arrow's default allocator and OpenBLAS threads reserve ~1 GiB of address space they never touch.
    environment = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system", "OPENBLAS_NUM_THREADS": "1",
                   "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    completed = subprocess.run([sys.executable, "-c", _CHILD, str(path)], cwd=REPO, capture_output=True, text=True,
                               timeout=CHILD_TIMEOUT_S, preexec_fn=_cap_memory, env=environment)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT")]
    assert completed.returncode == 0 and lines, f"reader died ({completed.returncode}): {completed.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT"):])


def assert_refused(path: Path, *fragments: str) -> dict:
    result = read_in_limited_child(path)
    assert result["outcome"] == "EcgReadError", result
    for fragment in fragments:
        assert fragment in result["message"], result["message"]
    return result


# -- generated fixtures --------------------------------------------------------------------------------------------

def wfdb_header(name: str, samples: int, rate_hz: float = 500, leads: tuple[str, ...] = LEAD_ORDER) -> bytes:
    lines = [f"{name} {len(leads)} {rate_hz:g} {samples}"]
    lines += [f"{name}.dat 16 1000/mV 16 0 0 0 0 {lead}" for lead in leads]
    return ("\n".join(lines) + "\n").encode("ascii")


def deflated_zeros(mebibytes: int) -> bytes:
    """A raw deflate stream of ``mebibytes`` MiB of zeros, built from one flushed block (no GiB in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressor.compress(b"\0" * 2**20)
    compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(b"\0" * 2**20) + compressor.flush(zlib.Z_FULL_FLUSH)  # no history after a full flush
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = first.compress(b"\0" * 2**20) + first.flush(zlib.Z_FULL_FLUSH)
    assert head == block
    return block * mebibytes + first.flush()


def handmade_zip(entries: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip of ``(name, method, payload, declared compressed size, declared file size)``, sizes as given (forged).

    Stored entries get their true CRC; deflated ones a wrong one (they are bombs, never meant to be read whole).
    """
    local, central = io.BytesIO(), io.BytesIO()
    for name, method, payload, compress_size, file_size in entries:
        encoded = name.encode()
        offset = local.tell()
        crc = zlib.crc32(payload) if method == zipfile.ZIP_STORED else 0xDEADBEEF
        fields = (20, 0, method, 0, 0x21, crc, compress_size, file_size, len(encoded), 0)
        local.write(struct.pack("<4s5HL2L2H", b"PK\x03\x04", *fields) + encoded + payload)
        central.write(struct.pack("<4s6HL2L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, offset) + encoded)
    directory = central.getvalue()
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), local.tell(), 0)
    return local.getvalue() + directory + end


def plain_zip(files: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def pack_codes(codes: list[int], bits: int = 10) -> bytes:
    """LZW codes as a most-significant-bit-first bit stream."""
    stream = np.array([(code >> shift) & 1 for code in codes for shift in range(bits - 1, -1, -1)], dtype=np.uint8)
    return np.packbits(stream).tobytes()


def xli_bomb_chunk(repeats: int) -> bytes:
    """One XLI chunk: LZW codes growing the table to its longest entry (768 bytes), then that entry ``repeats``×."""
    codes = [0, *range(256, 1023), *([1022] * repeats)]
    body = pack_codes(codes)
    return struct.pack("<ihh", len(body), 0, 0) + body


def philips_xml(payload: bytes, *, compression: str = "XLI", duration_ms: int = 10_000, rate_hz: int = 500) -> bytes:
    labels = " ".join(LEAD_ORDER)
    return (f'<?xml version="1.0" encoding="utf-8"?><restingecgdata><waveforms><parsedwaveforms '
            f'dataencoding="Base64" compression="{compression}" leadlabels="{labels}" '
            f'durationperchannel="{duration_ms}" samplespersecond="{rate_hz}" resolution="5">'
            f'{base64.b64encode(payload).decode()}</parsedwaveforms></waveforms></restingecgdata>').encode()


def hl7_aecg(digits_per_lead: Callable[[str], str], increment_s: float = 0.002) -> bytes:
    sequences = [f'<component><sequence><code code="TIME_ABSOLUTE"/><value><head value="20240101120000"/>'
                 f'<increment value="{increment_s}" unit="s"/></value></sequence></component>']
    sequences += [f'<component><sequence><code code="MDC_ECG_LEAD_{lead.upper()}"/><value><origin value="0" unit="uV"/>'
                  f'<scale value="5" unit="uV"/><digits>{digits_per_lead(lead)}</digits></value></sequence></component>'
                  for lead in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")]
    return ('<AnnotatedECG xmlns="urn:hl7-org:v3"><component><series><code code="RHYTHM"/><component><sequenceSet>'
            + "".join(sequences) + "</sequenceSet></component></series></component></AnnotatedECG>").encode()


def muse_xml(waveform_data: Callable[[str], str], count: int = 5000) -> bytes:
    leads = "".join(
        f"<LeadData><LeadSampleCountTotal>{count}</LeadSampleCountTotal><LeadAmplitudeUnitsPerBit>4.88"
        f"</LeadAmplitudeUnitsPerBit><LeadAmplitudeUnits>MICROVOLTS</LeadAmplitudeUnits><LeadSampleSize>2"
        f"</LeadSampleSize><LeadID>{lead}</LeadID><WaveFormData>{waveform_data(lead)}</WaveFormData></LeadData>"
        for lead in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6"))
    return (f"<RestingECG><Waveform><WaveformType>Rhythm</WaveformType><SampleBase>500</SampleBase>"
            f"<SampleExponent>0</SampleExponent>{leads}</Waveform></RestingECG>").encode()


def small_base64(count: int = 5000) -> str:
    return base64.b64encode(np.zeros(count, "<i2").tobytes()).decode()


# -- zips -----------------------------------------------------------------------------------------------------------

def test_zip_with_entry_sizes_forged_small_stops_at_the_forged_size(tmp_path: Path) -> None:
    """1.9 GiB of zeros in a 2 MB zip that declares 120 kB: read in chunks, it ends in the CRC error."""
    bomb = deflated_zeros(1900)
    header = wfdb_header("bomb", 5000)
    path = tmp_path / "bomb.zip"
    path.write_bytes(handmade_zip([("bomb.hea", 0, header, len(header), len(header)),
                                   ("bomb.dat", 8, bomb, len(bomb), 5000 * 12 * 2)]))
    result = assert_refused(path, "bomb.zip: corrupt or unreadable zip", "CRC", "bomb.dat")
    assert result["peak_rss_mib"] < 1024


def test_high_ratio_zip_entry_is_refused_while_inflating(tmp_path: Path) -> None:
    """60 MiB of zeros in 60 kB, sizes declared honestly: refused at the ratio, long before the total."""
    bomb = deflated_zeros(60)
    header = wfdb_header("ratio", 5000)
    path = tmp_path / "ratio.zip"
    path.write_bytes(handmade_zip([("ratio.hea", 0, header, len(header), len(header)),
                                   ("ratio.dat", 8, bomb, len(bomb), 60 * 2**20)]))
    assert_refused(path, "ratio.zip: zip entry ratio.dat inflates more than", f"{MAX_ZIP_RATIO} times")


def test_zip_declaring_more_than_the_total_limit_is_refused_before_inflating(tmp_path: Path) -> None:
    header = wfdb_header("large", 5000)
    path = tmp_path / "large.zip"
    path.write_bytes(handmade_zip([("large.hea", 0, header, len(header), len(header)),
                                   ("large.dat", 0, b"\0" * 1000, 1000, 3 * 2**30)]))
    assert_refused(path, "zip declares 3,221,225,472 bytes uncompressed, over the limit")


def test_zip_with_bzip2_entries_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bz.zip"
    path.write_bytes(plain_zip({"bz.hea": wfdb_header("bz", 5000), "bz.dat": b"\0" * 120_000},
                               method=zipfile.ZIP_BZIP2))
    with pytest.raises(EcgReadError, match="compression method 12 is not supported"):
        read_ecg(path)


def test_real_record_zipped_with_deflate_reads_as_from_its_folder() -> None:
    files = {name: (DEMO_CASES / name).read_bytes() for name in ("A0003.hea", "A0003.mat")}
    zipped = read_ecg(plain_zip(files), name="A0003.zip")
    direct = read_ecg(DEMO_CASES / "A0003.hea")
    np.testing.assert_array_equal(zipped.signal_mv, direct.signal_mv)
    assert zipped.source_sha256 == direct.source_sha256


# -- WFDB -----------------------------------------------------------------------------------------------------------

def test_wfdb_zip_declaring_hours_is_refused_at_the_header(tmp_path: Path) -> None:
    """The review's 66 kB zip that became a 1.6 h, 128 MiB record."""
    samples = 2_880_000  # 1.6 h at 500 Hz
    data = bytearray(samples * 12 * 2)
    path = tmp_path / "long.zip"
    path.write_bytes(plain_zip({"long.hea": wfdb_header("long", samples), "long.dat": bytes(data)}))
    assert path.stat().st_size < 200_000
    assert_refused(path, "long.hea: WFDB header: declares 2,880,000 samples per lead, over the limit")


def test_wfdb_header_beside_its_files_is_checked_before_the_signal_is_read(tmp_path: Path) -> None:
    header = tmp_path / "slow.hea"
    header.write_bytes(wfdb_header("slow", 5000, rate_hz=0.5))  # 10,000 s; no signal file needed to refuse it
    with pytest.raises(EcgReadError, match=r"declares 5,000 samples at 0.5 Hz \(2.78 h\), over the limit of 1800 s"):
        read_ecg(header)


def test_huge_wfdb_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.hea"
    path.write_bytes(wfdb_header("huge", 5000) + b"#" * (2 * 2**20))
    with pytest.raises(EcgReadError, match="WFDB header is 2,097,.* bytes, over the limit"):
        read_ecg(path)


# -- XML ------------------------------------------------------------------------------------------------------------

def test_philips_xli_stream_inflating_beyond_the_declared_count_is_stopped(tmp_path: Path) -> None:
    """~100 kB of XML whose LZW chunks inflate to ~3.5 MB each: decoding stops at the 5,000 declared samples."""
    path = tmp_path / "xli.xml"
    path.write_bytes(philips_xml(xli_bomb_chunk(4500) * 12))
    assert path.stat().st_size < 120_000
    result = assert_refused(path, "xli.xml: parsedwaveforms: XLI chunk 1 inflates beyond the declared 5,000 samples")
    assert result["peak_rss_mib"] < 512


def test_philips_base64_larger_than_the_declared_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.xml"
    path.write_bytes(philips_xml(b"\0" * 2_000_000, compression="Uncompressed"))
    assert_refused(path, "parsedwaveforms: base64 waveform data of 2,666,668 characters would decode to more than")


def test_philips_declaring_hours_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hours.xml"
    path.write_bytes(philips_xml(b"\0" * 16, duration_ms=3_600_000))
    with pytest.raises(EcgReadError, match="parsedwaveforms: declares 1,800,000 samples per lead, over the limit"):
        read_ecg(path)


def test_hl7_aecg_fixture_reads_when_small() -> None:
    record = read_ecg(hl7_aecg(lambda lead: " ".join(["10"] * 5000)), name="small.xml")
    assert record.signal_mv.shape == (5000, 12) and record.sampling_rate_hz == 500


def test_hl7_aecg_with_giant_digits_is_refused_without_splitting_them(tmp_path: Path) -> None:
    """Eight leads of 2.5 M digits each (60 MB): refused before one string per digit is made."""
    giant = " ".join(["12"] * 2_500_000)
    path = tmp_path / "giant.xml"
    path.write_bytes(hl7_aecg(lambda lead: giant))
    result = assert_refused(path, "giant.xml: rhythm series, sequence 2 (MDC_ECG_LEAD_I): digits hold more than "
                                  f"{MAX_SAMPLES_PER_LEAD:,} samples")
    assert result["peak_rss_mib"] < 1024


def test_hl7_aecg_declaring_hours_by_its_increment_is_refused() -> None:
    data = hl7_aecg(lambda lead: " ".join(["10"] * 5000), increment_s=1.0)
    with pytest.raises(EcgReadError, match=r"rhythm series: declares 5,000 samples at 1 Hz \(1.39 h\), over the limit"):
        read_ecg(data, name="slow.xml")


def test_muse_fixture_reads_when_small() -> None:
    record = read_ecg(muse_xml(lambda lead: small_base64()), name="muse.xml")
    assert record.signal_mv.shape == (5000, 12)


def test_muse_with_giant_base64_is_refused_before_decoding(tmp_path: Path) -> None:
    giant = base64.b64encode(b"\0" * 3_000_000).decode()
    path = tmp_path / "muse.xml"
    path.write_bytes(muse_xml(lambda lead: giant))
    assert_refused(path, "LeadData 1 (I): base64 waveform data of 4,000,000 characters would decode to more than")


def test_muse_declaring_too_many_samples_is_refused() -> None:
    with pytest.raises(EcgReadError, match="LeadData 1 \\(I\\): declares 10,000,000 samples per lead, over the limit"):
        read_ecg(muse_xml(lambda lead: small_base64(), count=10_000_000), name="muse.xml")


def test_xml_with_millions_of_elements_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "elements.xml"
    path.write_bytes(b"<restingecgdata>" + b"<a/>" * 10_000_000 + b"</restingecgdata>")
    result = assert_refused(path, f"holds more than {MAX_XML_ELEMENTS:,} elements")
    assert result["peak_rss_mib"] < 1024


def test_xml_entity_expansion_is_refused(tmp_path: Path) -> None:
    laughs = "".join(f'<!ENTITY l{n} "{"&l%d;" % (n - 1) * 10}">' for n in range(1, 10))
    path = tmp_path / "laughs.xml"
    path.write_bytes(f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{laughs}]><RestingECG>&l9;'
                     "</RestingECG>".encode())
    assert_refused(path, "declares entities")


# -- DICOM and plain files ------------------------------------------------------------------------------------------

def test_dicom_with_too_many_samples_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write_dataset(build_ecg_dataset(sample_count=MAX_SAMPLES_PER_LEAD + 1, median=False), tmp_path / "l.dcm")
    assert_refused(path, "multiplex group 1 (RHYTHM): declares 600,001 samples per lead, over the limit")


def test_dicom_declaring_hours_by_its_sampling_frequency_is_refused(tmp_path: Path) -> None:
    path = write_dataset(build_ecg_dataset(sampling_rate_hz=0.5, median=False), tmp_path / "slow.dcm")
    with pytest.raises(EcgReadError, match=r"declares 2,000 samples at 0.5 Hz \(1.11 h\), over the limit of 1800 s"):
        read_ecg(path)


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.dcm"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(EcgReadError, match="big.dcm: file is 67,108,865 bytes, over the limit of 67,108,864 bytes"):
        read_ecg(path)


def test_bundled_uploads_over_the_size_limit_are_refused() -> None:
    with pytest.raises(EcgReadError, match="the upload is 67,108,865 bytes, over the limit"):
        bundle_files([("a.hea", b"x"), ("a.dat", bytes(MAX_FILE_BYTES))])


def test_signal_shape_check_names_each_limit() -> None:
    check_signal_shape("a.dcm", MAX_SAMPLES_PER_LEAD, 12, MAX_SAMPLES_PER_LEAD / MAX_DURATION_S)  # at the limits
    with pytest.raises(EcgReadError, match="a.dcm: g: declares 65 leads, over the limit of 64"):
        check_signal_shape("a.dcm", 10, 65, 500, where="g")
    with pytest.raises(EcgReadError, match="declares 40 leads × 600,000 samples, over the limit of 9,600,000 values"):
        check_signal_shape("a.dcm", 600_000, 40, 1000)
    with pytest.raises(EcgReadError, match="an unbounded time"):
        check_signal_shape("a.dcm", 10, 12, 1e-320)


# -- nothing real is refused ----------------------------------------------------------------------------------------

def _real_files(corpus: Path | None) -> list[Path]:
    files = list_case_files(DEMO_CASES) + [Path(pydicom.examples.get_path("waveform"))]
    return files + (list_case_files(corpus) if corpus is not None else [])


def test_no_bundled_or_pydicom_file_hits_a_limit() -> None:
    files = _real_files(None)
    assert len([path for path in files if path.suffix == ".hea"]) >= 20
    for path in files:
        record = read_ecg(path)
        assert record.signal_mv.shape[1] == 12, path


def test_no_corpus_file_hits_a_limit(corpus_dir: Path) -> None:
    for path in list_case_files(corpus_dir):
        try:
            read_ecg(path)
        except EcgReadError as exc:
            assert "limit" not in exc.reason and "inflates" not in exc.reason, exc
