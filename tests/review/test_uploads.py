"""Issue #21 item 5: several uploaded files are several cases (a WFDB record's files are one), each named
by the file name the user chose (sanitised), in messages, pickers and the kept file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ecgreview.config import Settings
from ecgreview.examples import demo_ecg_path
from ecgreview.io import read_ecg
from ecgreview.review.uploads import UPLOADS_DIR, save_upload, upload_file_name, uploaded_cases
from tests.io.dicom_fixtures import write_dataset
from tests.security.test_phi import planted_dataset

DEMO_CASES = Path(__file__).parents[2] / "ecgreview" / "data" / "demo_cases"


@pytest.mark.parametrize(("chosen", "shown"), [
    ("rest ECG (2).dcm", "rest_ECG_2_.dcm"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\ECGs\\bed 4.xml", "bed_4.xml"),
    (".hidden.dcm", "hidden.dcm"),
    ("<img src=x onerror=alert(1)>.dcm", "_img_src_x_onerror_alert_1_.dcm"),
    ("***", "_"),
    ("", "upload"),
])
def test_file_name_has_no_folder_and_only_safe_characters(chosen, shown):
    assert upload_file_name(chosen) == shown


def test_long_file_name_keeps_its_suffix():
    name = upload_file_name("x" * 300 + ".dcm")
    assert len(name) == 100 and name.endswith("x.dcm")


def _wfdb_files(stem: str) -> list[tuple[str, bytes]]:
    return [(f"{stem}.hea", (DEMO_CASES / f"{stem}.hea").read_bytes()),
            (f"{stem}.mat", (DEMO_CASES / f"{stem}.mat").read_bytes())]


def test_two_files_are_two_cases_named_as_chosen():
    dicom = demo_ecg_path().read_bytes()
    wfdb_mat = _wfdb_files("A0003")[1][1]
    cases = uploaded_cases([("first ECG.dcm", dicom), ("A0009.zip", wfdb_mat + b"x")])
    assert [case.file_name for case in cases] == ["first_ECG.dcm", "A0009.zip"]
    assert [case.source.data for case in cases] == [dicom, wfdb_mat + b"x"]
    assert cases[0].source.name == f"upload-{hashlib.sha256(dicom).hexdigest()[:12]}.dcm"  # the internal id


def test_files_of_one_wfdb_record_are_one_case_beside_another_case():
    files = [_wfdb_files("A0003")[1], ("ecg.dcm", demo_ecg_path().read_bytes()), _wfdb_files("A0003")[0],
             *_wfdb_files("A0010")]
    cases = uploaded_cases(files)
    assert [case.file_name for case in cases] == ["ecg.dcm", "A0003.hea + A0003.mat", "A0010.hea + A0010.mat"]
    assert [case.kept_name for case in cases] == ["ecg.dcm", "A0003.zip", "A0010.zip"]
    record = read_ecg(cases[1].source.data or b"", name=cases[1].source.name)
    direct = read_ecg(DEMO_CASES / "A0003.hea")
    assert record.signal_mv.shape == direct.signal_mv.shape and (record.signal_mv == direct.signal_mv).all()


def test_kept_upload_is_named_by_the_chosen_file_name(tmp_path):
    settings = Settings.from_env({"ECGREVIEW_HOME": str(tmp_path / "home"), "ECGREVIEW_UPLOAD_PHI": "deidentify"})
    clean = write_dataset(planted_dataset(), tmp_path / "planted.dcm").read_bytes()
    kept = save_upload(settings, clean, "Doe_John_19500101.dcm", hashlib.sha256(clean).hexdigest())
    # a file that held PHI is kept de-identified and without the name it came with
    assert kept.name == f"{hashlib.sha256(clean).hexdigest()[:12]}-deidentified.dcm"
    assert kept.parent == settings.home / UPLOADS_DIR


def test_clean_upload_keeps_its_file_name(tmp_path, monkeypatch):
    from ecgreview.review import uploads

    settings = Settings.from_env({"ECGREVIEW_HOME": str(tmp_path / "home")})
    data = demo_ecg_path().read_bytes()
    monkeypatch.setattr(uploads, "_upload_without_phi", lambda settings, data, name: data)  # as for a clean file
    sha = hashlib.sha256(data).hexdigest()
    kept = save_upload(settings, data, "C:\\ECGs\\bed 4 (rest).dcm", sha)
    assert kept.name == f"{sha[:12]}-bed_4_rest_.dcm" and kept.read_bytes() == data
    assert save_upload(settings, data, "other name.dcm", sha) == kept  # once per content
