"""The cohort study from review CSVs: Table 1, Figure 1, inter-reader kappa, discordant cases.

:func:`load_cohort` reads one or more review CSVs (the latest row per reader per case,
see :func:`~ecgreview.reviews.latest_reviews`) into a :class:`Cohort`: per case and class
the reference, the DNN call (``p > threshold`` as stored with the review) and the
device's built-in call (the strength stored with the review). Every metric comes from
:mod:`ecgreview.evaluate`; nothing here re-implements one.

Reference, per case and class:

* ``"consensus"``: strict majority of the readers (role ``reader``) over all who read the
  case; a tie, or no majority because of ``uncertain`` calls, leaves the class out for that
  case (counted in :attr:`Cohort.notes`). The latest adjudicator row of a case (role
  ``adjudicator``) overrides the consensus where it says ``present`` or ``absent``.
* ``"reader:<name>"``: that reader's latest call; ``uncertain`` is left out.
* a path: a clinical-diagnosis CSV with ``source_sha256`` or ``case_pseudonym`` and one 0/1
  column per class (blank: no diagnosis for that class).

A case whose review carries no device statements, and no device call, has no built-in
opinion: it is left out of the Built-in column (counted), never read as "absent".
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ecgreview.compare import load_probabilities
from ecgreview.errors import EcgReviewError, ReviewStoreError
from ecgreview.evaluate import SCORE_NAMES, cohen_kappa, score_table
from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.reviews import STATEMENT_SEPARATOR, latest_reviews, read_reviews
from ecgreview.statements import map_statements

__all__ = ["Cohort", "cohort_table", "discordant_cases", "evaluate_main", "format_table", "inter_reader_kappa",
           "load_cohort", "probability_figure", "register_cli", "table_title", "unmapped_statements"]

CONSENSUS = "consensus"
#: Roles whose readings make the consensus and the inter-reader kappa.
CONSENSUS_ROLES: tuple[str, ...] = ("reader",)
ADJUDICATOR_ROLE = "adjudicator"
BUILT_IN, DNN, PUBLISHED = "Built-in", "DNN", "published DNN"
_KEYS = ("source_sha256", "case_pseudonym")
_DECIDED = ("present", "absent")
_COUNT_COLUMNS = ("positives", "true_positives", "false_positives", "false_negatives", "true_negatives")


@dataclass(frozen=True)
class Cohort:
    """The reviewed cases with reference, DNN and device opinions, indexed by ``source_sha256``.

    Attributes
    ----------
    cases : pandas.DataFrame
        ``case_pseudonym`` and ``source_name`` per case.
    reference_status : pandas.DataFrame
        (cases, classes) of ``present``/``absent`` or why there is no reference
        (``tie``, ``uncertain``, ``not read``, ``not in reference``, ``blank``).
    probabilities : pandas.DataFrame
        (cases, classes) DNN probabilities in [0, 1]; NaN without a model output.
    dnn_calls : pandas.DataFrame
        (cases, classes) 1.0/0.0 (``p > threshold``), NaN without a model output.
    device_strengths : pandas.DataFrame
        (cases, classes) stored device strength (``definite``, ``possible``, ``excluded``,
        ``absent``); ``""`` where the case has no device opinion.
    statements : pandas.Series
        Device statements per case (tuple of str).
    readings : pandas.DataFrame
        Latest consensus-role reading per reader and case: ``source_sha256``, ``reader``
        and ``reader_call_<class>``.
    thresholds : tuple of float
        Decision threshold per class (the most common stored value).
    reference_label : str
    notes : tuple of str
        Exclusions and inconsistencies worth reporting.
    possible_counts_as_positive : bool
    """

    cases: pd.DataFrame
    reference_status: pd.DataFrame
    probabilities: pd.DataFrame
    dnn_calls: pd.DataFrame
    device_strengths: pd.DataFrame
    statements: pd.Series
    readings: pd.DataFrame
    thresholds: tuple[float, ...]
    reference_label: str
    notes: tuple[str, ...]
    possible_counts_as_positive: bool = True

    @property
    def reference(self) -> pd.DataFrame:
        """(cases, classes) 1.0 present, 0.0 absent, NaN no reference."""
        return self.reference_status.replace({"present": 1.0, "absent": 0.0}).where(
            self.reference_status.isin(_DECIDED)).astype(float)

    @property
    def device_calls(self) -> pd.DataFrame:
        """(cases, classes) 1.0/0.0 built-in call (``possible`` per the option), NaN none."""
        positive = ["definite", "possible"] if self.possible_counts_as_positive else ["definite"]
        known = self.device_strengths.isin(["definite", "possible", "excluded", "absent"])
        return self.device_strengths.isin(positive).astype(float).where(known)

    @property
    def readers(self) -> tuple[str, ...]:
        """Readers (consensus roles) in first-seen order."""
        return tuple(dict.fromkeys(self.readings["reader"]))


def _read_all(review_csvs: Sequence[str | Path]) -> tuple[pd.DataFrame, list[str]]:
    """All rows of all CSVs, duplicates (same review_id) dropped, in save-time order."""
    frames, notes = [], []
    for path in review_csvs:
        if not Path(path).is_file():
            raise ReviewStoreError(path, "no such file")
        frame = read_reviews(path)
        notes += [f"{Path(path).name}: skipped malformed {line}" for line in frame.attrs.get("skipped", [])]
        frames.append(frame)
    if not frames:
        raise ValueError("review_csvs must name at least one review CSV")
    rows = pd.concat(frames, ignore_index=True).drop_duplicates("review_id", keep="last")
    rows = rows.sort_values("saved_at_utc", kind="stable").reset_index(drop=True)
    return rows, notes


def load_cohort(
    review_csvs: str | Path | Sequence[str | Path], *, reference: str | Path = CONSENSUS,
    possible_counts_as_positive: bool = True,
) -> Cohort:
    """Read review CSVs into a :class:`Cohort` (see the module docstring for the reference).

    Parameters
    ----------
    review_csvs : path or sequence of paths
        Review CSVs as written by :func:`~ecgreview.reviews.append_review`.
    reference : {"consensus", "reader:<name>"} or path
        Where the reference comes from.
    possible_counts_as_positive : bool
        Whether a ``possible`` device statement counts as a positive built-in call.

    Raises
    ------
    ReviewStoreError
        A CSV is missing or unreadable. ``EcgReviewError`` for a bad clinical CSV.
    ValueError
        ``reference`` is not one of the allowed forms, or names an unknown reader.
    """
    paths = [review_csvs] if isinstance(review_csvs, (str, Path)) else list(review_csvs)
    rows, notes = _read_all(paths)
    latest = latest_reviews(rows)
    last = latest.drop_duplicates("source_sha256", keep="last").set_index("source_sha256")
    last = last.reindex(rows["source_sha256"].unique())  # cases in order of their first review
    readings = latest[latest["role"].isin(CONSENSUS_ROLES)]
    status, label, reference_notes = _reference(latest, readings, last.index, reference)
    probabilities, dnn_calls, thresholds, dnn_notes = _dnn(latest, last.index)
    strengths, statements, device_notes = _device(last)
    notes += reference_notes + dnn_notes + device_notes
    return Cohort(
        cases=last[["case_pseudonym", "source_name"]], reference_status=status, probabilities=probabilities,
        dnn_calls=dnn_calls, device_strengths=strengths, statements=statements,
        readings=readings[["source_sha256", "reader", *(f"reader_call_{c}" for c in CLASSES)]].reset_index(drop=True),
        thresholds=thresholds, reference_label=label, notes=tuple(notes),
        possible_counts_as_positive=possible_counts_as_positive)


def _calls(frame: pd.DataFrame) -> pd.DataFrame:
    """``reader_call_<class>`` columns renamed to the class names."""
    return frame[[f"reader_call_{c}" for c in CLASSES]].set_axis(list(CLASSES), axis=1)


def _reference(latest: pd.DataFrame, readings: pd.DataFrame, cases: pd.Index,
               reference: str | Path) -> tuple[pd.DataFrame, str, list[str]]:
    """Reference status per case and class, its label, and exclusion notes."""
    if isinstance(reference, Path):
        status, label = _clinical_reference(reference, latest, cases), f"clinical diagnosis ({reference.name})"
    elif reference == CONSENSUS:
        status, label = _consensus(latest, readings, cases)
    elif isinstance(reference, str) and reference.startswith("reader:"):
        name = reference.removeprefix("reader:").strip()
        own = latest[latest["reader"] == name]
        if own.empty:
            readers = ", ".join(dict.fromkeys(latest["reader"])) or "none"
            raise ValueError(f"reference: reader {name!r} has no reviews; readers: {readers}")
        calls = _calls(own.set_index("source_sha256")).reindex(cases).fillna("not read")
        status, label = calls, f"reader {name}"
    else:
        raise ValueError(f"reference must be {CONSENSUS!r}, 'reader:<name>' or a path to a "
                         f"clinical-diagnosis CSV; got {reference!r}")
    return status, label, _exclusion_notes(status)


def _exclusion_notes(status: pd.DataFrame) -> list[str]:
    """Per class with exclusions: ``"AF: no reference for 2 of 40 cases (tie 1, uncertain 1)"``."""
    notes = []
    for name in CLASSES:
        excluded = status[name][~status[name].isin(_DECIDED)]
        if len(excluded):
            reasons = ", ".join(f"{why} {count}" for why, count in excluded.value_counts().items())
            notes.append(f"{name}: no reference for {len(excluded)} of {len(status)} cases ({reasons})")
    return notes


def _consensus(latest: pd.DataFrame, readings: pd.DataFrame, cases: pd.Index) -> tuple[pd.DataFrame, str]:
    """Strict majority of the readers, then the latest adjudicator row where it decides."""
    calls = _calls(readings.set_index("source_sha256"))
    status = pd.DataFrame("not read", index=cases, columns=list(CLASSES), dtype=object)
    if len(calls):
        grouped = calls.groupby(level=0)
        present, absent = (grouped.agg(lambda s, v=v: int((s == v).sum())) for v in _DECIDED)
        total = grouped.size().to_numpy()[:, None]
        majority = np.select([present * 2 > total, absent * 2 > total, (present == absent) & (present > 0)],
                             ["present", "absent", "tie"], "uncertain")
        status.loc[present.index] = majority
    adjudicated = latest[latest["role"] == ADJUDICATOR_ROLE].drop_duplicates("source_sha256", keep="last")
    final = _calls(adjudicated.set_index("source_sha256"))
    status = status.mask(final.reindex(status.index).isin(_DECIDED), final.reindex(status.index))
    readers = readings["reader"].nunique()
    label = f"reader consensus ({readers} reader{'s' * (readers != 1)}, {len(adjudicated)} adjudicated cases)"
    return status, label


def _clinical_reference(path: Path, latest: pd.DataFrame, cases: pd.Index) -> pd.DataFrame:
    """Status per case and class from a clinical-diagnosis CSV; see :func:`load_cohort`."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise EcgReviewError(path, f"cannot read the clinical-diagnosis CSV: {exc}") from exc
    key = next((k for k in _KEYS if k in table.columns), None)
    missing = [name for name in CLASSES if name not in table.columns]
    if key is None or missing:
        need = f"one of {', '.join(_KEYS)}" if key is None else f"class columns {', '.join(missing)}"
        raise EcgReviewError(path, f"missing {need}; columns are {', '.join(table.columns)}")
    table[key] = table[key].str.strip().str.lower() if key == "source_sha256" else table[key].str.strip()
    if table[key].duplicated().any():
        raise EcgReviewError(path, f"{key} {table[key][table[key].duplicated()].iloc[0]!r} appears twice")
    values = table.set_index(key)[list(CLASSES)].apply(lambda column: column.str.strip())
    bad = ~values.isin(["0", "1", "0.0", "1.0", ""])
    if bad.any().any():
        row, name = bad.stack().loc[lambda s: s].index[0]
        raise EcgReviewError(path, f"{key} {row!r}, column {name}: expected 0, 1 or blank, got {values.at[row, name]!r}")
    status = values.replace({"1": "present", "1.0": "present", "0": "absent", "0.0": "absent", "": "blank"})
    keys = cases if key == "source_sha256" else latest.drop_duplicates("source_sha256", keep="last").set_index(
        "source_sha256")["case_pseudonym"].reindex(cases)
    return status.reindex(keys).set_axis(cases).fillna("not in reference").astype(object)


def _dnn(latest: pd.DataFrame, cases: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame, tuple[float, ...], list[str]]:
    """Probabilities, calls and thresholds from each case's latest review with model output."""
    columns = [f"dnn_prob_{c}" for c in CLASSES]
    scored = latest[latest[columns].ne("").any(axis=1)].drop_duplicates("source_sha256", keep="last")
    scored = scored.set_index("source_sha256").reindex(cases)
    probabilities = scored[columns].replace("", np.nan).astype(float).set_axis(list(CLASSES), axis=1)
    stored = scored["thresholds"].fillna("").str.split(";")
    per_case = pd.DataFrame([[float(v) for v in t] if len(t) == len(CLASSES) else list(THRESHOLDS) for t in stored],
                            index=cases, columns=list(CLASSES), dtype=float)
    dnn_calls = (probabilities > per_case).astype(float).where(probabilities.notna())
    thresholds = tuple(float(per_case.loc[probabilities[c].notna(), c].mode().get(0, t))
                       for c, t in zip(CLASSES, THRESHOLDS))
    notes = [f"DNN: no model output for {n} of {len(cases)} cases"] if (n := probabilities.isna().all(axis=1).sum()) else []
    models = scored["model_sha256"].dropna().replace("", np.nan).dropna().unique()
    if len(models) > 1:
        notes.append(f"DNN: probabilities come from {len(models)} different weights files (model_sha256)")
    if per_case[probabilities.notna().any(axis=1)].drop_duplicates().shape[0] > 1:
        notes.append("DNN: thresholds differ between reviews; each case uses its stored thresholds")
    return probabilities, dnn_calls, thresholds, notes


def _device(last: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Stored device strengths per case (``""`` without a device opinion), statements, notes."""
    strengths = last[[f"device_call_{c}" for c in CLASSES]].set_axis(list(CLASSES), axis=1).apply(
        lambda column: column.str.strip().str.lower())
    statements = last["device_statements"].map(
        lambda text: tuple(s for s in text.split(STATEMENT_SEPARATOR) if s.strip()))
    silent = (statements.map(len) == 0) & strengths.isin(["", "absent"]).all(axis=1)
    strengths = strengths.where(~silent, "")
    notes = [f"Built-in: no device statements for {silent.sum()} of {len(last)} cases (left out of Built-in)"] * bool(
        silent.sum())
    unknown = ~strengths.isin(["definite", "possible", "excluded", "absent", ""])
    if unknown.any().any():
        notes.append(f"Built-in: {unknown.sum().sum()} device calls of unknown strength left out")
    return strengths, statements, notes


def _published_calls(cohort: Cohort, published: str | Path) -> pd.DataFrame:
    """1.0/0.0 calls (``p > THRESHOLDS``) of a published-DNN CSV keyed by source_sha256 or case_pseudonym."""
    source = load_probabilities(published)
    keys = pd.read_csv(source.path, dtype=str, keep_default_na=False) if source.path.suffix.lower() == ".csv" else None
    key = next((k for k in _KEYS if keys is not None and k in keys.columns), None)
    if key is None:
        raise EcgReviewError(source.path, f"needs a {' or '.join(_KEYS)} column to match the reviewed cases")
    calls = pd.DataFrame(source.probabilities > np.asarray(THRESHOLDS), columns=list(CLASSES), dtype=float)
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
        call), the counts and scores of :func:`~ecgreview.evaluate.score_table`, and
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


def inter_reader_kappa(cohort: Cohort) -> pd.DataFrame:
    """Cohen's kappa per pair of readers and class, over cases both decided (not ``uncertain``).

    Returns
    -------
    pandas.DataFrame
        Columns reader_a, reader_b, class, cases, observed_agreement, chance_agreement,
        kappa and undefined (the reason, or ``""``); no rows with fewer than two readers.
    """
    columns = ["reader_a", "reader_b", "class", "cases", "observed_agreement", "chance_agreement", "kappa", "undefined"]
    rows = []
    calls = _calls(cohort.readings.set_index(["source_sha256", "reader"]))
    for first, second in itertools.combinations(cohort.readers, 2):
        pair = calls.xs(first, level="reader").join(calls.xs(second, level="reader"), how="inner", suffixes=("", "_b"))
        for name in CLASSES:
            both = pair[pair[name].isin(_DECIDED) & pair[f"{name}_b"].isin(_DECIDED)]
            row = {"reader_a": first, "reader_b": second, "class": name, "cases": len(both),
                   "observed_agreement": np.nan, "chance_agreement": np.nan, "kappa": np.nan,
                   "undefined": "no cases decided by both"}
            if len(both):
                result = cohen_kappa((both[name] == "present").to_numpy(int), (both[f"{name}_b"] == "present").to_numpy(int))
                row |= {"observed_agreement": float(result.observed_agreement), "kappa": float(result.kappa),
                        "chance_agreement": float(result.chance_agreement),
                        "undefined": "chance agreement is 1 (one label throughout)" if result.undefined else ""}
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def discordant_cases(cohort: Cohort, *, link_base: str = "review") -> pd.DataFrame:
    """Every case and class where the DNN, the device and the reference do not all agree.

    Only opinions that exist are compared; at least two are needed. ``link`` opens the
    case in the review page: ``<link_base>?case=<source_sha256>``.

    Returns
    -------
    pandas.DataFrame
        Columns source_sha256, case_pseudonym, source_name, class, dnn_probability,
        dnn_call, device_call (stored strength), reference (status), wrong (sources that
        differ from a decided reference) and link.
    """
    reference, device, rows = cohort.reference, cohort.device_calls, []
    for name in CLASSES:
        opinions = pd.DataFrame({"dnn": cohort.dnn_calls[name], "device": device[name], "reference": reference[name]})
        discordant = (opinions.nunique(axis=1) > 1) & (opinions.notna().sum(axis=1) >= 2)
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
               "device_call", "reference", "wrong", "link"]
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


def _write_outputs(cohort: Cohort, table: pd.DataFrame, text: str, out_dir: Path) -> list[str]:
    """Write the tables and the figure; return the problems of the static (PNG/SVG) export."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "table1.txt").write_text(text, encoding="utf-8")
    table.to_csv(out_dir / "table1.csv")
    inter_reader_kappa(cohort).to_csv(out_dir / "kappa.csv", index=False)
    discordant_cases(cohort).to_csv(out_dir / "discordant.csv", index=False)
    unmapped_statements(cohort).to_csv(out_dir / "unmapped_statements.csv", index=False)
    figure = probability_figure(cohort)
    figure.write_html(out_dir / "figure1.html", include_plotlyjs=True)
    try:
        figure.write_image(out_dir / "figure1.png", scale=2)
        figure.write_image(out_dir / "figure1.svg")
    except Exception as exc:  # kaleido missing, no Chrome/Chromium, browser crash: report, never hide
        return [f"figure1.png/.svg not written ({type(exc).__name__}: {exc}); figure1.html was. "
                "PNG/SVG need kaleido>=1 (pip install kaleido) and Chrome/Chromium (BROWSER_PATH)"]
    return []


def evaluate_main(
    review_csvs: Sequence[str | Path], *, reference: str | Path = CONSENSUS, out_dir: str | Path,
    published: str | Path | None = None, possible_counts_as_positive: bool = True, out: TextIO | None = None,
) -> int:
    """CLI body of ``evaluate``: print Table 1 and write every output to ``out_dir``.

    Writes table1.txt/.csv, kappa.csv, discordant.csv, unmapped_statements.csv and
    figure1.html (plotly.js embedded, opens offline), .png and .svg.

    Returns
    -------
    int
        0 ok; 1 when the PNG/SVG export failed (HTML written, reason on stderr); 2 on bad
        input or no reviews (``path: reason`` on stderr).
    """
    out = sys.stdout if out is None else out
    try:
        try:
            cohort = load_cohort(review_csvs, reference=reference,
                                 possible_counts_as_positive=possible_counts_as_positive)
        except ValueError as exc:  # the reference argument
            raise EcgReviewError(None, str(exc)) from exc
        if cohort.cases.empty:
            raise ReviewStoreError(review_csvs[0] if len(review_csvs) == 1 else None, "no reviews to evaluate")
        table = cohort_table(cohort, published=published)
        text = format_table(table, title=table_title(cohort),
                            notes=cohort.notes)
        out.write(text)
        problems = _write_outputs(cohort, table, text, Path(out_dir))
    except EcgReviewError as exc:
        print(f"{exc.path}: {exc.reason}" if exc.path else exc.reason, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{exc.filename or out_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    _summary(cohort, Path(out_dir), out)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def table_title(cohort: Cohort) -> str:
    """Table 1's title line: the reference and the number of cases."""
    return f"Table 1. Reference: {cohort.reference_label}; {len(cohort.cases)} case{'s' * (len(cohort.cases) != 1)}"


def _summary(cohort: Cohort, out_dir: Path, out: TextIO) -> None:
    kappa = inter_reader_kappa(cohort)
    unmapped = unmapped_statements(cohort)
    out.write(f"Readers: {len(cohort.readers)}; kappa pairs: {kappa[['reader_a', 'reader_b']].drop_duplicates().shape[0]}"
              f"; discordant case-classes: {len(discordant_cases(cohort))}; unmapped statements: {len(unmapped)}"
              + (" (" + "; ".join(unmapped["statement"].head(5)) + ")" if len(unmapped) else "") + "\n")
    out.write(f"Wrote {out_dir}: table1.txt, table1.csv, kappa.csv, discordant.csv, unmapped_statements.csv, "
              "figure1.html/.png/.svg\n")


def _reference_argument(value: str) -> str | Path:
    return value if value == CONSENSUS or value.startswith("reader:") else Path(value)


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand to ``python -m ecgreview``."""
    parser = subparsers.add_parser("evaluate", help="cohort study from review CSVs: Table 1, Figure 1, kappa, "
                                                    "discordant cases")
    parser.add_argument("reviews", nargs="+", help="review CSV(s) saved by the app")
    parser.add_argument("--reference", default=CONSENSUS, type=_reference_argument,
                        help="'consensus' (default), 'reader:<name>', or a clinical-diagnosis CSV "
                             "(source_sha256 or case_pseudonym, one 0/1 column per class)")
    parser.add_argument("--out", required=True, help="folder for table1.txt/.csv, kappa.csv, discordant.csv, "
                                                     "unmapped_statements.csv, figure1.html/.png/.svg")
    parser.add_argument("--published", help="published-DNN probabilities CSV (prob_<class> or class columns, "
                                            "plus source_sha256 or case_pseudonym)")
    parser.add_argument("--definite-only", action="store_true",
                        help="count only 'definite' device statements as positive (default: 'possible' too)")
    parser.set_defaults(handler=lambda args: evaluate_main(
        args.reviews, reference=args.reference, out_dir=args.out, published=args.published,
        possible_counts_as_positive=not args.definite_only))
