"""The cohort study from review CSVs: Table 1, Figure 1, inter-reader kappa, discordant cases.

:func:`load_cohort` reads one or more review CSVs (the latest row per reader per case,
see :func:`~ecgreview.review.store.latest_reviews`) into a :class:`Cohort`: per case and class
the reference, the DNN call (:func:`~ecgreview.record.dnn_calls` with the thresholds stored
with the review) and the
device's built-in call (the strength stored with the review). Every metric comes from
:mod:`ecgreview.study.metrics`; nothing here re-implements one.

Reference, per case and class:

* ``"consensus"``: :func:`ecgreview.review.consensus.consensus_status`, the one rule: strict
  majority of the readers (role ``reader``) over all who read the case; a tie, or no
  majority because of ``uncertain`` calls, leaves the class out for that case (counted in
  :attr:`Cohort.notes`). The latest adjudicator row of a case (role ``adjudicator``)
  overrides the consensus where it says ``present`` or ``absent``.
* ``"reader:<name>"``: that reader's latest call; ``uncertain`` is left out.
* a path: a clinical-diagnosis CSV with ``source_sha256`` or ``case_pseudonym`` and one 0/1
  column per class (blank: no diagnosis for that class).

A case whose review carries no device statements, and no device call, has no built-in
opinion: it is left out of the Built-in column (counted), never read as "absent".

The reports (Table 1, Figure 1, kappa, discordant cases, the ``evaluate`` CLI) live in
:mod:`ecgreview.study.cohort_report`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecgreview.device.statement_table import (
    NEGATIVE_STRENGTHS,
    NOT_AVAILABLE,
    POSITIVE_STRENGTHS,
    STRENGTHS,
    positive_strengths,
)
from ecgreview.errors import EcgReviewError, ReviewStoreError
from ecgreview.plausibility import parse_finding_codes
from ecgreview.record import CLASSES, THRESHOLDS, dnn_calls
from ecgreview.review.consensus import ADJUDICATOR_ROLE, CONSENSUS_ROLES, DECIDED, consensus_status
from ecgreview.review.protocol import clinical_readings, latest_readings
from ecgreview.review.review_table import read_reviews_typed
from ecgreview.review.store import StoreStamp, latest_reviews, read_reviews

__all__ = ["Cohort", "load_cohort"]

CONSENSUS = "consensus"
BUILT_IN, DNN, PUBLISHED = "Built-in", "DNN", "published DNN"
_KEYS = ("source_sha256", "case_pseudonym")
_DECIDED = DECIDED


@dataclass(frozen=True)
class Cohort:
    """The reviewed cases with reference, DNN and device opinions, indexed by ``source_sha256``.

    Attributes
    ----------
    cases : pandas.DataFrame
        ``case_pseudonym``, ``source_name`` and ``signal_findings`` (the stored plausibility findings) per case.
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
        positive = positive_strengths(possible_counts_as_positive=self.possible_counts_as_positive)
        known = self.device_strengths.isin(POSITIVE_STRENGTHS + NEGATIVE_STRENGTHS)
        return self.device_strengths.isin(positive).astype(float).where(known)

    @property
    def readers(self) -> tuple[str, ...]:
        """Readers (consensus roles) in first-seen order."""
        return tuple(dict.fromkeys(self.readings["reader"]))


def _read_all(review_csvs: Sequence[str | Path], *, typed: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """All rows of all CSVs, duplicates (same review_id) dropped, in save-time order.

    ``typed``: cells parsed (:func:`~ecgreview.review.review_table.read_reviews_typed`), its bad cells noted.
    """
    frames, notes = [], []
    for path in review_csvs:
        if not Path(path).is_file():
            raise ReviewStoreError(path, "no such file")
        frame = read_reviews_typed(path) if typed else read_reviews(path)
        notes += [f"{Path(path).name}: skipped malformed {line}" for line in frame.attrs.get("skipped", [])]
        notes += [f"{Path(path).name}: {cell} (read as missing)" for cell in frame.attrs.get("bad_cells", [])]
        frames.append(frame)
    if not frames:
        raise ValueError("review_csvs must name at least one review CSV")
    rows = latest_reviews(pd.concat(frames, ignore_index=True), by=("review_id",))  # a row in two files
    rows = rows.sort_values("saved_at_utc", kind="stable").reset_index(drop=True)
    return rows, notes


@dataclass(frozen=True)
class _Opinions:
    """What review files give whatever the reference: built once per version of the files (:func:`_opinions`)."""

    latest: pd.DataFrame
    readings: pd.DataFrame
    last: pd.DataFrame
    probabilities: pd.DataFrame
    dnn_calls: pd.DataFrame
    thresholds: tuple[float, ...]
    device_strengths: pd.DataFrame
    statements: pd.Series
    read_notes: tuple[str, ...]
    notes: tuple[str, ...]


_CACHE_SIZE = 4
_cache: dict[tuple[tuple[str, StoreStamp | None], ...], _Opinions] = {}
_cache_lock = threading.Lock()


def _opinions(paths: Sequence[str | Path]) -> _Opinions:
    """The latest readings, DNN and device opinions of ``paths``, cached by each file's version (StoreStamp).

    A page that loads the cohort with several references in one run reads and parses the files once.
    """
    key = tuple((str(Path(path).absolute()), StoreStamp.of(path)) for path in paths)  # stamped before reading
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    rows, notes = _read_all(paths, typed=True)
    rows = clinical_readings(rows)  # students' answers and teaching rows never count
    latest = latest_readings(rows)
    last = latest_reviews(latest, by=("source_sha256",)).set_index("source_sha256")
    last = last.reindex(rows["source_sha256"].unique())  # cases in order of their first review
    probabilities, calls, thresholds, dnn_notes = _dnn(latest, last.index)
    strengths, statements, device_notes = _device(last)
    opinions = _Opinions(latest, latest[latest["role"].isin(CONSENSUS_ROLES)], last, probabilities, calls, thresholds,
                         strengths, statements, tuple(notes), tuple(dnn_notes + device_notes + _signal_notes(last)))
    with _cache_lock:
        _cache.pop(key, None)
        _cache[key] = opinions
        while len(_cache) > _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
    return opinions


def load_cohort(
    review_csvs: str | Path | Sequence[str | Path], *, reference: str | Path = CONSENSUS,
    possible_counts_as_positive: bool = True,
) -> Cohort:
    """Read review CSVs into a :class:`Cohort` (see the module docstring for the reference).

    The files are read and parsed once per version (:func:`read_reviews_typed`): loading the same
    files again with another reference only derives that reference.

    Parameters
    ----------
    review_csvs : path or sequence of paths
        Review CSVs as written by :func:`~ecgreview.review.store.append_review`.
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
    opinions = _opinions(paths)
    latest, readings, last = opinions.latest, opinions.readings, opinions.last
    status, label, reference_notes = _reference(latest, readings, last.index, reference)
    return Cohort(
        cases=last[["case_pseudonym", "source_name", "signal_findings"]].fillna(""), reference_status=status,
        probabilities=opinions.probabilities.copy(deep=False), dnn_calls=opinions.dnn_calls.copy(deep=False),
        device_strengths=opinions.device_strengths.copy(deep=False), statements=opinions.statements.copy(deep=False),
        readings=readings[["source_sha256", "reader", *(f"reader_call_{c}" for c in CLASSES)]].reset_index(drop=True),
        thresholds=opinions.thresholds, reference_label=label,
        notes=(*opinions.read_notes, *reference_notes, *opinions.notes),
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
        status, label = consensus_status(latest, cases), _consensus_label(latest, readings)
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


def _consensus_label(latest: pd.DataFrame, readings: pd.DataFrame) -> str:
    """``"reader consensus (3 readers, 2 adjudicated cases)"``."""
    readers = readings["reader"].nunique()
    adjudicated = latest.loc[latest["role"] == ADJUDICATOR_ROLE, "source_sha256"].nunique()
    return f"reader consensus ({readers} reader{'s' * (readers != 1)}, {adjudicated} adjudicated cases)"


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
    keys = cases if key == "source_sha256" else latest_reviews(latest, by=("source_sha256",)).set_index(
        "source_sha256")["case_pseudonym"].reindex(cases)
    return status.reindex(keys).set_axis(cases).fillna("not in reference").astype(object)


def _dnn(latest: pd.DataFrame, cases: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame, tuple[float, ...], list[str]]:
    """Probabilities, calls and thresholds from each case's latest review with model output."""
    columns = [f"dnn_prob_{c}" for c in CLASSES]
    scored = latest_reviews(latest[latest[columns].notna().any(axis=1)], by=("source_sha256",))
    scored = scored.set_index("source_sha256").reindex(cases)
    probabilities = scored[columns].astype(float).set_axis(list(CLASSES), axis=1)
    per_case = pd.DataFrame([list(t) if isinstance(t, tuple) else list(THRESHOLDS) for t in scored["thresholds"]],
                            index=cases, columns=list(CLASSES), dtype=float)
    calls = pd.DataFrame(dnn_calls(probabilities.to_numpy(), per_case.to_numpy()), index=cases,
                         columns=list(CLASSES)).astype(float).where(probabilities.notna())
    thresholds = tuple(float(per_case.loc[probabilities[c].notna(), c].mode().get(0, t))
                       for c, t in zip(CLASSES, THRESHOLDS))
    notes = [f"DNN: no model output for {n} of {len(cases)} cases"] if (n := probabilities.isna().all(axis=1).sum()) else []
    models = scored["model_sha256"].dropna().replace("", np.nan).dropna().unique()
    if len(models) > 1:
        notes.append(f"DNN: probabilities come from {len(models)} different weights files (model_sha256)")
    if per_case[probabilities.notna().any(axis=1)].drop_duplicates().shape[0] > 1:
        notes.append("DNN: thresholds differ between reviews; each case uses its stored thresholds")
    return probabilities, calls, thresholds, notes


def _device(last: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Stored device strengths per case (``""`` without a device opinion), statements, notes."""
    strengths = last[[f"device_call_{c}" for c in CLASSES]].set_axis(list(CLASSES), axis=1).apply(
        lambda column: column.str.strip().str.lower())
    statements = last["device_statements"]  # typed: tuples (review_table)
    # no statements: no device opinion, stored as NOT_AVAILABLE (or "absent" by reviews saved before it, or empty)
    silent = (statements.map(len) == 0) & strengths.isin(["", "absent", NOT_AVAILABLE]).all(axis=1)
    strengths = strengths.where(~silent, "")
    notes = [f"Built-in: no device statements for {silent.sum()} of {len(last)} cases (left out of Built-in)"] * bool(
        silent.sum())
    unknown = ~strengths.isin([*STRENGTHS, ""])
    if unknown.any().any():
        notes.append(f"Built-in: {unknown.sum().sum()} device calls of unknown strength left out")
    return strengths, statements, notes



def _signal_notes(last: pd.DataFrame) -> list[str]:
    """``"Signal check: 3 of 40 cases with findings (amplitude 2, flat 1)"``: the plausibility findings
    (:func:`ecgreview.plausibility.parse_finding_codes`) stored with each case's latest review; reviews saved
    before the check (schema < 3) have none to count."""
    findings = last["signal_findings"].fillna("").map(parse_finding_codes)
    flagged = findings.map(bool)
    if not flagged.any():
        return []
    codes = pd.Series([code for items in findings for code, _ in items]).value_counts()
    counts = ", ".join(f"{code} {count}" for code, count in codes.items())
    return [f"Signal check: {int(flagged.sum())} of {len(last)} cases with findings ({counts}); "
            "the cases are in the discordant list's signal_findings column"]
