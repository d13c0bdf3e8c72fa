"""The cohort-study page: Table 1, Figure 1, inter-reader kappa and discordant cases from review CSVs;
and, when the reviews hold unaided/aided readings, the added-value study (:mod:`ecgreview.ui.added_value_panel`),
of a chosen study as its plan says.

For clinicians only (readers, adjudicators, teachers; admin): it shows every reader's calls, so
students, who must not see other readings, are told the page is not for them.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.security.auth import CLINICIAN_ROLES
from ecgreview.security.spreadsheet import csv_text
from ecgreview.study.cohort import CONSENSUS, Cohort, load_cohort
from ecgreview.study.cohort_report import cohort_table, format_table, inter_reader_kappa, probability_figure, table_title
from ecgreview.study.design import StudyDesign
from ecgreview.study.plan import AnalysisChoices
from ecgreview.ui import added_value_panel, cohort_panels, identity, page_setup
from ecgreview.ui.text import escape_markdown, table_in_words

REVIEW_UPLOADS = "evaluate_review_uploads"
REFERENCE_KIND = "evaluate_reference_kind"
REFERENCE_READER = "evaluate_reference_reader"
CLINICAL_UPLOAD = "evaluate_clinical_upload"
PUBLISHED_UPLOAD = "evaluate_published_upload"
POSSIBLE_POSITIVE = "evaluate_possible_positive"
KIND_CONSENSUS, KIND_READER, KIND_CLINICAL = "Reader consensus", "One reader", "Clinical-diagnosis CSV"


def render() -> None:
    """Draw the page."""
    settings = page_setup.page_settings("Cohort study")
    if settings is None or not identity.require(CLINICIAN_ROLES, "Cohort study"):
        return
    with st.sidebar:
        st.subheader("Reviews")
        uploads = st.file_uploader("Review CSV(s) instead of the app's store", type="csv",
                                   accept_multiple_files=True, key=REVIEW_UPLOADS)
        st.caption(f"App's store: {escape_markdown(settings.reviews_path)}")
        design = added_value_panel.choose_study(settings)
        plan = design.plan if design else None
        st.subheader("Reference")
        kinds = [KIND_CONSENSUS, KIND_READER, KIND_CLINICAL]
        planned = {"consensus": 0, "clinical": 2}.get(plan.reference_standard, 1) if plan else 0
        kind = st.radio("Reference", kinds, index=planned, key=REFERENCE_KIND, label_visibility="collapsed")
        clinical = st.file_uploader("Clinical diagnoses (source_sha256 or case_pseudonym, one 0/1 column per class)",
                                    type="csv", key=CLINICAL_UPLOAD) if kind == KIND_CLINICAL else None
        possible = st.checkbox("Count 'possible' device statements as positive", key=POSSIBLE_POSITIVE,
                               value=plan.possible_counts_as_positive if plan else True)
        uncertain = added_value_panel.uncertain_choice(design)
        published = st.file_uploader("Published-DNN probabilities (optional)", type="csv", key=PUBLISHED_UPLOAD)
    if not uploads and not settings.reviews_path.is_file():
        st.info(f"No reviews yet: {escape_markdown(settings.reviews_path)} does not exist. Save reviews on the Review page, "
                "or upload review CSVs in the sidebar.")
        return
    if kind == KIND_CLINICAL and clinical is None:
        st.info("Upload the clinical-diagnosis CSV in the sidebar.")
        return
    loaded = _load(uploads, settings, (kind, clinical, published), AnalysisChoices("consensus", possible, uncertain),
                   design)
    if loaded is None:
        return
    cohort, table, added = loaded
    if cohort.cases.empty:
        st.info("These review CSVs hold no reviews yet. Save reviews on the Review page first.")
        return
    _show(cohort, table)
    if added is not None:
        added_value_panel.show(added)


def _load(uploads: list[UploadedFile], settings: Settings, sources: tuple[str, UploadedFile | None, UploadedFile | None],
          choices: AnalysisChoices, design: StudyDesign | None) -> tuple[Cohort, pd.DataFrame, Any] | None:
    """Save uploads to a temporary folder and load the cohort, Table 1 and the added-value study from the files."""
    kind, clinical, published = sources
    possible = choices.possible_counts_as_positive
    with tempfile.TemporaryDirectory() as folder:
        paths = [_saved(upload, Path(folder) / f"reviews-{i}.csv") for i, upload in enumerate(uploads)]
        paths = paths or [settings.reviews_path]
        try:
            reference: str | Path = CONSENSUS
            cohort = load_cohort(paths, reference=CONSENSUS, possible_counts_as_positive=possible)
            if kind == KIND_READER and cohort.readers:
                planned = design.plan.reference_standard.removeprefix("reader:") if design and design.plan else ""
                index = cohort.readers.index(planned) if planned in cohort.readers else 0
                reference = f"reader:{st.sidebar.selectbox('Reader', cohort.readers, index=index, key=REFERENCE_READER)}"
                cohort = load_cohort(paths, reference=reference, possible_counts_as_positive=possible)
            elif kind == KIND_CLINICAL and clinical is not None:
                reference = _saved(clinical, Path(folder) / "clinical.csv")
                cohort = load_cohort(paths, reference=reference, possible_counts_as_positive=possible)
            published_path = _saved(published, Path(folder) / "published.csv") if published else None
            added = added_value_panel.load(paths, choices=dataclasses.replace(choices, reference=reference),
                                           design=design)
            return cohort, cohort_table(cohort, published=published_path), added
        except (EcgReviewError, ValueError) as exc:
            st.error(f"Cannot evaluate these reviews — {escape_markdown(exc)}")
            return None


def _saved(upload: UploadedFile, path: Path) -> Path:
    path.write_bytes(upload.getvalue())
    return path


def _show(cohort: Cohort, table: pd.DataFrame) -> None:
    """Table 1, Figure 1, kappa, discordant cases, unmapped statements and downloads."""
    st.markdown(f"**Reference:** {escape_markdown(cohort.reference_label)} · **Cases:** {len(cohort.cases)} · "
                f"**Readers:** {escape_markdown(', '.join(cohort.readers)) or 'none'}")
    for note in cohort.notes:
        st.caption(escape_markdown(note))
    st.subheader("Table 1")
    st.dataframe(table_in_words(table))  # headers in words, empty scores as a dash (the CSV keeps the names)
    text = format_table(table, title=table_title(cohort), notes=cohort.notes)
    figure = probability_figure(cohort)
    st.subheader("Figure 1")
    st.plotly_chart(figure, theme=None, config={"displaylogo": False,
                                                "toImageButtonOptions": {"format": "svg", "filename": "figure1"}})
    st.caption("Camera button: SVG for papers. `python -m ecgreview evaluate … --out DIR` writes PNG and SVG too.")
    st.subheader("Inter-reader agreement (kappa)")
    kappa = inter_reader_kappa(cohort)
    if kappa.empty:
        st.info("One reader: no inter-reader kappa. It needs several readers of the same cases.")
    else:
        cohort_panels.kappa_tables(cohort, kappa)
    discordant = cohort_panels.discordant_section(cohort)
    cohort_panels.unmapped_section(cohort)
    columns = st.columns(5)
    downloads: tuple[tuple[str, Any, str, str], ...] = (("Table 1 (CSV)", csv_text(table, index=True), "table1.csv", "text/csv"),
                 ("Table 1 (text)", text, "table1.txt", "text/plain"),
                 ("Discordant (CSV)", csv_text(discordant), "discordant.csv", "text/csv"),
                 ("Kappa (CSV)", csv_text(kappa), "kappa.csv", "text/csv"),
                 ("Figure 1 (HTML)", lambda: figure.to_html(include_plotlyjs=True), "figure1.html", "text/html"))
    for column, (label, data, name, mime) in zip(columns, downloads):
        column.download_button(label, data, file_name=name, mime=mime, on_click="ignore")
