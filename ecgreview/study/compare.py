"""Compare two sets of DNN probabilities for the same ECGs, value by value.

Used to check a re-run of the model (another runtime, another machine, the
app's batch scoring) against a reference output: how many of the N x 6
probabilities differ, by how much, and whether any call flips at the
decision thresholds (:func:`~ecgreview.record.dnn_calls`, the paper's :data:`~ecgreview.record.THRESHOLDS` unless given).

Readable inputs: ``.npy`` arrays (N, 6); headerless numeric CSV (N rows of six
comma-separated numbers); CSV with one column per class name; and the app's
batch-scoring CSV, with ``prob_<class>`` columns plus optional provenance
columns such as ``model_sha256`` and ``framework``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES, THRESHOLDS, dnn_calls

#: Batch-scoring CSV columns holding the probability of each class.
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"prob_{name}" for name in CLASSES)
#: Provenance columns reported even when their value varies between rows. Any other
#: non-probability column whose value is the same in every row is reported too.
_PROVENANCE_COLUMNS = ("model_sha256", "sha256", "git_blob_sha1", "model_file", "model", "framework",
                       "framework_version", "app_version", "git_commit")


@dataclass(frozen=True)
class PredictionSource:
    """One side of a comparison: probabilities (N, 6) as float64, and where they came from."""

    path: Path
    probabilities: np.ndarray
    provenance: dict[str, str] = field(default_factory=dict)
    stored_as_float32: bool = False


def load_probabilities(path: str | Path) -> PredictionSource:
    """Read DNN probabilities (N, 6) from ``.npy`` or CSV (see the module docstring).

    Raises
    ------
    EcgReviewError
        ``path: reason`` when the file is missing, unreadable, not (N, 6) or not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise EcgReviewError(path, "no such file")
    provenance = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    if path.suffix.lower() == ".npy":
        probabilities, details = _read_npy(path)
    else:
        probabilities, details = _read_csv(path)
    provenance.update(details)
    stored_as_float32 = np.asarray(probabilities).dtype == np.float32
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(CLASSES):
        raise EcgReviewError(path, f"expected probabilities of shape (N, {len(CLASSES)}), got {probabilities.shape}")
    if not np.isfinite(probabilities).all():
        raise EcgReviewError(path, "probabilities contain NaN or infinite values")
    return PredictionSource(path, probabilities, provenance, stored_as_float32)


def _read_npy(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EcgReviewError(path, f"not a readable .npy array: {exc}") from exc
    if array.dtype.kind not in "fiu":
        raise EcgReviewError(path, f"expected a numeric array, got dtype {array.dtype}")
    return array, {"format": f"npy {array.dtype}"}


def _read_csv(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    try:
        first_line = path.read_text(encoding="utf-8").split("\n", 1)[0]
    except (OSError, UnicodeDecodeError) as exc:
        raise EcgReviewError(path, f"not a readable text file: {exc}") from exc
    try:
        [float(cell) for cell in first_line.split(",")]
        headerless = True
    except ValueError:
        headerless = False
    try:
        if headerless:
            return np.loadtxt(path, delimiter=",", ndmin=2), {"format": "CSV without header"}
        table = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as exc:
        raise EcgReviewError(path, f"not a readable numeric CSV: {exc}") from exc
    return _probabilities_from_table(path, table)


def _probabilities_from_table(path: Path, table: pd.DataFrame) -> tuple[np.ndarray, dict[str, str]]:
    """Probabilities and provenance of a CSV with a header (batch-scoring or class columns)."""
    if all(column in table.columns for column in PROBABILITY_COLUMNS):
        columns, kind = list(PROBABILITY_COLUMNS), "batch-scoring CSV"
    elif all(column in table.columns for column in CLASSES):
        columns, kind = list(CLASSES), "CSV with class columns"
    else:
        raise EcgReviewError(path, f"expected columns {list(PROBABILITY_COLUMNS)} (batch scoring) "
                                   f"or {list(CLASSES)}, got {list(table.columns)}")
    try:
        probabilities = table[columns].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EcgReviewError(path, f"probability columns are not numeric: {exc}") from exc
    provenance = {"format": kind}
    for column in table.columns.difference(columns + [c for c in table.columns if str(c).startswith("Unnamed")]):
        values = table[column].dropna().astype(str).unique()
        if len(values) == 1:
            provenance[str(column)] = values[0]
        elif column in _PROVENANCE_COLUMNS:
            provenance[str(column)] = f"mixed ({len(values)} values)"
    return probabilities, provenance


@dataclass(frozen=True)
class PredictionComparison:
    """The value-by-value difference of two prediction sets for the same N ECGs.

    Attributes
    ----------
    reference, other : PredictionSource
    absolute_difference : numpy.ndarray
        (N, 6) |other - reference| in probability units.
    flips : numpy.ndarray
        (N, 6) bool: the call (:func:`~ecgreview.record.dnn_calls`) differs between the two sides.
    thresholds : tuple of float
    compared_as : str
        ``"float32"`` when either side is stored as float32 (both sides are then
        rounded to float32 first, so that a float32 written as text with enough
        digits does not count as a difference), else ``"float64"``.
    """

    reference: PredictionSource
    other: PredictionSource
    absolute_difference: np.ndarray
    flips: np.ndarray
    thresholds: tuple[float, ...]
    compared_as: str = "float64"

    @property
    def n_values(self) -> int:
        return int(self.absolute_difference.size)

    @property
    def n_differing(self) -> int:
        return int(np.count_nonzero(self.absolute_difference))

    @property
    def n_flips(self) -> int:
        return int(self.flips.sum())

    @property
    def max_abs_difference(self) -> float:
        return float(self.absolute_difference.max())

    @property
    def median_abs_difference(self) -> float:
        """Median |Δ| over all values (0 when fewer than half differ)."""
        return float(np.median(self.absolute_difference))

    @property
    def median_abs_difference_differing(self) -> float | None:
        """Median |Δ| over the values that differ; ``None`` when none do."""
        nonzero = self.absolute_difference[self.absolute_difference != 0]
        return float(np.median(nonzero)) if nonzero.size else None

    def per_class(self) -> pd.DataFrame:
        """One row per class plus ``all``: values, differing, max/median |Δ|, flips, threshold."""
        rows = []
        for index, name in enumerate(CLASSES):
            rows.append(_summary_row(name, self.absolute_difference[:, index], self.flips[:, index],
                                     self.thresholds[index]))
        rows.append(_summary_row("all", self.absolute_difference.ravel(), self.flips.ravel(), None))
        return pd.DataFrame(rows).set_index("class")

    def format_text(self) -> str:
        """A readable report: provenance of both sides, totals, the per-class table."""
        median_differing = self.median_abs_difference_differing
        lines = [f"Prediction comparison: {self.other.path.name} against {self.reference.path.name}"]
        for label, source in (("reference", self.reference), ("other", self.other)):
            details = ", ".join(f"{key}={value}" for key, value in source.provenance.items())
            lines.append(f"  {label}: {source.path} ({details})")
        lines += [
            f"Values: {self.n_values} ({self.reference.probabilities.shape[0]} ECGs x {len(CLASSES)} classes)",
            f"Differing values: {self.n_differing} of {self.n_values} (compared as {self.compared_as})",
            f"Max |Δ|: {self.max_abs_difference:.3g}; median |Δ|: {self.median_abs_difference:.3g} (all values), "
            + (f"{median_differing:.3g} (differing values)" if median_differing is not None else "n/a (none differ)"),
            f"Calls flipped at the thresholds (p > t): {self.n_flips}",
            "",
            self.per_class().to_string(float_format=lambda value: f"{value:.3g}"),
        ]
        return "\n".join(lines) + "\n"

    def to_csv(self, path: str | Path) -> None:
        """Write :meth:`per_class` as CSV (through the project's one formula guard)."""
        from ecgreview.security.spreadsheet import write_csv

        write_csv(self.per_class(), path, index=True)

    def figure(self) -> go.Figure:
        """Plotly histogram of the nonzero |Δ| per class (the library returns it; callers show it)."""
        figure = go.Figure()
        for index, name in enumerate(CLASSES):
            values = self.absolute_difference[:, index]
            figure.add_trace(go.Histogram(x=values[values != 0], name=name, opacity=0.6))
        figure.update_layout(
            barmode="overlay",
            title=(f"|Δ| {self.other.path.name} vs {self.reference.path.name}: {self.n_differing} of "
                   f"{self.n_values} values differ, max {self.max_abs_difference:.3g}, {self.n_flips} flips"),
            xaxis_title="|Δ probability| (nonzero values only)",
            yaxis_title="values",
        )
        if self.n_differing == 0:
            figure.add_annotation(text="all values identical", showarrow=False, x=0.5, y=0.5,
                                  xref="paper", yref="paper")
        return figure


def _summary_row(name: str, difference: np.ndarray, flips: np.ndarray, threshold: float | None) -> dict[str, object]:
    nonzero = difference[difference != 0]
    return {
        "class": name,
        "values": difference.size,
        "differing": nonzero.size,
        "max_abs_difference": float(difference.max()),
        "median_abs_difference": float(np.median(difference)),
        "median_abs_difference_differing": float(np.median(nonzero)) if nonzero.size else np.nan,
        "flips": int(flips.sum()),
        "threshold": threshold,
    }


def compare_predictions(
    reference: str | Path, other: str | Path, *, thresholds: Sequence[float] = THRESHOLDS,
) -> PredictionComparison:
    """Compare two prediction files (see :func:`load_probabilities`) value by value.

    Parameters
    ----------
    reference, other : path
        Files holding (N, 6) probabilities in class order :data:`~ecgreview.record.CLASSES`,
        rows in the same ECG order.
    thresholds : sequence of float
        The decision thresholds at which flips are counted (default: the paper's).

    Returns
    -------
    PredictionComparison

    Raises
    ------
    EcgReviewError
        A file cannot be read, or the two shapes differ.
    """
    first, second = load_probabilities(reference), load_probabilities(other)
    if first.probabilities.shape != second.probabilities.shape:
        raise EcgReviewError(second.path, f"shape {second.probabilities.shape} does not match "
                                          f"{first.path.name} {first.probabilities.shape}")
    compared_as = "float32" if first.stored_as_float32 or second.stored_as_float32 else "float64"
    reference_values, other_values = (
        source.probabilities.astype(compared_as).astype(np.float64) for source in (first, second))
    flips = dnn_calls(reference_values, thresholds) != dnn_calls(other_values, thresholds)
    difference = np.abs(other_values - reference_values)
    return PredictionComparison(first, second, difference, flips, tuple(float(t) for t in thresholds), compared_as)
