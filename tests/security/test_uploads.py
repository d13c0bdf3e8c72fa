"""Issue #22 item 6: an upload with PHI is refused or kept de-identified only, 0600, and private until an admin adds it."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from ecgreview.config import Settings
from ecgreview.errors import ReviewStoreError
from ecgreview.io import read_ecg
from ecgreview.review.uploads import PENDING_UPLOADS_DIR, UPLOADS_DIR, save_upload
from ecgreview.review.worklist import case_paths
from ecgreview.security.phi import audit_file
from tests.io.dicom_fixtures import PATIENT_BIRTH_DATE, PATIENT_NAME, write_dataset
from tests.security.test_phi import PLANTED, PRIVATE_NAME, _muse, planted_dataset


@pytest.fixture
def phi_dicom(tmp_path) -> bytes:
    """A DICOM ECG with a patient name, birth date, identifiers and a private block (the review's file)."""
    return write_dataset(planted_dataset(), tmp_path / "planted.dcm").read_bytes()


def _settings(tmp_path: Path, **changes) -> Settings:
    return Settings.from_env({"ECGREVIEW_HOME": str(tmp_path / "home"), **changes})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(home: Path) -> list[Path]:
    return [path for path in home.rglob("*") if path.is_file()] if home.exists() else []


@pytest.mark.parametrize("auth", ["name", "local"])
def test_upload_with_phi_is_refused_and_nothing_is_written(tmp_path, phi_dicom, auth):
    settings = _settings(tmp_path, ECGREVIEW_AUTH=auth)
    with pytest.raises(ReviewStoreError, match=r"planted\.dcm: not kept: PHI audit: \d+ findings \(.*patient name.*\) "
                                               r"\(the site keeps no upload with PHI: ECGREVIEW_UPLOAD_PHI=refuse\)") as refused:
        save_upload(settings, phi_dicom, "planted.dcm", _sha(phi_dicom), uploader="dr.rossi")
    assert _files(settings.home) == []
    assert not any(value in str(refused.value) for value in PLANTED)


def test_deidentify_policy_keeps_a_clean_copy_only_private_and_0600(tmp_path, phi_dicom):
    settings = _settings(tmp_path, ECGREVIEW_AUTH="local", ECGREVIEW_UPLOAD_PHI="deidentify")
    kept = save_upload(settings, phi_dicom, "../planted.dcm", _sha(phi_dicom), uploader="dr.rossi")
    assert kept.parent == settings.home / PENDING_UPLOADS_DIR / "dr.rossi"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == stat.S_IMODE(kept.parent.parent.stat().st_mode) == 0o700
    data = kept.read_bytes()
    assert data != phi_dicom and audit_file(data, kept.name).status == "clean"
    for value in (PATIENT_NAME, PATIENT_BIRTH_DATE, PRIVATE_NAME):
        assert value.encode() not in data
    assert read_ecg(kept).signal_mv.shape == read_ecg(phi_dicom, name="planted.dcm").signal_mv.shape
    assert kept not in case_paths(settings)  # no worklist lists it until an admin adds it to the case folder
    assert save_upload(settings, phi_dicom, "planted.dcm", _sha(phi_dicom), uploader="dr.rossi") == kept  # once


def test_name_mode_keeps_a_clean_upload_for_its_one_workstation(tmp_path, phi_dicom):
    settings = _settings(tmp_path, ECGREVIEW_UPLOAD_PHI="deidentify")
    kept = save_upload(settings, phi_dicom, "planted.dcm", _sha(phi_dicom))
    assert kept.parent == settings.home / UPLOADS_DIR and kept in case_paths(settings)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_xml_with_phi_cannot_be_deidentified_and_is_refused(tmp_path):
    settings = _settings(tmp_path, ECGREVIEW_AUTH="local", ECGREVIEW_UPLOAD_PHI="deidentify")
    data = _muse()
    with pytest.raises(ReviewStoreError, match="muse.xml: not kept: PHI audit: .* only DICOM files can be de-identified"):
        save_upload(settings, data, "muse.xml", _sha(data), uploader="dr.rossi")
    assert _files(settings.home) == []


def test_a_format_without_phi_audit_is_not_kept(tmp_path):
    settings = _settings(tmp_path, ECGREVIEW_AUTH="local", ECGREVIEW_UPLOAD_PHI="deidentify")
    data = b"A0003 12 500 5000\n"  # a WFDB header: no PHI audit exists for it
    with pytest.raises(ReviewStoreError, match="not kept: its PHI cannot be checked"):
        save_upload(settings, data, "A0003.hea", _sha(data), uploader="dr.rossi")
    assert _files(settings.home) == []
