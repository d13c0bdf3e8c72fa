"""The added-value study on the cohort page: the plan (or that there is none), OR–Hillis per class and per
reader (primary), the percentile bootstrap (secondary), call changes, Fleiss' kappa unaided vs aided,
confidence and reading time, the DNN and the device alone, the flow of cases and readers, the DNN's
operating points, and the study report (HTML, PDF).

Shown when the reviews hold ``unaided``/``aided`` readings. Every number comes from
:mod:`ecgreview.study` (:func:`~ecgreview.study.study_analysis.analyse_study`, the tables of
:mod:`ecgreview.study.report_tables`, :mod:`ecgreview.study.study_report`); this module only lays
them out, names each interval's method, and offers them as CSV through the formula guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.review.store import read_reviews
from ecgreview.security.spreadsheet import csv_text
from ecgreview.study import report_tables as tables
from ecgreview.study.added_value import ALL_READERS, MODES, AddedValue
from ecgreview.study.design import StudyDesign, list_designs, load_design, studies_dir
from ecgreview.study.plan import UNCERTAIN_OPTIONS, AnalysisChoices
from ecgreview.study.report import format_study, study_operating_points, study_roc_figure
from ecgreview.study.study_analysis import StudyAnalysis, analyse_study
from ecgreview.ui.text import escape_markdown, plural

STUDY_CHOICE = "evaluate_study"
UNCERTAIN_CHOICE = "evaluate_uncertain_as"
TARGET_SENSITIVITY = "evaluate_target_sensitivity"
READER_CHOICE = "evaluate_added_value_reader"
NO_STUDY = "(no study: every unaided/aided reading)"
_SCORES = {"sensitivity": "sens", "specificity": "spec", "precision": "prec", "f1": "F1"}
_CHANGES = ["class", "reader", "pairs", "changed", "towards_dnn", "helpful", "automation_bias", "away_from_dnn",
            "other_changes", "dnn_wrong", "agreement_wrong_dnn_unaided", "agreement_wrong_dnn_aided"]


def choose_study(settings: Settings) -> StudyDesign | None:
    """Sidebar: the study to analyse (when designs exist) and how ``uncertain`` counts; returns the design."""
    ids = list_designs(studies_dir(settings))
    if not ids:
        return None
    chosen = st.selectbox("Study", [*ids, NO_STUDY], key=STUDY_CHOICE,
                          help="A study's readings are analysed as its pre-specified plan says.")
    if chosen == NO_STUDY:
        return None
    try:
        return load_design(chosen, studies_dir(settings))
    except EcgReviewError as exc:
        st.error(f"Study {escape_markdown(chosen)} cannot be read — {escape_markdown(exc)}")
        return None


def uncertain_choice(design: StudyDesign | None) -> str:
    """Sidebar: how an ``uncertain`` reader call counts (default: the plan's)."""
    default = design.plan.uncertain_as if design and design.plan else "absent"
    return str(st.radio("'Uncertain' reader calls", UNCERTAIN_OPTIONS, index=UNCERTAIN_OPTIONS.index(default),
                        key=UNCERTAIN_CHOICE, horizontal=True,
                        help="Other than the plan's choice: shown as a labelled sensitivity analysis."))


def load(paths: Sequence[Path], *, choices: AnalysisChoices,
         design: StudyDesign | None) -> StudyAnalysis | str | None:
    """The study analysis; why it could not be made (text, shown by :func:`show`); or None when the reviews
    hold no unaided/aided reading."""
    try:
        if not any(read_reviews(path)["reading_mode"].isin(MODES).any() for path in paths):
            return None
        return analyse_study(paths, design=design, requested=choices)
    except (EcgReviewError, ValueError) as exc:
        return str(exc)


def _number(value: float | None, signed: bool = False) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):{'+' if signed else ''}.3f}"


def score_table(result: AddedValue) -> pd.DataFrame:
    """Secondary bootstrap: one row per class and reader, per score unaided, aided and ``Δ [95 % CI]`` (text)."""
    rows = []
    for (name, reader), group in result.scores.groupby(["class", "reader"], sort=False):
        row: dict[str, object] = {"class": name, "reader": reader, "n": int(group["readings"].iloc[0])}
        for score, short in _SCORES.items():
            line = group.set_index("score").loc[score]
            interval = f"[{_number(line['difference_low'], True)}, {_number(line['difference_high'], True)}]"
            row |= {f"{short} unaided": _number(line["unaided"]), f"{short} aided": _number(line["aided"]),
                    f"{short} Δ [CI]": f"{_number(line['difference'], True)} {interval}"}
        rows.append(row)
    return pd.DataFrame(rows)


def _three_decimals(frame: pd.DataFrame) -> dict[str, Any]:
    return {column: st.column_config.NumberColumn(format="%.3f") for column in frame.columns
            if pd.api.types.is_float_dtype(frame[column])}


def _status(analysis: StudyAnalysis) -> None:
    result = analysis.primary
    if analysis.plan is None:
        st.info(f"No pre-specified analysis plan ({escape_markdown(analysis.title)}): every result below is "
                "exploratory.")
    else:
        st.success(f"Pre-specified analysis of {escape_markdown(analysis.title)} (plan frozen "
                   f"{analysis.plan.frozen_at_utc}, sha256 {analysis.plan.fingerprint[:12]}…)")
        with st.expander("Analysis plan"):
            st.markdown("\n".join(f"- {escape_markdown(item)}" for item in analysis.plan.describe()))
    for deviation in analysis.deviations:
        st.warning(f"Deviation from the plan: {escape_markdown(deviation)}")
    st.markdown(f"**Reference:** {escape_markdown(result.reference_label)} · **Study cases:** {len(result.cases)} · "
                f"**Readers:** {escape_markdown(', '.join(result.readers))} · Δ = aided − unaided; uncertain "
                f"counted as {result.uncertain_as}")
    for note in result.notes:
        st.caption(f"Note: {escape_markdown(note)}")


def show(analysis: StudyAnalysis | str) -> None:
    """The whole added-value section (tables, figures, downloads), or why it cannot be shown."""
    st.header("Added value: unaided vs aided reading", anchor="added-value")
    if isinstance(analysis, str):
        st.warning(f"Added value not analysed — {escape_markdown(analysis)}")
        return
    result = analysis.primary
    _status(analysis)
    with st.container(key="added-value-mrmc"):
        st.subheader("Primary analysis: OR–Hillis per class")
        table = tables.mrmc_table(result)
        st.dataframe(table.sort_values("endpoint", key=lambda column: column != "primary", kind="stable"),
                     hide_index=True)
        st.caption(escape_markdown(tables.mrmc_caption(result)))
    reader = st.columns(4)[0].selectbox("Reader", [ALL_READERS, *result.readers], key=READER_CHOICE,
                                        help="All readers, or one reader.")
    _reader_sections(result, reader)
    _agreement(result)
    for run in analysis.runs[1:]:
        label = escape_markdown(run.label.removeprefix("sensitivity analysis: "))
        with st.expander(f"Sensitivity analysis (not the pre-specified one): {label}"):
            st.dataframe(tables.mrmc_table(run), hide_index=True)
            st.caption(escape_markdown(tables.mrmc_caption(run)))
    with st.expander("Flow of cases and readers"):
        st.dataframe(analysis.flow, hide_index=True)
        st.dataframe(analysis.reader_flow, hide_index=True)
    left, right = st.columns(2)
    with left:
        st.subheader("Confidence (1–5) and reading time (s)")
        timing = result.confidence_time[result.confidence_time["reader"] == reader]
        st.dataframe(timing, hide_index=True, column_config=_three_decimals(timing))
    with right:
        st.subheader("The DNN alone and the device alone")
        st.dataframe(tables.alone_table(result), hide_index=True)
        st.caption(f"{result.confidence * 100:g}% CI, percentile bootstrap over cases.")
    _operating_points(analysis)


def _reader_sections(result: AddedValue, reader: str) -> None:
    per_reader = tables.reader_table(result)
    with st.container(key="added-value-readers"):
        st.subheader("Per reader: OR–Hillis")
        if per_reader.empty:
            st.info("Not computed for any class: " + escape_markdown(
                next((text for text in result.mrmc["not_computed"] if text), "no OR–Hillis analysis")))
        else:
            st.dataframe(per_reader if reader == ALL_READERS else per_reader[per_reader["reader"] == reader],
                         hide_index=True)
            st.caption(escape_markdown(tables.reader_caption(result)))
    scores = score_table(result)
    with st.container(key="added-value-scores"):
        st.subheader("Secondary: percentile bootstrap, unaided vs aided")
        st.dataframe(scores[scores["reader"] == reader], hide_index=True)
        st.caption(escape_markdown(tables.bootstrap_caption(result)))
    changes = result.changes.loc[result.changes["reader"] == reader, _CHANGES]
    with st.container(key="added-value-changes"):
        st.subheader("Calls changed after seeing the DNN: helpful vs automation bias")
        st.dataframe(changes, hide_index=True, column_config=_three_decimals(changes))


def _agreement(result: AddedValue) -> None:
    with st.container(key="added-value-agreement"):
        st.subheader("Inter-reader agreement: Fleiss' kappa, unaided vs aided")
        if result.agreement.empty:
            st.info(f"{plural(len(result.readers), 'reader')}: Fleiss' kappa needs three or more.")
            return
        st.dataframe(tables.agreement_table(result), hide_index=True)
        st.caption(escape_markdown(result.agreement["ci_method"].iloc[0]))


def _operating_points(analysis: StudyAnalysis) -> None:
    cohort, result = analysis.cohort, analysis.primary
    st.subheader("Operating points of the DNN on the study cases")
    target = st.columns(4)[0].number_input("Target sensitivity (its threshold is shown, never applied)",
                                           min_value=0.5, max_value=0.99, value=0.9, step=0.01,
                                           key=TARGET_SENSITIVITY)
    points = study_operating_points(cohort, result, target_sensitivity=target)
    if cohort.probabilities.reindex(list(result.cases)).isna().all().all():
        st.info("No DNN probabilities on these cases (no model weights were installed when they were read): "
                "no ROC curve or operating points.")
    with st.container(key="added-value-roc"):
        st.plotly_chart(study_roc_figure(cohort, result, target_sensitivity=target), theme=None,
                        config={"displaylogo": False})
    st.dataframe(points, column_config=_three_decimals(points))
    st.caption("Red: the paper's threshold. Green: the threshold that reaches the target sensitivity on these cases; "
               "shown only, the app's calls keep the configured thresholds. 95% CI: Wilson score.")
    _downloads(analysis, points)


def _downloads(analysis: StudyAnalysis, points: pd.DataFrame) -> None:
    from ecgreview.study.study_report import study_report_files

    result = analysis.primary
    stem = f"{analysis.design.study_id}_report" if analysis.design else "study_report"
    with st.container(key="added-value-report"):
        st.subheader("Study report")
        st.caption("The plan, the flow of cases and readers, the OR–Hillis tables, figures, methods and provenance, "
                   "as one HTML file and one PDF to attach to a manuscript.")
        html_column, pdf_column = st.columns(2)
        html_column.download_button("Study report (HTML)", lambda: study_report_files(analysis)[0],
                                    file_name=f"{stem}.html", mime="text/html", on_click="ignore")
        pdf_column.download_button("Study report (PDF)", lambda: study_report_files(analysis)[1],
                                   file_name=f"{stem}.pdf", mime="application/pdf", on_click="ignore")
    columns = st.columns(6)
    downloads = (("OR–Hillis (CSV)", csv_text(result.mrmc), "mrmc.csv", "text/csv"),
                 ("Bootstrap (CSV)", csv_text(result.scores), "added_value.csv", "text/csv"),
                 ("Changes (CSV)", csv_text(result.changes), "changes.csv", "text/csv"),
                 ("DNN and device alone (CSV)", csv_text(result.alone), "alone.csv", "text/csv"),
                 ("Operating points (CSV)", csv_text(points, index=True), "operating_points.csv", "text/csv"),
                 ("Report (text)", format_study(analysis), "added_value.txt", "text/plain"))
    for column, (label, data, name, mime) in zip(columns, downloads):
        column.download_button(label, data, file_name=name, mime=mime, on_click="ignore")
