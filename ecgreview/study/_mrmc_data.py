"""Input checks, figures of merit and their covariance over cases, for :mod:`ecgreview.study.mrmc`.

Private: :func:`ecgreview.study.mrmc.analyse_mrmc` is the public entry point and documents the layout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ID_COLUMNS = ("reader", "treatment", "case")


def _columns(ratings: pd.DataFrame) -> pd.DataFrame:
    """The id columns as strings (``modality`` accepted for ``treatment``); checks presence and gaps."""
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError(f"ratings must be a pandas DataFrame, got {type(ratings).__name__}")
    frame = ratings.rename(columns={"modality": "treatment"}) if "treatment" not in ratings else ratings
    missing = [name for name in (*ID_COLUMNS, "truth") if name not in frame]
    if missing:
        raise ValueError(f"ratings lacks column(s) {', '.join(missing)}: the long layout needs reader, treatment "
                         "(or modality), case, truth and a rating or call per row")
    if frame.empty:
        raise ValueError("ratings is empty: one row per reader × treatment × case is needed")
    for name in (*ID_COLUMNS, "truth"):
        if frame[name].isna().any():
            raise ValueError(f"ratings column {name} is empty in row {int(np.flatnonzero(frame[name].isna())[0])}")
    return frame.assign(**{name: frame[name].astype(str).str.strip() for name in ID_COLUMNS})


def _scores(frame: pd.DataFrame, figure_of_merit: str, positive_from: float | None) -> pd.Series:
    """The per-row value the figure of merit is computed on: the rating (AUC) or a 0/1 call."""
    if positive_from is not None:
        if figure_of_merit == "auc":
            raise ValueError("positive_from applies to sensitivity and specificity only, not to the AUC")
        if isinstance(positive_from, bool) or not isinstance(positive_from, (int, float)) or \
                not np.isfinite(positive_from):
            raise ValueError(f"positive_from must be a finite number, got {positive_from!r}")
        if "rating" not in frame:
            raise ValueError("positive_from needs a rating column (rating >= positive_from counts as positive)")
    column = "call" if figure_of_merit != "auc" and positive_from is None else "rating"
    if figure_of_merit == "auc" and "rating" not in frame and "call" in frame:
        column = "call"  # the AUC of binary calls: a one-point ROC curve
    if column not in frame:
        needs = ("a rating column" if figure_of_merit == "auc" else
                 "a binary call column, or positive_from with a rating column (rating >= positive_from is positive)")
        raise ValueError(f"{figure_of_merit} needs {needs}")
    values = pd.to_numeric(frame[column], errors="coerce")
    if not np.isfinite(values.to_numpy(dtype=float)).all():
        row = int(np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))[0])
        raise ValueError(f"ratings column {column} must be numeric and finite; row {row} is {frame[column].iloc[row]!r}")
    if column == "call" and not values.isin((0, 1)).all():
        raise ValueError("ratings column call must hold only 0/1 (1 = called positive)")
    return (values >= positive_from).astype(float) if positive_from is not None else values.astype(float)


def ratings_grid(ratings: pd.DataFrame, figure_of_merit: str, positive_from: float | None
                 ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Scores of shape (treatments, readers, cases), truth of shape (cases,), treatment and reader labels."""
    frame = _columns(ratings)
    scores = _scores(frame, figure_of_merit, positive_from)
    truth = pd.to_numeric(frame["truth"], errors="coerce")
    if not truth.isin((0, 1)).all():
        raise ValueError("ratings column truth must hold only 0/1 (1 = positive case)")
    per_case = pd.Series(truth.to_numpy(), index=frame["case"]).groupby(level=0, sort=False)
    if (per_case.nunique() > 1).any():
        case = per_case.nunique().index[per_case.nunique().to_numpy() > 1][0]
        raise ValueError(f"ratings gives case {case} both truth 0 and truth 1: truth belongs to the case")
    duplicated = frame.duplicated(list(ID_COLUMNS))
    if duplicated.any():
        row = frame.loc[duplicated].iloc[0]
        raise ValueError(f"ratings has more than one row for reader {row['reader']}, treatment {row['treatment']}, "
                         f"case {row['case']}")
    readers, treatments, cases = (tuple(pd.unique(frame[name])) for name in ID_COLUMNS)
    if len(treatments) < 2 or len(readers) < 2:
        raise ValueError(f"the OR analysis needs at least 2 treatments and 2 readers; ratings has {len(treatments)} "
                         f"treatment(s) and {len(readers)} reader(s)")
    cells = len(treatments) * len(readers) * len(cases)
    if len(frame) != cells:
        full = pd.MultiIndex.from_product([readers, treatments, cases], names=list(ID_COLUMNS))
        gap = full.difference(pd.MultiIndex.from_frame(frame[list(ID_COLUMNS)]))[0]
        raise ValueError(f"ratings lacks {cells - len(frame)} of {cells} reader × treatment × case cells (first: reader "
                         f"{gap[0]}, treatment {gap[1]}, case {gap[2]}): every reader must read every case in every "
                         "treatment (factorial design)")
    grid = (pd.Series(scores.to_numpy(), index=pd.MultiIndex.from_frame(frame[["treatment", "reader", "case"]]))
            .unstack("case").reindex(columns=list(cases)).reindex(pd.MultiIndex.from_product([treatments, readers])))
    case_truth = per_case.first().reindex(list(cases)).to_numpy(dtype=int)
    positives, negatives = int(case_truth.sum()), int((case_truth == 0).sum())
    if positives < 2 or negatives < 2:
        raise ValueError(f"ratings needs at least 2 positive and 2 negative cases (truth 1 and 0) for the case "
                         f"jackknife; it has {positives} positive and {negatives} negative")
    values = grid.to_numpy(dtype=float).reshape(len(treatments), len(readers), len(cases))
    return values, case_truth, treatments, readers


def figures_and_deletions(values: np.ndarray, truth: np.ndarray, figure_of_merit: str
                          ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Figures (t, r), case-deletion figures (t·r, cases deleted) and, for the AUC, DeLong's components.

    AUC: ψ = 1 where a positive case rates above a negative one, ½ on ties; θ = mean ψ; every case
    is deleted in turn (a positive (negative) case removes its row (column) of ψ). Sensitivity
    (specificity) depends on the positive (negative) cases only, and only they are deleted, as in
    MRMCaov.
    """
    flat = values.reshape(-1, values.shape[-1])
    positive, negative = flat[:, truth == 1], flat[:, truth == 0]
    m, n = positive.shape[1], negative.shape[1]
    if figure_of_merit == "auc":
        psi = (positive[:, :, None] > negative[:, None, :]) + 0.5 * (positive[:, :, None] == negative[:, None, :])
        total, by_positive, by_negative = psi.sum(axis=(1, 2)), psi.sum(axis=2), psi.sum(axis=1)
        deleted = np.concatenate([(total[:, None] - by_positive) / ((m - 1) * n),
                                  (total[:, None] - by_negative) / (m * (n - 1))], axis=1)
        return (total / (m * n)).reshape(values.shape[:2]), deleted, (by_positive / n, by_negative / m)
    counted = positive if figure_of_merit == "sensitivity" else 1 - negative
    figures = counted.mean(axis=1)
    deleted = (counted.sum(axis=1)[:, None] - counted) / (counted.shape[1] - 1)
    return figures.reshape(values.shape[:2]), deleted, None


def covariance_over_cases(deleted: np.ndarray, delong: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Jackknife covariance (c − 1)/c · Σ (θ₍ₖ₎ − θ̄)(θ₍ₖ₎ − θ̄)ᵀ, or DeLong's S10/m + S01/n."""
    if delong is not None:
        by_positive, by_negative = delong
        return np.cov(by_positive) / by_positive.shape[1] + np.cov(by_negative) / by_negative.shape[1]
    cases = deleted.shape[1]
    centred = deleted - deleted.mean(axis=1, keepdims=True)
    return (cases - 1) / cases * centred @ centred.T


def average_covariances(covariance: np.ndarray, treatments: int, readers: int, *, treatment: int | None = None
                        ) -> tuple[float, float, float, float]:
    """Error variance, Cov1, Cov2, Cov3: the covariance averaged over pairs of each kind (one treatment's only)."""
    treatment_of, reader_of = np.divmod(np.arange(treatments * readers), readers)
    same_treatment = treatment_of[:, None] == treatment_of[None, :]
    same_reader = reader_of[:, None] == reader_of[None, :]
    keep = np.ones_like(same_treatment) if treatment is None else (
        (treatment_of[:, None] == treatment) & (treatment_of[None, :] == treatment))

    def mean(mask: np.ndarray) -> float:
        return float(covariance[mask & keep].mean()) if (mask & keep).any() else 0.0

    return (mean(same_treatment & same_reader), mean(~same_treatment & same_reader),
            mean(same_treatment & ~same_reader), mean(~same_treatment & ~same_reader))


def mean_squares(figures: np.ndarray, treatments: tuple[str, ...]) -> dict[str, float]:
    """Treatment × reader ANOVA of the figures (one per cell), and the reader mean square per treatment."""
    t, r = figures.shape
    by_treatment, by_reader, grand = figures.mean(axis=1), figures.mean(axis=0), figures.mean()
    residual = figures - by_treatment[:, None] - by_reader[None, :] + grand
    squares = {"treatment": r * float(((by_treatment - grand) ** 2).sum()) / (t - 1),
               "reader": t * float(((by_reader - grand) ** 2).sum()) / (r - 1),
               "treatment_by_reader": float((residual**2).sum()) / ((t - 1) * (r - 1))}
    for index, name in enumerate(treatments):
        squares[f"reader|{name}"] = float(((figures[index] - by_treatment[index]) ** 2).sum()) / (r - 1)
    return squares
