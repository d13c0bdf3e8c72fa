"""Which weights the app serves, and through which backend (ONNX Runtime or TensorFlow)."""

from __future__ import annotations

import functools
from pathlib import Path

from ecgreview.config import Settings
from ecgreview.errors import ModelError
from ecgreview.model.inference import InferenceModel
from ecgreview.model.provenance import WeightsIdentity, identify_weights
from ecgreview.model.weights import find_weights_files

__all__ = ["BACKENDS", "find_model", "installed_models", "load_inference_model"]


@functools.lru_cache(maxsize=128)
def _identify_cached(path: str, size: int, modified_ns: int) -> WeightsIdentity:
    del size, modified_ns  # cache keys: a changed file is hashed again
    return identify_weights(path)


def _identify_quickly(path: Path) -> WeightsIdentity:
    stat = path.stat()
    return _identify_cached(str(path), stat.st_size, stat.st_mtime_ns)


def installed_models(settings: Settings) -> list[Path]:
    """Weights files the app may use, best first.

    ``settings.model_path`` (``ECGREVIEW_MODEL``) alone when set; otherwise every
    weights file under ``settings.models_dir`` (:func:`~ecgreview.model.weights.find_weights_files`:
    ``*.hdf5`` and ``*.h5``, hidden folders such as an install in progress excluded):
    verified first, then shallower paths, then by name.

    Raises
    ------
    ModelError
        ``ECGREVIEW_MODEL`` names a file that does not exist.
    """
    if settings.model_path is not None:
        if not settings.model_path.is_file():
            raise ModelError(settings.model_path, "ECGREVIEW_MODEL names a weights file that does not exist; "
                             "fix the path or unset it to use the models folder")
        return [settings.model_path]
    paths = find_weights_files(settings.models_dir)

    def rank(path: Path) -> tuple[bool, int, str]:
        relative = path.relative_to(settings.models_dir)
        return _identify_quickly(path).status != "verified", len(relative.parts), str(relative)

    return sorted(paths, key=rank)


def find_model(settings: Settings) -> Path | None:
    """The weights file to use: ``ECGREVIEW_MODEL``, else the best in the models folder, else None.

    Raises
    ------
    ModelError
        ``ECGREVIEW_MODEL`` names a file that does not exist.
    """
    paths = installed_models(settings)
    return paths[0] if paths else None


#: Inference backends for :func:`load_inference_model`.
BACKENDS = ("auto", "tensorflow", "onnx")


def load_inference_model(path: str | Path, *, backend: str = "auto") -> InferenceModel:
    """The DNN for serving: ONNX Runtime or TensorFlow, with the same ``predict_probabilities``.

    ``auto`` takes ONNX Runtime when it is installed (its conversion is cached beside the
    weights, keyed by their SHA-256, so later starts do not import TensorFlow), else
    TensorFlow. Both agree with ``keras.Model.predict`` within 1e-5; the result's
    ``provenance["backend"]`` says which one ran.

    Raises
    ------
    ValueError
        ``backend`` is not one of :data:`BACKENDS`.
    ModelError
        The weights cannot be loaded, or ``onnx`` was asked for and is not installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "tensorflow":
        from ecgreview.model.onnx_backend import load_onnx_model, onnx_available

        available, reason = onnx_available()
        if available:
            return load_onnx_model(path)
        if backend == "onnx":
            raise ModelError(path, f"ONNX Runtime backend not available ({reason})")
    from ecgreview.model.network import load_model

    return load_model(path)
