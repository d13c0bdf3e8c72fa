"""Matplotlib figures of the study report (static: PNG in the HTML, vector in the PDF).

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state,
safe in a server); nothing is shown or written here. A panel that cannot be drawn says why in
words (no DNN output, no positive cases, one reader). Only class names, reader names and numbers
are drawn.

* :func:`roc_figure`: per class the DNN's ROC curve on the study cases with its operating point
  at the threshold in use, and each reader's operating point unaided → aided (an arrow).
* :func:`reader_figure`: per class and figure of merit, each reader's unaided and aided value
  joined by a line, with the OR–Hillis reader average and its interval.
* :func:`forest_figure`: aided − unaided per class by OR–Hillis (primary), with the bootstrap
  interval (secondary) in grey.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ecgreview.record import CLASSES
from ecgreview.review.modes import AIDED, UNAIDED
from ecgreview.study.added_value import ALL_READERS, AddedValue
from ecgreview.study.figures import curve_missing_reason
from ecgreview.study.operating_points import class_curves, operating_points

__all__ = ["forest_figure", "reader_figure", "roc_figure"]

_DNN, _UNAIDED, _AIDED, _GREY = "#2c7fb8", "#d95f02", "#1b9e77", "#999999"


def _say(axes: Axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", fontsize=8, color="#555555", wrap=True,
              transform=axes.transAxes)


def _reader_points(result: AddedValue, name: str) -> dict[str, pd.DataFrame]:
    """Per mode: (reader → sensitivity, specificity) point estimates of the study's readers."""
    table = result.scores[(result.scores["class"] == name) & (result.scores["reader"] != ALL_READERS)]
    return {mode: table.pivot(index="reader", columns="score", values=mode) for mode in (UNAIDED, AIDED)}


def roc_figure(reference: pd.DataFrame, probabilities: pd.DataFrame, result: AddedValue, *,
               thresholds: Sequence[float]) -> Figure:
    """The DNN's ROC per class with its operating point, and the readers' unaided → aided operating points."""
    points = operating_points(reference, probabilities, thresholds=thresholds)
    curves = class_curves(reference, probabilities)
    figure = Figure(figsize=(11.0, 7.2), layout="constrained")
    grid = figure.subplots(2, 3, sharex=True, sharey=True)
    for axes, name in zip(grid.ravel(), CLASSES):
        roc, _ = curves[name]
        row = points.loc[name]
        axes.plot([0, 1], [0, 1], color="#cccccc", linestyle=":", linewidth=0.8)
        if roc is None:
            _say(axes, curve_missing_reason(row, roc=True).replace("<br>", " ") + ": no ROC curve")
        else:
            axes.plot(roc.x, roc.y, color=_DNN, linewidth=1.3, label="DNN ROC")
            if not pd.isna(row.get("paper_sensitivity", np.nan)):
                axes.plot(1 - row["paper_specificity"], row["paper_sensitivity"], "o", color=_DNN, markersize=7,
                          markeredgecolor="black", label="DNN at its threshold")
        readers = _reader_points(result, name)
        for reader in readers[UNAIDED].index:
            before, after = readers[UNAIDED].loc[reader], readers[AIDED].loc[reader]
            if before.isna().any() or after.isna().any():
                continue
            axes.annotate("", xy=(1 - after["specificity"], after["sensitivity"]),
                          xytext=(1 - before["specificity"], before["sensitivity"]),
                          arrowprops={"arrowstyle": "->", "color": "#666666", "linewidth": 0.8})
            axes.plot(1 - before["specificity"], before["sensitivity"], "o", color=_UNAIDED, markersize=4,
                      label="reader unaided")
            axes.plot(1 - after["specificity"], after["sensitivity"], "^", color=_AIDED, markersize=5,
                      label="reader aided")
        auc = row.get("auc", np.nan)
        axes.set_title(f"{name}: AUC {'n/a' if pd.isna(auc) else f'{auc:.3f}'}, "
                       f"{int(row['positives'])} positive of {int(row['cases'])}", fontsize=9)
        axes.set_xlim(-0.02, 1.02)
        axes.set_ylim(-0.02, 1.02)
        axes.tick_params(labelsize=7)
    for axes in grid[1]:
        axes.set_xlabel("1 − specificity", fontsize=8)
    for axes in grid[:, 0]:
        axes.set_ylabel("sensitivity", fontsize=8)
    handles, labels = [], []
    for axes in grid.ravel():
        for handle, label in zip(*axes.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8, frameon=False)
    figure.suptitle("DNN ROC on the study cases; readers' operating points unaided → aided", fontsize=10)
    return figure


def reader_figure(result: AddedValue) -> Figure:
    """Per class (columns) and figure of merit (rows): each reader unaided → aided, and the OR–Hillis average."""
    figures = ("sensitivity", "specificity")
    figure = Figure(figsize=(11.0, 6.0), layout="constrained")
    grid = figure.subplots(len(figures), len(CLASSES), sharey="row")
    mrmc = result.mrmc.set_index(["class", "figure_of_merit"])
    for row_index, score in enumerate(figures):
        for column, name in enumerate(CLASSES):
            axes = grid[row_index, column]
            table = result.scores[(result.scores["class"] == name) & (result.scores["score"] == score)
                                  & (result.scores["reader"] != ALL_READERS)]
            for line in table.to_dict("records"):
                axes.plot([0, 1], [line[UNAIDED], line[AIDED]], "-o", color=_GREY, markersize=3, linewidth=0.8)
            key = (name, score)
            primary = bool(mrmc.at[key, "primary"]) if key in mrmc.index else False
            if key in mrmc.index and not mrmc.at[key, "not_computed"]:
                for x, mode, colour in ((0, UNAIDED, _UNAIDED), (1, AIDED, _AIDED)):
                    value = mrmc.at[key, mode]
                    axes.errorbar([x + (0.08 if x else -0.08)], [value], yerr=[[value - mrmc.at[key, f"{mode}_low"]],
                                                                             [mrmc.at[key, f"{mode}_high"] - value]],
                                  fmt="s", color=colour, markersize=5, capsize=3)
            elif table.empty or table[[UNAIDED, AIDED]].isna().all().all():
                _say(axes, "undefined\n(no cases of this kind)")
            axes.set_xlim(-0.3, 1.3)
            axes.set_ylim(-0.02, 1.02)
            axes.set_xticks([0, 1], ["unaided", "aided"], fontsize=7)
            axes.tick_params(axis="y", labelsize=7)
            if row_index == 0:
                axes.set_title(name + (" (primary)" if primary else ""), fontsize=9)
        grid[row_index, 0].set_ylabel(score, fontsize=8)
    figure.suptitle("Each reader unaided → aided (grey); squares: OR–Hillis reader average with its "
                    f"{result.confidence * 100:g}% CI", fontsize=10)
    return figure


def forest_figure(result: AddedValue) -> Figure:
    """aided − unaided per class and figure of merit: OR–Hillis CI (primary) and bootstrap CI (grey, secondary)."""
    figures = ("sensitivity", "specificity")
    figure = Figure(figsize=(11.0, 4.2), layout="constrained")
    grid = figure.subplots(1, len(figures), sharey=True)
    pooled = result.scores[result.scores["reader"] == ALL_READERS]
    for axes, score in zip(grid, figures):
        primary = result.mrmc[result.mrmc["figure_of_merit"] == score].set_index("class").reindex(list(CLASSES))
        secondary = pooled[pooled["score"] == score].set_index("class").reindex(list(CLASSES))
        positions = np.arange(len(CLASSES))
        for rows, offset, colour, label in ((primary, -0.12, _DNN, "OR–Hillis (primary)"),
                                            (secondary, 0.12, _GREY, "bootstrap (secondary)")):
            values = rows["difference"].to_numpy(float)
            errors = np.vstack([values - rows["difference_low"].to_numpy(float),
                                rows["difference_high"].to_numpy(float) - values])
            axes.errorbar(values, positions + offset, xerr=errors, fmt="o", color=colour, capsize=3, markersize=5,
                          label=label)
        for position, flag in zip(positions, primary["primary"].fillna(False)):
            if flag:
                axes.axhspan(position - 0.4, position + 0.4, color="#fff3c4", zorder=0)
        axes.axvline(0, color="#888888", linestyle=":", linewidth=0.8)
        axes.set_yticks(positions, list(CLASSES), fontsize=8)
        axes.invert_yaxis()
        axes.set_title(f"{score}: aided − unaided", fontsize=9)
        axes.tick_params(axis="x", labelsize=7)
    handles, labels = grid[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    figure.suptitle(f"Added value, all readers ({result.confidence * 100:g}% CIs); shaded: primary endpoints",
                    fontsize=10)
    return figure
