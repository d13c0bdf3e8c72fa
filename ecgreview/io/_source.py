"""Load a reader's input: a path or an upload's bytes, and the file name to show for it."""

from __future__ import annotations

import os

from ecgreview.errors import EcgReadError

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
        If the path cannot be read.
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes), os.path.basename(name or "")
    if not isinstance(path_or_bytes, (str, os.PathLike)):
        raise TypeError(f"path_or_bytes must be a path or bytes, not {type(path_or_bytes).__name__}")
    source_name = os.path.basename(name or os.fspath(path_or_bytes))
    try:
        with open(path_or_bytes, "rb") as handle:
            return handle.read(), source_name
    except OSError as exc:
        raise EcgReadError(source_name, f"cannot read file ({exc.strerror or exc})") from exc
