"""A case is a record, not a file: CaseSource opens multi-file records by path and names uploads neutrally."""

from __future__ import annotations

import os
import shutil

from ecgreview.examples import DEMO_CASES_DIR, demo_ecg_path
from ecgreview.review.case import CaseSource


def test_a_wfdb_header_path_is_read_with_its_signal_file(tmp_path):
    for suffix in (".hea", ".mat"):
        shutil.copy(DEMO_CASES_DIR / f"A0003{suffix}", tmp_path / f"A0003{suffix}")
    source = CaseSource.from_path(tmp_path / "A0003.hea")
    record = source.read()
    assert record.signal_mv.shape[1] == 12 and record.source_name == "A0003.hea"
    before = source.cache_key()
    signal = tmp_path / "A0003.mat"
    os.utime(signal, ns=(signal.stat().st_atime_ns, signal.stat().st_mtime_ns + 10**9))
    assert source.cache_key() != before  # a changed .mat is a changed case


def test_an_upload_is_renamed_and_keeps_only_its_suffix():
    data = demo_ecg_path().read_bytes()
    source = CaseSource.from_upload(data, "Doe_John_19500101.dcm")
    assert source.name.startswith("upload-") and source.name.endswith(".dcm") and "Doe" not in source.name
    assert source.read().source_name == source.name
    assert source.cache_key() == CaseSource.from_upload(data, "other.dcm").cache_key()
