"""The added-value study as plain text: every number with three decimals and every interval with its method.

:func:`format_added_value` prints one run (:class:`~ecgreview.study.added_value.AddedValue`): the
primary OR–Hillis table per class (``*`` marks the plan's primary endpoints), OR–Hillis per reader,
the secondary percentile bootstrap (lines such as ``AF  unaided sens 0.700 spec 0.900 …``), the
call changes, Fleiss' kappa unaided vs aided, confidence and reading time, and the DNN and the
device alone. :func:`format_study` prints a whole :class:`~ecgreview.study.study_analysis.StudyAnalysis`:
the plan, deviations, the flow of cases and readers, each run, and the provenance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ecgreview.plural import plural
from ecgreview.record import CLASSES
from ecgreview.study.added_value import ALL_READERS, MODES, AddedValue, bootstrap_method
from ecgreview.study.added_value_mrmc import PER_READER_METHOD

if TYPE_CHECKING:
    from ecgreview.study.study_analysis import StudyAnalysis

__all__ = ["format_added_value", "format_operating_points", "format_study", "interval_text", "number_text",
           "printable"]

_SHORT = {"sensitivity": "sens", "specificity": "spec", "precision": "prec", "f1": "F1"}


def _value(value: object) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.3f}"  # type: ignore[arg-type]


def _signed(value: object) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):+.3f}"  # type: ignore[arg-type]


def number_text(value: object, *, signed: bool = False) -> str:
    """Three decimals (``signed``: with its sign); ``n/a`` where undefined."""
    return (_signed if signed else _value)(value)


def interval_text(value: object, low: object, high: object, *, signed: bool = False) -> str:
    """``"0.750 [0.650, 0.850]"`` (``signed``: ``"+0.070 [-0.010, +0.150]"``); ``n/a`` where undefined."""
    shown = _signed if signed else _value
    return f"{shown(value)} [{shown(low)}, {shown(high)}]"


def printable(text: object) -> str:
    """A name from a file, safe on one terminal line (control characters shown as ``?``)."""
    return "".join(character if character.isprintable() else "?" for character in str(text))


def _degrees(value: object) -> str:
    return "n/a" if value is None or pd.isna(value) else ("inf" if float(value) == float("inf")  # type: ignore[arg-type]
                                                          else f"{float(value):.1f}")  # type: ignore[arg-type]


def _p_value(value: object) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return "<0.001" if float(value) < 0.001 else f"{float(value):.3f}"  # type: ignore[arg-type]


def _mrmc_lines(result: AddedValue) -> list[str]:
    method = result.mrmc["ci_method"].iloc[0] if len(result.mrmc) else ""
    lines = [f"Primary analysis: aided - unaided by OR–Hillis over the {plural(len(result.readers), 'reader')} and "
             f"{plural(len(result.cases), 'case')} ({result.mrmc_analysis}) [{method}]",
             f"  {'class':6} {'figure':12} {'cases P/N':>10} {'unaided [CI]':>22} {'aided [CI]':>22} "
             f"{'aided - unaided [CI]':>25} {'df':>6} {'p':>6}"]
    for row in result.mrmc.to_dict("records"):
        mark = "* " if row["primary"] else "  "
        if row["not_computed"]:
            lines.append(f"{mark}{row['class']:6} {row['figure_of_merit']:12} {row['not_computed']}")
            continue
        cases = f"{row['positive_cases']}/{row['negative_cases']}"
        lines.append(f"{mark}{row['class']:6} {row['figure_of_merit']:12} {cases:>10} "
                     f"{interval_text(row['unaided'], row['unaided_low'], row['unaided_high']):>22} "
                     f"{interval_text(row['aided'], row['aided_low'], row['aided_high']):>22} "
                     f"{interval_text(row['difference'], row['difference_low'], row['difference_high'], signed=True):>25}"
                     f" {_degrees(row['df']):>6} {_p_value(row['p_value']):>6}")
    if result.primary_endpoints:
        lines.append("* primary endpoint of the pre-specified plan; every other row is secondary")
    elif result.label.startswith("sensitivity"):
        lines.append("a sensitivity analysis beside the pre-specified one, not in its place")
    else:
        lines.append("no pre-specified primary endpoint: every row is exploratory")
    return lines


def _mrmc_reader_lines(result: AddedValue) -> list[str]:
    if result.mrmc_readers.empty:
        return []
    lines = ["", f"Per reader, OR–Hillis [{result.confidence * 100:g}% CI, {PER_READER_METHOD}]"]
    for row in result.mrmc_readers.to_dict("records"):
        lines.append(f"  {row['class']:6} {row['figure_of_merit']:12} {printable(row['reader']):>14} "
                     f"unaided {interval_text(row['unaided'], row['unaided_low'], row['unaided_high'])} | "
                     f"aided {interval_text(row['aided'], row['aided_low'], row['aided_high'])} | diff "
                     f"{interval_text(row['difference'], row['difference_low'], row['difference_high'], signed=True)}")
    return lines


def _score_line(label: str, rows: pd.DataFrame) -> str:
    by_score = rows.set_index("score")
    sides = [f"{mode} " + " ".join(f"{_SHORT[s]} {_value(by_score.at[s, mode])}" for s in _SHORT) for mode in MODES]
    difference = " ".join(f"{_SHORT[s]} {_signed(by_score.at[s, 'difference'])} "
                          f"[{_signed(by_score.at[s, 'difference_low'])}, {_signed(by_score.at[s, 'difference_high'])}]"
                          for s in ("sensitivity", "specificity"))
    return f"{label}  {' | '.join(sides)} | diff {difference}"


def _bootstrap_lines(result: AddedValue) -> list[str]:
    lines = ["", f"Secondary: diff = aided - unaided [{bootstrap_method(result.n_resamples, result.seed, result.confidence)}]"]
    for name in CLASSES:
        rows = result.scores[result.scores["class"] == name]
        readings = int(rows["readings"].iloc[0]) if len(rows) else 0
        lines.append(_score_line(name, rows[rows["reader"] == ALL_READERS]) + f"  (n {readings})")
        for reader in result.readers:
            mine = rows[rows["reader"] == reader]
            lines.append(_score_line(f"    {printable(reader)}", mine) + f"  (n {int(mine['readings'].iloc[0])})")
    return lines


def _change_lines(result: AddedValue) -> list[str]:
    lines = ["", "Changes after seeing the DNN (pairs with a reference and a DNN call; all readers)",
             f"{'class':6} {'pairs':>6} {'changed':>8} {'to DNN':>7} {'helpful':>8} {'autom.bias':>10} "
             f"{'away':>5} {'other':>6} | agree with wrong DNN: unaided aided"]
    for row in result.changes[result.changes["reader"] == ALL_READERS].to_dict("records"):
        lines.append(f"{row['class']:6} {row['pairs']:>6} {row['changed']:>8} {row['towards_dnn']:>7} "
                     f"{row['helpful']:>8} {row['automation_bias']:>10} {row['away_from_dnn']:>5} "
                     f"{row['other_changes']:>6} | {row['agreed_wrong_dnn_unaided']}/{row['dnn_wrong']} = "
                     f"{_value(row['agreement_wrong_dnn_unaided'])}  {row['agreed_wrong_dnn_aided']}/"
                     f"{row['dnn_wrong']} = {_value(row['agreement_wrong_dnn_aided'])}")
    return lines


def _agreement_lines(result: AddedValue) -> list[str]:
    if result.agreement.empty:
        return ["", f"Fleiss' kappa: not computed ({plural(len(result.readers), 'reader')}; it needs three or more)"]
    lines = ["", f"Inter-reader agreement, Fleiss' kappa unaided vs aided [{result.agreement['ci_method'].iloc[0]}]"]
    table = result.agreement.set_index(["class", "mode"])
    for name in CLASSES:
        sides = [f"{mode} {interval_text(*table.loc[(name, mode), ['kappa', 'ci_low', 'ci_high']])} "
                 f"(n {table.at[(name, mode), 'cases']})" for mode in MODES]
        lines.append(f"{name:6} " + " | ".join(sides))
    return lines


def _time_lines(result: AddedValue) -> list[str]:
    lines = ["", "Confidence (1-5) and reading time (s): mean / median, unaided vs aided"]
    for row in result.confidence_time.to_dict("records"):
        lines.append(f"{printable(row['reader']):>12} {row['measure']:<15} unaided {_value(row['unaided_mean'])} / "
                     f"{_value(row['unaided_median'])} (n {row['unaided_n']}) | aided {_value(row['aided_mean'])} / "
                     f"{_value(row['aided_median'])} (n {row['aided_n']}) | mean diff "
                     f"{_signed(row['mean_difference'])} (n {row['paired_n']})")
    return lines


def format_added_value(result: AddedValue) -> str:
    """One run as text (three decimals; ``n/a`` = undefined, zero denominator)."""
    percent = f"{result.confidence * 100:g}%"
    lines = [f"Added value: unaided vs aided reading{f' - {result.label}' if result.label else ''}. Reference: "
             f"{result.reference_label or 'as given'}; {plural(len(result.cases), 'case')}, "
             f"{plural(len(result.readers), 'reader')}; "
             f"uncertain counted as {result.uncertain_as}", ""]
    lines += _mrmc_lines(result) + _mrmc_reader_lines(result) + _bootstrap_lines(result) + _change_lines(result)
    lines += _agreement_lines(result) + _time_lines(result)
    lines += ["", f"DNN and device alone on the same cases [{percent} CI: percentile bootstrap over cases]"]
    for row in result.alone.to_dict("records"):
        scores = " ".join(f"{_SHORT[s]} {interval_text(row.get(s), row.get(f'{s}_low'), row.get(f'{s}_high'))}"
                          for s in ("sensitivity", "specificity"))
        lines.append(f"{row['class']}  {row['source']} {scores}  (n {row['cases']})")
    lines += [f"note: {printable(note)}" for note in result.notes]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def format_operating_points(table: pd.DataFrame) -> str:
    """:func:`~ecgreview.study.operating_points.operating_points` as text (Wilson CIs)."""
    lines = ["Operating points of the DNN (95% CI: Wilson score; the site threshold is shown, never applied)"]
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


def format_study(analysis: StudyAnalysis) -> str:
    """A whole study: plan (or its absence), deviations, flow, every run, provenance."""
    lines = [f"Reader study: {analysis.title}; analysed {analysis.analysed_at_utc}", ""]
    if analysis.plan is None:
        lines.append("No pre-specified analysis plan: every result below is exploratory.")
    else:
        lines += ["Analysis plan (frozen before reading):", *(f"  {item}" for item in analysis.plan.describe())]
    lines += [f"Deviation from the plan: {printable(item)}" for item in analysis.deviations]
    lines += ["", "Flow of cases and readers"]
    lines += [f"  {printable(row.stage)}: {row.count}" + (f" ({printable(row.detail)})" if row.detail else "")
              for row in analysis.flow.itertuples()]
    for run in analysis.runs:
        lines += ["", "=" * 100, format_added_value(run).rstrip()]
    lines += ["", "Provenance"]
    lines += [f"  {row.item}: {printable(row.value)}" + ("" if pd.isna(row.readings) else f" ({int(row.readings)} readings)")
              for row in analysis.provenance.itertuples()]
    return "\n".join(lines) + "\n"
