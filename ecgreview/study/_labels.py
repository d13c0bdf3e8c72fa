"""Validation and division helpers shared by :mod:`ecgreview.study.metrics` and :mod:`ecgreview.study.agreement`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

ZeroDivision = Literal["undefined"] | float


def _check_inputs(*arrays: npt.ArrayLike, names: Sequence[str] = ("y_true", "y_pred")) -> tuple[np.ndarray, ...]:
    """Validate 0/1 label arrays of one shape; return them as int8 arrays of shape (N, K).

    Raises
    ------
    ValueError
        Naming the parameter: not 1-D or 2-D, empty, non-binary, or shapes differ.
    """
    checked = []
    for name, array in zip(names, arrays, strict=True):
        values = np.asarray(array)
        if values.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D (N,) or 2-D (N, classes), got shape {values.shape}")
        if values.shape[0] == 0:
            raise ValueError(f"{name} is empty: at least one sample is needed")
        if values.dtype.kind not in "biuf" or not np.isin(values, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0/1 labels (threshold probabilities first)")
        checked.append(values.astype(np.int8).reshape(values.shape[0], -1))
    shapes = {np.asarray(array).shape for array in arrays}
    if len(shapes) > 1:
        raise ValueError(f"{' and '.join(names)} must have the same shape, got {sorted(shapes)}")
    return tuple(checked)


def _shape_like(values: np.ndarray, one_class: bool) -> np.ndarray:
    """(K,) per-class results, or a 0-d array for 1-D input."""
    return values.reshape(()) if one_class else values


def _divide(numerator: np.ndarray, denominator: np.ndarray, zero_division: ZeroDivision) -> tuple[np.ndarray, np.ndarray]:
    """numerator / denominator, with a mask of zero denominators filled per ``zero_division``."""
    undefined = denominator == 0
    fill = math.nan if zero_division == "undefined" else float(zero_division)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(undefined, fill, numerator / np.where(undefined, 1, denominator))
    return values.astype(float), undefined


def _nan_percentiles(values: np.ndarray, percents: tuple[float, float]) -> np.ndarray:
    """Percentiles over axis 0 ignoring NaN; NaN for all-NaN columns, without a warning."""
    result = np.full((len(percents), values.shape[1]), math.nan)
    defined = ~np.isnan(values).all(axis=0)
    if defined.any():
        result[:, defined] = np.nanpercentile(values[:, defined], percents, axis=0)
    return result
