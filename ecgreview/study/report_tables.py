"""The added-value study's tables as people read them: text cells, three decimals, ``estimate [low, high]``.

Shared by the study report (:mod:`ecgreview.study.study_report`: HTML and PDF) and the Cohort
page, so both show the same cells. Every function takes an
:class:`~ecgreview.study.added_value.AddedValue` (or the operating points) and returns a
DataFrame of strings and whole numbers; the interval's method is in the caption the caller
prints (:func:`mrmc_caption`, :func:`~ecgreview.study.added_value.bootstrap_method`).
"""

from __future__ import annotations

import pandas as pd

from ecgreview.record import CLASSES
from ecgreview.study.added_value import ALL_READERS, MODES, AddedValue, bootstrap_method
from ecgreview.study.added_value_mrmc import PER_READER_METHOD
from ecgreview.study.report_text import interval_text, number_text

__all__ = ["agreement_table", "alone_table", "bootstrap_caption", "bootstrap_table", "changes_table", "mrmc_caption",
           "mrmc_table", "operating_points_table", "reader_caption", "reader_table", "time_table"]


def _degrees(value: object) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return "∞ (normal)" if float(value) == float("inf") else f"{float(value):.1f}"  # type: ignore[arg-type]


def _p_value(value: object) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"  # type: ignore[arg-type]


def mrmc_caption(result: AddedValue) -> str:
    """The method of the OR–Hillis intervals, for the caption of :func:`mrmc_table`."""
    method = result.mrmc["ci_method"].iloc[0] if len(result.mrmc) else "OR–Hillis"
    return (f"{method}. Unaided and aided: reader-averaged, each with the interval from its own mode's readings; "
            "df: denominator degrees of freedom of the t interval (∞: normal).")


def mrmc_table(result: AddedValue, *, primary: bool | None = None) -> pd.DataFrame:
    """OR–Hillis per class and figure of merit; ``primary`` True/False keeps only those rows (None: all)."""
    rows = []
    kind = "secondary" if result.primary_endpoints else (
        "sensitivity analysis" if result.label.startswith("sensitivity") else "exploratory")
    for row in result.mrmc.to_dict("records"):
        if primary is not None and bool(row["primary"]) != primary:
            continue
        cells: dict[str, object] = {"class": row["class"], "figure of merit": row["figure_of_merit"],
                                    "endpoint": "primary" if row["primary"] else kind,
                                    "readers": row["readers"], "cases (positive/negative)":
                                    f"{row['cases']} ({row['positive_cases']}/{row['negative_cases']})"}
        if row["not_computed"]:
            rows.append(cells | {"unaided [CI]": row["not_computed"]})
            continue
        for mode in MODES:
            cells[f"{mode} [CI]"] = interval_text(row[mode], row[f"{mode}_low"], row[f"{mode}_high"])
            cells[f"{mode} df"] = _degrees(row[f"{mode}_df"])
        cells |= {"aided − unaided [CI]": interval_text(row["difference"], row["difference_low"],
                                                         row["difference_high"], signed=True),
                  "df": _degrees(row["df"]), "p": _p_value(row["p_value"])}
        rows.append(cells)
    columns = ["class", "figure of merit", "endpoint", "readers", "cases (positive/negative)", "unaided [CI]",
               "unaided df", "aided [CI]", "aided df", "aided − unaided [CI]", "df", "p"]
    return pd.DataFrame(rows, columns=columns).astype(object).fillna("")


def reader_table(result: AddedValue) -> pd.DataFrame:
    """OR–Hillis per reader (normal intervals from the case covariance): caption ``PER_READER_METHOD``."""
    rows = [{"class": row["class"], "figure of merit": row["figure_of_merit"], "reader": row["reader"],
             "unaided [CI]": interval_text(row["unaided"], row["unaided_low"], row["unaided_high"]),
             "aided [CI]": interval_text(row["aided"], row["aided_low"], row["aided_high"]),
             "aided − unaided [CI]": interval_text(row["difference"], row["difference_low"], row["difference_high"],
                                                   signed=True), "p": _p_value(row["p_value"])}
            for row in result.mrmc_readers.to_dict("records")]
    return pd.DataFrame(rows, columns=["class", "figure of merit", "reader", "unaided [CI]", "aided [CI]",
                                       "aided − unaided [CI]", "p"])


def reader_caption(result: AddedValue) -> str:
    """The method of :func:`reader_table`'s intervals."""
    return f"{result.confidence * 100:g}% CI, {PER_READER_METHOD}."


def bootstrap_table(result: AddedValue, *, reader: str = ALL_READERS,
                    scores: tuple[str, ...] = ("sensitivity", "specificity", "precision", "f1")) -> pd.DataFrame:
    """The secondary percentile-bootstrap scores of one reader (default: all readers pooled)."""
    table = result.scores[(result.scores["reader"] == reader) & result.scores["score"].isin(scores)]
    rows = [{"class": row["class"], "score": row["score"], "readings": row["readings"],
             "unaided [CI]": interval_text(row["unaided"], row["unaided_low"], row["unaided_high"]),
             "aided [CI]": interval_text(row["aided"], row["aided_low"], row["aided_high"]),
             "aided − unaided [CI]": interval_text(row["difference"], row["difference_low"], row["difference_high"],
                                                   signed=True)} for row in table.to_dict("records")]
    return pd.DataFrame(rows, columns=["class", "score", "readings", "unaided [CI]", "aided [CI]",
                                       "aided − unaided [CI]"])


def bootstrap_caption(result: AddedValue) -> str:
    """The method of :func:`bootstrap_table`'s intervals."""
    return bootstrap_method(result.n_resamples, result.seed, result.confidence) + "."


def changes_table(result: AddedValue, *, reader: str = ALL_READERS) -> pd.DataFrame:
    """Calls changed after seeing the DNN: helpful (towards a right DNN) vs automation bias (towards a wrong one)."""
    rows = []
    for row in result.changes[result.changes["reader"] == reader].to_dict("records"):
        wrong = row["dnn_wrong"]
        rows.append({"class": row["class"], "pairs": row["pairs"], "changed": row["changed"],
                     "towards the DNN": row["towards_dnn"], "helpful": row["helpful"],
                     "automation bias": row["automation_bias"], "away from the DNN": row["away_from_dnn"],
                     "other": row["other_changes"],
                     "agreed with a wrong DNN, unaided": f"{row['agreed_wrong_dnn_unaided']}/{wrong}",
                     "agreed with a wrong DNN, aided": f"{row['agreed_wrong_dnn_aided']}/{wrong}"})
    return pd.DataFrame(rows)


def agreement_table(result: AddedValue) -> pd.DataFrame:
    """Fleiss' kappa per class, unaided beside aided (empty with fewer than three readers)."""
    if result.agreement.empty:
        return pd.DataFrame(columns=["class", "unaided kappa [CI]", "unaided cases", "aided kappa [CI]", "aided cases"])
    table = result.agreement.set_index(["class", "mode"])
    rows = []
    for name in CLASSES:
        row: dict[str, object] = {"class": name}
        for mode in MODES:
            line = table.loc[(name, mode)]
            row |= {f"{mode} kappa [CI]": interval_text(line["kappa"], line["ci_low"], line["ci_high"]),
                    f"{mode} cases": int(line["cases"])}
        rows.append(row)
    return pd.DataFrame(rows)


def time_table(result: AddedValue) -> pd.DataFrame:
    """Confidence (1–5) and reading time (s), all readers: mean and median per mode, paired mean difference."""
    rows = []
    for row in result.confidence_time[result.confidence_time["reader"] == ALL_READERS].to_dict("records"):
        rows.append({"measure": row["measure"], **{f"{mode} mean / median (n)": (
            f"{number_text(row[f'{mode}_mean'])} / {number_text(row[f'{mode}_median'])} ({row[f'{mode}_n']})")
            for mode in MODES}, "mean difference (pairs)": f"{number_text(row['mean_difference'], signed=True)} "
                                                           f"({row['paired_n']})"})
    return pd.DataFrame(rows)


def alone_table(result: AddedValue) -> pd.DataFrame:
    """The DNN and the device alone on the study cases (percentile bootstrap over cases)."""
    rows = [{"class": row["class"], "source": row["source"], "cases": row["cases"],
             **{f"{score} [CI]": interval_text(row.get(score), row.get(f"{score}_low"), row.get(f"{score}_high"))
                for score in ("sensitivity", "specificity", "precision")}} for row in result.alone.to_dict("records")]
    return pd.DataFrame(rows)


def operating_points_table(points: pd.DataFrame) -> pd.DataFrame:
    """The DNN's AUC and its sensitivity/specificity at the paper's threshold (Wilson score intervals)."""
    rows = []
    for name, row in points.iterrows():
        rows.append({"class": name, "cases (positive)": f"{int(row['cases'])} ({int(row['positives'])})",
                     "AUC": number_text(row.get("auc")),
                     "threshold": f"{row['paper_threshold']:g}",
                     **{f"{score} [CI]": interval_text(row.get(f"paper_{score}"), row.get(f"paper_{score}_low"),
                                                       row.get(f"paper_{score}_high"))
                        for score in ("sensitivity", "specificity")}})
    return pd.DataFrame(rows)
