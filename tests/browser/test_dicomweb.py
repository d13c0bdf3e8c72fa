"""A research PACS as the case source, end to end in Chromium: a real Orthanc loaded with the bundled demo
DICOM (STOW-RS), indexed through DICOMweb, the case opened from the worklist, read and saved, exported as
FHIR (download) and DICOM SR, the SR stored back in Orthanc (STOW-RS) and read back (QIDO-RS, WADO-RS)."""

from __future__ import annotations

import json
import time

import pydicom
import pytest
from pydicom.uid import ComprehensiveSRStorage

from ecgreview.examples import demo_ecg_path
from ecgreview.io.dicomweb import open_client, retrieve_dataset, store_datasets
from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.export_fhir import read_reading_fhir
from ecgreview.review.export_reading import PRESENCE, finding_code
from ecgreview.review.export_sr import read_reading_sr, sr_bytes
from ecgreview.review.worklist import INDEX_FILE, CaseIndex
from ecgreview.ui.dicomweb_panel import FULL_SEARCH_BUTTON
from tests.browser.conftest import SCREENSHOTS
from tests.browser.reading_helpers import TEXT_WHOLE_JS, TIMEOUT_MS, call_option, call_shown_js, settle, sign_in, wait_for_case
from tests.orthanc_fixture import OrthancServer, orthanc  # noqa: F401  (the module's Orthanc)

pytestmark = pytest.mark.browser

READER = "Dr PACS"


@pytest.fixture(scope="module")
def server_environment(orthanc: OrthancServer, tmp_path_factory) -> dict[str, str]:  # noqa: F811
    """The demo DICOM stored in Orthanc; the app's case folder empty, its cases only from DICOMweb."""
    store_datasets(orthanc.settings(tmp_path_factory.mktemp("loader")), [pydicom.dcmread(demo_ecg_path())])
    return {"ECGREVIEW_CASES": str(tmp_path_factory.mktemp("empty-case-folder")), **orthanc.environment()}


def _indexed_sha(home, sop_uid: str, *, timeout_s: float = 90) -> str:
    """The SHA-256 of the instance once the app's background updater has retrieved and indexed it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (home / INDEX_FILE).exists():
            cases = CaseIndex(home / INDEX_FILE).cases(thresholds=THRESHOLDS)
            found = [case.source_sha256 for case in cases if case.path.name == f"{sop_uid}.dcm" and not case.error]
            if found:
                return found[0]
        time.sleep(0.5)  # the poll interval of a wait on a condition
    raise AssertionError(f"the PACS instance {sop_uid} was not indexed within {timeout_s} s")


def test_a_case_from_the_pacs_is_read_exported_and_its_sr_stored_back(server, page, orthanc):  # noqa: F811
    url, home = server
    waveform = pydicom.dcmread(demo_ecg_path())
    page.goto(f"{url}/worklist")  # the worklist starts the background update: DICOMweb sync, then the index
    sha = _indexed_sha(home, waveform.SOPInstanceUID)
    page.get_by_text("1 of 1 cases").first.wait_for(timeout=TIMEOUT_MS)
    full_search = page.get_by_role("button", name=FULL_SEARCH_BUTTON)
    full_search.wait_for(timeout=TIMEOUT_MS)  # the source's line, drawn
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=TIMEOUT_MS)
    settle(page)
    page.screenshot(path=str(SCREENSHOTS / "dicomweb-worklist.png"), full_page=True)
    assert full_search.evaluate(TEXT_WHOLE_JS), "the full-search button's label is cut"

    page.goto(f"{url}/?case={sha}")
    wait_for_case(page)
    page.get_by_text(f"From the worklist: {waveform.SOPInstanceUID}.dcm").wait_for(timeout=TIMEOUT_MS)
    sign_in(page, READER)
    calls = {name: "present" if name == "ST" else "absent" for name in CLASSES}
    for name, call in calls.items():
        call_option(page, name, call).click()
        page.wait_for_function(call_shown_js(name, call), timeout=TIMEOUT_MS)
    settle(page)
    page.get_by_role("button", name="Save review").click()
    page.get_by_text("Saved review").first.wait_for(timeout=TIMEOUT_MS)  # the export below is built from that row

    page.get_by_text("Export the reading (DICOM SR, HL7 FHIR)").click()
    settle(page)
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.get_by_role("button", name="FHIR JSON").click()
    bundle = read_reading_fhir(download.value.path().read_text(encoding="utf-8"))
    values = {entry.resource.code.coding[0].code: entry.resource.valueCodeableConcept.coding[0].code
              for entry in bundle.entry[1:] if getattr(entry.resource, "valueCodeableConcept", None)}
    assert values == {finding_code(name)[0]: PRESENCE[call][0] for name, call in calls.items()}
    page.get_by_role("button", name="Store the SR in the PACS").click()
    page.get_by_text("Stored the SR in").first.wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(SCREENSHOTS / "dicomweb-sr-stored.png"), full_page=True)

    settings = orthanc.settings(home)
    found = open_client(settings).search_for_instances(search_filters={"SOPClassUID": ComprehensiveSRStorage})
    assert len(found) == 1
    keys = [found[0][tag]["Value"][0] for tag in ("0020000D", "0020000E", "00080018")]
    assert keys[0] == waveform.StudyInstanceUID  # the SR joined the waveform's study
    sr = read_reading_sr(sr_bytes(retrieve_dataset(settings, *keys)))
    assert sr.PatientID == waveform.PatientID and str(sr.PatientName) == "" and sr.PatientBirthDate == ""
    text = json.dumps(sr.to_json_dict())
    assert "Dr PACS^" in text and finding_code("ST")[0] in text
    assert str(waveform.PatientName) not in text and str(waveform.PatientBirthDate) not in text
