"""Reproduce the published tables of Ribeiro et al. 2020 from their released data.

:func:`reproduce_paper` recomputes the score table (Table 2), the kappa tables
(Supplementary Table 2), the McNemar p-values (Supplementary Table 3) and the
confusion matrices (Supplementary Table 1) from ``annotations/*.csv``, compares
them with ``tables/*.csv`` at the tables' own rounding, and thresholds each
prediction file in ``dnn_predicts/`` (:func:`~ecgreview.record.dnn_calls`, always with the paper's
:data:`~ecgreview.record.THRESHOLDS`, never a site's ``ECGREVIEW_THRESHOLDS``) to find which one reproduces
the paper's DNN. A copy of the upstream files ships in ``ecgreview/data/ribeiro``
(see its ``ATTRIBUTION.md``); ``python -m ecgreview reproduce-paper`` without a folder uses it.

Prediction-file comparison (:func:`compare_predictions`) lives in
:mod:`ecgreview.study.compare` and is re-exported here.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES, THRESHOLDS, dnn_calls
from ecgreview.study.compare import PredictionComparison, compare_predictions
from ecgreview.study.metrics import classification_scores, cohen_kappa, confusion_counts, mcnemar

__all__ = [
    "BUNDLED_RIBEIRO_DIR", "Difference", "CandidateResult", "PaperReproduction", "reproduce_paper",
    "PredictionComparison", "compare_predictions", 
]

#: The bundled copy of the upstream reference data.
BUNDLED_RIBEIRO_DIR = Path(__file__).resolve().parents[1] / "data" / "ribeiro"

#: Predictors of the paper's tables (upstream names) and their annotation files.
PREDICTORS: dict[str, str] = {
    "DNN": "dnn.csv", "cardio.": "cardiology_residents.csv",
    "emerg.": "emergency_residents.csv", "stud.": "medical_students.csv",
}
#: Raters of ``kappas_annotators_and_DNN.csv`` (upstream names) and their files.
RATERS: dict[str, str] = {
    "DNN": "dnn.csv", "Cert. cardiol. 1": "cardiologist1.csv", "Certif. cardiol. 2": "cardiologist2.csv",
}
#: Column names of ``scores.csv`` and the matching :func:`classification_scores` fields.
SCORE_COLUMNS: dict[str, str] = {
    "Precision": "precision", "Recall": "sensitivity", "Specificity": "specificity", "F1 score": "f1",
}
RELEASED_MODEL = "model.npy"
_CONFUSION = "confusion matrices.csv"


@dataclass(frozen=True)
class Difference:
    """One published cell that the recomputation does not match at the table's rounding."""

    table: str
    row: str
    column: str
    published: str
    recomputed: str

    def __str__(self) -> str:
        return f"{self.table} [{self.row}, {self.column}]: published {self.published}, recomputed {self.recomputed}"


@dataclass(frozen=True)
class CandidateResult:
    """One prediction file thresholded ``p > t``, against the paper's DNN."""

    name: str
    label_mismatches: int
    scores: pd.DataFrame
    differences: tuple[Difference, ...]
    sha256: str = ""

    @property
    def reproduces(self) -> bool:
        """Matches ``annotations/dnn.csv`` exactly and the paper's DNN scores at rounding."""
        return self.label_mismatches == 0 and not self.differences


@dataclass(frozen=True)
class PaperReproduction:
    """Recomputed and published tables, their differences, and the candidate prediction files."""

    ribeiro_dir: Path
    recomputed: dict[str, pd.DataFrame]
    published: dict[str, pd.DataFrame]
    differences: tuple[Difference, ...]
    candidates: tuple[CandidateResult, ...]

    @property
    def reproducing_files(self) -> list[str]:
        return [candidate.name for candidate in self.candidates if candidate.reproduces]

    @property
    def ok(self) -> bool:
        """All published tables match and at least one prediction file reproduces the DNN."""
        return not self.differences and bool(self.reproducing_files)

    def released_model_comparison(self) -> pd.DataFrame:
        """The paper's DNN scores beside those of the released ``model.npy``, per class."""
        paper = self.published["scores.csv"].xs("DNN", axis=1, level=1)
        released = next((c for c in self.candidates if c.name == RELEASED_MODEL), None)
        if released is None:
            return pd.DataFrame()
        columns = {}
        for metric in SCORE_COLUMNS:
            columns[(metric, "paper")] = paper[metric]
            columns[(metric, RELEASED_MODEL)] = released.scores[metric].map(lambda v: f"{v:.3f}")
        return pd.DataFrame(columns)

    def format_text(self) -> str:
        """A readable report: table checks, recomputed tables, candidates, released model."""
        sections = [_format_checks(self), _format_recomputed(self), _format_candidates(self)]
        released = self.released_model_comparison()
        if not released.empty:
            sections.append(f"Released weights ({RELEASED_MODEL}) beside the paper, DNN rows:\n"
                            + released.to_string())
        return "\n\n".join(sections) + "\n\n" + _format_verdict(self) + "\n"


def _format_checks(reproduction: PaperReproduction) -> str:
    lines = [f"Reproduction of Ribeiro et al. 2020 (Nat Commun 11:1760) from {reproduction.ribeiro_dir}",
             "Published tables, recomputed from annotations/*.csv (DNN = annotations/dnn.csv):"]
    for name, table in reproduction.published.items():
        count = sum(1 for difference in reproduction.differences if difference.table == name)
        verdict = "all match" if count == 0 else f"{count} differ"
        lines.append(f"  tables/{name}: {table.size} values compared at the published rounding: {verdict}")
    lines += [f"    {difference}" for difference in reproduction.differences[:30]]
    if len(reproduction.differences) > 30:
        lines.append(f"    ... and {len(reproduction.differences) - 30} more")
    return "\n".join(lines)


def _format_recomputed(reproduction: PaperReproduction) -> str:
    def three(value: float) -> str:
        return f"{value:.3f}"

    scores = reproduction.recomputed["scores.csv"]
    blocks = [f"Recomputed {metric} (Table 2):\n" + scores[metric].to_string(float_format=three)
              for metric in SCORE_COLUMNS]
    for name, title in (("kappa.csv", "Cohen's kappa (Suppl. Table 2a)"),
                        ("kappas_annotators_and_DNN.csv", "Cohen's kappa (Suppl. Table 2b)"),
                        ("mcnemar.csv", "McNemar p-values (Suppl. Table 3)")):
        blocks.append(f"Recomputed {title}:\n" + reproduction.recomputed[name].to_string(float_format=three))
    return "\n\n".join(blocks)


def _format_candidates(reproduction: PaperReproduction) -> str:
    thresholds = ", ".join(f"{value:g}" for value in THRESHOLDS)
    rows = {candidate.name: {
        "labels != dnn.csv": candidate.label_mismatches,
        "score cells != paper": len(candidate.differences),
        **{f"F1 {name}": f"{value:.3f}" for name, value in candidate.scores["F1 score"].items()},
        "reproduces": "yes" if candidate.reproduces else "no",
        "same bytes as": ", ".join(other.name for other in reproduction.candidates
                                   if other.sha256 == candidate.sha256 and other is not candidate),
    } for candidate in reproduction.candidates}
    return (f"Prediction files thresholded p > t ({thresholds}):\n"
            + pd.DataFrame(rows).T.to_string())


def _format_verdict(reproduction: PaperReproduction) -> str:
    files = reproduction.reproducing_files
    released = next((c for c in reproduction.candidates if c.name == RELEASED_MODEL), None)
    lines = [("Reproduced by: " + ", ".join(files)) if files else "No prediction file reproduces the paper's DNN."]
    if released is not None and not released.reproduces:
        lines.append(f"The released weights ({RELEASED_MODEL}) do not reproduce the paper: "
                     f"{released.label_mismatches} labels differ from annotations/dnn.csv, "
                     f"{len(released.differences)} DNN score cells differ.")
    lines.append("Result: REPRODUCED" if reproduction.ok else
                 f"Result: DIFFERENCES ({len(reproduction.differences)} published values not reproduced)")
    return "\n".join(lines)


def _fail(path: Path, reason: str) -> EcgReviewError:
    return EcgReviewError(path, reason)


def _read_labels(path: Path) -> np.ndarray:
    """An annotation CSV (header = class names, optional index column) as (N, 6) int8."""
    if not path.is_file():
        raise _fail(path, "missing annotation file")
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise _fail(path, f"not a readable CSV: {exc}") from exc
    if list(table.columns[-len(CLASSES):]) != list(CLASSES):
        raise _fail(path, f"expected columns {list(CLASSES)}, got {list(table.columns)}")
    labels = table[list(CLASSES)].to_numpy()
    if not np.isin(labels, (0, 1)).all():
        raise _fail(path, "labels must be 0 or 1")
    return labels.astype(np.int8)


def _read_published(path: Path) -> pd.DataFrame:
    """A published table as strings (the cells exactly as printed)."""
    if not path.is_file():
        raise _fail(path, "missing published table")
    try:
        if path.name == _CONFUSION:
            return _read_confusion_table(path)
        header = [0, 1] if path.name == "scores.csv" else 0
        return pd.read_csv(path, header=header, index_col=0, dtype=str, keep_default_na=False)
    except (OSError, ValueError, IndexError, pd.errors.ParserError) as exc:
        raise _fail(path, f"not a readable table: {exc}") from exc


def _read_confusion_table(path: Path) -> pd.DataFrame:
    """``confusion matrices.csv``: 3 header rows, index (diagnosis, true label)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    columns = pd.MultiIndex.from_arrays([rows[0][2:], rows[1][2:]])
    index = pd.MultiIndex.from_tuples([(row[0], row[1]) for row in rows[3:]])
    return pd.DataFrame([row[2:] for row in rows[3:]], index=index, columns=columns)


def _load_annotations(ribeiro_dir: Path) -> dict[str, np.ndarray]:
    names = {"gold_standard.csv", *PREDICTORS.values(), *RATERS.values()}
    return {name: _read_labels(ribeiro_dir / "annotations" / name) for name in sorted(names)}


def _scores_frame(gold: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Precision, Recall, Specificity, F1 score of one predictor, classes as rows (upstream names)."""
    scores = classification_scores(gold, predicted)
    return pd.DataFrame({column: getattr(scores, field) for column, field in SCORE_COLUMNS.items()},
                        index=list(CLASSES))


def _recompute_tables(labels: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    gold = labels["gold_standard.csv"]
    predictors = {name: labels[file] for name, file in PREDICTORS.items()}
    scores = pd.concat({name: _scores_frame(gold, values) for name, values in predictors.items()}, axis=1)
    scores = scores.swaplevel(0, 1, axis=1)[list(SCORE_COLUMNS)]
    pairs = list(combinations(predictors, 2))
    kappa = {f"{a} vs {b}": cohen_kappa(predictors[a], predictors[b]).kappa for a, b in pairs}
    p_values = {f"{a} vs {b}": mcnemar(gold, predictors[a], predictors[b]).p_value for a, b in pairs}
    raters = {name: labels[file] for name, file in RATERS.items()}
    kappa_raters = {f"{a} vs {b}": cohen_kappa(raters[a], raters[b]).kappa for a, b in combinations(raters, 2)}
    return {
        "scores.csv": scores,
        "kappa.csv": pd.DataFrame(kappa, index=list(CLASSES)).T,
        "kappas_annotators_and_DNN.csv": pd.DataFrame(kappa_raters, index=list(CLASSES)).T,
        "mcnemar.csv": pd.DataFrame(p_values, index=list(CLASSES)).T,
        _CONFUSION: _confusion_frame(gold, predictors),
    }


def _confusion_frame(gold: np.ndarray, predictors: dict[str, np.ndarray]) -> pd.DataFrame:
    """Counts by (diagnosis, true label) x (predictor, predicted label), as upstream lays them out."""
    columns: dict[tuple[str, str], list[int]] = {}
    index = [(name, truth) for name in CLASSES for truth in ("not present", "present")]
    for predictor, predicted in predictors.items():
        counts = confusion_counts(gold, predicted)
        by_truth = {"not present": (counts.true_negatives, counts.false_positives),
                    "present": (counts.false_negatives, counts.true_positives)}
        for column, label in enumerate(("not present", "present")):
            columns[(predictor, label)] = [
                int(by_truth[truth][column][CLASSES.index(name)]) for name, truth in index]
    return pd.DataFrame(columns, index=pd.MultiIndex.from_tuples(index))


def _format_like(value: float, published: str) -> str:
    """``value`` printed with as many decimals as the published cell."""
    if isinstance(value, float) and np.isnan(value):
        return ""
    match = re.fullmatch(r"-?\d+(?:\.(\d+))?", published.strip())
    decimals = len(match.group(1) or "") if match else 3
    return f"{value:.{decimals}f}"


def _compare_table(name: str, recomputed: pd.DataFrame, published: pd.DataFrame) -> list[Difference]:
    """Published cells that the recomputation does not reproduce at the published rounding."""
    differences = []
    for row in published.index:
        for column in published.columns:
            cell = str(published.at[row, column]).strip()
            try:
                value = recomputed.at[row, column]
            except KeyError:
                differences.append(Difference(name, _label(row), _label(column), cell, "(not recomputed)"))
                continue
            if _format_like(value, cell) != cell:
                differences.append(Difference(name, _label(row), _label(column), cell, _format_like(value, cell)))
    return differences


def _label(key: object) -> str:
    return " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _candidate_files(ribeiro_dir: Path) -> list[Path]:
    predictions = ribeiro_dir / "dnn_predicts"
    seeds = sorted((predictions / "other_seeds").glob("model_*.npy"),
                   key=lambda path: int(re.sub(r"\D", "", path.stem) or 0))
    files = [predictions / RELEASED_MODEL, *seeds]
    return [path for path in files if path.is_file()]


def _evaluate_candidate(path: Path, ribeiro_dir: Path, labels: dict[str, np.ndarray],
                        published_scores: pd.DataFrame) -> CandidateResult:
    try:
        probabilities = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise _fail(path, f"not a readable .npy array: {exc}") from exc
    if probabilities.shape != labels["dnn.csv"].shape:
        raise _fail(path, f"expected shape {labels['dnn.csv'].shape}, got {probabilities.shape}")
    predicted = dnn_calls(probabilities, THRESHOLDS).astype(np.int8)  # always the paper's, never the site's
    scores = _scores_frame(labels["gold_standard.csv"], predicted)
    paper = published_scores.xs("DNN", axis=1, level=1)
    name = path.relative_to(ribeiro_dir / "dnn_predicts").as_posix()
    differences = _compare_table(name, scores, paper)
    return CandidateResult(name, int((predicted != labels["dnn.csv"]).sum()), scores, tuple(differences),
                           hashlib.sha256(path.read_bytes()).hexdigest())


def reproduce_paper(ribeiro_dir: str | Path) -> PaperReproduction:
    """Recompute the paper's tables and find the prediction file behind its DNN.

    Parameters
    ----------
    ribeiro_dir : path
        A folder laid out like upstream: ``annotations/*.csv``, ``tables/*.csv``,
        ``dnn_predicts/model.npy`` and ``dnn_predicts/other_seeds/model_*.npy``.

    Returns
    -------
    PaperReproduction
        ``.ok`` is False if any published value differs beyond its rounding, or
        if no prediction file reproduces the paper's DNN.

    Raises
    ------
    EcgReviewError
        ``path: reason`` for a missing folder or a missing or malformed file.
    """
    ribeiro_dir = Path(ribeiro_dir)
    if not ribeiro_dir.is_dir():
        raise _fail(ribeiro_dir, "not a folder (expected the Ribeiro et al. data: annotations/, tables/, dnn_predicts/)")
    labels = _load_annotations(ribeiro_dir)
    recomputed = _recompute_tables(labels)
    published = {name: _read_published(ribeiro_dir / "tables" / name) for name in recomputed}
    differences = [difference for name in recomputed
                   for difference in _compare_table(name, recomputed[name], published[name])]
    candidates = tuple(_evaluate_candidate(path, ribeiro_dir, labels, published["scores.csv"])
                       for path in _candidate_files(ribeiro_dir))
    if not candidates:
        raise _fail(ribeiro_dir / "dnn_predicts", "no prediction files (model.npy, other_seeds/model_*.npy)")
    return PaperReproduction(ribeiro_dir, recomputed, published, tuple(differences), candidates)
