"""The study report: one self-contained HTML and one PDF with the plan, flow, OR–Hillis tables, figures, methods and
provenance; it is written, or says why a part is empty, for a study with one reader, no positives or no DNN."""

from __future__ import annotations

import html
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from ecgreview.record import CLASSES
from ecgreview.study.figures import roc_figure
from ecgreview.study.plan import AnalysisChoices, AnalysisPlan
from ecgreview.study.report_text import format_study
from ecgreview.study.study_analysis import analyse_study
from ecgreview.study.study_report import report_blocks, study_report_html, write_study_report
from tests.study.generated_study import write_generated_study

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    home = tmp_path_factory.mktemp("report")
    study = write_generated_study(home, readers=3, cases=50, seed=3, plan=AnalysisPlan(
        ("AF",), reference_standard="clinical", reference_description=HOSTILE))
    analysis = analyse_study(study.reviews, design=study.design,
                             requested=AnalysisChoices(study.clinical, uncertain_as="exclude"))
    return analysis, write_study_report(analysis, home / "out")


def _pdf_text(path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_html_is_self_contained_escaped_and_complete(report):
    analysis, (page, _) = report
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", text) and "<script" not in text
    assert HOSTILE not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    for heading in ("Analysis plan", "Deviations from the plan", "Flow of cases and readers",
                    "Primary analysis: OR–Hillis", "Secondary endpoints: OR–Hillis", "Per reader: OR–Hillis",
                    "Secondary: percentile bootstrap, all readers", "Calls changed after seeing the DNN",
                    "Inter-reader agreement: Fleiss' kappa, unaided vs aided", "Methods", "Provenance"):
        assert f"<h2>{html.escape(heading)}</h2>" in text, heading
    assert text.count("data:image/png;base64,") == 3
    assert "Sensitivity analysis: &#x27;uncertain&#x27; left out" in text
    assert analysis.plan.fingerprint in text  # provenance: the plan's whole fingerprint
    weights = analysis.provenance.set_index("item").loc["model weights sha256", "value"]
    assert weights in text and "OR–Hillis (random readers, random cases)" in text
    assert "percentile bootstrap over readers and cases" in text and "(secondary)" in text


def test_pdf_pages_hold_the_same_report(report):
    analysis, (_, document) = report
    assert document.read_bytes().startswith(b"%PDF")
    text = _pdf_text(document)
    for words in ("Primary analysis: OR–Hillis", "Flow of cases and readers", "Methods", "Provenance",
                  "Figure 1.", "Figure 3.", "Obuchowski–Rockette", analysis.plan.fingerprint[:16]):
        assert words in text, words
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(document)], capture_output=True,
                                                             text=True, check=True).stdout).group(1))
    assert pages >= 6  # text pages plus one page per figure


def test_methods_name_every_method_and_version(report):
    analysis, _ = report
    blocks = report_blocks(analysis)
    heading = next(index for index, block in enumerate(blocks) if block.text == "Methods")
    methods = blocks[heading + 1].text
    for words in ("Obuchowski–Rockette method with Hillis' denominator degrees of freedom", "jackknife",
                  "percentile bootstrap", "Fleiss' kappa", f"seed {analysis.design.seed}", "scipy ",
                  "numpy ", "plan sha256", "two-step design", "'uncertain' were counted as absent",
                  "As a sensitivity analysis beside the pre-specified one, the OR–Hillis analysis was repeated with "
                  "'uncertain' left out"):
        assert words in methods, words


@pytest.mark.parametrize("options", [{"readers": 1}, {"positives": False}])
def test_awkward_studies_still_give_a_report_that_says_why(tmp_path, options):
    study = write_generated_study(tmp_path, cases=30, seed=2, plan=AnalysisPlan(("AF",)), **options)
    analysis = analyse_study(study.reviews, design=study.design)
    page, document = write_study_report(analysis, tmp_path / "out")
    text = page.read_text(encoding="utf-8")
    reason = "one reader; the analysis needs 2 or more" if options.get("readers") == 1 else \
        "0 positive and 30 negative cases"
    assert reason in text and document.stat().st_size > 10_000
    assert "OR–Hillis not computed" in format_study(analysis)


def test_roc_figure_without_probabilities_says_why_instead_of_failing():
    reference = pd.DataFrame(np.eye(4, len(CLASSES)), columns=list(CLASSES))
    figure = roc_figure(reference, reference * np.nan)  # the KeyError 'auc' of issue #19 item 6
    assert {annotation.text.split("<br>")[0] for annotation in figure.layout.annotations
            if "AUC" not in annotation.text and "AP" not in annotation.text} == {"no DNN"}
    html_text = study_report_html([])
    assert html_text.startswith("<!DOCTYPE html>")
