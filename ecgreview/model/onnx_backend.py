"""Serve the Ribeiro DNN through ONNX Runtime, from a converted model cached beside the weights.

The Keras model is converted once with ``tf2onnx`` (opset :data:`ONNX_OPSET`) and saved
next to the weights as ``<stem>.<weights SHA-256>.onnx``; the file carries the weights'
SHA-256 in its metadata and is used only when both agree. A cache hit loads without
TensorFlow at all (a faster cold start); a miss builds the Keras model, converts it and
writes the file atomically (or keeps it in memory when the folder is read-only).

:class:`OnnxModel` has the same ``predict_probabilities`` API as
:class:`~ecgreview.model.network.LoadedModel`. onnxruntime, onnx and tf2onnx are imported lazily.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ecgreview._files import write_atomically
from ecgreview.errors import ModelError
from ecgreview.model.inference import DEFAULT_BATCH_SIZE, MODEL_LEADS, predict_in_chunks
from ecgreview.model.provenance import WeightsIdentity, identify_weights, provenance
from ecgreview.record import MODEL_SAMPLES

__all__ = ["ONNX_OPSET", "OnnxModel", "convert_in_child_process", "convert_to_onnx", "load_onnx_model",
           "onnx_cache_path", "onnx_available"]

#: ONNX operator set of the converted model.
ONNX_OPSET = 17
#: Metadata key of the converted model that holds the weights' SHA-256.
_WEIGHTS_KEY = "ecgreview_weights_sha256"
_INPUT_NAME = "signal"


def onnx_available() -> tuple[bool, str]:
    """Whether onnxruntime and onnx import and tf2onnx is installed; and why not when they are not.

    tf2onnx (which imports TensorFlow) is only looked up, not imported: a cached
    conversion loads without TensorFlow.
    """
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install (protobuf clash)
        return False, f"{type(exc).__name__}: {exc}"
    if importlib.util.find_spec("tf2onnx") is None:
        return False, "tf2onnx is not installed"
    return True, ""


def onnx_cache_path(weights_path: str | Path, sha256: str) -> Path:
    """Where the converted model of ``weights_path`` (with content ``sha256``) is cached."""
    weights_path = Path(weights_path)
    return weights_path.with_name(f"{weights_path.stem}.{sha256}.onnx")


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("onnxruntime", "onnx", "tf2onnx"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = ""
    return versions


def convert_to_onnx(weights_path: str | Path, *, identity: WeightsIdentity | None = None,
                    keras_model: Any = None) -> bytes:
    """Convert the DNN with the weights of ``weights_path`` to a serialised ONNX model.

    Parameters
    ----------
    weights_path : str or Path
        A Keras 2.2.4 ``model.hdf5`` in the released layout.
    identity : WeightsIdentity, keyword-only, optional
        Its identity, when already computed.
    keras_model : keras.Model, keyword-only, optional
        The built model with these weights already loaded (saves building it again).

    Returns
    -------
    bytes
        The ONNX model: input ``signal`` (N, 4096, 12) float32, output (N, 6).

    Raises
    ------
    ModelError
        The conversion fails.
    """
    import tensorflow as tf
    import tf2onnx

    from ecgreview.model.network import build_model, load_weights_hdf5

    identity = identity or identify_weights(weights_path)
    if keras_model is None:
        keras_model = build_model()
        load_weights_hdf5(keras_model, weights_path)
    signature = (tf.TensorSpec((None, MODEL_SAMPLES, MODEL_LEADS), tf.float32, name=_INPUT_NAME),)
    try:
        proto, _ = tf2onnx.convert.from_keras(keras_model, input_signature=signature, opset=ONNX_OPSET)
    except Exception as exc:  # tf2onnx raises many kinds
        raise ModelError(weights_path, f"ONNX conversion with tf2onnx failed: {type(exc).__name__}: {exc}") from exc
    entry = proto.metadata_props.add()
    entry.key, entry.value = _WEIGHTS_KEY, identity.sha256
    return proto.SerializeToString()


def _cached_model(path: Path, sha256: str) -> bytes | None:
    """The cached ONNX bytes when the file exists and its metadata names ``sha256``."""
    import onnx

    if not path.is_file():
        return None
    try:
        data = path.read_bytes()
        stored = {entry.key: entry.value for entry in onnx.load_from_string(data).metadata_props}
    except Exception:  # unreadable or damaged cache: convert again
        return None
    return data if stored.get(_WEIGHTS_KEY) == sha256 else None


@dataclass(frozen=True, eq=False)
class OnnxModel:
    """The DNN as an ONNX Runtime session, with the identity of the weights it was converted from.

    Attributes
    ----------
    path : Path
        The weights file.
    identity : WeightsIdentity
        Its hashes and verification status.
    provenance : dict
        As :func:`~ecgreview.model.provenance.provenance`, plus ``backend`` and ``onnx_file``.
    onnx_path : Path or None
        The cached ONNX file (None when it could not be written).
    """

    backend_name: ClassVar[str] = "onnx"
    path: Path
    identity: WeightsIdentity
    provenance: dict[str, Any]
    onnx_path: Path | None
    session: Any = field(repr=False)

    def predict_probabilities(self, batch: np.ndarray, *, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Class probabilities (N, 6) float32 of a preprocessed (N, 4096, 12) float32 batch in mV.

        See :meth:`ecgreview.model.network.LoadedModel.predict_probabilities`.
        """
        return predict_in_chunks(batch, batch_size, lambda chunk: self.session.run(None, {_INPUT_NAME: chunk})[0])


def load_onnx_model(path: str | Path, *, threads: int | None = None, keras_model: Any = None) -> OnnxModel:
    """Load the DNN for ONNX Runtime: the cached conversion of ``path``, else convert and cache it.

    Parameters
    ----------
    path : str or Path
        A Keras 2.2.4 ``model.hdf5`` in the released layout.
    threads : int, keyword-only, optional
        ONNX Runtime intra-op threads (default: its own choice, the physical cores).
    keras_model : keras.Model, keyword-only, optional
        A built model with these weights, used on a cache miss instead of building one.

    Returns
    -------
    OnnxModel
        Warmed with one prediction.

    Raises
    ------
    ModelError
        The weights are missing or unreadable, ONNX Runtime is not installed, or the conversion fails.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(path, "weights file not found; install it with: python -m ecgreview model install")
    available, reason = onnx_available()
    if not available:
        raise ModelError(path, f"ONNX Runtime backend not available ({reason}); "
                               "pip install -r requirements.txt")
    import onnxruntime

    identity = identify_weights(path)
    cache_path = onnx_cache_path(path, identity.sha256)
    onnx_path: Path | None = cache_path
    data = _cached_model(cache_path, identity.sha256)
    if data is None:
        data = convert_to_onnx(path, identity=identity, keras_model=keras_model)
        try:
            write_atomically(cache_path, data)
        except OSError:  # a read-only models folder: keep the converted model in memory only
            onnx_path = None
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    session.run(None, {_INPUT_NAME: np.zeros((1, MODEL_SAMPLES, MODEL_LEADS), np.float32)})  # warm
    versions = _versions()
    facts = dict(provenance(identity))
    facts["framework"] = f"onnxruntime {versions['onnxruntime']}, converted from {facts['framework']}"
    facts["backend"] = (f"onnxruntime {versions['onnxruntime']} (tf2onnx {versions['tf2onnx']}, "
                        f"onnx {versions['onnx']}, opset {ONNX_OPSET})")
    facts["onnx_file"] = onnx_path.name if onnx_path else ""
    return OnnxModel(path=path, identity=identity, provenance=facts, onnx_path=onnx_path, session=session)


_CONVERT = ("import sys; from ecgreview.model.onnx_backend import load_onnx_model, onnx_available; "
            "onnx_available()[0] and load_onnx_model(sys.argv[1])")


def convert_in_child_process(weights_path: str | Path, *, timeout_s: float = 900.0) -> bool:
    """Cache the ONNX conversion of ``weights_path`` beside it, converting in a child process if it is not there.

    Converting imports Keras and TensorFlow. A long-running server should not hold them: in a
    process with Keras loaded, Streamlit clears the Keras session (a full garbage collection)
    after every script run (bench/README.md, "Case switch"). The child's errors are not raised:
    :func:`load_onnx_model` in the caller converts again and says what fails.

    Returns
    -------
    bool
        Whether the conversion of these weights (by their SHA-256) is now cached.
    """
    path = Path(weights_path)
    if not path.is_file():
        return False
    cached = onnx_cache_path(path, identify_weights(path).sha256)
    if not cached.exists():
        subprocess.run([sys.executable, "-c", _CONVERT, str(path)], check=False, timeout=timeout_s,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cached.exists()
