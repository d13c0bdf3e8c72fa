"""Plotly figures of the reader study: ROC / precision-recall curves and the unaided-vs-aided differences.

Every function returns a :class:`plotly.graph_objects.Figure`; nothing is shown or
written here. Only class names and numbers are drawn (no reader names or file text).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.study.added_value import ALL_READERS, AddedValue
from ecgreview.study.operating_points import class_curves, operating_points

__all__ = ["added_value_figure", "curve_missing_reason", "roc_figure"]

_PAPER, _SITE = "#c0392b", "#1b7837"


def roc_figure(
    reference: pd.DataFrame, probabilities: pd.DataFrame, *, thresholds: Sequence[float] = THRESHOLDS,
    target_sensitivity: float = 0.9, title: str = "",
) -> go.Figure:
    """ROC (top row) and precision-recall (bottom row) curves per class; thresholds marked.

    The paper's (in-use) threshold is a red dot, the threshold for ``target_sensitivity``
    a green diamond (shown only; never applied). A class without positives (or
    negatives, for ROC) has an empty panel with a note. Inputs as for
    :func:`~ecgreview.study.operating_points.operating_points`.
    """
    points = operating_points(reference, probabilities, thresholds=thresholds, target_sensitivity=target_sensitivity)
    curves = class_curves(reference, probabilities)
    titles = [f"{name} (AUC {_number(points.loc[name].get('auc'))})" for name in CLASSES] + [
        f"{name} (AP {_number(points.loc[name].get('average_precision'))})" for name in CLASSES]
    figure = make_subplots(rows=2, cols=len(CLASSES), subplot_titles=titles, horizontal_spacing=0.03,
                           vertical_spacing=0.2)
    for column, name in enumerate(CLASSES, start=1):
        roc, pr = curves[name]
        row = points.loc[name]
        for panel, curve, x_of, y_of in ((1, roc, "1-spec", "sens"), (2, pr, "sens", "prec")):
            if curve is None:
                figure.add_annotation(text=curve_missing_reason(row, roc=panel == 1), showarrow=False, row=panel,
                                      col=column, x=0.5, y=0.5)
                continue
            figure.add_trace(go.Scatter(x=curve.x, y=curve.y, mode="lines", line={"color": "#2c7fb8", "shape": "hv"
                                        if panel == 2 else "linear"}, showlegend=False, customdata=curve.thresholds,
                                        hovertemplate="t = %{customdata:.3f}<br>%{x:.3f}, %{y:.3f}<extra></extra>"),
                             row=panel, col=column)
            for prefix, colour, symbol, label in (("paper", _PAPER, "circle", "paper threshold"),
                                                  ("site", _SITE, "diamond", f"sensitivity ≥ {target_sensitivity:g}")):
                threshold = row.get(f"{prefix}_threshold", np.nan)
                if pd.isna(threshold) or pd.isna(row.get(f"{prefix}_sensitivity", np.nan)):
                    continue
                x, y = _marker(row, prefix, panel)
                figure.add_trace(go.Scatter(
                    x=[x], y=[y], mode="markers", marker={"color": colour, "size": 9, "symbol": symbol},
                    name=label, legendgroup=prefix, showlegend=column == 1 and panel == 1,
                    hovertemplate=f"{label}: t = {threshold:.3f}<br>%{{x:.3f}}, %{{y:.3f}}<extra></extra>"),
                    row=panel, col=column)
        if roc is not None:
            figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "#bbb", "dash": "dot"},
                                        showlegend=False, hoverinfo="skip"), row=1, col=column)
    figure.update_xaxes(range=[-0.02, 1.02])
    figure.update_yaxes(range=[-0.02, 1.02])
    figure.update_xaxes(title_text="1 − specificity", row=1)
    figure.update_xaxes(title_text="sensitivity (recall)", row=2)
    figure.update_yaxes(title_text="sensitivity", row=1, col=1)
    figure.update_yaxes(title_text="precision", row=2, col=1)
    figure.update_layout(title=title or "DNN operating points on local data (red: paper threshold; green: "
                                        f"threshold for sensitivity ≥ {target_sensitivity:g}, not applied)",
                         width=1300, height=640, template="plotly_white",
                         legend={"orientation": "h", "y": -0.12, "x": 0.5, "xanchor": "center"})
    return figure


def curve_missing_reason(row: pd.Series, *, roc: bool) -> str:
    """Why a class has no ROC (``roc``) or precision-recall curve, in words, from its operating-points row."""
    if not row.get("cases", 0):
        return "no DNN<br>output"
    if not row.get("positives", 0):
        return "no positive<br>cases"
    return "no negative<br>cases" if roc else "undefined"


def _marker(row: pd.Series, prefix: str, panel: int) -> tuple[float, float]:
    if panel == 1:
        return 1 - row[f"{prefix}_specificity"], row[f"{prefix}_sensitivity"]
    return row[f"{prefix}_sensitivity"], row[f"{prefix}_precision"]


def _number(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.3f}"


def added_value_figure(result: AddedValue, *, scores: Sequence[str] = ("sensitivity", "specificity")) -> go.Figure:
    """Forest plot of aided − unaided per class (all readers), one panel per score: the OR–Hillis estimate
    and CI (primary; filled marker for the plan's primary endpoints) and, below it in grey, the
    percentile bootstrap CI (secondary). A class where OR–Hillis could not run shows only the bootstrap."""
    pooled = result.scores[result.scores["reader"] == ALL_READERS]
    figure = make_subplots(rows=1, cols=len(scores), shared_yaxes=True, subplot_titles=list(scores))
    for column, score in enumerate(scores, start=1):
        primary = result.mrmc[result.mrmc["figure_of_merit"] == score].set_index("class").reindex(list(CLASSES))
        secondary = pooled[pooled["score"] == score].set_index("class").reindex(list(CLASSES))
        for rows, label, colour, offset in ((primary, "OR–Hillis (primary)", "#2c7fb8", 0.0),
                                            (secondary, "bootstrap (secondary)", "#999999", 0.25)):
            figure.add_trace(go.Scatter(
                x=rows["difference"], y=[index + offset for index in range(len(CLASSES))], mode="markers",
                marker={"size": 9 if offset == 0 else 6, "color": colour,
                        "symbol": ["circle" if flag else "circle-open" for flag in rows.get("primary", [True] * 6)]
                        if offset == 0 else "diamond"},
                error_x={"type": "data", "symmetric": False, "array": rows["difference_high"] - rows["difference"],
                         "arrayminus": rows["difference"] - rows["difference_low"], "color": colour},
                name=label, legendgroup=label, showlegend=column == 1,
                customdata=np.column_stack([rows["unaided"], rows["aided"]]),
                hovertemplate=f"{label}: %{{x:+.3f}}<br>unaided %{{customdata[0]:.3f}}, aided %{{customdata[1]:.3f}}"
                              "<extra></extra>"), row=1, col=column)
        figure.add_vline(x=0, line={"color": "#888", "dash": "dot"}, row=1, col=column)
    figure.update_yaxes(autorange="reversed", tickvals=list(range(len(CLASSES))), ticktext=list(CLASSES))
    figure.update_xaxes(title_text="aided − unaided")
    figure.update_layout(title=f"Added value, all readers: {result.confidence * 100:g}% CI by OR–Hillis "
                               f"({result.mrmc_analysis}); grey: percentile bootstrap (secondary)",
                         template="plotly_white", height=420, width=980,
                         legend={"orientation": "h", "y": -0.2, "x": 0.5, "xanchor": "center"})
    return figure
