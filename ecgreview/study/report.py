"""Text report and files of the added-value analysis (``evaluate --added-value``).

:func:`format_added_value` prints every score with three decimals, e.g.
``AF  unaided sens 0.700 spec 0.900 prec 0.875 F1 0.778 | aided sens 0.900 spec 0.950 ...``,
then the aided − unaided differences with their CIs, the call changes, confidence and
reading time, and the DNN and the device alone on the same cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.study._export import write_table
from ecgreview.study.added_value import ALL_READERS, MODES, AddedValue

__all__ = ["format_added_value", "format_operating_points", "load_added_value",
           "study_operating_points", "study_roc_figure", "write_added_value_outputs"]

_SHORT = {"sensitivity": "sens", "specificity": "spec", "precision": "prec", "f1": "F1"}


def _value(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.3f}"


def _signed(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):+.3f}"


def _printable(text: str) -> str:
    """A name from a file, safe on one terminal line (control characters shown as ``?``)."""
    return "".join(character if character.isprintable() else "?" for character in str(text))


def _score_line(label: str, rows: pd.DataFrame) -> str:
    by_score = rows.set_index("score")
    sides = [f"{mode} " + " ".join(f"{_SHORT[s]} {_value(by_score.at[s, mode])}" for s in _SHORT) for mode in MODES]
    difference = " ".join(f"{_SHORT[s]} {_signed(by_score.at[s, 'difference'])} "
                          f"[{_signed(by_score.at[s, 'difference_low'])}, {_signed(by_score.at[s, 'difference_high'])}]"
                          for s in ("sensitivity", "specificity"))
    return f"{label}  {' | '.join(sides)} | diff {difference}"


def format_added_value(result: AddedValue) -> str:
    """The whole analysis as text (three decimals; ``n/a`` = undefined, zero denominator)."""
    percent = f"{result.confidence * 100:g} %"
    lines = [f"Added value: unaided vs aided reading. Reference: {result.reference_label or 'as given'}; "
             f"{len(result.cases)} cases, {len(result.readers)} readers; uncertain counted as {result.uncertain_as}",
             f"diff = aided - unaided [{percent} CI: percentile bootstrap, {result.n_resamples} resamples of cases and "
             f"readers (per reader: cases), seed {result.seed}]", ""]
    for name in CLASSES:
        rows = result.scores[result.scores["class"] == name]
        readings = int(rows["readings"].iloc[0]) if len(rows) else 0
        lines.append(_score_line(name, rows[rows["reader"] == ALL_READERS]) + f"  (n {readings})")
        for reader in result.readers:
            mine = rows[rows["reader"] == reader]
            lines.append(_score_line(f"    {_printable(reader)}", mine) + f"  (n {int(mine['readings'].iloc[0])})")
    lines += ["", "Changes after seeing the DNN (pairs with a reference and a DNN call; all readers)",
              f"{'class':6} {'pairs':>6} {'changed':>8} {'to DNN':>7} {'helpful':>8} {'autom.bias':>10} "
              f"{'away':>5} {'other':>6} | agree with wrong DNN: unaided aided"]
    changes = result.changes[result.changes["reader"] == ALL_READERS]
    for row in changes.itertuples():
        lines.append(f"{row[1]:6} {row.pairs:>6} {row.changed:>8} {row.towards_dnn:>7} {row.helpful:>8} "
                     f"{row.automation_bias:>10} {row.away_from_dnn:>5} {row.other_changes:>6} | "
                     f"{row.agreed_wrong_dnn_unaided}/{row.dnn_wrong} = {_value(row.agreement_wrong_dnn_unaided)}  "
                     f"{row.agreed_wrong_dnn_aided}/{row.dnn_wrong} = {_value(row.agreement_wrong_dnn_aided)}")
    lines += ["", "Confidence (1-5) and reading time (s): mean / median, unaided vs aided"]
    for row in result.confidence_time.itertuples():
        lines.append(f"{_printable(row.reader):>12} {row.measure:<15} unaided {_value(row.unaided_mean)} / "
                     f"{_value(row.unaided_median)} (n {row.unaided_n}) | aided {_value(row.aided_mean)} / "
                     f"{_value(row.aided_median)} (n {row.aided_n}) | mean diff {_signed(row.mean_difference)} "
                     f"(n {row.paired_n})")
    lines += ["", f"DNN and device alone on the same cases [{percent} CI: bootstrap over cases]"]
    for row in result.alone.to_dict("records"):
        scores = " ".join(f"{_SHORT[s]} {_value(row.get(s))} [{_value(row.get(f'{s}_low'))}, "
                          f"{_value(row.get(f'{s}_high'))}]" for s in ("sensitivity", "specificity"))
        lines.append(f"{row['class']}  {row['source']} {scores}  (n {row['cases']})")
    lines += [f"note: {_printable(note)}" for note in result.notes]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def format_operating_points(table: pd.DataFrame) -> str:
    """:func:`~ecgreview.study.operating_points.operating_points` as text (Wilson CIs)."""
    lines = ["Operating points of the DNN (Wilson 95 % CIs; the site threshold is shown, never applied)"]
    for name, row in table.iterrows():
        def rate(prefix: str, score: str) -> str:
            return (f"{score[:4]} {_value(row.get(f'{prefix}_{score}'))} [{_value(row.get(f'{prefix}_{score}_low'))}, "
                    f"{_value(row.get(f'{prefix}_{score}_high'))}]")

        site = (f"t {_value(row.get('site_threshold'))} for sens >= {row['target_sensitivity']:g}: "
                f"{rate('site', 'sensitivity')} {rate('site', 'specificity')}")
        lines.append(f"{name}  AUC {_value(row.get('auc'))} AP {_value(row.get('average_precision'))} | paper "
                     f"t {row['paper_threshold']:g}: {rate('paper', 'sensitivity')} {rate('paper', 'specificity')} | "
                     f"{site}  (n {int(row['cases'])}, P {int(row['positives'])})")
    return "\n".join(lines) + "\n"


def load_added_value(
    review_csvs: str | Path | Sequence[str | Path], *, reference: str | Path = "consensus",
    possible_counts_as_positive: bool = True, **options: object,
) -> tuple[object, AddedValue]:
    """Load the cohort of ``review_csvs`` (:func:`~ecgreview.study.cohort.load_cohort`) and analyse its study rows.

    ``options`` go to :func:`~ecgreview.study.added_value.analyse_added_value`
    (``uncertain_as``, ``n_resamples``, ``confidence``, ``seed``).

    Returns
    -------
    (Cohort, AddedValue)

    Raises
    ------
    ReviewStoreError, EcgReviewError
        As :func:`~ecgreview.study.cohort.load_cohort`.
    ValueError
        A bad reference or option, or no unaided/aided pair.
    """
    from ecgreview.study.added_value import analyse_cohort_added_value
    from ecgreview.study.cohort import _read_all, load_cohort

    paths = [review_csvs] if isinstance(review_csvs, (str, Path)) else list(review_csvs)
    cohort = load_cohort(paths, reference=reference, possible_counts_as_positive=possible_counts_as_positive)
    rows, _ = _read_all(paths)
    return cohort, analyse_cohort_added_value(rows, cohort, **options)


def study_operating_points(cohort: object, result: AddedValue, *, target_sensitivity: float = 0.9) -> pd.DataFrame:
    """:func:`~ecgreview.study.operating_points.operating_points` of the DNN on the study's cases,
    at the paper's thresholds (:data:`~ecgreview.record.THRESHOLDS`)."""
    from ecgreview.study.operating_points import operating_points

    cases = list(result.cases)
    return operating_points(cohort.reference.reindex(cases), cohort.probabilities.reindex(cases),  # type: ignore[attr-defined]
                            thresholds=THRESHOLDS, target_sensitivity=target_sensitivity)


def study_roc_figure(cohort: object, result: AddedValue, *, target_sensitivity: float = 0.9) -> go.Figure:
    """:func:`~ecgreview.study.figures.roc_figure` of the DNN on the study's cases (paper thresholds marked)."""
    from ecgreview.study.figures import roc_figure

    cases = list(result.cases)
    return roc_figure(cohort.reference.reindex(cases), cohort.probabilities.reindex(cases),  # type: ignore[attr-defined]
                      thresholds=THRESHOLDS, target_sensitivity=target_sensitivity,
                      title=f"DNN on the {len(cases)} study cases; reference: {result.reference_label}")


def write_added_value_outputs(result: AddedValue, cohort: object, out_dir: str | Path, *,
                              target_sensitivity: float = 0.9) -> list[str]:
    """Write added_value.txt/.csv, added_value_counts.csv, changes.csv, confidence_time.csv,
    alone.csv, operating_points.csv, roc.html and added_value.html; returns the file names."""
    from ecgreview.study.figures import added_value_figure

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in (("added_value.csv", result.scores), ("added_value_counts.csv", result.counts),
                        ("changes.csv", result.changes), ("confidence_time.csv", result.confidence_time),
                        ("alone.csv", result.alone)):
        write_table(table, folder / name)
    points = study_operating_points(cohort, result, target_sensitivity=target_sensitivity)
    write_table(points, folder / "operating_points.csv", index=True)
    in_use = tuple(cohort.thresholds)  # type: ignore[attr-defined]
    note = "" if in_use == tuple(THRESHOLDS) else (
        "note: the reviews used thresholds " + ", ".join(f"{name} {t:g}" for name, t in zip(CLASSES, in_use))
        + "; the DNN calls above use them, the operating points the paper's\n")
    (folder / "added_value.txt").write_text(format_added_value(result) + "\n" + format_operating_points(points) + note,
                                            encoding="utf-8")
    study_roc_figure(cohort, result, target_sensitivity=target_sensitivity).write_html(
        folder / "roc.html", include_plotlyjs=True)
    added_value_figure(result).write_html(folder / "added_value.html", include_plotlyjs=True)
    return ["added_value.txt", "added_value.csv", "added_value_counts.csv", "changes.csv", "confidence_time.csv",
            "alone.csv", "operating_points.csv", "roc.html", "added_value.html"]
