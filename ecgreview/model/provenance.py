"""What produced a prediction: the weights file's identity and the software and machine.

:func:`identify_weights` hashes a weights file (SHA-256 and git blob SHA-1) and looks
it up among the published releases; only those are ever called "verified".
:func:`provenance` gathers the facts to store beside every prediction. Nothing here
imports TensorFlow: versions come from the installed package metadata.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from ecgreview import __version__
from ecgreview.config import runtime_environment
from ecgreview.errors import ModelError

#: Git blob SHA-1 (``git hash-object model.hdf5``) of the released weights, Zenodo 10.5281/zenodo.3765717.
RELEASE_GIT_BLOB_SHA1 = "c92d38aff9ce2990fb44d3b278417f761934d448"

_CPU_FLAGS = ("avx2", "avx512f", "fma")
_PACKAGES = {
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "keras": ("keras",),
    "h5py": ("h5py",),
    "numpy": ("numpy",),
    "scipy": ("scipy",),
    "pydicom": ("pydicom",),
}


@dataclass(frozen=True)
class KnownWeights:
    """A published weights file, identified by its git blob SHA-1."""

    label: str
    size_bytes: int


#: Published weights files by git blob SHA-1. Only these are ever called "verified".
KNOWN_WEIGHTS: Mapping[str, KnownWeights] = {
    RELEASE_GIT_BLOB_SHA1: KnownWeights("Ribeiro et al. 2020 model.hdf5 (verified)", 25_826_560),
}


@dataclass(frozen=True)
class WeightsIdentity:
    """What a weights file is: its hashes and whether it is a known release.

    Attributes
    ----------
    name : str
        File name (no directories).
    sha256, git_blob_sha1 : str
        Hex digests of the content; the blob SHA-1 is ``git hash-object``'s.
    size_bytes : int
        File size in bytes.
    status : {"verified", "unverified"}
        ``"verified"`` only when the blob SHA-1 and size match a known release.
    label : str
        One line for display.
    """

    name: str
    sha256: str
    git_blob_sha1: str
    size_bytes: int
    status: Literal["verified", "unverified"]
    label: str


def file_hashes(path: str | Path) -> tuple[str, str, int]:
    """SHA-256, git blob SHA-1 (``sha1(b"blob <size>\\0" + content)``) and size in bytes of a file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        sha256, sha1 = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % size)
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                sha256.update(chunk)
                sha1.update(chunk)
    except OSError as exc:
        raise ModelError(path, f"cannot read the weights file ({exc.strerror or exc})") from exc
    return sha256.hexdigest(), sha1.hexdigest(), size


def identify_weights(path: str | Path, *, known: Mapping[str, KnownWeights] | None = None) -> WeightsIdentity:
    """Hash a weights file and look it up among the published releases.

    Parameters
    ----------
    path : str or Path
        The ``.hdf5`` file.
    known : mapping, keyword-only, optional
        Known files by git blob SHA-1; default :data:`KNOWN_WEIGHTS`.

    Returns
    -------
    WeightsIdentity
    """
    path = Path(path)
    sha256, blob_sha1, size = file_hashes(path)
    entry = (KNOWN_WEIGHTS if known is None else known).get(blob_sha1)
    if entry is not None and entry.size_bytes == size:
        return WeightsIdentity(path.name, sha256, blob_sha1, size, "verified", entry.label)
    label = f"{path.name} (unverified: not a published release; git blob SHA-1 {blob_sha1}, SHA-256 {sha256})"
    return WeightsIdentity(path.name, sha256, blob_sha1, size, "unverified", label)


def _package_version(candidates: tuple[str, ...]) -> str:
    for name in candidates:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return ""


def cpu_flags(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> dict[str, bool]:
    """Presence of the CPU features that change float rounding (AVX2, AVX-512F, FMA); empty if unknown."""
    try:
        text = cpuinfo_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            present = set(value.split())
            return {flag: flag in present for flag in _CPU_FLAGS}
    return {}


def git_commit(directory: Path | None = None) -> str:
    """``git rev-parse HEAD`` of the repository holding ``directory`` (default: this package), else ""."""
    directory = directory or Path(__file__).resolve().parent
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True,
                                text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def provenance(identity: WeightsIdentity) -> dict[str, object]:
    """Facts to store beside a prediction: weights, software versions, machine, app.

    Parameters
    ----------
    identity : WeightsIdentity
        The weights file in use (see :func:`identify_weights`).

    Returns
    -------
    dict
        JSON-serialisable; keys ``model_file``, ``sha256``, ``git_blob_sha1``,
        ``size_bytes``, ``status``, ``label``, ``framework``, ``versions``, ``python``,
        ``platform``, ``cpu_flags``, ``app_version``, ``git_commit``, ``runtime`` (host,
        container or the ``ECGREVIEW_RUNTIME`` value).
    """
    versions = {package: _package_version(names) for package, names in _PACKAGES.items()}
    return {
        "model_file": identity.name,
        "sha256": identity.sha256,
        "git_blob_sha1": identity.git_blob_sha1,
        "size_bytes": identity.size_bytes,
        "status": identity.status,
        "label": identity.label,
        "framework": f"tensorflow {versions['tensorflow']}, keras {versions['keras']}",
        "versions": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_flags": cpu_flags(),
        "app_version": __version__,
        "git_commit": git_commit(),
        "runtime": runtime_environment(),
    }
