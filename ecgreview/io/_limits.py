"""Hard bounds on what one input file may cost, and the checks every reader calls.

A hostile upload must end in the usual :class:`~ecgreview.errors.EcgReadError` in
bounded time and memory, never in a server that swaps or dies. Every reader checks
its declared signal shape with :func:`check_signal_shape` *before* it decodes or
allocates anything, reads paths through :func:`ecgreview.io._source._load_source`
(bounded by :data:`MAX_FILE_BYTES`) and zip entries through :func:`read_zip_files`
(inflated in chunks, counting the bytes actually produced).

Why these numbers
-----------------
A resting 12-lead ECG is 10 s (the DNN reads 10 s at 400 Hz); the longest recordings
this app is meant to show are PTB (115 s at 1 kHz) and 30-minute INCART-style
records at 257 Hz (462,600 samples). :data:`MAX_SAMPLES_PER_LEAD` (10 min at 1 kHz)
and :data:`MAX_DURATION_S` (30 min) admit both with room, and refuse Holter-length
or forged headers: a record at the limits is at most 16 leads × 600,000 samples,
77 MB as float64 while decoding and 29 MB as the 12-lead float32 record. The
duration bound also caps resampling: 30 min at the model's 400 Hz is 720,000
samples per lead, whatever rate a file declares. The file bound (64 MiB) is above
any such record in any supported format (text HL7 digits included) and above the
UI's 50 MB upload limit.

All limits are module constants, so tests and a site with longer recordings can see
(and, in code, change) them in one place.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
import zlib
from collections.abc import Callable

from ecgreview.errors import EcgReadError

__all__ = [
    "MAX_DURATION_S", "MAX_FILE_BYTES", "MAX_HEADER_BYTES", "MAX_LEADS", "MAX_SAMPLES_PER_LEAD",
    "MAX_SIGNAL_VALUES", "MAX_XML_ELEMENTS", "MAX_ZIP_ENTRIES", "MAX_ZIP_RATIO", "MAX_ZIP_TOTAL_BYTES",
    "ZIP_RATIO_FLOOR_BYTES", "check_base64_length", "check_file_size", "check_signal_shape", "read_zip_files",
]

#: Largest file any reader reads, in bytes (paths, uploads, one zip).
MAX_FILE_BYTES = 64 * 2**20
#: Largest WFDB header, in bytes (real ones are 1-5 kB, with comments).
MAX_HEADER_BYTES = 2**20
#: Most samples per lead of one signal (10 min at 1 kHz; 39 min at 257 Hz).
MAX_SAMPLES_PER_LEAD = 600_000
#: Longest signal per lead, in seconds (30 min), whatever the declared rate.
MAX_DURATION_S = 1800.0
#: Most leads (channels) of one signal: 12-lead, 15- and 18-lead, plus spare channels.
MAX_LEADS = 64
#: Most values (samples × leads) of one signal: 16 leads at the per-lead maximum.
MAX_SIGNAL_VALUES = 16 * MAX_SAMPLES_PER_LEAD
#: Most elements of one XML file (real ECG XML files hold a few thousand).
MAX_XML_ELEMENTS = 200_000
#: Most entries of one zip.
MAX_ZIP_ENTRIES = 64
#: Most bytes all entries of one zip may inflate to, counted as they are inflated.
MAX_ZIP_TOTAL_BYTES = MAX_FILE_BYTES
#: Highest inflated-to-compressed ratio of one zip entry (deflate reaches ~1030 on zeros).
MAX_ZIP_RATIO = 200
#: An entry is only refused for its ratio once it has inflated past this many bytes
#: (a small, flat-line signal file may compress very well and costs nothing).
ZIP_RATIO_FLOOR_BYTES = 2**20
#: Bytes inflated per read of a zip entry.
_ZIP_CHUNK_BYTES = 64 * 2**10
#: Zip compression methods read: stored and deflate (bzip2 and LZMA inflate without an output bound per call).
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


def _mib(size_bytes: float) -> str:
    return f"{size_bytes / 2**20:g} MiB"


def check_file_size(source: str | None, size_bytes: int, *, limit_bytes: int = MAX_FILE_BYTES,
                    what: str = "file") -> None:
    """Refuse a file (or part of one) larger than ``limit_bytes``.

    Raises
    ------
    EcgReadError
        ``"{what} is N bytes, over the limit of L bytes (64 MiB)"``.
    """
    if size_bytes > limit_bytes:
        raise EcgReadError(source, f"{what} is {size_bytes:,} bytes, over the limit of {limit_bytes:,} bytes "
                                   f"({_mib(limit_bytes)})")


def check_signal_shape(source: str | None, samples: int, leads: int, rate_hz: float | None, *,
                       where: str = "") -> None:
    """Refuse a declared signal larger than the limits, before it is decoded.

    Parameters
    ----------
    source : str or None
        File name for the error.
    samples : int
        Declared samples per lead.
    leads : int
        Declared leads (channels).
    rate_hz : float or None
        Declared sampling rate in Hz; ``None`` when unknown (the duration is then not checked).
    where : str
        The element or part of the file, prefixed to the reason (``"parsedwaveforms"``).

    Raises
    ------
    EcgReadError
        If ``samples`` exceeds :data:`MAX_SAMPLES_PER_LEAD`, ``leads`` :data:`MAX_LEADS`,
        their product :data:`MAX_SIGNAL_VALUES`, or ``samples / rate_hz`` :data:`MAX_DURATION_S`.
    """
    prefix = f"{where}: " if where else ""
    if samples > MAX_SAMPLES_PER_LEAD:
        raise EcgReadError(source, f"{prefix}declares {samples:,} samples per lead, over the limit of "
                                   f"{MAX_SAMPLES_PER_LEAD:,} (10 min at 1 kHz)")
    if leads > MAX_LEADS:
        raise EcgReadError(source, f"{prefix}declares {leads:,} leads, over the limit of {MAX_LEADS}")
    if samples * leads > MAX_SIGNAL_VALUES:
        raise EcgReadError(source, f"{prefix}declares {leads} leads × {samples:,} samples, over the limit of "
                                   f"{MAX_SIGNAL_VALUES:,} values")
    if rate_hz is not None and rate_hz > 0:
        duration_s = samples / rate_hz
        if not math.isfinite(duration_s) or duration_s > MAX_DURATION_S:
            shown = f"{duration_s / 3600:.3g} h" if math.isfinite(duration_s) else "an unbounded time"
            raise EcgReadError(source, f"{prefix}declares {samples:,} samples at {rate_hz:g} Hz ({shown}), "
                                       f"over the limit of {MAX_DURATION_S:g} s per lead")


def check_base64_length(source: str | None, where: str, text_chars: int, max_decoded_bytes: int) -> None:
    """Refuse base64 text that would decode to more than ``max_decoded_bytes`` (checked before decoding)."""
    max_chars = 4 * math.ceil(max_decoded_bytes / 3)
    if text_chars > max_chars:
        raise EcgReadError(source, f"{where}: base64 waveform data of {text_chars:,} characters would decode to "
                                   f"more than {max_decoded_bytes:,} bytes, the most its declared shape or the "
                                   "per-lead sample limit allows")


def read_zip_files(data: bytes, source: str | None, *, keep: Callable[[zipfile.ZipInfo], bool]) -> dict[str, bytes]:
    """The entries of a zip that ``keep`` selects, by basename, inflated within the limits.

    Entry sizes declared in the zip are never trusted: every entry is inflated in
    chunks of 64 KiB and the bytes actually produced are counted against
    :data:`MAX_ZIP_TOTAL_BYTES` (all entries together) and :data:`MAX_ZIP_RATIO`
    (per entry, once past :data:`ZIP_RATIO_FLOOR_BYTES`). Declared sizes over the
    limits are refused up front, before anything is inflated.

    Raises
    ------
    EcgReadError
        If the zip is corrupt (bad CRC, truncated, encrypted), uses another compression
        method than stored or deflate, or exceeds a limit (the message names it).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [info for info in archive.infolist() if keep(info)]
        if len(entries) > MAX_ZIP_ENTRIES:
            raise EcgReadError(source, f"zip holds {len(entries)} files, over the limit of {MAX_ZIP_ENTRIES}")
        declared = sum(info.file_size for info in entries)
        if declared > MAX_ZIP_TOTAL_BYTES:
            raise EcgReadError(source, f"zip declares {declared:,} bytes uncompressed, over the limit of "
                                       f"{MAX_ZIP_TOTAL_BYTES:,} bytes ({_mib(MAX_ZIP_TOTAL_BYTES)})")
        files, budget = {}, MAX_ZIP_TOTAL_BYTES
        for info in entries:
            content = _read_entry(archive, info, source, budget)
            budget -= len(content)
            files[os.path.basename(info.filename)] = content
        return files
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError, NotImplementedError) as exc:
        raise EcgReadError(source, f"corrupt or unreadable zip ({exc})") from exc


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str | None, budget_bytes: int) -> bytes:
    """One entry, inflated in chunks; stops at the first chunk beyond the budget or the ratio."""
    name = info.filename
    if info.compress_type not in _ZIP_METHODS:
        raise EcgReadError(source, f"zip entry {name}: compression method {info.compress_type} is not supported "
                                   "(stored or deflate only)")
    parts: list[bytes] = []
    inflated = 0
    with archive.open(info) as handle:
        while chunk := handle.read(_ZIP_CHUNK_BYTES):
            inflated += len(chunk)
            if inflated > budget_bytes:
                raise EcgReadError(source, f"zip entry {name} inflates past the limit of {MAX_ZIP_TOTAL_BYTES:,} "
                                           f"bytes for all entries ({_mib(MAX_ZIP_TOTAL_BYTES)})")
            if inflated > ZIP_RATIO_FLOOR_BYTES and inflated > MAX_ZIP_RATIO * max(info.compress_size, 1):
                raise EcgReadError(source, f"zip entry {name} inflates more than {MAX_ZIP_RATIO} times its "
                                           f"compressed size of {info.compress_size:,} bytes (zip bomb?)")
            parts.append(chunk)
    return b"".join(parts)
