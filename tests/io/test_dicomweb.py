"""The DICOMweb case source against a real Orthanc: QIDO-RS search, incremental WADO-RS retrieve into the
cache, the worklist index, STOW-RS; credentials never logged, TLS verified by default."""

from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ecgreview.config import Settings
from ecgreview.errors import ConfigError
from ecgreview.examples import demo_ecg_path
from ecgreview.io import read_ecg
from ecgreview.io.dicomweb_state import LOOKBACK_DAYS, read_state
from ecgreview.io.dicomweb import (
    DicomwebError,
    _instance_key,
    came_from_dicomweb,
    dicomweb_cache,
    open_client,
    search_ecg_instances,
    server_label,
    store_datasets,
    sync_dicomweb,
)
from ecgreview.review.index_updater import update_case_index
from ecgreview.review.worklist import CaseIndex, case_paths
from tests.io.dicom_fixtures import CT_IMAGE, GENERAL_ECG, build_ecg_dataset
from tests.orthanc_fixture import OrthancServer, orthanc  # noqa: F401  (the module's Orthanc)

SECRET = "s3cret-Token-0123456789"


def ecg_with_uids(**options: object) -> Dataset:
    """A synthetic ECG (with a patient name and birth date) that a PACS accepts: study and series UIDs added."""
    dataset = build_ecg_dataset(**options)  # type: ignore[arg-type]
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    return part10(dataset)


def not_an_ecg() -> Dataset:
    """A CT image header without pixels: on the server, never listed as an ECG."""
    dataset = Dataset()
    dataset.SOPClassUID, dataset.SOPInstanceUID = CT_IMAGE, generate_uid()
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.PatientID, dataset.Modality = "PSEUDO-CT", "CT"
    return part10(dataset)


def part10(dataset: Dataset) -> Dataset:
    """``dataset`` as read back from a DICOM Part 10 file (preamble, file meta), as a PACS stores it."""
    import io

    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()))


@pytest.fixture(scope="module")
def loaded(orthanc: OrthancServer, tmp_path_factory) -> tuple[OrthancServer, list[Dataset]]:  # noqa: F811
    """The server with the bundled Mortara demo (12-lead), a synthetic General ECG and a CT, stored by STOW-RS."""
    home = tmp_path_factory.mktemp("loader")
    datasets = [pydicom.dcmread(demo_ecg_path()), ecg_with_uids(sop_class_uid=GENERAL_ECG), not_an_ecg()]
    stored = store_datasets(orthanc.settings(home), datasets)
    assert set(stored) == {str(dataset.SOPInstanceUID) for dataset in datasets}
    return orthanc, datasets


def test_sync_retrieves_the_ecgs_once_into_the_cache_and_they_read_as_the_originals(loaded, tmp_path):
    server, datasets = loaded
    settings = server.settings(tmp_path / "home")
    first = sync_dicomweb(settings)
    assert (first.found, first.retrieved, first.failed) == (2, 2, ())
    cache = dicomweb_cache(settings)
    for original in datasets[:2]:
        cached = cache / original.StudyInstanceUID / original.SeriesInstanceUID / f"{original.SOPInstanceUID}.dcm"
        assert cached.is_file() and came_from_dicomweb(settings, cached)
        assert oct(cached.stat().st_mode & 0o777) == oct(0o600)
        np.testing.assert_array_equal(read_ecg(cached).signal_mv, read_ecg(_bytes(original)).signal_mv)
    assert len(list(cache.rglob("*.dcm"))) == 2  # the CT is not an ECG
    again = sync_dicomweb(settings, full=True)
    assert (again.found, again.retrieved, again.cached_before) == (2, 0, 2)  # nothing new: nothing retrieved


def test_only_new_instances_are_retrieved(loaded, tmp_path):
    server, _ = loaded
    settings = server.settings(tmp_path / "home")
    sync_dicomweb(settings)
    newcomer = ecg_with_uids(sample_count=1500)
    newcomer.StudyDate = datetime.now(timezone.utc).strftime("%Y%m%d")  # recorded today: an incremental search
    store_datasets(settings, [newcomer])
    update = sync_dicomweb(settings)
    assert update.searched_from != "" and update.retrieved == 1
    assert len(list(dicomweb_cache(settings).rglob("*.dcm"))) == 3


def test_search_pages_through_every_instance(loaded, tmp_path):
    server, _ = loaded
    client = open_client(server.settings(tmp_path))
    everything = {key.sop_uid for key in search_ecg_instances(client)}
    assert {key.sop_uid for key in search_ecg_instances(client, page_size=1)} == everything
    with pytest.raises(ValueError, match="page_size must be >= 1"):
        search_ecg_instances(client, page_size=0)


def test_the_index_updater_syncs_first_and_the_worklist_lists_the_cache(loaded, tmp_path):
    server, datasets = loaded
    settings = server.settings(tmp_path / "home")
    update = update_case_index(settings)
    assert update.failed == () and update.read >= 2
    cases = CaseIndex.for_settings(settings).cases(thresholds=settings.thresholds)
    assert str(datasets[0].SOPInstanceUID) + ".dcm" in {case.path.name for case in cases}
    assert all(came_from_dicomweb(settings, path) for path in case_paths(settings))
    assert case_paths(replace(settings, dicomweb_url=None)) == []  # without the server, its cache is not listed


def test_an_unreachable_server_leaves_the_cached_cases_listed_and_says_why(loaded, tmp_path):
    server, _ = loaded
    settings = server.settings(tmp_path / "home")
    update_case_index(settings)
    gone = replace(settings, dicomweb_url="http://127.0.0.1:9/dicom-web")  # discard port: nothing listens
    update = update_case_index(gone)
    assert len(update.failed) == 1 and "cannot connect" in update.failed[0] and "127.0.0.1:9" in update.failed[0]
    assert len(CaseIndex.for_settings(gone).cases(thresholds=gone.thresholds)) >= 2


def test_credentials_are_never_logged_nor_in_errors(loaded, tmp_path, caplog):
    server, _ = loaded
    settings = server.settings(tmp_path / "home")
    with caplog.at_level(logging.DEBUG):
        sync_dicomweb(settings)
        wrong = replace(settings, dicomweb_password="wrong-" + SECRET)
        with pytest.raises(DicomwebError, match=r"refused the credentials \(HTTP 401") as refused:
            sync_dicomweb(wrong)
        token = replace(settings, dicomweb_user=None, dicomweb_password=None, dicomweb_token=SECRET)
        with pytest.raises(DicomwebError, match="HTTP 401") as token_refused:  # Orthanc takes basic auth only
            sync_dicomweb(token)
    assert "GET" in caplog.text or "search" in caplog.text  # the client did log its requests
    for text in (caplog.text, str(refused.value), str(token_refused.value), repr(settings), repr(token)):
        assert server.password not in text and SECRET not in text
    assert "Basic " not in caplog.text and "Bearer" not in caplog.text


def test_settings_refuse_unsafe_addresses_without_echoing_them(tmp_path):
    base = Settings(home=tmp_path, models_dir=tmp_path, reviews_path=tmp_path / "r.csv")
    with pytest.raises(ConfigError, match="carries credentials") as carried:
        open_client(replace(base, dicomweb_url=f"https://user:{SECRET}@pacs.example.org/dicom-web"))
    assert SECRET not in str(carried.value)
    with pytest.raises(ConfigError, match="must not have a query") as query:
        open_client(replace(base, dicomweb_url=f"https://pacs.example.org/dicom-web?token={SECRET}"))
    assert SECRET not in str(query.value)
    with pytest.raises(ConfigError, match="only over https"):
        open_client(replace(base, dicomweb_url="http://pacs.example.org/dicom-web", dicomweb_user="u",
                            dicomweb_password=SECRET))
    with pytest.raises(ConfigError, match="ECGREVIEW_DICOMWEB_USER: set both"):
        open_client(replace(base, dicomweb_url="https://pacs.example.org/dicom-web", dicomweb_password=SECRET))
    with pytest.raises(ConfigError, match="http:// or https://"):
        open_client(replace(base, dicomweb_url="ftp://pacs.example.org/"))
    with pytest.raises(ConfigError, match="no such file"):
        open_client(replace(base, dicomweb_url="https://pacs.example.org/", dicomweb_ca_bundle=tmp_path / "none.pem"))
    client = open_client(replace(base, dicomweb_url="https://pacs.example.org/dicom-web/", dicomweb_token=SECRET))
    assert client._session.verify is True and SECRET not in repr(client._session.auth)
    assert server_label(replace(base, dicomweb_url="https://pacs.example.org:8443/dicom-web/")) == (
        "https://pacs.example.org:8443/dicom-web")


def test_settings_read_the_dicomweb_source_from_environment_and_file(tmp_path):
    (tmp_path / "config.toml").write_text('dicomweb_url = "https://pacs.example.org/dicom-web"\n'
                                          'dicomweb_user = "reader"\n', encoding="utf-8")
    settings = Settings.from_env({"ECGREVIEW_HOME": str(tmp_path), "ECGREVIEW_DICOMWEB_PASSWORD": SECRET,
                                  "ECGREVIEW_DICOMWEB_CA_BUNDLE": str(tmp_path / "ca.pem")})
    assert (settings.dicomweb_url, settings.dicomweb_user, settings.dicomweb_password) == (
        "https://pacs.example.org/dicom-web", "reader", SECRET)
    assert settings.dicomweb_ca_bundle == tmp_path / "ca.pem" and SECRET not in repr(settings)
    assert Settings.from_env({"ECGREVIEW_HOME": str(tmp_path / "empty")}).dicomweb_url is None


def test_uids_from_the_server_cannot_name_a_path_outside_the_cache():
    def result(study: str) -> dict:
        return {"0020000D": {"Value": [study]}, "0020000E": {"Value": ["1.2.3"]}, "00080018": {"Value": ["1.2.3.4"]}}

    assert _instance_key(result("1.2.840.1")) is not None
    for bad in ("../../etc", "1.2/3", "", "1." + "2" * 70):
        assert _instance_key(result(bad)) is None


def _bytes(dataset: Dataset) -> bytes:
    import io

    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on loopback with a self-signed certificate (made by ``openssl``), answering 404."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(certificate), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/dicom-web", certificate
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_tls_certificates_are_verified_by_default_and_a_ca_bundle_is_trusted(tls_server, tmp_path):
    """Orthanc 1.10.1's HTTPS mode crashes on Debian bookworm, so the TLS check runs against Python's ssl server."""
    url, certificate = tls_server
    settings = Settings(home=tmp_path, models_dir=tmp_path, reviews_path=tmp_path / "r.csv", dicomweb_url=url,
                        dicomweb_user="reader", dicomweb_password=SECRET)
    with pytest.raises(DicomwebError, match="TLS certificate is not trusted.*ECGREVIEW_DICOMWEB_CA_BUNDLE"):
        sync_dicomweb(settings)
    with pytest.raises(DicomwebError, match="HTTP 404"):  # TLS verified against the bundle: the HTTP answer is read
        sync_dicomweb(replace(settings, dicomweb_ca_bundle=Path(certificate)))


def test_a_case_outside_the_cache_did_not_come_from_the_server(tmp_path):
    settings = Settings(home=tmp_path, models_dir=tmp_path, reviews_path=tmp_path / "r.csv",
                        dicomweb_url="https://pacs.example.org/dicom-web")
    assert not came_from_dicomweb(settings, demo_ecg_path())
    assert not came_from_dicomweb(replace(settings, dicomweb_url=None), dicomweb_cache(settings) / "a.dcm")


def _dated_ecg(study_date: str) -> Dataset:
    dataset = ecg_with_uids()
    dataset.StudyDate = study_date
    return dataset


def test_a_second_sync_asks_only_for_the_studies_from_the_mark_on_and_a_full_search_finds_the_rest(loaded, tmp_path):
    server, _ = loaded
    settings = server.settings(tmp_path / "home")
    now = datetime(2024, 3, 12, 12, 0, tzinfo=timezone.utc)
    store_datasets(settings, [_dated_ecg("20240310"), _dated_ecg("20990101")])  # a study dated in the future
    client = open_client(settings)
    asked: list[dict] = []
    search = client.search_for_instances

    def counting(**options):
        asked.append(options["search_filters"])
        return search(**options)

    client.search_for_instances = counting  # type: ignore[method-assign,assignment]
    first = sync_dicomweb(settings, client=client, now_utc=now)
    assert first.searched_from == "" and all("StudyDate" not in filters for filters in asked)  # the first: full
    state = read_state(dicomweb_cache(settings))
    assert state is not None and state.study_date_mark == "20240310"  # 2099 is no mark
    late, archived = _dated_ecg("20240311"), _dated_ecg("20190302")  # new, and an old prior imported late
    store_datasets(settings, [late, archived])
    asked.clear()
    second = sync_dicomweb(settings, client=client, now_utc=now + timedelta(hours=1))
    since = (datetime(2024, 3, 10) - timedelta(days=LOOKBACK_DAYS)).strftime("%Y%m%d")
    assert second.searched_from == since and {filters["StudyDate"] for filters in asked} == {f"{since}-"}
    assert second.retrieved == 1  # 2024-03-11; the studies from the mark on (2024-03-10, 2099, ...) are cached
    cache = dicomweb_cache(settings)
    assert (cache / late.StudyInstanceUID / late.SeriesInstanceUID / f"{late.SOPInstanceUID}.dcm").is_file()
    archived_path = cache / archived.StudyInstanceUID / archived.SeriesInstanceUID / f"{archived.SOPInstanceUID}.dcm"
    assert not archived_path.exists()
    everything = sync_dicomweb(settings, client=client, full=True, now_utc=now + timedelta(hours=2))
    assert everything.searched_from == "" and everything.retrieved == 1 and archived_path.is_file()
    assert everything.found > second.found
    a_day_later = sync_dicomweb(settings, client=client, now_utc=now + timedelta(hours=27))
    assert a_day_later.searched_from == "" and a_day_later.retrieved == 0  # the daily full search
