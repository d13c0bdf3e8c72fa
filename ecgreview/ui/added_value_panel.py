"""The added-value study on the cohort page: unaided vs aided reading, call changes, confidence and
reading time, the DNN and the device alone, and the DNN's ROC / precision-recall operating points.

Shown when the reviews hold ``unaided``/``aided`` readings. Every number comes from
:mod:`ecgreview.study` (:func:`~ecgreview.study.report.load_added_value`,
:func:`~ecgreview.study.report.study_operating_points`,
:func:`~ecgreview.study.report.study_roc_figure`); this module only lays the tables out
(three decimals) and offers them as CSV through the formula guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from ecgreview.errors import EcgReviewError
from ecgreview.review.store import read_reviews
from ecgreview.security.spreadsheet import csv_text
from ecgreview.study.added_value import ALL_READERS, MODES, AddedValue
from ecgreview.study.report import format_added_value, load_added_value, study_operating_points, study_roc_figure
from ecgreview.ui.text import escape_markdown

_SCORES = {"sensitivity": "sens", "specificity": "spec", "precision": "prec", "f1": "F1"}
_CHANGES = ["class", "reader", "pairs", "changed", "towards_dnn", "helpful", "automation_bias", "away_from_dnn",
            "other_changes", "dnn_wrong", "agreement_wrong_dnn_unaided", "agreement_wrong_dnn_aided"]
TARGET_SENSITIVITY = "evaluate_target_sensitivity"
READER_CHOICE = "evaluate_added_value_reader"


def load(paths: Sequence[Path], *, reference: str | Path, possible_counts_as_positive: bool
         ) -> tuple[object, AddedValue] | None:
    """The cohort and its added-value analysis, or None when the reviews hold no unaided/aided reading."""
    try:
        if not any(read_reviews(path)["reading_mode"].isin(MODES).any() for path in paths):
            return None
        return load_added_value(paths, reference=reference, possible_counts_as_positive=possible_counts_as_positive)
    except (EcgReviewError, ValueError) as exc:
        st.warning(f"Added value not analysed — {escape_markdown(str(exc))}")
        return None


def _number(value: float | None, signed: bool = False) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):{'+' if signed else ''}.3f}"


def score_table(result: AddedValue) -> pd.DataFrame:
    """One row per class and reader: per score unaided, aided and ``Δ [95 % CI]`` (three decimals, text)."""
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


def _alone_table(result: AddedValue) -> pd.DataFrame:
    """The DNN and the device alone: each score with its CI, three decimals."""
    rows = []
    for line in result.alone.to_dict("records"):
        row: dict[str, object] = {"class": line["class"], "source": line["source"], "cases": line["cases"]}
        for score, short in _SCORES.items():
            row[short] = (f"{_number(line.get(score))} [{_number(line.get(f'{score}_low'))}, "
                          f"{_number(line.get(f'{score}_high'))}]")
        rows.append(row)
    return pd.DataFrame(rows)


def _three_decimals(frame: pd.DataFrame) -> dict[str, Any]:
    return {column: st.column_config.NumberColumn(format="%.3f") for column in frame.columns
            if pd.api.types.is_float_dtype(frame[column])}


def show(loaded: tuple[object, AddedValue]) -> None:
    """The whole added-value section (tables, figure, downloads)."""
    cohort, result = loaded
    st.header("Added value: unaided vs aided reading", anchor="added-value")
    st.markdown(f"**Reference:** {escape_markdown(result.reference_label)} · **Study cases:** {len(result.cases)} · "
                f"**Readers:** {escape_markdown(', '.join(result.readers))} · Δ = aided − unaided, "
                f"{result.confidence * 100:g} % CI: percentile bootstrap ({result.n_resamples} resamples of cases "
                f"and readers, seed {result.seed}); uncertain counted as {result.uncertain_as}")
    for note in result.notes:
        st.caption(f"Note: {escape_markdown(note)}")
    reader = st.columns(4)[0].selectbox("Reader", [ALL_READERS, *result.readers], key=READER_CHOICE,
                                        help="All readers pooled (the CI resamples cases and readers), or one reader.")
    scores = score_table(result)
    with st.container(key="added-value-scores"):
        st.subheader("Unaided vs aided, per class")
        st.dataframe(scores[scores["reader"] == reader], hide_index=True)
    changes = result.changes.loc[result.changes["reader"] == reader, _CHANGES]
    with st.container(key="added-value-changes"):
        st.subheader("Calls changed after seeing the DNN: helpful vs automation bias")
        st.dataframe(changes, hide_index=True, column_config=_three_decimals(changes))
    left, right = st.columns(2)
    with left:
        st.subheader("Confidence (1–5) and reading time (s)")
        timing = result.confidence_time[result.confidence_time["reader"] == reader]
        st.dataframe(timing, hide_index=True, column_config=_three_decimals(timing))
    alone = _alone_table(result)
    with right:
        st.subheader("The DNN alone and the device alone")
        st.dataframe(alone, hide_index=True)
    _operating_points(cohort, result)


def _operating_points(cohort: object, result: AddedValue) -> None:
    st.subheader("Operating points of the DNN on the study cases")
    target = st.columns(4)[0].number_input("Target sensitivity (its threshold is shown, never applied)",
                                           min_value=0.5, max_value=0.99, value=0.9, step=0.01,
                                           key=TARGET_SENSITIVITY)
    points = study_operating_points(cohort, result, target_sensitivity=target)
    figure = study_roc_figure(cohort, result, target_sensitivity=target)
    with st.container(key="added-value-roc"):
        st.plotly_chart(figure, theme=None, config={"displaylogo": False})
    st.dataframe(points, column_config=_three_decimals(points))
    st.caption("Red: the paper's threshold (in use). Green: the threshold that reaches the target sensitivity on "
               "these cases; shown only, the app's calls keep the configured thresholds.")
    columns = st.columns(6)
    downloads = (("Unaided vs aided (CSV)", csv_text(result.scores), "added_value.csv", "text/csv"),
                 ("Changes (CSV)", csv_text(result.changes), "changes.csv", "text/csv"),
                 ("Confidence and time (CSV)", csv_text(result.confidence_time), "confidence_time.csv", "text/csv"),
                 ("DNN and device alone (CSV)", csv_text(result.alone), "alone.csv", "text/csv"),
                 ("Operating points (CSV)", csv_text(points, index=True), "operating_points.csv", "text/csv"),
                 ("Report (text)", format_added_value(result), "added_value.txt", "text/plain"))
    for column, (label, data, name, mime) in zip(columns, downloads):
        column.download_button(label, data, file_name=name, mime=mime, on_click="ignore")
