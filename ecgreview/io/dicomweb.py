"""A DICOMweb server (a research PACS) as a case source, through ``dicomweb-client``.

:func:`sync_dicomweb` searches the server for ECG waveform instances (QIDO-RS, one search per
SOP class: 12-lead ECG and General ECG Waveform Storage, and Hemodynamic Waveform Storage with
Modality ``ECG``, the classes :func:`~ecgreview.io.dicom.read_dicom_ecg` reads) and retrieves
(WADO-RS) only those not in the local cache yet, into
``<home>/dicomweb-cache/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`` (files 0600,
folders 0700). The worklist lists that cache beside the case folder
(:func:`ecgreview.review.worklist.case_paths`), and the index's updater syncs before each update,
so a server's ECGs end in the same index, worklist and background updater as a folder's.
An instance deleted on the server stays in the cache (readings refer to it). The search is incremental:
only the studies dated from the last sync's high-water mark on, with a full search on the first sync, daily
and on demand (``full=True``, or a request left by the Worklist page's button,
:func:`ecgreview.io.dicomweb_state.request_full_search`; :mod:`ecgreview.io.dicomweb_state`).

:func:`store_datasets` sends new instances (a reading's DICOM SR) with STOW-RS;
:func:`retrieve_dataset` reads one back.

Security: credentials (``ECGREVIEW_DICOMWEB_USER``/``_PASSWORD`` or ``_TOKEN``) go in the HTTP
session, never in the URL (a URL carrying them is refused), and never into a log or an error
message; they are sent only over HTTPS, or over HTTP to this machine (loopback). TLS certificates
are always verified, against ``ECGREVIEW_DICOMWEB_CA_BUNDLE`` when set. The session ignores the
environment's proxies and ``.netrc`` (only :class:`~ecgreview.config.Settings` decides). UIDs from
the server are checked before they name a file, so a server cannot write outside the cache.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ecgreview._files import write_atomically
from ecgreview.config import Settings
from ecgreview.errors import ConfigError, EcgReviewError
from ecgreview.io._dicomweb_auth import BearerToken, check_credentials
from ecgreview.io.dicom import HEMODYNAMIC_SOP_CLASS, SOP_CLASSES
from ecgreview.io import dicomweb_state
from ecgreview.io.dicomweb_state import incremental_from, next_state, read_state, write_state

if TYPE_CHECKING:
    import requests
    from dicomweb_client.api import DICOMwebClient
    from pydicom.dataset import Dataset

__all__ = ["CACHE_DIR", "DicomwebError", "DicomwebSync", "InstanceKey", "came_from_dicomweb", "dicomweb_cache",
           "open_client", "retrieve_dataset", "search_ecg_instances", "server_label", "store_datasets",
           "sync_dicomweb"]

#: The cache of retrieved instances, in ``Settings.home``.
CACHE_DIR = "dicomweb-cache"
#: QIDO-RS searches for the ECG waveform instances the reader reads (one per SOP class).
ECG_SEARCHES: tuple[dict[str, str], ...] = (
    *({"SOPClassUID": uid} for uid in SOP_CLASSES),
    {"SOPClassUID": HEMODYNAMIC_SOP_CLASS, "Modality": "ECG"},
)
#: Seconds to wait for a connection, and for an answer.
TIMEOUT_S = (5.0, 60.0)
#: Instances per QIDO-RS page.
PAGE_SIZE = 500
#: Attempts per request, and the back-off's multiplier in ms (waits of 2 x, 4 x ...): the client's default
#: (5 attempts, 1 s) retries a refused connection for 30 s, on every update of the index.
RETRY_ATTEMPTS, RETRY_MULTIPLIER_MS = 3, 100
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
_LOG = logging.getLogger(__name__)


class DicomwebError(EcgReviewError):
    """The DICOMweb server cannot be reached, refuses a request or answers something unusable.

    ``path`` is the server (:func:`server_label`: no credentials, no query), ``reason`` what failed; the
    message names the whole address (``https://pacs.example.org/dicom-web: ...``), not only its last part.
    """

    def __init__(self, server: str, reason: str) -> None:
        super().__init__(server, reason)
        self.args = (f"{server}: {reason}",)


@dataclass(frozen=True)
class InstanceKey:
    """One instance on the server: its study, series and SOP instance UIDs (checked) and SOP class."""

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str = ""
    #: The study's date as the server gives it (``YYYYMMDD``; ``""`` when it has none).
    study_date: str = ""

    def cache_path(self, cache: Path) -> Path:
        """``<cache>/<study>/<series>/<sop>.dcm``."""
        return cache / self.study_uid / self.series_uid / f"{self.sop_uid}.dcm"


@dataclass(frozen=True)
class DicomwebSync:
    """What :func:`sync_dicomweb` did: instances found on the server, retrieved now, and failures
    (``server: reason``); the others were in the cache already. ``searched_from``: the first StudyDate
    an incremental search asked for (``""``: a full search)."""

    found: int
    retrieved: int
    failed: tuple[str, ...] = ()
    searched_from: str = ""

    @property
    def cached_before(self) -> int:
        """Instances found that were in the cache already."""
        return self.found - self.retrieved - len(self.failed)


def dicomweb_cache(settings: Settings) -> Path:
    """The folder retrieved instances are kept in: ``<home>/dicomweb-cache``."""
    return settings.home / CACHE_DIR


def came_from_dicomweb(settings: Settings, path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an instance retrieved from the configured DICOMweb server (it is in the cache)."""
    if not settings.dicomweb_url:
        return False
    return Path(path).resolve().is_relative_to(dicomweb_cache(settings).resolve())


def server_label(settings: Settings) -> str:
    """The server for messages and logs: scheme, host, port and path of ``dicomweb_url`` (never a query)."""
    parts = urlsplit(settings.dicomweb_url or "")
    host = parts.hostname or ""
    port = f":{parts.port}" if _port(parts) else ""
    return f"{parts.scheme}://{host}{port}{parts.path}".rstrip("/")


def _port(parts: Any) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def _checked_url(settings: Settings) -> str:
    """``dicomweb_url`` after the security checks (see the module docstring); ConfigError names the setting."""
    url = (settings.dicomweb_url or "").strip()
    if not url:
        raise ConfigError("ECGREVIEW_DICOMWEB_URL", "no DICOMweb server is configured")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("ECGREVIEW_DICOMWEB_URL", "must be an http:// or https:// address with a host, "
                                                    "e.g. https://pacs.example.org/dicom-web")
    if parts.username is not None or parts.password is not None:  # never echo the URL: it holds them
        raise ConfigError("ECGREVIEW_DICOMWEB_URL", "the address carries credentials; set ECGREVIEW_DICOMWEB_USER and "
                                                    "ECGREVIEW_DICOMWEB_PASSWORD (or ECGREVIEW_DICOMWEB_TOKEN) instead")
    if parts.query or parts.fragment:
        raise ConfigError("ECGREVIEW_DICOMWEB_URL", "the address must not have a query or fragment (a token in it "
                                                    "would be logged); use ECGREVIEW_DICOMWEB_TOKEN")
    if _port(parts) is None and ":" in parts.netloc.rsplit("]", 1)[-1]:
        raise ConfigError("ECGREVIEW_DICOMWEB_URL", "the port must be a number from 1 to 65535")
    check_credentials(settings, https=parts.scheme == "https", host=parts.hostname)
    bundle = settings.dicomweb_ca_bundle
    if bundle is not None and not Path(bundle).is_file():
        raise ConfigError("ECGREVIEW_DICOMWEB_CA_BUNDLE", f"{bundle}: no such file (a PEM file of CA certificates)")
    return url.rstrip("/")


def open_client(settings: Settings, *, timeout_s: tuple[float, float] = TIMEOUT_S) -> DICOMwebClient:
    """A ``dicomweb-client`` client for ``settings.dicomweb_url``, with its credentials and TLS settings.

    Raises
    ------
    ConfigError
        No server configured, an address with credentials, a query or a bad scheme, credentials over
        plain HTTP to another machine, half of a user/password pair, or a missing CA bundle.
    """
    import requests
    from dicomweb_client.api import DICOMwebClient

    url = _checked_url(settings)
    session = requests.Session()
    session.trust_env = False  # no proxies, CA paths or .netrc from the environment: the settings decide
    session.verify = str(settings.dicomweb_ca_bundle) if settings.dicomweb_ca_bundle else True
    if settings.dicomweb_user and settings.dicomweb_password:
        session.auth = requests.auth.HTTPBasicAuth(settings.dicomweb_user, settings.dicomweb_password)
    elif settings.dicomweb_token:
        session.auth = BearerToken(settings.dicomweb_token)
    try:
        client = DICOMwebClient(url, session=session, timeout=timeout_s)
    except ValueError as exc:  # the client's own check of the address
        raise ConfigError("ECGREVIEW_DICOMWEB_URL", f"not a DICOMweb address ({exc})") from exc
    client.set_http_retry_params(max_attempts=RETRY_ATTEMPTS, wait_exponential_multiplier=RETRY_MULTIPLIER_MS)
    return client


@contextmanager
def _server_errors(label: str, action: str) -> Iterator[None]:
    """Turn the client's and requests' errors into a :class:`DicomwebError` that names no credential."""
    import requests
    from pydicom.errors import InvalidDicomError

    try:
        yield
    except requests.exceptions.SSLError as exc:
        raise DicomwebError(label, f"{action}: the server's TLS certificate is not trusted ({_short(exc)}); set "
                                   "ECGREVIEW_DICOMWEB_CA_BUNDLE to the CA certificates that signed it") from exc
    except requests.exceptions.HTTPError as exc:
        raise DicomwebError(label, f"{action}: {_http_reason(exc.response)}") from exc
    except requests.exceptions.Timeout as exc:
        raise DicomwebError(label, f"{action}: no answer within {TIMEOUT_S[1]:g} s") from exc
    except requests.exceptions.RequestException as exc:
        raise DicomwebError(label, f"{action}: cannot connect ({_short(exc)})") from exc
    except (ValueError, KeyError, IndexError, AttributeError, InvalidDicomError) as exc:  # an unusable answer
        raise DicomwebError(label, f"{action}: unusable answer ({type(exc).__name__}: {exc})") from exc


def _http_reason(response: requests.Response | None) -> str:
    if response is None:
        return "HTTP error"
    status = f"HTTP {response.status_code} {response.reason or ''}".strip()
    if response.status_code == 401:
        return f"the server refused the credentials ({status}); check ECGREVIEW_DICOMWEB_USER/_PASSWORD or _TOKEN"
    if response.status_code == 403:
        return f"access denied ({status})"
    return status


def _short(exc: Exception) -> str:
    """The operating system's reason (``[Errno 111] Connection refused``) or the exception's type."""
    found = _ERRNO.search(str(exc))
    return found.group(0).strip() if found else type(exc).__name__


def _instance_key(item: dict[str, Any]) -> InstanceKey | None:
    """The UIDs of one QIDO-RS result (DICOM JSON), or None when one is missing or not a UID."""
    def value(tag: str) -> str:
        values = item.get(tag, {}).get("Value") or [""]
        return str(values[0]).strip()

    study, series, sop = value("0020000D"), value("0020000E"), value("00080018")
    if not all(len(uid) <= 64 and _UID.match(uid) for uid in (study, series, sop)):
        return None
    return InstanceKey(study, series, sop, sop_class_uid=value("00080016"), study_date=value("00080020"))


def search_ecg_instances(client: DICOMwebClient, *, label: str = "DICOMweb", page_size: int = PAGE_SIZE,
                         skipped: list[str] | None = None, study_date_from: str | None = None) -> list[InstanceKey]:
    """The ECG waveform instances on the server (QIDO-RS, :data:`ECG_SEARCHES`, page by page).

    Parameters
    ----------
    study_date_from : str, optional
        ``YYYYMMDD``: only the instances of studies dated that day or later (``StudyDate=YYYYMMDD-``);
        None: every instance.
    page_size : int
        Instances asked for per request (``limit``); the next page starts at ``offset``.
    skipped : list of str, optional
        Gets one line per result whose UIDs are missing or malformed (left out).
    """
    if page_size < 1:
        raise ValueError(f"page_size must be >= 1; got {page_size}")
    if study_date_from is not None and not re.fullmatch(r"[0-9]{8}", study_date_from):
        raise ValueError(f"study_date_from must be a date as YYYYMMDD; got {study_date_from!r}")
    dates = {"StudyDate": f"{study_date_from}-"} if study_date_from else {}
    found: dict[str, InstanceKey] = {}
    for filters in ECG_SEARCHES:
        offset = 0
        while True:
            with _server_errors(label, "searching (QIDO-RS)"):
                page = client.search_for_instances(search_filters={**filters, **dates}, limit=page_size,
                                                   offset=offset,
                                                   fields=["StudyInstanceUID", "SeriesInstanceUID", "StudyDate"])
            keys = [_instance_key(item) for item in page]
            if skipped is not None:
                skipped += [f"{label}: a search result without valid UIDs was skipped" for key in keys if key is None]
            new = [key for key in keys if key is not None and key.sop_uid not in found]
            found |= {key.sop_uid: key for key in new}
            if len(page) < page_size or not new:  # the last page (or a server that ignores offset)
                break
            offset += len(page)
    return list(found.values())


def sync_dicomweb(settings: Settings, *, client: DICOMwebClient | None = None,
                  progress: Callable[[int, int], None] | None = None, full: bool = False,
                  now_utc: datetime | None = None) -> DicomwebSync:
    """Retrieve the server's new ECG instances that are not in the cache yet (see the module docstring).

    Parameters
    ----------
    settings : Settings
        ``dicomweb_url`` and its credentials; the cache is in ``home``.
    client : DICOMwebClient, optional
        Default :func:`open_client`.
    progress : callable, optional
        Called as ``progress(done, total)`` over the instances to retrieve.
    full : bool
        Search every ECG instance, not only the studies from the high-water mark on
        (:func:`ecgreview.io.dicomweb_state.incremental_from`); a pending
        :func:`~ecgreview.io.dicomweb_state.request_full_search` does the same, and is cleared by it.
    now_utc : datetime, optional
        The time of the sync (default: now), for the mark.

    Returns
    -------
    DicomwebSync
        Counts, and one failure line per instance that could not be retrieved or kept.

    Raises
    ------
    ConfigError
        The settings (see :func:`open_client`).
    DicomwebError
        The search failed: server unreachable, credentials refused, TLS certificate not trusted.
    """
    label = server_label(settings)
    client = client or open_client(settings)
    failed: list[str] = []
    cache, now_utc = dicomweb_cache(settings), now_utc or datetime.now(timezone.utc)
    state, requested = read_state(cache), dicomweb_state.full_search_request(cache)
    since = None if full or requested else incremental_from(state, server=label, now_utc=now_utc)
    keys = search_ecg_instances(client, label=label, skipped=failed, study_date_from=since)
    write_state(cache, next_state(state, server=label, study_dates=[key.study_date for key in keys],
                                  full=since is None, now_utc=now_utc))
    dicomweb_state.clear_full_search_request(cache, requested)  # answered (a failed search leaves it for the next sync)
    missing = [key for key in keys if not key.cache_path(cache).is_file()]
    retrieved = 0
    for done, key in enumerate(missing):
        try:
            _retrieve_into_cache(client, key, cache, label)
            retrieved += 1
        except (DicomwebError, OSError) as exc:
            failed.append(str(exc) if isinstance(exc, DicomwebError) else f"{label}: {key.sop_uid}: not kept ({exc})")
        if progress is not None:
            progress(done + 1, len(missing))
    _LOG.info("%s: %d ECG instance(s) found (studies from %s), %d retrieved, %d failed", label, len(keys),
              since or "any date", retrieved, len(failed))
    return DicomwebSync(found=len(keys), retrieved=retrieved, failed=tuple(failed), searched_from=since or "")


def _retrieve_into_cache(client: DICOMwebClient, key: InstanceKey, cache: Path, label: str) -> Path:
    with _server_errors(label, f"retrieving {key.sop_uid} (WADO-RS)"):
        dataset = client.retrieve_instance(key.study_uid, key.series_uid, key.sop_uid)
    if str(dataset.get("SOPInstanceUID", "")) != key.sop_uid:
        raise DicomwebError(label, f"retrieving {key.sop_uid}: the server sent another instance")
    target = key.cache_path(cache)
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in (target.parent.parent, target.parent):
        folder.mkdir(mode=0o700, exist_ok=True)
    write_atomically(target, _part10(dataset), mode=0o600)
    return target


def _part10(dataset: Dataset) -> bytes:
    """The dataset as a DICOM Part 10 file (with a file meta group)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    meta = getattr(dataset, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta:
        dataset.file_meta = meta = meta or FileMetaDataset()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def store_datasets(settings: Settings, datasets: Sequence[Dataset], *,
                   client: DICOMwebClient | None = None) -> tuple[str, ...]:
    """Store ``datasets`` on the server (STOW-RS); returns the SOP instance UIDs it accepted.

    Raises
    ------
    DicomwebError
        The request failed, or the server refused an instance (its failure reason code is named).
    """
    label = server_label(settings)
    client = client or open_client(settings)
    with _server_errors(label, "storing (STOW-RS)"):
        response = client.store_instances(list(datasets))
    refused = [f"{item.get('ReferencedSOPInstanceUID', '?')} (failure reason {item.get('FailureReason', '?')})"
               for item in response.get("FailedSOPSequence", [])]
    if refused:
        raise DicomwebError(label, f"storing (STOW-RS): refused {', '.join(refused)}")
    stored = tuple(str(item.ReferencedSOPInstanceUID) for item in response.get("ReferencedSOPSequence", []))
    _LOG.info("%s: stored %d instance(s)", label, len(stored))
    return stored


def retrieve_dataset(settings: Settings, study_uid: str, series_uid: str, sop_uid: str, *,
                     client: DICOMwebClient | None = None) -> Dataset:
    """One instance from the server (WADO-RS)."""
    label = server_label(settings)
    client = client or open_client(settings)
    with _server_errors(label, f"retrieving {sop_uid} (WADO-RS)"):
        return client.retrieve_instance(study_uid, series_uid, sop_uid)
