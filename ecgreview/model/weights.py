"""Install model weights: a local ``model.hdf5``, a local ``model.zip``, or a download.

``install_weights`` stages everything in a hidden temporary folder inside the models
folder, checks it (HDF5 signature, hashes), and only then moves each file into place
with :func:`os.replace`, so no half-written weights file is ever visible. Any failure
raises :class:`~ecgreview.errors.ModelError` and leaves no new file behind.

The Zenodo archive (DOI 10.5281/zenodo.3765717) holds ``model/model.hdf5`` (the released
weights) and more ``.hdf5`` files (other seeds, other splits). ``model.hdf5`` must have
the expected git blob SHA-1 (by default the release's); the other files are installed
keeping their relative names, and recorded as unverified in ``manifest.json``.

What is a weights file is defined once, here (:data:`WEIGHTS_SUFFIXES`, :func:`find_weights_files`):
the installer names every file it installs with one of those suffixes (an HDF5 file called
``weights.bin`` is installed as ``weights.hdf5``), and the app and ``model status`` look for
exactly those, so whatever ``install`` accepts is found afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from http.client import HTTPException, HTTPResponse
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ecgreview import __version__
from ecgreview._files import write_atomically
from ecgreview.errors import ModelError
from ecgreview.model.provenance import RELEASE_GIT_BLOB_SHA1, KnownWeights, file_hashes, identify_weights

#: The released archive of Ribeiro et al. 2020 on Zenodo (DOI 10.5281/zenodo.3765717).
ZENODO_MODEL_URL = "https://zenodo.org/records/3765717/files/model.zip?download=1"
ZENODO_DOI = "10.5281/zenodo.3765717"

#: The file whose hash is checked; other weights files install as unverified.
PRIMARY_NAME = "model.hdf5"
#: File name suffixes of Keras HDF5 weights, lower case: what the installer writes and the app finds.
WEIGHTS_SUFFIXES: tuple[str, ...] = (".hdf5", ".h5")
MANIFEST_NAME = "manifest.json"

#: ``progress(bytes_received, total_bytes_or_None)``, called while downloading.
ProgressCallback = Callable[[int, "int | None"], None]

_CHUNK_BYTES = 1 << 20
_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class InstalledFile:
    """One installed weights file, as recorded in ``manifest.json``."""

    relative_path: str
    sha256: str
    git_blob_sha1: str
    size_bytes: int
    status: str
    expected_git_blob_sha1: str | None
    source: str
    installed_at: str


def install_weights(
    source: str | Path,
    models_dir: Path,
    *,
    expected_sha1: str | None = None,
    allow_unverified: bool = False,
    known: Mapping[str, KnownWeights] | None = None,
    progress: ProgressCallback | None = None,
    attempts: int = 4,
    timeout_s: float = 60.0,
    retry_delay_s: float = 2.0,
) -> Path:
    """Install weights from a local file or an http(s) URL into ``models_dir``.

    Parameters
    ----------
    source : str or Path
        A local ``model.hdf5`` or ``model.zip``, or an ``http(s)://`` URL of either
        (e.g. :data:`ZENODO_MODEL_URL`). The content decides zip or HDF5, not the name.
    models_dir : Path
        Destination folder (created if needed).
    expected_sha1 : str, keyword-only, optional
        Git blob SHA-1 that ``model.hdf5`` (or a lone file) must have; default the
        release's, :data:`~ecgreview.model.provenance.RELEASE_GIT_BLOB_SHA1`.
    allow_unverified : bool, keyword-only
        Install even when that hash differs (recorded as unverified).
    known : mapping, keyword-only, optional
        Known releases for the manifest's status (default ``KNOWN_WEIGHTS``).
    progress : callable, keyword-only, optional
        ``progress(bytes_received, total_bytes)``; the CLI draws its progress bar from it.
    attempts : int, keyword-only
        Connection attempts for a download, resuming with HTTP Range requests.
    timeout_s, retry_delay_s : float, keyword-only
        Socket timeout, and pause between attempts, in seconds.

    Returns
    -------
    Path
        The installed ``model.hdf5`` (or the lone installed file).

    Raises
    ------
    ModelError
        Missing source, HTTP error, incomplete download, bad archive, not HDF5, or
        a hash mismatch. Nothing is installed then.
    """
    models_dir = Path(models_dir)
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".install-", dir=models_dir))
    except OSError as exc:
        raise ModelError(models_dir, f"cannot create the models folder ({exc.strerror or exc})") from exc
    try:
        local = _fetch(str(source), staging, progress=progress or _no_progress,
                       attempts=attempts, timeout_s=timeout_s, retry_delay_s=retry_delay_s)
        staged = _stage(local, staging / "files")
        expected = (expected_sha1 or RELEASE_GIT_BLOB_SHA1).lower()
        records = _check(staged, str(source), expected=expected, allow_unverified=allow_unverified, known=known)
        return _publish(staged, records, models_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fetch(source: str, staging: Path, *, progress: ProgressCallback, attempts: int, timeout_s: float,
           retry_delay_s: float) -> Path:
    """The source as a local file: a download lands in ``staging``; a local path is used as is."""
    if urllib.parse.urlsplit(source).scheme in ("http", "https"):
        target = staging / "download.part"
        _download(source, target, progress=progress, attempts=attempts, timeout_s=timeout_s, retry_delay_s=retry_delay_s)
        return target
    path = Path(source).expanduser()
    if not path.is_file():
        raise ModelError(path, "no such file; give a model.hdf5, a model.zip or an http(s) URL")
    return path


def _download(url: str, target: Path, *, progress: ProgressCallback, attempts: int, timeout_s: float,
              retry_delay_s: float) -> None:
    """Download ``url`` to ``target``, resuming with ``Range`` after a dropped connection."""
    received, total, failures = 0, None, 0
    with target.open("wb") as output:
        while True:
            headers = {"User-Agent": f"ecgreview/{__version__}"}
            if received:
                headers["Range"] = f"bytes={received}-"
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s) as response:
                    received, total = _start_body(response, output, received, total)
                    received = _copy_body(response, output, received, total, progress)
                if total is None or received == total:
                    return
                reason = "connection closed early"
            except urllib.error.HTTPError as exc:
                raise ModelError(url, f"download failed: HTTP {exc.code} {exc.reason} "
                                 f"after {received:,} bytes; nothing was installed") from exc
            except (OSError, HTTPException) as exc:  # URLError, timeouts, resets, IncompleteRead
                reason = str(getattr(exc, "reason", exc)) or type(exc).__name__
            failures += 1
            if failures >= attempts:
                raise ModelError(url, f"download incomplete: received {received:,} of "
                                 f"{f'{total:,}' if total else 'unknown'} bytes in {attempts} attempts "
                                 f"(last: {reason}); nothing was installed")
            time.sleep(retry_delay_s * failures)


def _start_body(response: HTTPResponse, output: BinaryIO, received: int, total: int | None) -> tuple[int, int | None]:
    """Where the body starts: resume on ``206`` at ``received``, else restart from byte 0.

    Returns ``(bytes already in output, total size in bytes or None)``.
    """
    headers = response.headers
    if received and response.status == 206:
        unit_range, _, size = headers.get("Content-Range", "").partition("/")
        start = unit_range.removeprefix("bytes ").partition("-")[0]
        if start.strip() == str(received):
            return received, int(size) if size.strip().isdigit() else total
    output.seek(0)
    output.truncate()
    length = headers.get("Content-Length")
    return 0, int(length) if length and length.isdigit() else None


def _copy_body(response: HTTPResponse, output: BinaryIO, received: int, total: int | None,
               progress: ProgressCallback) -> int:
    """Append the body to ``output``; returns the bytes received so far (stops at EOF or a drop)."""
    while chunk := response.read(_CHUNK_BYTES):
        output.write(chunk)
        received += len(chunk)
        progress(received, total)
    output.flush()
    return received


def _no_progress(received: int, total: int | None) -> None:
    """The default progress callback: nothing (the library never prints)."""


def _stage(local: Path, staging: Path) -> dict[str, Path]:
    """Copy the ``.hdf5`` file(s) of ``local`` into ``staging``: relative name -> staged path."""
    try:
        with local.open("rb") as stream:
            magic = stream.read(8)
    except OSError as exc:
        raise ModelError(local, f"cannot read ({exc.strerror or exc})") from exc
    staging.mkdir(parents=True)
    if magic.startswith(_ZIP_MAGIC):
        return _extract_zip(local, staging)
    if magic != _HDF5_MAGIC:
        raise ModelError(local, "neither a zip archive nor an HDF5 file (truncated or wrong download?)")
    name = PRIMARY_NAME if local.name == "download.part" else _weights_name(local.name)
    try:
        shutil.copyfile(local, staging / name)
    except OSError as exc:
        raise ModelError(local, f"cannot copy ({exc.strerror or exc})") from exc
    return {name: staging / name}


def is_weights_file_name(name: str) -> bool:
    """Whether a file name ends with one of :data:`WEIGHTS_SUFFIXES` (any case)."""
    return name.lower().endswith(WEIGHTS_SUFFIXES)


def _weights_name(name: str) -> str:
    """``name`` as installed: kept when it ends with a weights suffix, else its stem plus ``.hdf5``."""
    return name if is_weights_file_name(name) else f"{Path(name).stem or 'weights'}{WEIGHTS_SUFFIXES[0]}"


def find_weights_files(models_dir: Path) -> list[Path]:
    """The weights files under ``models_dir``: every file named with a :data:`WEIGHTS_SUFFIXES` suffix,
    hidden folders (an install in progress) excluded; unsorted. Empty when the folder does not exist."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    return [path for path in models_dir.rglob("*") if path.is_file() and is_weights_file_name(path.name)
            and not any(part.startswith(".") for part in path.relative_to(models_dir).parts)]


def _archive_names(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """Safe relative names of the weights members, without a common top folder (``model/``)."""
    members = [info for info in archive.infolist() if not info.is_dir() and is_weights_file_name(info.filename)
               and not info.filename.startswith("__MACOSX/")]
    if not members:
        suffixes = " or ".join(WEIGHTS_SUFFIXES)
        raise ModelError(path, f"the archive holds no {suffixes} file (expected model/model.hdf5)")
    parts = [PurePosixPath(info.filename).parts for info in members]
    for info, member_parts in zip(members, parts):
        if info.filename.startswith("/") or ".." in member_parts or "\\" in info.filename:
            raise ModelError(path, f"unsafe path in archive: {info.filename!r}")
    strip = 1 if all(len(p) > 1 for p in parts) and len({p[0] for p in parts}) == 1 else 0
    return {"/".join(p[strip:]): info for p, info in zip(parts, members)}


def _extract_zip(path: Path, staging: Path) -> dict[str, Path]:
    staged: dict[str, Path] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for relative, info in _archive_names(archive, path).items():
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as member, target.open("wb") as output:
                    shutil.copyfileobj(member, output, _CHUNK_BYTES)
                staged[relative] = target
    except ModelError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ModelError(path, f"not a valid zip archive (truncated or damaged download?): {exc}") from exc
    return staged


def _primary(staged: Mapping[str, Path], source: str) -> str:
    if PRIMARY_NAME in staged:
        return PRIMARY_NAME
    if len(staged) == 1:
        return next(iter(staged))
    raise ModelError(source, f"the archive has no top-level {PRIMARY_NAME}; found {sorted(staged)}")


def _check(staged: Mapping[str, Path], source: str, *, expected: str, allow_unverified: bool,
           known: Mapping[str, KnownWeights] | None) -> list[InstalledFile]:
    """Hash every staged file; refuse a primary file with the wrong hash unless allowed."""
    primary, now = _primary(staged, source), datetime.now(timezone.utc).isoformat(timespec="seconds")
    records = []
    for relative, path in staged.items():
        with path.open("rb") as stream:
            if stream.read(8) != _HDF5_MAGIC:
                raise ModelError(source, f"{relative} is not an HDF5 file")
        sha256, blob_sha1, size = file_hashes(path)
        if relative == primary and expected not in (blob_sha1, sha256) and not allow_unverified:
            raise ModelError(source, f"{relative} has git blob SHA-1 {blob_sha1} (SHA-256 {sha256}), expected "
                             f"{expected}; refusing to install it. To use other weights anyway, install them with "
                             "`python -m ecgreview model install FILE --allow-unverified`, or point ECGREVIEW_MODEL "
                             "at the file (either way they are shown as unverified)")
        status = identify_weights(path, known=known).status
        records.append(InstalledFile(relative, sha256, blob_sha1, size, status,
                                     expected if relative == primary else None, source, now))
    return records


def _publish(staged: Mapping[str, Path], records: list[InstalledFile], models_dir: Path) -> Path:
    """Move the checked files into place (primary last) and update the manifest."""
    primary = next(record.relative_path for record in records if record.expected_git_blob_sha1 is not None)
    try:
        for relative in sorted(staged, key=lambda name: name == primary):
            target = models_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged[relative], target)
        _update_manifest(models_dir, records)
    except OSError as exc:
        raise ModelError(models_dir, f"cannot move the weights into place ({exc.strerror or exc})") from exc
    return models_dir / primary


def read_manifest(models_dir: Path) -> dict[str, dict[str, object]]:
    """Installed files by relative path, from ``manifest.json`` (empty if absent or unreadable)."""
    try:
        data = json.loads((Path(models_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
        return dict(data.get("files", {}))
    except (OSError, ValueError, AttributeError):
        return {}


def _update_manifest(models_dir: Path, records: list[InstalledFile]) -> None:
    files = read_manifest(models_dir)
    files.update({record.relative_path: asdict(record) for record in records})
    text = json.dumps({"format": 1, "doi": ZENODO_DOI, "files": files}, indent=2, sort_keys=True)
    write_atomically(models_dir / MANIFEST_NAME, (text + "\n").encode("utf-8"))
