"""Read WFDB 12-lead records (PhysioNet/CinC Challenge 2020/2021 style) into an :class:`EcgRecord`.

A WFDB record is a text header ``NAME.hea`` plus the signal file(s) it names
(``NAME.mat`` in the Challenge data, ``NAME.dat`` elsewhere). It reaches this
reader in one of three shapes:

* a path to the header, with its signal files in the same folder;
* a ``.zip`` (path or bytes) holding one header and its signal files;
* the header's bytes plus ``signal_files`` (``{file name: bytes}``), or the
  list of uploaded ``(name, bytes)`` pairs given to :func:`read_wfdb_files`.

The signal is decoded by the ``wfdb`` package from a private temporary folder.
Reference diagnoses come from the ``#Dx:`` SNOMED-CT codes; ``#Age`` (whole years)
and ``#Sex`` become ``age_years`` and ``sex`` (not identifying at that granularity;
``NaN`` or ``Unknown`` read as unknown).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ecgreview._wfdb import wfdb_module
from ecgreview.errors import EcgReadError
from ecgreview.io._demographics import age_from_text, sex_from_text
from ecgreview.io._limits import MAX_HEADER_BYTES, check_file_size, check_signal_shape, read_zip_files
from ecgreview.io._source import _load_source, _read_path
from ecgreview.io.leads import millivolts_per_unit, normalize_lead_name, standard_leads
from ecgreview.record import CLASSES, EcgRecord

__all__ = ["SNOMED_CODES", "read_wfdb_ecg", "read_wfdb_files", "reference_labels_from_codes"]

#: SNOMED-CT codes of each model class, as used in the Challenge ``#Dx:`` lines.
SNOMED_CODES: dict[str, tuple[str, ...]] = {
    "1dAVb": ("270492004",),
    "RBBB": ("59118001", "713427006"),
    "LBBB": ("164909002", "733534002"),
    "SB": ("426177001",),
    "AF": ("164889003",),
    "ST": ("427084000",),
}

_HEADER_SUFFIX = ".hea"
_ZIP_MAGIC = b"PK\x03\x04"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$")
_RECORD_LINE = re.compile(
    r"^(?P<name>[^\s/]+)(?P<segments>/\d+)?\s+(?P<signals>\d+)"
    r"(?:\s+(?P<rate>[0-9.eE+\-]+)(?:/\S+)?(?:\(\S+\))?(?:\s+(?P<samples>\d+)(?P<rest>.*))?)?$"
)
_GAIN_FIELD = re.compile(r"^(?P<gain>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:\((?P<baseline>[+-]?\d+)\))?(?:/(?P<units>\S+))?$")
_DATE_FORMATS = ("%H:%M:%S %d/%m/%Y", "%H:%M:%S.%f %d/%m/%Y", "%d-%b-%Y %H:%M:%S", "%H:%M:%S %d-%b-%Y")


@dataclass(frozen=True)
class _Header:
    """What this reader needs from a header's text, validated."""

    record_name: str
    signal_count: int
    sampling_rate_hz: float
    sample_count: int
    signal_files: tuple[str, ...]
    lead_labels: tuple[str, ...]
    mv_per_unit: tuple[float, ...]
    gain_texts: tuple[str, ...]
    comments: tuple[str, ...]
    acquisition_time: datetime | None


def read_wfdb_ecg(
    path_or_bytes: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    signal_files: Mapping[str, bytes] | None = None,
) -> EcgRecord:
    """Read a WFDB 12-lead record.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        The header (``NAME.hea``) or a ``.zip`` holding one header and its
        signal files, as a path or as bytes. For a header path, the signal files
        are looked up in the header's folder.
    name : str, optional
        File name of the bytes, for the record and for error messages.
    signal_files : mapping of str to bytes, optional
        The signal files of a header given as bytes, by file name (directories
        are ignored). Not used for paths or zips.

    Returns
    -------
    EcgRecord
        ``signal_mv`` (samples, 12) float32 in mV in ``LEAD_ORDER``, the sampling
        rate in Hz, ``pseudonym`` = the record name, ``reference_labels`` from the
        ``#Dx:`` SNOMED-CT codes (one bool per class of ``CLASSES``; empty when
        the header has no ``#Dx:`` line). ``source_sha256`` is the SHA-256 of the
        header's bytes followed by each signal file's bytes in header order, so
        it is the same however the record was uploaded.

    Raises
    ------
    EcgReadError
        If the header is malformed, a signal file is missing or truncated, the
        record name does not match the file name, or a gain or unit is invalid.
    """
    data, source_name = _load_source(path_or_bytes, name)
    if data.startswith(_ZIP_MAGIC):
        header_name, header_data, files = _files_from_zip(data, source_name)
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        header_name, header_data = source_name, data
        files = _files_beside(os.fspath(path_or_bytes), header_name, header_data)
    else:
        header_name, header_data = source_name, data
        files = {os.path.basename(key): bytes(value) for key, value in (signal_files or {}).items()}
    return _read_record(header_name, header_data, files)


def read_wfdb_files(files: Sequence[tuple[str, bytes]]) -> EcgRecord:
    """Read one WFDB record from uploaded files: exactly one header and its signal files.

    Parameters
    ----------
    files : sequence of (str, bytes)
        ``(file name, content)`` pairs, e.g. from a multi-file upload.

    Returns
    -------
    EcgRecord
        As :func:`read_wfdb_ecg`.

    Raises
    ------
    EcgReadError
        If there is no header or more than one, or a signal file is missing.
    """
    headers = [(name, data) for name, data in files if os.path.basename(name).lower().endswith(_HEADER_SUFFIX)]
    if len(headers) != 1:
        names = ", ".join(os.path.basename(name) for name, _ in files) or "none"
        found = "no WFDB header (.hea)" if not headers else f"{len(headers)} WFDB headers"
        raise EcgReadError(None, f"{found} among the files ({names}); give exactly one header and its signal files")
    header_name, header_data = headers[0]
    others = {os.path.basename(name): bytes(data) for name, data in files if (name, data) != headers[0]}
    return read_wfdb_ecg(bytes(header_data), name=header_name, signal_files=others)


def reference_labels_from_codes(codes: Sequence[str]) -> dict[str, bool]:
    """One bool per class of ``CLASSES``: whether any of its SNOMED-CT codes is in ``codes``.

    Examples
    --------
    >>> reference_labels_from_codes(["426177001", "164934002"])["SB"]
    True
    """
    present = {code.strip() for code in codes}
    return {label: any(code in present for code in SNOMED_CODES[label]) for label in CLASSES}


def _files_beside(header_path: str, header_name: str, header_data: bytes) -> dict[str, bytes]:
    """The signal files the header names, read from the header's folder (absent ones are skipped)."""
    folder = os.path.dirname(os.path.abspath(header_path))
    files = {}
    for file_name in _parse_header(header_name, header_data).signal_files:
        path = os.path.join(folder, file_name)
        if os.path.isfile(path):
            files[file_name] = _read_path(path, file_name)
    return files


def _files_from_zip(data: bytes, source_name: str) -> tuple[str, bytes, dict[str, bytes]]:
    """The header's name and bytes, and the other files of a zip, by basename (inflated within the limits).

    The header is inflated and checked first, so that a header declaring hours of
    samples is refused before any signal file is inflated.
    """
    source = source_name or None
    headers = read_zip_files(data, source, keep=lambda info: _is_record_file(info) and _is_header(info.filename))
    if len(headers) != 1:
        names = sorted(headers)
        found = "no WFDB header (.hea)" if not names else f"{len(names)} WFDB headers ({', '.join(names)})"
        raise EcgReadError(source, f"zip holds {found}; expected one record: NAME.hea and its signal files")
    [(header_name, header_data)] = headers.items()
    _parse_header(header_name, header_data)
    files = read_zip_files(data, source, keep=lambda info: _is_record_file(info) and not _is_header(info.filename))
    return header_name, header_data, files


def _is_record_file(info: zipfile.ZipInfo) -> bool:
    """A zip entry that may belong to the record: no folder, macOS resource fork or hidden file."""
    return (not info.is_dir() and not info.filename.startswith("__MACOSX/")
            and not os.path.basename(info.filename).startswith("."))


def _is_header(file_name: str) -> bool:
    return file_name.lower().endswith(_HEADER_SUFFIX)


def _parse_header(header_name: str, data: bytes) -> _Header:
    """Validate the header text: record line, one line per signal, gains and units."""
    source = header_name or None
    check_file_size(source, len(data), limit_bytes=MAX_HEADER_BYTES, what="WFDB header")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise EcgReadError(source, f"WFDB header is not ASCII text (byte {exc.start})") from exc
    lines = [line.strip() for line in text.splitlines()]
    comments = tuple(line[1:].strip() for line in lines if line.startswith("#"))
    body = [line for line in lines if line and not line.startswith("#")]
    match = _RECORD_LINE.match(body[0]) if body else None
    if match is None or match.group("samples") is None:
        raise EcgReadError(source, "not a WFDB header: the first line must read 'NAME signals rate samples'")
    if match.group("segments"):
        raise EcgReadError(source, "multi-segment WFDB records are not supported")
    record_name = _record_name(match.group("name"), header_name, source)
    signal_count, sample_count = int(match.group("signals")), int(match.group("samples"))
    rate = float(match.group("rate"))
    if signal_count < 1 or sample_count < 1 or not np.isfinite(rate) or rate <= 0:
        raise EcgReadError(source, f"record line '{body[0]}' declares no signal, no sample or no valid rate")
    check_signal_shape(source, sample_count, signal_count, rate, where="WFDB header")
    if len(body) < signal_count + 1:
        raise EcgReadError(source, f"header declares {signal_count} signals but has {len(body) - 1} signal lines")
    signal_lines = [line.split() for line in body[1:signal_count + 1]]
    files, labels, scales, gains = [], [], [], []
    for number, fields in enumerate(signal_lines, 1):
        file_name, label, mv_per_unit = _signal_line(fields, number, source)
        files.append(file_name)
        labels.append(label)
        scales.append(mv_per_unit)
        gains.append(fields[2])
    return _Header(
        record_name, signal_count, rate, sample_count, tuple(dict.fromkeys(files)), tuple(labels),
        tuple(scales), tuple(gains), comments, _parse_time(match.group("rest") or ""),
    )


def _record_name(declared: str, header_name: str, source: str | None) -> str:
    """The record name, checked against the header file's name.

    Early Challenge 2020 Georgia headers name the record ``E00001.mat``; that
    ``.mat`` suffix is dropped. A header file called ``NAME.hea`` must declare
    ``NAME``; headers under other names (a renamed upload) are not checked.
    """
    name = declared[:-4] if declared.lower().endswith(".mat") else declared
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise EcgReadError(source, f"invalid WFDB record name '{declared}' (letters, digits, '_' and '-' only)")
    stem, suffix = os.path.splitext(header_name)
    if suffix.lower() == _HEADER_SUFFIX and stem != name:
        raise EcgReadError(source, f"record name '{declared}' in the header does not match the file name '{header_name}'")
    return name


def _signal_line(fields: list[str], number: int, source: str | None) -> tuple[str, str, float]:
    """Signal file name, lead label and mV per physical unit of one signal line."""
    where = f"signal {number}"
    if len(fields) < 3:
        raise EcgReadError(source, f"{where}: signal line has no ADC gain (an uncalibrated signal cannot be scaled to mV)")
    file_name = fields[0]
    if not _SAFE_NAME.match(file_name) or file_name == "-":
        raise EcgReadError(source, f"{where}: unsupported signal file name '{file_name}'")
    label = " ".join(fields[8:]) if len(fields) > 8 else ""
    where += f" ({label})" if label else ""
    gain = _GAIN_FIELD.match(fields[2])
    value = float(gain.group("gain")) if gain else float("nan")
    if not gain or not np.isfinite(value) or value <= 0:
        raise EcgReadError(source, f"{where}: ADC gain '{fields[2]}' is not a positive number of units per mV")
    mv_per_unit = millivolts_per_unit(gain.group("units") or "mV")
    if mv_per_unit is None:
        raise EcgReadError(source, f"{where}: unsupported units '{gain.group('units')}' (expected mV, uV or V)")
    return file_name, label, mv_per_unit


def _parse_time(rest: str) -> datetime | None:
    """Base time and date after the sample count (WFDB 'HH:MM:SS DD/MM/YYYY' or Challenge 'DD-Mon-YYYY HH:MM:SS')."""
    text = " ".join(rest.split())
    for date_format in _DATE_FORMATS:
        try:
            return datetime.strptime(text, date_format)
        except ValueError:
            continue
    return None


def _read_record(header_name: str, header_data: bytes, files: Mapping[str, bytes]) -> EcgRecord:
    source = header_name or None
    header = _parse_header(header_name, header_data)
    missing = [file_name for file_name in header.signal_files if file_name not in files]
    if missing:
        given = ", ".join(sorted(files)) or "none"
        raise EcgReadError(
            source,
            f"signal file {', '.join(missing)} named in the header is missing (files given: {given}); "
            "provide the header together with its signal files",
        )
    signal_mv = _decode_signal(header, header_data, files, source)
    lead_names = [normalize_lead_name(label) or label for label in header.lead_labels]
    # NaN is the WFDB invalid-sample value (e.g. -32768 in format 16), decoded as such by wfdb;
    # an infinite sample comes from the header's scale, so the error names each lead's ADC gain.
    notes = {name: f"ADC gain {_gain_text(gain)}" for name, gain in zip(lead_names, header.gain_texts)}
    signal_mv, names, derived = standard_leads(signal_mv, lead_names, source=source, missing_allowed=True,
                                               notes=notes)
    digest = hashlib.sha256(header_data)
    for file_name in header.signal_files:
        digest.update(files[file_name])
    return EcgRecord(
        signal_mv=signal_mv,
        sampling_rate_hz=header.sampling_rate_hz,
        lead_names=names,
        source_name=header_name,
        source_sha256=digest.hexdigest(),
        pseudonym=header.record_name,
        acquisition_time=header.acquisition_time,
        derived_leads=derived,
        reference_labels=_labels(header.comments),
        age_years=age_from_text(_comment(header.comments, "age")),
        sex=sex_from_text(_comment(header.comments, "sex")),
    )


def _decode_signal(header: _Header, header_data: bytes, files: Mapping[str, bytes], source: str | None) -> np.ndarray:
    """(samples, signals) float64 in mV, decoded by ``wfdb.rdrecord`` from a temporary folder."""
    wfdb = wfdb_module()  # imported here, once, under the lock (ecgreview/_wfdb.py)

    text = header_data.decode("ascii")
    first = next(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    declared = first.split()[0]
    if declared != header.record_name:  # the Georgia 'E00001.mat' quirk: give wfdb a valid name
        text = text.replace(first, first.replace(declared, header.record_name, 1), 1)
    with tempfile.TemporaryDirectory(prefix="ecgreview-wfdb-") as folder:
        with open(os.path.join(folder, header.record_name + _HEADER_SUFFIX), "w", encoding="ascii") as handle:
            handle.write(text)
        for file_name in header.signal_files:
            with open(os.path.join(folder, file_name), "wb") as handle:
                handle.write(files[file_name])
        try:
            with np.errstate(over="ignore"):  # a tiny gain overflows; standard_leads refuses the result by name
                record = wfdb.rdrecord(os.path.join(folder, header.record_name), physical=True)
        except Exception as exc:  # wfdb raises ValueError, OSError, its own HeaderSyntaxError…
            raise EcgReadError(
                source,
                f"cannot decode signal file {', '.join(header.signal_files)} ({type(exc).__name__}: {exc}); "
                "it may be truncated or not match the header",
            ) from exc
    signal = record.p_signal
    if signal is None or signal.shape != (header.sample_count, header.signal_count):
        shape = None if signal is None else signal.shape
        raise EcgReadError(
            source, f"decoded signal has shape {shape}, header declares {header.sample_count} samples × {header.signal_count} signals"
        )
    with np.errstate(over="ignore"):
        return signal * np.asarray(header.mv_per_unit)


def _gain_text(field: str) -> str:
    """A signal line's gain field as ``"1e-300 adu/mV"``: the number as written, baseline dropped, ``mV`` when no units.

    Only called on fields :func:`_signal_line` accepted (a number and known units).
    """
    gain = _GAIN_FIELD.match(field)
    if gain is None:
        return field
    return f"{gain.group('gain')} adu/{gain.group('units') or 'mV'}"


def _comment(comments: Sequence[str], key: str) -> str | None:
    """The value of the first ``Key: value`` comment with this key (any case), or None."""
    for comment in comments:
        name, separator, value = comment.partition(":")
        if separator and name.strip().lower() == key:
            return value.strip()
    return None


def _labels(comments: Sequence[str]) -> dict[str, bool]:
    """Reference labels from the ``Dx:`` comment; empty when the header has none."""
    value = _comment(comments, "dx")
    if value is None:
        return {}
    return reference_labels_from_codes([code for code in value.split(",") if code.strip()])
