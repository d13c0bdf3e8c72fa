"""Durable file writes shared by the library: the one atomic-replace helper.

:func:`write_atomically` is used for every file that is replaced whole (the user file,
the weights manifest, the ONNX cache, de-identified DICOM copies, a migrated review
store). The review store's appends are not replacements: see :mod:`ecgreview.review._store_csv`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["fsync_directory", "write_atomically"]


def write_atomically(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o640) -> None:
    """Replace ``path`` by ``data`` so that readers see the old file or the new one, never a part.

    The bytes go to a temporary file beside ``path``, which is given ``mode`` (whatever the
    umask), fsynced and renamed over ``path``; the folder is then fsynced. On any failure
    (including an interrupt) the temporary file is removed and the error re-raised, and
    ``path`` is as before.

    Parameters
    ----------
    path : path-like
        The file to write; its folder must exist.
    data : bytes
        The whole new content.
    mode : int
        Permission bits of the new file (default ``0o640``: owner read/write, group read).

    Raises
    ------
    OSError
        The folder is not writable, the disk is full, ...
    """
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            if hasattr(os, "fchmod"):
                os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a file's creation or rename in ``directory`` durable (a no-op on Windows)."""
    if os.name == "nt":  # Windows cannot open a directory for fsync
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
