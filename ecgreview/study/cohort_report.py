"""Reports on a :class:`~ecgreview.study.cohort.Cohort`: Table 1, Figure 1, kappa, discordant cases, the CLI.

Agreement: Cohen's kappa per pair of readers and Fleiss' kappa of all readers (three or more), each
with its interval (:mod:`ecgreview.study.agreement` names the methods).

Loading lives in :mod:`ecgreview.study.cohort` (see its docstring for the reference and the
device opinion), which re-exports every public name here. Every metric comes from
:mod:`ecgreview.study.metrics` or :mod:`ecgreview.study.agreement`; nothing here re-implements one.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ecgreview.device.statements import map_statements
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES, dnn_calls
from ecgreview.review.consensus import calls_disagree
from ecgreview.security.spreadsheet import write_csv
from ecgreview.study.cohort import _DECIDED, _KEYS, BUILT_IN, DNN, PUBLISHED, Cohort, _calls
from ecgreview.study.compare import load_probabilities
from ecgreview.study.agreement import COHEN_CI_METHOD, FLEISS_CI_METHOD, cohen_kappa, fleiss_kappa
from ecgreview.study.metrics import SCORE_NAMES, score_table

__all__ = ["cohort_table", "discordant_cases", "format_table", "inter_reader_fleiss_kappa", "inter_reader_kappa",
           "probability_figure", "table_title", "unmapped_statements"]

_COUNT_COLUMNS = ("positives", "true_positives", "false_positives", "false_negatives", "true_negatives")


def _published_calls(cohort: Cohort, published: str | Path) -> pd.DataFrame:
    """1.0/0.0 calls (:func:`~ecgreview.record.dnn_calls`, the paper's thresholds) of a published-DNN CSV keyed by
    source_sha256 or case_pseudonym."""
    source = load_probabilities(published)
    keys = pd.read_csv(source.path, dtype=str, keep_default_na=False) if source.path.suffix.lower() == ".csv" else None
    key = next((k for k in _KEYS if keys is not None and k in keys.columns), None)
    if key is None or keys is None:
        raise EcgReviewError(source.path, f"needs a {' or '.join(_KEYS)} column to match the reviewed cases")
    calls = pd.DataFrame(dnn_calls(source.probabilities), columns=list(CLASSES), dtype=float)
    calls.index = keys[key].str.strip().str.lower() if key == "source_sha256" else keys[key].str.strip()
    lookup = cohort.cases.index if key == "source_sha256" else cohort.cases["case_pseudonym"]
    return calls[~calls.index.duplicated(keep="last")].reindex(lookup).set_axis(cohort.cases.index)


def cohort_table(cohort: Cohort, *, published: str | Path | None = None) -> pd.DataFrame:
    """Table 1: counts and scores per class and source against the cohort's reference.

    Each (class, source) row uses the cases with both a reference and a call from that source.

    Parameters
    ----------
    cohort : Cohort
    published : path, optional
        Published-DNN probabilities (CSV with ``prob_<class>`` or class columns and a
        ``source_sha256`` or ``case_pseudonym`` column); adds a ``published DNN`` source.

    Returns
    -------
    pandas.DataFrame
        Index (class, source); columns ``cases`` (evaluated), ``no_call`` (reference but no
        call), the counts and scores of :func:`~ecgreview.study.metrics.score_table`, and
        ``undefined`` (names of scores with a zero denominator, NaN there).
    """
    sources = {BUILT_IN: cohort.device_calls, DNN: cohort.dnn_calls}
    if published is not None:
        sources[PUBLISHED] = _published_calls(cohort, published)
    reference, rows = cohort.reference, []
    for name in CLASSES:
        for source, calls in sources.items():
            usable = reference[name].notna() & calls[name].notna()
            counts = {"cases": int(usable.sum()), "no_call": int((reference[name].notna() & ~usable).sum())}
            if usable.any():
                scored = score_table(reference.loc[usable, name].to_numpy(int),
                                     {source: calls.loc[usable, name].to_numpy(int)}, class_names=[name])
                rows.append({"class": name, "source": source, **counts, **scored.iloc[0].to_dict()})
            else:
                rows.append({"class": name, "source": source, **counts, **dict.fromkeys(_COUNT_COLUMNS, 0),
                             **dict.fromkeys(SCORE_NAMES, np.nan), "undefined": ", ".join(SCORE_NAMES)})
    table = pd.DataFrame(rows).set_index(["class", "source"])
    return table.astype({column: int for column in ("cases", "no_call", *_COUNT_COLUMNS)})


_FORMAT = (("cases", "n", 4), ("positives", "P", 4), ("false_positives", "FP", 4), ("false_negatives", "FN", 4),
           ("f1", "F1", 6), ("sensitivity", "Sens", 6), ("specificity", "Spec", 6), ("precision", "Prec", 6))


def format_table(table: pd.DataFrame, *, title: str = "Table 1", notes: Sequence[str] = ()) -> str:
    """Table 1 as text: one line per class, a column group (n P FP FN F1 Sens Spec Prec) per source.

    Undefined scores print as ``n/a`` and are listed under the table with their names.
    """
    sources = list(dict.fromkeys(table.index.get_level_values("source")))
    group_width = sum(width + 1 for _, _, width in _FORMAT)
    lines = [title, f"{'':8}" + "".join(f" | {source:<{group_width - 1}}" for source in sources),
             f"{'Class':8}" + "".join(
                 " | " + " ".join(f"{label:>{width}}" for _, label, width in _FORMAT) for _ in sources)]
    undefined: dict[str, list[str]] = {}
    for name in dict.fromkeys(table.index.get_level_values("class")):
        cells = []
        for source in sources:
            row = table.loc[(name, source)]
            cells.append(" ".join(f"{_cell(row[column]):>{width}}" for column, _, width in _FORMAT))
            if row["undefined"]:
                undefined.setdefault(row["undefined"], []).append(f"{name} {source}")
        lines.append(f"{name:8}" + "".join(f" | {cell}" for cell in cells))
    lines += [f"n/a = undefined (zero denominator): {scores} for {', '.join(rows)}" for scores, rows in undefined.items()]
    return "\n".join(line.rstrip() for line in [*lines, *notes]) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return "n/a" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def inter_reader_kappa(cohort: Cohort, *, confidence: float = 0.95) -> pd.DataFrame:
    """Cohen's kappa per pair of readers and class, over cases both decided (not ``uncertain``), with its CI.

    Returns
    -------
    pandas.DataFrame
        Columns reader_a, reader_b, class, cases, observed_agreement, chance_agreement, kappa,
        standard_error, ci_low, ci_high (Wald, :data:`~ecgreview.study.agreement.COHEN_CI_METHOD`),
        ci_method and undefined (the reason, or ``""``); no rows with fewer than two readers.
    """
    columns = ["reader_a", "reader_b", "class", "cases", "observed_agreement", "chance_agreement", "kappa",
               "standard_error", "ci_low", "ci_high", "ci_method", "undefined"]
    rows = []
    calls = _calls(cohort.readings.set_index(["source_sha256", "reader"]))
    for first, second in itertools.combinations(cohort.readers, 2):
        pair = calls.xs(first, level="reader").join(calls.xs(second, level="reader"), how="inner", suffixes=("", "_b"))
        for name in CLASSES:
            both = pair[pair[name].isin(_DECIDED) & pair[f"{name}_b"].isin(_DECIDED)]
            row = {"reader_a": first, "reader_b": second, "class": name, "cases": len(both),
                   **dict.fromkeys(columns[4:10], np.nan), "ci_method": COHEN_CI_METHOD,
                   "undefined": "no cases decided by both"}
            if len(both):
                result = cohen_kappa((both[name] == "present").to_numpy(int), (both[f"{name}_b"] == "present").to_numpy(int),
                                     confidence=confidence)
                row |= {column: float(getattr(result, column)) for column in columns[4:10]}
                row["undefined"] = "chance agreement is 1 (one label throughout)" if result.undefined else ""
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def inter_reader_fleiss_kappa(cohort: Cohort, *, confidence: float = 0.95, n_resamples: int = 2000,
                              seed: int | None = 0) -> pd.DataFrame:
    """Fleiss' kappa of all readers per class, over the cases every reader decided (not ``uncertain``).

    The interval is a percentile bootstrap over those cases
    (:data:`~ecgreview.study.agreement.FLEISS_CI_METHOD`), ``n_resamples`` resamples from ``seed``.

    Returns
    -------
    pandas.DataFrame
        Columns class, readers, cases, observed_agreement, chance_agreement, kappa, ci_low,
        ci_high, ci_method and undefined (the reason, or ``""``); no rows with fewer than three
        readers (two readers: see :func:`inter_reader_kappa`).
    """
    columns = ["class", "readers", "cases", "observed_agreement", "chance_agreement", "kappa", "ci_low", "ci_high",
               "ci_method", "undefined"]
    if len(cohort.readers) < 3:
        return pd.DataFrame(columns=columns)
    calls = _calls(cohort.readings.set_index(["source_sha256", "reader"]))
    method = f"{FLEISS_CI_METHOD}, {n_resamples} resamples, seed {seed}"
    rows = []
    for name in CLASSES:
        by_reader = calls[name].unstack("reader").reindex(columns=list(cohort.readers))
        decided = by_reader[by_reader.isin(_DECIDED).all(axis=1)]
        row = {"class": name, "readers": len(cohort.readers), "cases": len(decided), **dict.fromkeys(columns[3:8], np.nan),
               "ci_method": method, "undefined": "no case decided by every reader"}
        if len(decided):
            present = (decided == "present").sum(axis=1).to_numpy()
            result = fleiss_kappa(np.column_stack([len(cohort.readers) - present, present]), confidence=confidence,
                                  n_resamples=n_resamples, seed=seed)
            row |= {column: float(getattr(result, column)) for column in columns[3:8]}
            row["undefined"] = "chance agreement is 1 (one label throughout)" if result.undefined else ""
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def discordant_cases(cohort: Cohort, *, link_base: str = "./") -> pd.DataFrame:
    """Every case and class where the DNN, the device and the reference do not all agree.

    Only opinions that exist are compared; at least two are needed. ``link`` opens the
    case in the review page: ``<link_base>?case=<source_sha256>``.

    Returns
    -------
    pandas.DataFrame
        Columns source_sha256, case_pseudonym, source_name, class, dnn_probability,
        dnn_call, device_call (stored strength), reference (status), wrong (sources that
        differ from a decided reference), signal_findings (the plausibility findings stored
        with the case's latest review) and link.
    """
    reference, device, rows = cohort.reference, cohort.device_calls, []
    for name in CLASSES:
        opinions = pd.DataFrame({"dnn": cohort.dnn_calls[name], "device": device[name], "reference": reference[name]})
        discordant = calls_disagree(opinions.to_numpy(dtype=float))
        for sha256 in opinions.index[discordant]:
            dnn, built_in, truth = opinions.loc[sha256]
            wrong = [label for label, call in ((DNN, dnn), (BUILT_IN, built_in))
                     if not np.isnan(truth) and not np.isnan(call) and call != truth]
            rows.append({"source_sha256": sha256, **cohort.cases.loc[sha256].to_dict(), "class": name,
                         "dnn_probability": cohort.probabilities.at[sha256, name],
                         "dnn_call": "" if np.isnan(dnn) else ("present" if dnn else "absent"),
                         "device_call": cohort.device_strengths.at[sha256, name] or "none",
                         "reference": cohort.reference_status.at[sha256, name], "wrong": ", ".join(wrong),
                         "link": f"{link_base}?case={sha256}"})
    columns = ["source_sha256", "case_pseudonym", "source_name", "class", "dnn_probability", "dnn_call",
               "device_call", "reference", "wrong", "signal_findings", "link"]
    frame = pd.DataFrame(rows, columns=columns)
    order = {name: index for index, name in enumerate(CLASSES)}
    return frame.sort_values(["source_sha256", "class"], key=lambda s: s.map(order) if s.name == "class" else s,
                             ignore_index=True)


def unmapped_statements(cohort: Cohort) -> pd.DataFrame:
    """Device statements the mapping table does not know, with how many cases carry each.

    Returns
    -------
    pandas.DataFrame
        Columns statement, cases, first_case_sha256; most frequent first.
    """
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    for sha256, statements in cohort.statements.items():
        for statement in dict.fromkeys(map_statements(statements).unmapped):
            counts[statement] += 1
            first.setdefault(statement, str(sha256))
    rows = [{"statement": s, "cases": n, "first_case_sha256": first[s]} for s, n in counts.most_common()]
    return pd.DataFrame(rows, columns=["statement", "cases", "first_case_sha256"])


_COLOURS = {"reference present": "#c0392b", "reference absent": "#2c7fb8"}


def probability_figure(cohort: Cohort) -> go.Figure:
    """Figure 1: DNN probabilities per class, split by reference present/absent, threshold dotted.

    One panel per class (y: probability 0 to 1); every case is a point over a box plot.
    Cases without a reference or a model output for the class are not drawn.
    """
    reference = cohort.reference
    titles = [f"{name} (+{int((reference[name] == 1).sum())} / −{int((reference[name] == 0).sum())})"
              for name in CLASSES]
    figure = make_subplots(rows=1, cols=len(CLASSES), shared_yaxes=True, subplot_titles=titles, horizontal_spacing=0.02)
    in_legend: set[str] = set()
    for column, (name, threshold) in enumerate(zip(CLASSES, cohort.thresholds), start=1):
        for value, group in ((1.0, "reference present"), (0.0, "reference absent")):
            chosen = (reference[name] == value) & cohort.probabilities[name].notna()
            figure.add_trace(go.Box(
                y=cohort.probabilities.loc[chosen, name], x=[group.removeprefix("reference ")] * int(chosen.sum()),
                name=group, legendgroup=group, showlegend=bool(chosen.any()) and group not in in_legend,
                boxpoints="all", jitter=0.5, pointpos=0,
                marker={"color": _COLOURS[group], "size": 5, "opacity": 0.7}, line={"width": 1},
                customdata=np.column_stack([chosen.index[chosen], cohort.cases.loc[chosen, "case_pseudonym"]]),
                hovertemplate="p = %{y:.3f}<br>%{customdata[1]}<br>%{customdata[0]:.12}…<extra></extra>"),
                row=1, col=column)
            in_legend |= {group} if chosen.any() else set()
        figure.add_hline(y=threshold, line={"color": "#333", "dash": "dot", "width": 1.5}, row=1, col=column,
                         annotation_text=f"{threshold:g}", annotation_position="top left", name=f"threshold {name}")
    figure.update_xaxes(categoryorder="array", categoryarray=["present", "absent"], range=[-0.5, 1.5])
    figure.update_yaxes(range=[-0.03, 1.03], row=1, col=1, title_text="DNN probability")
    figure.update_layout(
        title=f"DNN probability by reference diagnosis — reference: {cohort.reference_label}; dotted: threshold",
        width=1200, height=460, template="plotly_white", boxmode="overlay",
        legend={"orientation": "h", "y": -0.12, "x": 0.5, "xanchor": "center"}, margin={"l": 60, "r": 20, "t": 90})
    if cohort.probabilities.isna().all().all():
        figure.add_annotation(text="no DNN probabilities in these reviews", showarrow=False, x=0.5, y=0.5,
                              xref="paper", yref="paper")
    return figure


def write_outputs(cohort: Cohort, table: pd.DataFrame, text: str, out_dir: Path) -> list[str]:
    """Write the tables and the figure; return the problems of the static (PNG/SVG) export."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "table1.txt").write_text(text, encoding="utf-8")
    write_csv(table, out_dir / "table1.csv", index=True)  # every CSV through the one formula guard
    write_csv(inter_reader_kappa(cohort), out_dir / "kappa.csv")
    write_csv(inter_reader_fleiss_kappa(cohort), out_dir / "fleiss_kappa.csv")
    write_csv(discordant_cases(cohort), out_dir / "discordant.csv")
    write_csv(unmapped_statements(cohort), out_dir / "unmapped_statements.csv")
    figure = probability_figure(cohort)
    figure.write_html(out_dir / "figure1.html", include_plotlyjs=True)
    try:
        figure.write_image(out_dir / "figure1.png", scale=2)
        figure.write_image(out_dir / "figure1.svg")
    except Exception as exc:  # kaleido missing, no Chrome/Chromium, browser crash: report, never hide
        return [f"figure1.png/.svg not written ({type(exc).__name__}: {exc}); figure1.html was. "
                "PNG/SVG need kaleido>=1 (pip install kaleido) and Chrome/Chromium (BROWSER_PATH)"]
    return []


def table_title(cohort: Cohort) -> str:
    """Table 1's title line: the reference and the number of cases."""
    return f"Table 1. Reference: {cohort.reference_label}; {len(cohort.cases)} case{'s' * (len(cohort.cases) != 1)}"
