"""Load a reader's input: a path or an upload's bytes, and the file name to show for it."""

from __future__ import annotations

import os
import stat

from ecgreview.errors import EcgReadError
from ecgreview.io._limits import MAX_FILE_BYTES, check_file_size

__all__: list[str] = []


def _load_source(path_or_bytes: str | os.PathLike[str] | bytes, name: str | None) -> tuple[bytes, str]:
    """The bytes of a path or buffer, and the basename to show for it.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        A file path, or the file's bytes (``bytearray`` and ``memoryview`` too).
    name : str or None
        The file name to show; defaults to the path's basename. Directories are
        always stripped.

    Returns
    -------
    data : bytes
        The file's content.
    source_name : str
        Its basename ("" for nameless bytes).

    Raises
    ------
    TypeError
        If ``path_or_bytes`` is neither a path nor bytes.
    EcgReadError
        If the path cannot be read, or the content is larger than
        :data:`~ecgreview.io._limits.MAX_FILE_BYTES`.
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        source_name = os.path.basename(name or "")
        check_file_size(source_name or None, memoryview(path_or_bytes).nbytes)
        return bytes(path_or_bytes), source_name
    if not isinstance(path_or_bytes, (str, os.PathLike)):
        raise TypeError(f"path_or_bytes must be a path or bytes, not {type(path_or_bytes).__name__}")
    source_name = os.path.basename(name or os.fspath(path_or_bytes))
    return _read_path(path_or_bytes, source_name), source_name


def _read_path(path: str | os.PathLike[str], source_name: str, *, limit_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the file at ``path``: at most ``limit_bytes``, checked before and while reading.

    The size is checked from ``stat`` first (a pipe or socket is refused there, before
    an ``open`` that could block), then at most ``limit_bytes + 1`` bytes are read, so
    a file that grows meanwhile (or a device such as ``/dev/zero``) is refused too.

    Raises
    ------
    EcgReadError
        If the file cannot be read or is larger than ``limit_bytes``.
    """
    try:
        status = os.stat(path)
        if stat.S_ISFIFO(status.st_mode) or stat.S_ISSOCK(status.st_mode):
            raise EcgReadError(source_name or None, "not a regular file (a pipe or socket)")
        check_file_size(source_name or None, status.st_size, limit_bytes=limit_bytes)
        with open(path, "rb") as handle:
            check_file_size(source_name or None, os.fstat(handle.fileno()).st_size, limit_bytes=limit_bytes)
            data = handle.read(limit_bytes + 1)
    except OSError as exc:
        raise EcgReadError(source_name, f"cannot read file ({exc.strerror or exc})") from exc
    if len(data) > limit_bytes:  # grew since stat, or a device that reports no size
        raise EcgReadError(source_name or None, f"file is larger than the limit of {limit_bytes:,} bytes")
    return data
