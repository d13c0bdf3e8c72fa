"""Added value of the DNN: the same readers on the same cases, unaided vs aided.

:func:`analyse_added_value` takes the review rows (a frame of the review CSV's columns,
:func:`~ecgreview.review.store.read_reviews`) and a reference per case and class (1.0/0.0/NaN,
e.g. :attr:`ecgreview.study.cohort.Cohort.reference`: consensus, one reader, or a clinical
CSV). :func:`analyse_cohort_added_value` takes both from a loaded
:class:`~ecgreview.study.cohort.Cohort`. Every score comes from :mod:`ecgreview.study.metrics`.

Readings
    Rows with ``reading_mode`` ``unaided`` or ``aided``; the latest of each mode per
    reader and case. A reader-case *pair* has both. Only pairs with a decided reference
    are scored, so unaided and aided are compared on the same readings. Old stores
    without the study columns (``confidence``, ``reading_time_s``...) analyse with those
    empty. ``uncertain`` counts as ``absent`` by default (``uncertain_as``); with
    ``"exclude"`` a pair is left out of a class when either reading is uncertain.

Primary analysis: OR–Hillis (:mod:`ecgreview.study.added_value_mrmc`)
    Per class, sensitivity and specificity unaided and aided and their difference by the
    Obuchowski–Rockette–Hillis method over the study's readers and cases
    (:func:`~ecgreview.study.mrmc.analyse_mrmc`, random readers and cases by default), with
    its df; per reader, normal intervals from the case covariance. Every interval's method
    is in its row (``ci_method``). Fleiss' kappa of the readers per class, unaided and aided.

Secondary: percentile bootstrap (95 % by default), seeded (:data:`BOOTSTRAP_METHOD`)
    Two-level for "all readers": each resample draws the cases with replacement and,
    independently, the readers with replacement; a reading's weight is the product of
    its case's and its reader's draw counts, and the pooled counts TP/FP/FN/TN are the
    weighted sums. Per reader, only the cases are resampled. The difference
    aided − unaided is computed within each resample (paired). Resamples where a score
    is undefined (zero denominator) are left out of its percentiles and counted.
    Vectorised: 2000 resamples of 500 cases × 10 readers take a second or two.

Changes after seeing the DNN (pairs with a reference and a DNN call)
    ``changed``: aided call ≠ unaided call. ``towards_dnn``: the aided call is the DNN's
    and the unaided one was not; ``helpful`` when the DNN was right, ``automation_bias``
    when it was wrong. ``away_from_dnn``: the unaided call was the DNN's, the aided one
    not. ``agreed_wrong_dnn_*``: readings equal to a wrong DNN call (Tsai et al. 2003).
    In a crossover the two readings are separate sessions (a note says how many pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ecgreview.record import CLASSES
from ecgreview.review.modes import STUDY_ROW_MODES
from ecgreview.review.protocol import clinical_readings
from ecgreview.review.store import latest_reviews
from ecgreview.study._added_value_parts import ALL_READERS, alone_scores, call_changes, confidence_and_time
from ecgreview.study.added_value_mrmc import ClassGrid, fleiss_by_mode, or_hillis_by_class
from ecgreview.study.metrics import SCORE_NAMES, _nan_percentiles, _scores_from_counts
from ecgreview.study.mrmc import ANALYSES
from ecgreview.study.plan import UNCERTAIN_OPTIONS

__all__ = ["ALL_READERS", "AddedValue", "BOOTSTRAP_METHOD", "MODES", "analyse_added_value",
           "analyse_cohort_added_value", "bootstrap_method", "study_pairs"]

MODES: tuple[str, ...] = STUDY_ROW_MODES
#: How the secondary intervals are computed (:func:`bootstrap_method` adds the resamples and seed).
BOOTSTRAP_METHOD = "percentile bootstrap over readers and cases (per reader: over cases)"
#: Study columns that older review stores lack; read as empty.
STUDY_COLUMNS: tuple[str, ...] = ("reading_mode", "opinions_seen", "resolves_review_ids", "confidence",
                                  "reading_time_s", "review_id", "saved_at_utc")
#: Most cases × readers analysed at once (memory: about 200 bytes per cell, plus 1 kB per case).
MAX_READINGS = 1_000_000
_CHUNK = 250  # resamples per vectorised block
_OUTCOMES = ((1, 1), (0, 1), (1, 0), (0, 0))  # (reference, call): TP, FP, FN, TN


@dataclass(frozen=True)
class AddedValue:
    """The result of :func:`analyse_added_value`; every table is a plain DataFrame.

    Attributes
    ----------
    mrmc : pandas.DataFrame
        The primary analysis: OR–Hillis per class and figure of merit
        (:data:`~ecgreview.study.added_value_mrmc.MRMC_COLUMNS`: unaided, aided, difference with
        CIs and df, ``ci_method``, ``primary``, ``not_computed`` with the reason in words).
    mrmc_readers : pandas.DataFrame
        Per class, figure of merit and reader: unaided, aided and the difference with normal CIs.
    agreement : pandas.DataFrame
        Fleiss' kappa per class and mode (3 or more readers; else empty).
    scores : pandas.DataFrame
        Secondary (:func:`bootstrap_method`). One row per class, reader (``"all readers"``
        first) and score (precision, sensitivity, specificity, f1): ``readings``, ``unaided``,
        ``unaided_low``, ``unaided_high``, ``aided`` (+ low/high), ``difference`` (aided −
        unaided, + low/high) and ``undefined_resamples`` (of the difference). NaN: undefined.
    counts : pandas.DataFrame
        Per class, reader and mode: readings, positives, true_positives,
        false_positives, false_negatives, true_negatives, uncertain.
    changes : pandas.DataFrame
        Per class and reader: pairs, changed, towards_dnn, helpful, automation_bias,
        away_from_dnn, other_changes, dnn_wrong, agreed_wrong_dnn_unaided,
        agreed_wrong_dnn_aided, change_rate, agreement_wrong_dnn_unaided,
        agreement_wrong_dnn_aided.
    confidence_time : pandas.DataFrame
        Per reader and measure (``confidence``, ``reading_time_s``): unaided_n,
        unaided_mean, unaided_median, aided_n, aided_mean, aided_median,
        paired_n and mean_difference (aided − unaided over pairs with both).
    alone : pandas.DataFrame
        The DNN and the device on the scored cases: per class and source, cases,
        the counts, each score with ``_low``/``_high`` (bootstrap over cases).
    cases, readers : tuple of str
    notes : tuple of str
    label : str
        What this run is: pre-specified, a sensitivity analysis, or exploratory (:mod:`ecgreview.study.plan`).
    mrmc_analysis : str
        The OR–Hillis analysis, e.g. ``"random readers, random cases"``.
    """

    mrmc: pd.DataFrame
    mrmc_readers: pd.DataFrame
    agreement: pd.DataFrame
    scores: pd.DataFrame
    counts: pd.DataFrame
    changes: pd.DataFrame
    confidence_time: pd.DataFrame
    alone: pd.DataFrame
    cases: tuple[str, ...]
    readers: tuple[str, ...]
    reference_label: str
    uncertain_as: str
    n_resamples: int
    confidence: float
    seed: int | None
    notes: tuple[str, ...]
    label: str = ""
    mrmc_analysis: str = "random readers, random cases"
    primary_endpoints: tuple[tuple[str, str], ...] = field(default=())


def bootstrap_method(n_resamples: int, seed: int | None, confidence: float) -> str:
    """E.g. ``"95% CI, percentile bootstrap over readers and cases (…), 2000 resamples, seed 0 (secondary)"``."""
    return f"{confidence * 100:g}% CI, {BOOTSTRAP_METHOD}, {n_resamples} resamples, seed {seed} (secondary)"


def _with_study_columns(reviews: pd.DataFrame) -> pd.DataFrame:
    needed = ["reader", "source_sha256", *(f"reader_call_{name}" for name in CLASSES)]
    missing = [column for column in needed if column not in reviews.columns]
    if missing:
        raise ValueError(f"reviews must have the review CSV's columns; missing {', '.join(missing)}")
    frame = reviews.copy()
    for column in STUDY_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str) if column in frame.columns else ""
    return frame


def study_pairs(reviews: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The latest unaided and aided reading per reader and case, side by side.

    Returns
    -------
    pairs : pandas.DataFrame
        Index (source_sha256, reader); per mode ``<mode>_review_id``, ``<mode>_confidence``,
        ``<mode>_reading_time_s`` and ``<mode>_<class>`` (the reader call). Pairs only.
    notes : list of str
        Unpaired readings and aided rows naming another unaided row.
    """
    frame = _with_study_columns(reviews)
    rows = clinical_readings(frame)
    rows = latest_reviews(rows[rows["reading_mode"].isin(MODES)], by=("source_sha256", "reader", "reading_mode"))
    sides = {}
    for mode in MODES:
        side = rows[rows["reading_mode"] == mode].set_index(["source_sha256", "reader"])
        renamed = {"review_id": "review_id", "confidence": "confidence", "reading_time_s": "reading_time_s",
                   "resolves_review_ids": "resolves_review_ids",
                   **{f"reader_call_{name}": name for name in CLASSES}}
        sides[mode] = side[list(renamed)].rename(columns={k: f"{mode}_{v}" for k, v in renamed.items()})
    pairs = sides["unaided"].join(sides["aided"], how="inner")
    notes = [f"{len(side) - len(pairs)} {mode} reading(s) without the other mode left out"
             for mode, side in sides.items() if len(side) > len(pairs)]
    named = pairs["aided_resolves_review_ids"].str.split(";")
    mismatched = [bool(ids[0]) and unaided not in ids for ids, unaided in zip(named, pairs["unaided_review_id"])]
    if any(mismatched):
        notes.append(f"{sum(mismatched)} aided reading(s) name an unaided row other than the reader's latest one")
    separate = int((pairs["aided_resolves_review_ids"] == "").sum())
    if separate:
        notes.append(f"{separate} pair(s) are separate readings (the aided row names no unaided row, as in a "
                     "crossover): their 'changes' compare two sessions, not one reading before and after the DNN")
    return pairs, notes


def _call_values(calls: pd.Series, uncertain_as: str) -> np.ndarray:
    mapping = {"present": 1.0, "absent": 0.0, "uncertain": {"absent": 0.0, "present": 1.0}.get(uncertain_as, np.nan)}
    return calls.map(mapping).astype(float).to_numpy()


def _grid(pairs: pd.DataFrame, column: str, cases: Sequence[str], readers: Sequence[str]) -> np.ndarray:
    """(readers, cases) array of one pair column's text; ``""`` where a reader did not read a case."""
    grid = np.full((len(readers), len(cases)), "", dtype=object)
    rows = pd.Index(list(readers)).get_indexer(pairs.index.get_level_values("reader"))
    columns = pd.Index(list(cases)).get_indexer(pairs.index.get_level_values("source_sha256"))
    grid[rows, columns] = pairs[column].to_numpy(dtype=object)
    return grid


def _class_grids(pairs: pd.DataFrame, reference: pd.DataFrame, cases: Sequence[str], readers: Sequence[str],
                 uncertain_as: str) -> dict[str, ClassGrid]:
    """Per class: the reference over ``cases`` and each mode's calls as (readers, cases) grids."""
    grids = {}
    for name in CLASSES:
        raw = {mode: _grid(pairs, f"{mode}_{name}", cases, readers) for mode in MODES}
        calls = {mode: _call_values(pd.Series(raw[mode].ravel()), uncertain_as).reshape(raw[mode].shape)
                 for mode in MODES}
        grids[name] = ClassGrid(reference[name].reindex(list(cases)).to_numpy(float), raw, calls)
    return grids


def _indicators(grids: dict[str, ClassGrid], readers: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Outcome indicators (readers, cases, modes, classes, 4) and the uncertain counts (modes, readers, classes)."""
    cases = len(next(iter(grids.values())).truth)
    indicators = np.zeros((len(readers), cases, len(MODES), len(CLASSES), 4), dtype=np.float32)
    uncertain = np.zeros((len(MODES), len(readers), len(CLASSES)))
    for k, name in enumerate(CLASSES):
        truth, raw, calls = grids[name].truth[None, :], grids[name].raw, grids[name].calls
        valid = ~np.isnan(truth) & ~np.isnan(calls["unaided"]) & ~np.isnan(calls["aided"])
        for m, mode in enumerate(MODES):
            uncertain[m, :, k] = ((raw[mode] == "uncertain") & ~np.isnan(truth)).sum(axis=1)
            for o, (expected, called) in enumerate(_OUTCOMES):
                indicators[:, :, m, k, o] = valid & (truth == expected) & (calls[mode] == called)
    return indicators, uncertain


def _scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Scores from counts (..., 4) of TP, FP, FN, TN: arrays of shape (...), NaN undefined."""
    results = _scores_from_counts(counts[..., 0], counts[..., 1], counts[..., 2], counts[..., 3], "undefined")
    return {name: values for name, (values, _) in results.items()}


def _bootstrap(indicators: np.ndarray, *, n_resamples: int, seed: int | None) -> dict[str, np.ndarray]:
    """Resampled scores: ``{name: (resamples, readers + 1, modes, classes)}``, index 0 = all readers."""
    readers, cases = indicators.shape[:2]
    flat = indicators.reshape(readers, cases, -1)
    rng = np.random.default_rng(seed)
    blocks = []
    for start in range(0, n_resamples, _CHUNK):
        size = min(_CHUNK, n_resamples - start)
        case_weights = rng.multinomial(cases, np.full(cases, 1 / cases), size=size).astype(np.float32)
        reader_weights = rng.multinomial(readers, np.full(readers, 1 / readers), size=size).astype(np.float32)
        per_reader = np.einsum("bc,rcq->brq", case_weights, flat, optimize=True)
        pooled = np.einsum("br,brq->bq", reader_weights, per_reader)
        blocks.append(np.concatenate([pooled[:, None], per_reader], axis=1))
    counts = np.concatenate(blocks).reshape(n_resamples, readers + 1, *indicators.shape[2:]).astype(float)
    return _scores(counts)


def _interval(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile bounds over axis 0 (NaN left out) and the number of NaN resamples."""
    tail = (1 - confidence) / 2 * 100
    flat = values.reshape(values.shape[0], -1)
    low, high = _nan_percentiles(flat, (tail, 100 - tail))
    shape = values.shape[1:]
    return low.reshape(shape), high.reshape(shape), np.isnan(values).sum(axis=0)


def _score_tables(indicators: np.ndarray, uncertain: np.ndarray, readers: Sequence[str], *, n_resamples: int,
                  confidence: float, seed: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    per_reader = indicators.sum(axis=1)  # (readers, modes, classes, 4)
    counts = np.concatenate([per_reader.sum(axis=0, keepdims=True), per_reader])
    point = _scores(counts)  # (readers + 1, modes, classes)
    resampled = _bootstrap(indicators, n_resamples=n_resamples, seed=seed)
    labels = [ALL_READERS, *readers]
    uncertain_all = np.concatenate([uncertain.sum(axis=1, keepdims=True), uncertain], axis=1)
    score_rows, count_rows = [], []
    for k, name in enumerate(CLASSES):
        for r, reader in enumerate(labels):
            readings = int(counts[r, 0, k].sum())
            for m, mode in enumerate(MODES):
                tp, fp, fn, tn = (int(v) for v in counts[r, m, k])
                count_rows.append({"class": name, "reader": reader, "mode": mode, "readings": readings,
                                   "positives": tp + fn, "true_positives": tp, "false_positives": fp,
                                   "false_negatives": fn, "true_negatives": tn,
                                   "uncertain": int(uncertain_all[m, r, k])})
            for score in SCORE_NAMES:
                row = {"class": name, "reader": reader, "score": score, "readings": readings}
                values = resampled[score][:, r, :, k]
                for m, mode in enumerate(MODES):
                    low, high, _ = _interval(values[:, m], confidence)
                    row |= {mode: float(point[score][r, m, k]), f"{mode}_low": float(low), f"{mode}_high": float(high)}
                low, high, undefined = _interval(values[:, 1] - values[:, 0], confidence)
                row |= {"difference": float(point[score][r, 1, k] - point[score][r, 0, k]),
                        "difference_low": float(low), "difference_high": float(high),
                        "undefined_resamples": int(undefined)}
                score_rows.append(row)
    return pd.DataFrame(score_rows), pd.DataFrame(count_rows)


def _check_options(uncertain_as: str, n_resamples: int, confidence: float, readers_factor: str,
                   cases_factor: str) -> None:
    if uncertain_as not in UNCERTAIN_OPTIONS:
        raise ValueError(f"uncertain_as must be one of {', '.join(UNCERTAIN_OPTIONS)}; got {uncertain_as!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or not 1 <= n_resamples <= 100_000:
        raise ValueError(f"n_resamples must be an integer from 1 to 100000; got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    if (readers_factor, cases_factor) not in ANALYSES:
        raise ValueError(f"readers_factor/cases_factor must be one of {ANALYSES}; got {(readers_factor, cases_factor)}")


def _study_frame(reviews: pd.DataFrame, reference: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...],
                                                                          tuple[str, ...], list[str]]:
    """The pairs, their cases and readers, and the notes; refuses an empty or too large study."""
    pairs, notes = study_pairs(reviews)
    if pairs.empty:
        modes = reviews["reading_mode"].value_counts() if "reading_mode" in reviews else pd.Series(dtype=int)
        raise ValueError("no reader has both an unaided and an aided reading of a case (reading_mode unaided/aided; "
                         f"the rows hold {int(modes.get('unaided', 0))} unaided and {int(modes.get('aided', 0))} "
                         "aided); an aided reading needs the DNN's output, so none is saved without model weights")
    cases = tuple(dict.fromkeys(pairs.index.get_level_values("source_sha256")))
    readers = tuple(dict.fromkeys(pairs.index.get_level_values("reader")))
    if len(cases) * len(readers) > MAX_READINGS:
        raise ValueError(f"{len(cases)} cases x {len(readers)} readers is more than the {MAX_READINGS} reader-case "
                         "cells this analysis holds in memory; analyse a subset of cases or readers")
    missing = [name for name in CLASSES if name not in reference.columns]
    if missing:
        raise ValueError(f"reference must have one column per class; missing {', '.join(missing)}")
    unreferenced = int(reference.reindex(list(cases)).isna().all(axis=1).sum())
    if unreferenced:
        notes.append(f"{unreferenced} of {len(cases)} study cases have no reference for any class (left out)")
    return pairs, cases, readers, notes


def analyse_added_value(
    reviews: pd.DataFrame, *, reference: pd.DataFrame, dnn_calls: pd.DataFrame,
    device_calls: pd.DataFrame | None = None, reference_label: str = "", uncertain_as: str = "absent",
    n_resamples: int = 2000, confidence: float = 0.95, seed: int | None = 0, readers_factor: str = "random",
    cases_factor: str = "random", primary_endpoints: Sequence[tuple[str, str]] = (), label: str = "",
) -> AddedValue:
    """Unaided vs aided: OR–Hillis (primary), bootstrap (secondary), changes, agreement, confidence/time,
    and the DNN/device alone (module docstring).

    Parameters
    ----------
    reviews : pandas.DataFrame
        Review rows with the review CSV's columns (others ignored).
    reference : pandas.DataFrame
        Index ``source_sha256``, one column per class: 1.0 present, 0.0 absent, NaN none.
    dnn_calls, device_calls : pandas.DataFrame
        Same layout: the DNN's calls (``p > threshold``) and the device's; NaN none.
    uncertain_as : {"absent", "present", "exclude"}
    n_resamples : int
        Bootstrap resamples (at least 1).
    confidence : float
        Coverage of the intervals, in (0, 1).
    seed : int or None
        Seed of ``numpy.random.default_rng`` for the bootstrap.
    readers_factor, cases_factor : {"random", "fixed"}
        The OR–Hillis analysis (not both fixed).
    primary_endpoints : sequence of (class, figure of merit)
        The plan's primary endpoints: their ``mrmc`` rows get ``primary`` True.
    label : str
        What this run is (pre-specified, sensitivity analysis, exploratory).

    Raises
    ------
    ValueError
        Naming the parameter; or no unaided/aided pair at all.
    """
    _check_options(uncertain_as, n_resamples, confidence, readers_factor, cases_factor)
    pairs, cases, readers, notes = _study_frame(reviews, reference)
    grids = _class_grids(pairs, reference, cases, readers, uncertain_as)
    mrmc, mrmc_readers = or_hillis_by_class(grids, readers, cases, readers_factor=readers_factor,
                                            cases_factor=cases_factor, confidence=confidence)
    mrmc["primary"] = [(name, figure) in set(primary_endpoints)
                       for name, figure in zip(mrmc["class"], mrmc["figure_of_merit"])]
    agreement = fleiss_by_mode(grids, readers, confidence=confidence, n_resamples=n_resamples, seed=seed)
    indicators, uncertain = _indicators(grids, readers)
    scores, counts = _score_tables(indicators, uncertain, readers, n_resamples=n_resamples, confidence=confidence,
                                   seed=seed)
    confidence_time, time_notes = confidence_and_time(pairs, readers)
    sources = {"DNN": dnn_calls, **({"Built-in": device_calls} if device_calls is not None else {})}
    alone = alone_scores(reference, sources, cases, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return AddedValue(mrmc, mrmc_readers, agreement, scores, counts, call_changes(pairs, reference, dnn_calls, readers),
                      confidence_time, alone, cases, readers, reference_label, uncertain_as, n_resamples, confidence,
                      seed, tuple(notes + time_notes), label, f"{readers_factor} readers, {cases_factor} cases",
                      tuple(primary_endpoints))


def analyse_cohort_added_value(reviews: pd.DataFrame, cohort: object, **options: object) -> AddedValue:
    """:func:`analyse_added_value` with the reference, DNN and device calls of a :class:`~ecgreview.study.cohort.Cohort`.

    With a consensus or ``reader:`` reference the reference comes from the readers' latest
    rows (the aided ones in a study): prefer a clinical-diagnosis reference; a note says so.
    """
    result = analyse_added_value(reviews, reference=cohort.reference, dnn_calls=cohort.dnn_calls,  # type: ignore[attr-defined]
                                 device_calls=cohort.device_calls, reference_label=cohort.reference_label,  # type: ignore[attr-defined]
                                 **options)  # type: ignore[arg-type]
    if not cohort.reference_label.startswith("clinical"):  # type: ignore[attr-defined]
        note = (f"reference '{cohort.reference_label}' is built from the study readers' own latest (aided) "  # type: ignore[attr-defined]
                "calls, which favours aided reading; a clinical-diagnosis reference avoids this")
        result = AddedValue(**{**result.__dict__, "notes": (*result.notes, note)})
    return result
