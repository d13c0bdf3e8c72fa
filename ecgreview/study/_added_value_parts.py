"""Tables of the added-value study beside the scores: call changes, confidence and reading time, the DNN and
the device alone. Private: :func:`ecgreview.study.added_value.analyse_added_value` documents them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecgreview.record import CLASSES
from ecgreview.review.modes import STUDY_ROW_MODES
from ecgreview.study.metrics import SCORE_NAMES, bootstrap_ci, score_table

MODES: tuple[str, ...] = STUDY_ROW_MODES
#: The pooled row of every per-reader table.
ALL_READERS = "all readers"


def call_changes(pairs: pd.DataFrame, reference: pd.DataFrame, dnn_calls: pd.DataFrame,
             readers: Sequence[str]) -> pd.DataFrame:
    rows = []
    cases = pairs.index.get_level_values("source_sha256")
    for name in CLASSES:
        truth = reference[name].reindex(cases).to_numpy(float)
        dnn_values = dnn_calls[name].reindex(cases).to_numpy(float) if name in dnn_calls else np.full(len(cases), np.nan)
        dnn = np.where(dnn_values == 1, "present", np.where(dnn_values == 0, "absent", ""))
        before, after = pairs[f"unaided_{name}"].to_numpy(str), pairs[f"aided_{name}"].to_numpy(str)
        usable = ~np.isnan(truth) & (dnn != "")
        dnn_right = dnn_values == truth
        towards = (after == dnn) & (before != dnn) & usable
        away = (before == dnn) & (after != dnn) & usable
        changed = (before != after) & usable
        wrong = usable & ~dnn_right
        flags = {"pairs": usable, "changed": changed, "towards_dnn": towards, "helpful": towards & dnn_right,
                 "automation_bias": towards & ~dnn_right, "away_from_dnn": away,
                 "other_changes": changed & ~towards & ~away, "dnn_wrong": wrong,
                 "agreed_wrong_dnn_unaided": wrong & (before == dnn), "agreed_wrong_dnn_aided": wrong & (after == dnn)}
        owner = pairs.index.get_level_values("reader").to_numpy()
        for reader in [ALL_READERS, *readers]:
            mine = np.ones(len(owner), bool) if reader == ALL_READERS else owner == reader
            tallies = {key: int((mask & mine).sum()) for key, mask in flags.items()}
            row: dict[str, object] = {"class": name, "reader": reader, **tallies}
            row["change_rate"] = tallies["changed"] / tallies["pairs"] if tallies["pairs"] else np.nan
            for mode in MODES:
                agreed = tallies[f"agreed_wrong_dnn_{mode}"]
                row[f"agreement_wrong_dnn_{mode}"] = agreed / tallies["dnn_wrong"] if tallies["dnn_wrong"] else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def confidence_and_time(pairs: pd.DataFrame, readers: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    rows, notes = [], []
    owner = pairs.index.get_level_values("reader").to_numpy()
    for measure in ("confidence", "reading_time_s"):
        values = {mode: pd.to_numeric(pairs[f"{mode}_{measure}"].replace("", np.nan), errors="coerce").to_numpy(float)
                  for mode in MODES}
        bounds = (1, 5) if measure == "confidence" else (0, np.inf)
        for mode in MODES:
            outside = ~np.isnan(values[mode]) & ((values[mode] < bounds[0]) | (values[mode] > bounds[1]))
            if outside.any():
                notes.append(f"{measure}: {int(outside.sum())} {mode} value(s) outside {bounds[0]}..{bounds[1]} left out")
            values[mode] = np.where(outside, np.nan, values[mode])
        both = ~np.isnan(values["unaided"]) & ~np.isnan(values["aided"])
        for reader in [ALL_READERS, *readers]:
            mine = np.ones(len(owner), bool) if reader == ALL_READERS else owner == reader
            row: dict[str, object] = {"reader": reader, "measure": measure}
            for mode in MODES:
                chosen = values[mode][mine & ~np.isnan(values[mode])]
                row |= {f"{mode}_n": len(chosen), f"{mode}_mean": float(chosen.mean()) if len(chosen) else np.nan,
                        f"{mode}_median": float(np.median(chosen)) if len(chosen) else np.nan}
            paired = mine & both
            row |= {"paired_n": int(paired.sum()), "mean_difference": float(
                (values["aided"][paired] - values["unaided"][paired]).mean()) if paired.any() else np.nan}
            rows.append(row)
    return pd.DataFrame(rows), notes


def alone_scores(reference: pd.DataFrame, sources: dict[str, pd.DataFrame], cases: Sequence[str], *,
           n_resamples: int, confidence: float, seed: int | None) -> pd.DataFrame:
    rows = []
    for name in CLASSES:
        truth = reference[name].reindex(list(cases))
        for source, calls in sources.items():
            predicted = calls[name].reindex(list(cases)) if name in calls else pd.Series(np.nan, index=list(cases))
            usable = truth.notna() & predicted.notna()
            row: dict[str, object] = {"class": name, "source": source, "cases": int(usable.sum())}
            if usable.any():
                y_true, y_pred = truth[usable].to_numpy(int), predicted[usable].to_numpy(int)
                row |= score_table(y_true, {source: y_pred}, class_names=[name]).iloc[0].to_dict()
                intervals = bootstrap_ci(y_true, y_pred, n_resamples=n_resamples, confidence=confidence, seed=seed)
                row |= {f"{score}_{side}": float(getattr(intervals, side)[score])
                        for score in SCORE_NAMES for side in ("low", "high")}
            rows.append(row)
    return pd.DataFrame(rows)
