"""Fuzzing the ECG readers: every input ends in ``EcgReadError`` or a valid record.

Seeds are pydicom's demo ECG, the real DICOMs of ``../shared/ecg-corpus`` (when
present) and synthetic files. Mutations work on bytes (bit flips, truncation,
huge/zero element lengths, wrong VRs, garbage) and on the dataset (channel count
mismatches, NaN/inf/zero sensitivities, absurd sampling frequencies, missing or
empty sequences, odd sample types). A case fails on any other exception, on taking
longer than :data:`CASE_LIMIT_S`, or on an output out of proportion to its input.

The quick variants (~300 cases, Hypothesis with a fixed seed) run in the normal
suite; ``-m slow`` runs a 10,000-case campaign in a subprocess whose address space
is capped with ``RLIMIT_AS``, so that a memory blow-up fails instead of swapping.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import random
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import lru_cache

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import config as pydicom_config
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from ecgreview.errors import EcgReadError
from ecgreview.examples import demo_ecg_path
from ecgreview.io import read_ecg
from tests.conftest import REPO, _shared_root
from tests.io.dicom_fixtures import build_ecg_dataset, write_dataset

CASE_LIMIT_S = 2.0
#: A decoded record may hold at most this many float32 bytes per input byte (12 leads of 8-bit samples: 48).
MAX_OUTPUT_PER_INPUT_BYTE = 64
_VRS = (b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB", b"OD", b"OF",
        b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI", b"UL", b"UN",
        b"UR", b"US", b"UT", b"UV")
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
_HEADER = re.compile(rb"(?s)(?=.{4}(" + b"|".join(_VRS) + rb"))")
_ITEM = b"\xfe\xff\x00\xe0"




class CaseTimeout(Exception):
    """A single case ran past :data:`CASE_LIMIT_S`."""


# -- seeds -------------------------------------------------------------------------------------------------------------

def _to_bytes(dataset: Dataset, *, preamble: bool = True) -> bytes:
    buffer = io.BytesIO()
    buffer.name = "seed.dcm"  # type: ignore[attr-defined]
    write_dataset(dataset, buffer, preamble=preamble)  # type: ignore[arg-type]
    return buffer.getvalue()


@lru_cache(maxsize=1)
def seeds() -> dict[str, bytes]:
    """Name -> bytes of every seed file (real files first, then synthetic ones)."""
    found = {"demo": demo_ecg_path().read_bytes()}
    corpus = _shared_root() / "ecg-corpus" / "dicom"
    for path in sorted(corpus.rglob("*.dcm")) if corpus.is_dir() else []:
        found[f"corpus/{path.relative_to(corpus)}"] = path.read_bytes()
    found["synthetic-16bit"] = _to_bytes(build_ecg_dataset(sample_count=500))
    found["synthetic-8bit"] = _to_bytes(build_ecg_dataset(sample_count=400, bits=8))
    found["synthetic-8lead-mV"] = _to_bytes(build_ecg_dataset(
        sample_count=300, lead_names=("I", "II", "V1", "V2", "V3", "V4", "V5", "V6"), units="mV", sensitivity=0.005))
    found["synthetic-no-preamble"] = _to_bytes(build_ecg_dataset(sample_count=300, median=False), preamble=False)
    return found


@lru_cache(maxsize=None)
def _parsed(name: str) -> Dataset:
    return pydicom.dcmread(io.BytesIO(seeds()[name]), force=True)


# -- byte mutations ----------------------------------------------------------------------------------------------------

def _headers(data: bytes) -> list[int]:
    """Offsets that look like explicit-VR element headers (tag, then two VR letters)."""
    return [match.start() for match in _HEADER.finditer(data, 128)] or [132]


def _bit_flips(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    mutated = bytearray(data)
    positions = [rng.randrange(len(data)) for _ in range(rng.randint(1, 16))]
    for position in positions:
        mutated[position] ^= 1 << rng.randrange(8)
    return bytes(mutated), f"bit flips at {positions}"


def _truncate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    cut = rng.choice([rng.randrange(len(data)), rng.randrange(120, 400), len(data) - rng.randint(1, 64)])
    return data[:max(cut, 0)], f"truncated to {cut} bytes"


def _length(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Overwrite the length of an element (or sequence item) with a huge, zero, odd or negative-looking value."""
    mutated = bytearray(data)
    items = [match.start() for match in re.finditer(re.escape(_ITEM), data)]
    if items and rng.random() < 0.3:
        offset, field = rng.choice(items) + 4, 4
    else:
        offset = rng.choice(_headers(data))
        field = 4 if bytes(data[offset + 4:offset + 6]) in _LONG_VRS else 2
        offset += 8 if field == 4 else 6
    limit = 2 ** (8 * field)
    value = rng.choice([0, 1, 3, limit - 1, limit - 2, limit // 2 - 1, limit // 2, len(data), len(data) * 4 + 2]) % limit
    mutated[offset:offset + field] = value.to_bytes(field, "little")
    return bytes(mutated), f"length field at {offset} set to {value:#x}"


def _wrong_vr(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    mutated = bytearray(data)
    offset = rng.choice(_headers(data))
    vr = rng.choice(_VRS + (b"\x00\x00", b"ZZ"))
    mutated[offset + 4:offset + 6] = vr
    return bytes(mutated), f"VR at {offset} set to {vr!r}"


def _garbage(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    position = rng.randrange(len(data))
    chunk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    if rng.random() < 0.5:
        return data[:position] + chunk + data[position:], f"{len(chunk)} random bytes inserted at {position}"
    return data[:position] + data[position + len(chunk):], f"{len(chunk)} bytes deleted at {position}"


BYTE_MUTATIONS: dict[str, Callable[[bytes, random.Random], tuple[bytes, str]]] = {
    "bit_flips": _bit_flips, "truncate": _truncate, "length": _length, "wrong_vr": _wrong_vr, "garbage": _garbage,
}


# -- dataset mutations -------------------------------------------------------------------------------------------------

_ODD_NUMBERS = ("NaN", "inf", "-inf", "0", "-0", "1e308", "-1e308", "1e-320", "abc", "", "1\\2", "-1", "1e38")
_GROUP_KEYS = ("NumberOfWaveformChannels", "NumberOfWaveformSamples", "SamplingFrequency", "WaveformBitsAllocated",
               "WaveformSampleInterpretation", "WaveformData", "ChannelDefinitionSequence", "MultiplexGroupLabel")
_CHANNEL_KEYS = ("ChannelSensitivity", "ChannelSensitivityCorrectionFactor", "ChannelBaseline",
                 "ChannelSensitivityUnitsSequence", "ChannelSourceSequence")


def _groups(dataset: Dataset) -> list[Dataset]:
    return list(dataset.get("WaveformSequence") or [])


def _set_raw(dataset: Dataset, keyword: str, vr: str, text: str) -> None:
    """Set an element to ``text`` as written bytes, bypassing pydicom's value checks."""
    value = text.encode("ascii")
    value += b" " * (len(value) % 2)
    tag = pydicom.datadict.tag_for_keyword(keyword)
    dataset[tag] = RawDataElement(BaseTag(tag), vr, len(value), value, 0, False, True)


def _mutate_group(dataset: Dataset, rng: random.Random) -> str:
    groups = _groups(dataset)
    if not groups:
        return "no groups"
    group = rng.choice(groups)
    keyword = rng.choice(_GROUP_KEYS)
    choice = rng.randrange(3)
    if choice == 0 and keyword in group:
        del group[keyword]
        return f"deleted {keyword}"
    if keyword in ("NumberOfWaveformChannels", "WaveformBitsAllocated"):
        setattr(group, keyword, rng.choice([0, 1, 11, 13, 255, 65535, 32, 7]))
    elif keyword == "NumberOfWaveformSamples":
        setattr(group, keyword, rng.choice([0, 1, 2, 2 ** 31 - 1, 2 ** 32 - 1, 10 ** 9]))
    elif keyword == "SamplingFrequency":
        _set_raw(group, keyword, "DS", rng.choice(_ODD_NUMBERS + ("1e-300", "1e300", "0.001", "1e9")))
    elif keyword == "WaveformSampleInterpretation":
        setattr(group, keyword, rng.choice(["UB", "SL", "MB", "AB", "", "SS"]))
    elif keyword == "WaveformData" and keyword in group:
        data = bytes(group.WaveformData)
        group.WaveformData = data[:rng.randrange(len(data) + 1)] if data else b""
    elif keyword == "ChannelDefinitionSequence" and keyword in group:
        channels = list(group.ChannelDefinitionSequence)
        group.ChannelDefinitionSequence = rng.choice([[], channels[:-1], channels + channels[:1], channels[:1]])
    else:
        group.add_new(keyword, "LO", "MEDIAN" if rng.random() < 0.5 else "RHYTHM")
    return f"group {keyword} changed"


def _mutate_channel(dataset: Dataset, rng: random.Random) -> str:
    channels = [channel for group in _groups(dataset) for channel in group.get("ChannelDefinitionSequence") or []]
    if not channels:
        return "no channels"
    keyword = rng.choice(_CHANNEL_KEYS)
    for channel in rng.sample(channels, rng.randint(1, len(channels))):
        if keyword.endswith("Sequence"):
            if rng.random() < 0.5 and keyword in channel:
                del channel[keyword]
            else:
                channel[keyword] = pydicom.DataElement(keyword, "SQ", [] if rng.random() < 0.5 else [Dataset()])
        else:
            _set_raw(channel, keyword, "DS", rng.choice(_ODD_NUMBERS))
    return f"channel {keyword} changed"


def _mutate_top(dataset: Dataset, rng: random.Random) -> str:
    keyword = rng.choice(["WaveformSequence", "WaveformAnnotationSequence", "SOPClassUID", "PatientID",
                          "AcquisitionDateTime", "ContentDate"])
    if keyword in dataset and rng.random() < 0.5:
        del dataset[keyword]
        return f"deleted {keyword}"
    if keyword.endswith("Sequence"):
        dataset[keyword] = pydicom.DataElement(keyword, "SQ", rng.choice([[], [Dataset()], _groups(dataset)[:1] * 3]))
    else:
        dataset.add_new(keyword, {"SOPClassUID": "UI", "PatientID": "LO", "ContentDate": "DA"}.get(keyword, "DT"),
                        rng.choice(["", "garbage", "99999999", "1.2.840.10008.5.1.4.1.1.9.1.2", "2024-13-45"]))
    return f"{keyword} changed"


DATASET_MUTATIONS: dict[str, Callable[[Dataset, random.Random], str]] = {
    "group": _mutate_group, "channel": _mutate_channel, "top": _mutate_top,
}


@contextlib.contextmanager
def _lenient_writing() -> Iterator[None]:
    """Let pydicom write invalid values (NaN DS, wrong lengths); restores the settings after."""
    saved = pydicom_config.settings.writing_validation_mode
    pydicom_config.settings.writing_validation_mode = pydicom_config.IGNORE
    try:
        yield
    finally:
        pydicom_config.settings.writing_validation_mode = saved


def mutate_dataset(seed: str, operator: str, rng: random.Random) -> tuple[bytes, str] | None:
    """Apply 1-3 dataset mutations to a copy of ``seed``; None when pydicom cannot write the result."""
    try:
        dataset = copy.deepcopy(_parsed(seed))
    except Exception:  # the broken corpus file has no dataset to mutate
        return None
    notes = [DATASET_MUTATIONS[operator](dataset, rng) for _ in range(rng.randint(1, 3))]
    buffer = io.BytesIO()
    try:
        with _lenient_writing():
            dataset.save_as(buffer, enforce_file_format=False)
    except Exception:  # an unwritable mutant is no reader input
        return None
    return buffer.getvalue(), "; ".join(notes)


def make_case(seed: str, operator: str, number: int) -> tuple[bytes, str] | None:
    """Case ``number`` of ``operator`` on ``seed``: deterministic bytes and a description."""
    rng = random.Random(f"{seed}/{operator}/{number}")
    if operator in BYTE_MUTATIONS:
        return BYTE_MUTATIONS[operator](seeds()[seed], rng)
    return mutate_dataset(seed, operator, rng)


# -- the oracle --------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in the main thread after ``seconds`` (``setitimer``)."""
    def expire(signum: int, frame: object) -> None:
        raise CaseTimeout(f"ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_input(data: bytes) -> str | None:
    """None when ``data`` reads as a valid record or raises EcgReadError; else what went wrong."""
    try:
        with time_limit(CASE_LIMIT_S):
            record = read_ecg(data, name="fuzz.dcm")
    except EcgReadError:
        return None
    except CaseTimeout as exc:
        return f"hang: {exc}"
    except BaseException as exc:  # noqa: BLE001 - any other exception is the finding
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    return _record_problem(record, len(data))


def _record_problem(record: object, input_size: int) -> str | None:
    signal_mv = record.signal_mv  # type: ignore[attr-defined]
    rate = record.sampling_rate_hz  # type: ignore[attr-defined]
    if not isinstance(signal_mv, np.ndarray) or signal_mv.dtype != np.float32:
        return f"signal is {type(signal_mv).__name__} {getattr(signal_mv, 'dtype', '')}, not float32"
    if signal_mv.ndim != 2 or signal_mv.shape[1] != 12 or signal_mv.shape[0] < 1:
        return f"signal shape {signal_mv.shape}, not (n, 12)"
    if np.isinf(signal_mv).any():
        return "signal holds inf"
    if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
        return f"sampling rate {rate!r} is not positive and finite"
    if signal_mv.nbytes > MAX_OUTPUT_PER_INPUT_BYTE * input_size + 2 ** 20:
        return f"{signal_mv.nbytes} signal bytes from {input_size} input bytes"
    return None


def run_campaign(cases_per_pair: int, *, start: int = 0) -> dict[str, object]:
    """Run ``cases_per_pair`` cases for every seed and operator; the failures, with their recipe."""
    operators = [*BYTE_MUTATIONS, *DATASET_MUTATIONS]
    failures, run, unwritable = [], 0, 0
    for seed in seeds():
        for operator in operators:
            for number in range(start, start + cases_per_pair):
                case = make_case(seed, operator, number)
                if case is None:
                    unwritable += 1
                    continue
                run += 1
                problem = check_input(case[0])
                if problem:
                    failures.append({"seed": seed, "operator": operator, "number": number,
                                     "mutation": case[1], "problem": problem})
    return {"run": run, "unwritable": unwritable, "failures": failures}


def _limit_memory(megabytes: int) -> Callable[[], None]:
    def apply() -> None:
        limit = megabytes * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def run_campaign_in_subprocess(cases_per_pair: int, *, memory_mb: int = 3072, timeout_s: float = 1800) -> dict:
    """:func:`run_campaign` in a child process whose address space is capped at ``memory_mb``."""
    code = ("import json, sys; from tests.io.test_fuzz_readers import run_campaign; "
            f"print('RESULT' + json.dumps(run_campaign({cases_per_pair})))")
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], cwd=REPO, capture_output=True, text=True,
        timeout=timeout_s, preexec_fn=_limit_memory(memory_mb), env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT")]
    assert completed.returncode == 0 and lines, f"campaign died ({completed.returncode}): {completed.stderr[-2000:]}"
    return json.loads(lines[-1][len("RESULT"):])


# -- tests -------------------------------------------------------------------------------------------------------------

def test_every_seed_reads() -> None:
    """The seeds themselves are valid, except the known-broken corpus file."""
    for name, data in seeds().items():
        if name.startswith("corpus/broken/"):
            assert check_input(data) is None
            continue
        assert _record_problem(read_ecg(data, name="seed.dcm"), len(data)) is None, name


_FUZZ_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])


@_FUZZ_SETTINGS
@given(seed=st.sampled_from(sorted(seeds())), operator=st.sampled_from(sorted(BYTE_MUTATIONS)),
       number=st.integers(0, 2 ** 32 - 1))
def test_byte_mutations_end_in_read_error_or_valid_record(seed: str, operator: str, number: int) -> None:
    data, mutation = make_case(seed, operator, number)  # type: ignore[misc]
    problem = check_input(data)
    assert problem is None, f"{seed} {operator} #{number} ({mutation}): {problem}"


@settings(_FUZZ_SETTINGS, max_examples=100)
@given(seed=st.sampled_from(sorted(name for name in seeds() if "broken" not in name)),
       operator=st.sampled_from(sorted(DATASET_MUTATIONS)), number=st.integers(0, 2 ** 32 - 1))
def test_dataset_mutations_end_in_read_error_or_valid_record(seed: str, operator: str, number: int) -> None:
    case = make_case(seed, operator, number)
    if case is not None:
        problem = check_input(case[0])
        assert problem is None, f"{seed} {operator} #{number} ({case[1]}): {problem}"


def _synthetic(mutate: Callable[[Dataset], None]) -> bytes:
    dataset = build_ecg_dataset(sample_count=300)
    mutate(dataset)
    with _lenient_writing():
        return _to_bytes(dataset)


def _rhythm(dataset: Dataset) -> Dataset:
    return dataset.WaveformSequence[0]


NAMED_CASES: dict[str, tuple[Callable[[Dataset], None], str]] = {
    "more channels declared than defined": (
        lambda ds: setattr(_rhythm(ds), "NumberOfWaveformChannels", 13), "channel count mismatch"),
    "fewer channels declared than defined": (
        lambda ds: setattr(_rhythm(ds), "NumberOfWaveformChannels", 11), "channel count mismatch"),
    "zero channels": (lambda ds: setattr(_rhythm(ds), "NumberOfWaveformChannels", 0), "is empty"),
    "zero samples": (lambda ds: setattr(_rhythm(ds), "NumberOfWaveformSamples", 0), "is empty"),
    "huge sample count": (
        lambda ds: setattr(_rhythm(ds), "NumberOfWaveformSamples", 2 ** 32 - 1), "may be truncated"),
    "NaN sensitivity": (
        lambda ds: _set_raw(_rhythm(ds).ChannelDefinitionSequence[0], "ChannelSensitivity", "DS", "NaN"),
        "Channel Sensitivity"),
    "inf sensitivity": (
        lambda ds: _set_raw(_rhythm(ds).ChannelDefinitionSequence[3], "ChannelSensitivity", "DS", "inf"),
        "Channel Sensitivity"),
    "zero sensitivity": (
        lambda ds: _set_raw(_rhythm(ds).ChannelDefinitionSequence[0], "ChannelSensitivity", "DS", "0"),
        "Channel Sensitivity"),
    "zero sampling frequency": (lambda ds: _set_raw(_rhythm(ds), "SamplingFrequency", "DS", "0"), "Sampling Frequency"),
    "negative sampling frequency": (
        lambda ds: _set_raw(_rhythm(ds), "SamplingFrequency", "DS", "-500"), "Sampling Frequency"),
    "infinite sampling frequency": (
        lambda ds: _set_raw(_rhythm(ds), "SamplingFrequency", "DS", "inf"), "Sampling Frequency"),
    "no waveform sequence": (lambda ds: ds.__delattr__("WaveformSequence"), "no Waveform Sequence"),
    "empty waveform sequence": (lambda ds: setattr(ds, "WaveformSequence", []), "is empty"),
    "no channel definitions": (
        lambda ds: _rhythm(ds).__delattr__("ChannelDefinitionSequence"), "Channel Definition Sequence"),
    "no sensitivity units": (
        lambda ds: _rhythm(ds).ChannelDefinitionSequence[0].__delattr__("ChannelSensitivityUnitsSequence"),
        "Channel Sensitivity Units"),
    "32-bit samples": (lambda ds: setattr(_rhythm(ds), "WaveformBitsAllocated", 32), "WaveformBitsAllocated"),
}


@pytest.mark.parametrize("name", sorted(NAMED_CASES))
def test_named_malformations_raise_read_error_naming_the_element(name: str) -> None:
    mutate, message = NAMED_CASES[name]
    with time_limit(CASE_LIMIT_S), pytest.raises(EcgReadError, match=re.escape(message)):
        read_ecg(_synthetic(mutate), name="fuzz.dcm")


def test_absurd_but_finite_sampling_frequencies_give_valid_records() -> None:
    for frequency in ("1e-300", "1e300", "0.001"):
        data = _synthetic(lambda ds, f=frequency: _set_raw(_rhythm(ds), "SamplingFrequency", "DS", f))
        assert check_input(data) is None, frequency


def test_memory_capped_campaign_quick() -> None:
    """A small campaign in a subprocess with a capped address space (checks the slow test's harness)."""
    result = run_campaign_in_subprocess(1, timeout_s=120)
    assert result["run"] > 0 and result["failures"] == [], result["failures"][:5]


@pytest.mark.slow
def test_memory_capped_campaign_long() -> None:
    """≥ 10,000 cases over every seed and mutation operator, each ≤ 2 s, in ≤ 3 GiB of address space."""
    per_pair = math.ceil(11_000 / (len(seeds()) * (len(BYTE_MUTATIONS) + len(DATASET_MUTATIONS))))
    result = run_campaign_in_subprocess(per_pair)
    print(f"fuzz campaign: {result['run']} cases run, {result['unwritable']} unwritable, "
          f"{len(result['failures'])} failures")
    assert result["run"] >= 10_000
    assert result["failures"] == [], json.dumps(result["failures"][:10], indent=1)


# -- reader bugs found by fuzzing, kept as regression tests ------------------------------------------------------------

@pytest.mark.parametrize("keyword", ["ChannelBaseline", "ChannelSensitivity", "ChannelSensitivityCorrectionFactor"])
def test_huge_finite_calibration_is_refused_or_finite(keyword: str) -> None:
    data = _synthetic(lambda ds: _set_raw(_rhythm(ds).ChannelDefinitionSequence[0], keyword, "DS", "1e300"))
    assert check_input(data) is None
    with pytest.raises(EcgReadError, match="calibration gives samples beyond any ECG range"):
        read_ecg(data, name="huge.dcm")
