"""The XLI compression of Philips Sierra ECG XML waveforms (1.03 and 1.04 alike), decoded within bounds.

XLI stores each lead as a chunk: an 8-byte header (int32 compressed size, int16
code, int16 first value), LZW with 10-bit codes (MSB first), the decompressed
bytes holding the high bytes of all samples then the low bytes, and a
second-difference prediction (residual + 64). Facts from the public format
description of sierra-ecg-tools (MIT); the code here is our own.
"""

from __future__ import annotations

import numpy as np

from ecgreview.errors import EcgReadError

__all__ = ["XLI_CHUNK_HEADER_BYTES", "xli_decode"]

#: Bytes of a chunk's header: int32 compressed size, int16 code, int16 first value.
XLI_CHUNK_HEADER_BYTES = 8
_XLI_CODE_BITS = 10


def xli_decode(raw: bytes, lead_count: int, sample_count: int, source: str | None) -> list[np.ndarray]:
    """Decode ``lead_count`` XLI chunks into int64 sample arrays of ``sample_count``."""
    leads, offset = [], 0
    for number in range(1, lead_count + 1):
        header = raw[offset:offset + XLI_CHUNK_HEADER_BYTES]
        size = int.from_bytes(header[:4], "little", signed=True) if len(header) == XLI_CHUNK_HEADER_BYTES else -1
        chunk = raw[offset + XLI_CHUNK_HEADER_BYTES:offset + XLI_CHUNK_HEADER_BYTES + max(size, 0)]
        if size <= 0 or len(chunk) < size:
            raise EcgReadError(source, f"parsedwaveforms: XLI chunk {number} of {lead_count} is missing or truncated")
        first_value = int.from_bytes(header[6:8], "little", signed=True)
        offset += XLI_CHUNK_HEADER_BYTES + size
        samples = _xli_predict(_xli_unpack(_lzw_decode(chunk, number, source, 2 * sample_count)), first_value)
        if len(samples) < sample_count:
            raise EcgReadError(
                source, f"parsedwaveforms: XLI chunk {number} holds {len(samples)} samples, expected {sample_count}"
            )
        leads.append(samples[:sample_count])
    return leads


def _lzw_decode(chunk: bytes, number: int, source: str | None, max_bytes: int) -> bytes:
    """LZW with fixed 10-bit codes, most significant bit first, no dictionary reset.

    Decoding stops at ``max_bytes`` (two bytes per declared sample): a chunk that
    inflates further holds more samples than the header declares, and is refused
    before it costs more than the declared signal.
    """
    # Every code gives at least one byte, so max_bytes + 1 codes are all that can be used.
    code_count = min(len(chunk) * 8 // _XLI_CODE_BITS, max_bytes + 1)
    bits = np.unpackbits(np.frombuffer(chunk[:(code_count * _XLI_CODE_BITS + 7) // 8], dtype=np.uint8))
    usable = code_count * _XLI_CODE_BITS
    codes = bits[:usable].reshape(-1, _XLI_CODE_BITS) @ (1 << np.arange(_XLI_CODE_BITS - 1, -1, -1))
    max_code = (1 << _XLI_CODE_BITS) - 2
    table = [bytes([value]) for value in range(256)]
    output, previous = bytearray(), b""
    for code in codes.tolist():
        if code > max_code:
            break
        if code < len(table):
            entry = table[code]
        elif code == len(table) and previous:
            entry = previous + previous[:1]
        else:
            raise EcgReadError(source, f"parsedwaveforms: XLI chunk {number} is corrupt (LZW code {code} undefined)")
        if previous and len(table) <= max_code:
            table.append(previous + entry[:1])
        output += entry
        previous = entry
        if len(output) > max_bytes:
            raise EcgReadError(source, f"parsedwaveforms: XLI chunk {number} inflates beyond the declared "
                                       f"{max_bytes // 2:,} samples per lead (durationperchannel × samplespersecond)")
    return bytes(output)


def _xli_unpack(data: bytes) -> np.ndarray:
    """int16 values whose high bytes fill the first half of ``data`` and low bytes the second."""
    padded = np.frombuffer(data + b"\0" * (len(data) % 2), dtype=np.uint8)
    half = len(padded) // 2
    words = (padded[:half].astype(np.uint16) << 8) | padded[half:2 * half]
    return words.view(np.int16).astype(np.int64)


def _xli_predict(residuals: np.ndarray, first_value: int) -> np.ndarray:
    """Undo the second-difference prediction: sample = 2·previous − before − (residual − 64), lagged."""
    values = residuals.tolist()
    if len(values) < 2:
        return np.asarray(values, dtype=np.int64)
    before, previous, last = values[0], values[1], first_value
    for index in range(2, len(values)):
        current = 2 * previous - before - last
        last = values[index] - 64
        values[index] = current
        before, previous = previous, current
    return np.asarray(values, dtype=np.int64)
