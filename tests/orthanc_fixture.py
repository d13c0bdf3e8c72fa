"""A real Orthanc (Debian's ``orthanc`` with its DICOMweb plugin ``orthanc-dicomweb``) for the DICOMweb tests.

:func:`running_orthanc` starts ``Orthanc`` with a configuration generated in a temporary folder:
HTTP on a free loopback port, remote access refused, the DICOM (DIMSE) server off, storage and
index in the folder, the DICOMweb plugin on (``/dicom-web/``) and HTTP basic authentication with
a generated password. It stops the server on exit. Never the system service.

Without Orthanc these tests skip, except under CI (``CI=true``), where a missing server is a
failure (``test.sh`` installs it, as it installs Chromium).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from ecgreview.config import Settings

__all__ = ["OrthancServer", "orthanc_executable", "running_orthanc"]

#: Where Debian's packages put the server and the DICOMweb plugin (``dpkg -L orthanc orthanc-dicomweb``).
_EXECUTABLES = ("Orthanc", "/usr/sbin/Orthanc")
_PLUGINS = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so", "/usr/lib/orthanc/libOrthancDicomWeb.so")
#: Seconds the server may take to answer.
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class OrthancServer:
    """A running Orthanc: its base URL, DICOMweb root, the generated credentials, and its log."""

    url: str
    user: str
    password: str
    log_path: Path

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def settings(self, home: Path, **changes: object) -> Settings:
        """Settings of an ecgreview home whose DICOMweb source is this server (with its credentials)."""
        base = Settings(home=home, models_dir=home / "models", reviews_path=home / "reviews.csv",
                        cases_dir=home / "no-case-folder", dicomweb_url=self.dicomweb_url, dicomweb_user=self.user,
                        dicomweb_password=self.password)
        return replace(base, **changes)  # type: ignore[arg-type]

    def environment(self) -> dict[str, str]:
        """The ``ECGREVIEW_DICOMWEB_*`` variables pointing an app at this server."""
        return {"ECGREVIEW_DICOMWEB_URL": self.dicomweb_url, "ECGREVIEW_DICOMWEB_USER": self.user,
                "ECGREVIEW_DICOMWEB_PASSWORD": self.password}

    def rest(self, path: str) -> object:
        """GET ``path`` of Orthanc's own REST API (JSON), e.g. ``/statistics``."""
        token = b64encode(f"{self.user}:{self.password}".encode()).decode()
        request = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def orthanc_executable() -> tuple[str, str]:
    """The Orthanc executable and the DICOMweb plugin; skips (fails under CI) when either is missing."""
    executable = next((found for name in _EXECUTABLES if (found := shutil.which(name))), None)
    plugin = next((path for path in _PLUGINS if Path(path).is_file()), None)
    if executable is None or plugin is None:
        message = ("Debian's orthanc and orthanc-dicomweb are not installed (apt-get install orthanc "
                   "orthanc-dicomweb); test.sh installs them")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return executable, plugin


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_answering(server: OrthancServer, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            server.rest("/system")
            return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Orthanc did not start: {server.log_path.read_text(errors='replace')[-4000:]}")
        time.sleep(0.2)  # the poll interval of a wait on a condition


@contextmanager
def running_orthanc(folder: Path) -> Iterator[OrthancServer]:
    """Orthanc with a generated configuration in ``folder`` (see the module docstring); stopped on exit."""
    executable, plugin = orthanc_executable()
    folder.mkdir(parents=True, exist_ok=True)
    port, user, password = _free_port(), "ecgreview-test", secrets.token_urlsafe(18)
    configuration = {
        "Name": "ecgreview-test", "HttpPort": port, "RemoteAccessAllowed": False, "DicomServerEnabled": False,
        "DicomPort": _free_port(), "StorageDirectory": str(folder / "storage"), "IndexDirectory": str(folder / "index"),
        "Plugins": [plugin], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}, "AuthenticationEnabled": True,
        "RegisteredUsers": {user: password}, "HttpThreadsCount": 8, "ConcurrentJobs": 1, "SaveJobs": False,
    }
    config_path = folder / "orthanc.json"
    config_path.write_text(json.dumps(configuration, indent=2), encoding="utf-8")
    config_path.chmod(0o600)
    server = OrthancServer(f"http://127.0.0.1:{port}", user, password, folder / "orthanc.log")
    with server.log_path.open("w") as log:
        process = subprocess.Popen([executable, str(config_path)], cwd=folder, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_answering(server, process)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A module's Orthanc (import this fixture into the test module)."""
    with running_orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        yield server
