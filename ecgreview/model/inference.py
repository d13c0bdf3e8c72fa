"""What every inference backend is: the :class:`InferenceModel` protocol and its one chunked-prediction loop.

The TensorFlow backend (:class:`~ecgreview.model.network.LoadedModel`) and the ONNX Runtime
backend (:class:`~ecgreview.model.onnx_backend.OnnxModel`) both satisfy :class:`InferenceModel`;
everything that predicts (the case orchestrator, the worklist index, batch scoring) takes an
``InferenceModel`` and never asks which backend it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from ecgreview.model.provenance import WeightsIdentity
from ecgreview.record import CLASSES, MODEL_SAMPLES

__all__ = ["DEFAULT_BATCH_SIZE", "MODEL_LEADS", "InferenceModel", "check_batch", "predict_in_chunks"]


class InferenceModel(Protocol):
    """A loaded DNN, whatever serves it.

    Attributes
    ----------
    backend_name : str
        ``"tensorflow"`` or ``"onnx"`` (the key :func:`~ecgreview.model.serving.load_inference_model` takes).
    path : Path
        The weights file.
    identity : WeightsIdentity
        Its hashes and verification status.
    provenance : dict
        Model, software and machine facts stored beside every prediction (``backend`` says which ran).
    """

    backend_name: ClassVar[str]

    @property
    def path(self) -> Path: ...

    @property
    def identity(self) -> WeightsIdentity: ...

    @property
    def provenance(self) -> dict[str, Any]: ...

    def predict_probabilities(self, batch: np.ndarray, *, batch_size: int = ...) -> np.ndarray:
        """(N, 6) float32 probabilities of a preprocessed (N, 4096, 12) float32 batch in mV."""
        ...


#: Model input leads (channels).
MODEL_LEADS = 12


#: Batch size of the chunked path of :meth:`LoadedModel.predict_probabilities`.
DEFAULT_BATCH_SIZE = 32


def check_batch(batch: np.ndarray) -> np.ndarray:
    if not isinstance(batch, np.ndarray):
        raise TypeError(f"batch must be a numpy.ndarray, got {type(batch).__name__}")
    if batch.ndim != 3 or batch.shape[1:] != (MODEL_SAMPLES, MODEL_LEADS):
        raise ValueError(f"batch must have shape (N, {MODEL_SAMPLES}, {MODEL_LEADS}) "
                         f"(ECGs, samples at 400 Hz, leads), got {batch.shape}")
    if batch.dtype != np.float32:
        raise ValueError(f"batch must be float32 (mV), got {batch.dtype}; preprocess it with preprocess_ecg")
    if not np.isfinite(batch).all():
        raise ValueError("batch contains NaN or infinite values")
    return np.ascontiguousarray(batch)


def predict_in_chunks(batch: np.ndarray, batch_size: int, run: Callable[[np.ndarray], Any]) -> np.ndarray:
    """Check ``batch`` and call ``run`` on chunks of ``batch_size`` ECGs; (N, 6) float32 (any backend)."""
    batch = check_batch(batch)
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if len(batch) == 0:
        return np.zeros((0, len(CLASSES)), dtype=np.float32)
    parts = [np.asarray(run(batch[start:start + batch_size])) for start in range(0, len(batch), batch_size)]
    return np.concatenate(parts).astype(np.float32, copy=False)
