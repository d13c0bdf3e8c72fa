"""The Ribeiro et al. 2020 DNN: build it, load its released weights, run it.

The architecture (Nat Commun 11:1760) is rebuilt in code with the Keras 3 functional
API, layer for layer with the names of the released Keras 2.2.4 ``model.hdf5``, so the
weights load by layer name with h5py (no legacy deserialisation, no pickles).

``load_model`` returns a :class:`LoadedModel` whose ``predict_probabilities`` runs a
``tf.function`` traced once at load with a fixed input signature ``(None, 4096, 12)``.
TensorFlow is imported lazily, here only: ``import ecgreview.model.network`` stays light.

Thread safety: a :class:`LoadedModel` is immutable after loading and inference uses
no shared mutable state; concurrent TensorFlow calls of one traced function are
thread-safe, so one instance may serve every Streamlit session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ecgreview.errors import ModelError
from ecgreview.model.inference import DEFAULT_BATCH_SIZE, MODEL_LEADS, check_batch, predict_in_chunks
from ecgreview.model.provenance import (
    KNOWN_WEIGHTS,
    RELEASE_GIT_BLOB_SHA1,
    KnownWeights,
    WeightsIdentity,
    file_hashes,
    identify_weights,
    provenance,
)
from ecgreview.record import CLASSES, MODEL_SAMPLES

__all__ = [
    "DEFAULT_BATCH_SIZE", "KNOWN_WEIGHTS", "RELEASE_GIT_BLOB_SHA1", "KnownWeights", "LoadedModel", "WeightsIdentity",
    "build_model", "file_hashes", "identify_weights",
    "load_model", "load_weights_hdf5", "predict_probabilities", "provenance",
]

if TYPE_CHECKING:  # pragma: no cover
    import keras


def build_model() -> "keras.Model":
    """The Ribeiro et al. 2020 residual CNN, named layer for layer as the released model.

    Input ``signal`` (batch, 4096, 12) float32 in mV at 400 Hz; output ``dense_8``
    (batch, 6) sigmoid probabilities in :data:`~ecgreview.record.CLASSES` order.
    6,425,638 parameters. The weights are freshly initialised: load real ones with
    :func:`load_weights_hdf5` before any use.
    """
    import keras
    from keras import layers

    counters: dict[str, int] = {}

    def name(kind: str) -> str:
        counters[kind] = counters.get(kind, 0) + 1
        return f"{kind}_{counters[kind]}"

    def conv(filters: int, kernel: int, strides: int = 1) -> Any:
        return layers.Conv1D(filters, kernel, strides=strides, padding="same", use_bias=False,
                             kernel_initializer="he_normal", name=name("conv1d"))

    def normalise_activate(tensor: Any, *, dropout: bool) -> Any:
        tensor = layers.BatchNormalization(name=name("batch_normalization"))(tensor)
        tensor = layers.Activation("relu", name=name("activation"))(tensor)
        return layers.Dropout(0.8, name=name("dropout"))(tensor) if dropout else tensor

    signal = keras.Input(shape=(MODEL_SAMPLES, MODEL_LEADS), dtype="float32", name="signal")
    x = normalise_activate(conv(64, 16)(signal), dropout=False)
    skip = x
    for filters in (128, 196, 256, 320):  # residual units; each divides the length by 4
        skip = layers.MaxPooling1D(4, strides=4, padding="same", name=name("max_pooling1d"))(skip)
        skip = conv(filters, 1)(skip)
        x = normalise_activate(conv(filters, 16)(x), dropout=True)
        x = conv(filters, 16, strides=4)(x)
        x = skip = layers.Add(name=name("add"))([x, skip])
        x = normalise_activate(x, dropout=True)
    x = layers.Flatten(name="flatten_1")(x)
    probabilities = layers.Dense(len(CLASSES), activation="sigmoid", name="dense_8")(x)
    return keras.Model(signal, probabilities, name="model_7")


def load_weights_hdf5(model: "keras.Model", path: str | Path) -> None:
    """Assign the weights of a Keras 2.2.4 HDF5 file to ``model``, by layer name.

    Reads ``model_weights/<layer>/<layer>/<weight>:0`` (or a weights-only file with the
    layers at the root) using the ``layer_names``/``weight_names`` attributes. Every
    layer with weights must be present on both sides with the same weight names and
    shapes; all arrays are checked before any is assigned.

    Raises
    ------
    ModelError
        Not an HDF5 file, truncated, a layer missing or extra, a shape mismatch, or
        non-finite values. The message names the file, the layer and the shapes.
    """
    import h5py

    path = Path(path)
    expected = {layer.name: [(weight.name, tuple(weight.shape)) for weight in layer.weights]
                for layer in model.layers if layer.weights}
    try:
        if not h5py.is_hdf5(path):
            raise ModelError(path, "not an HDF5 file (expected the Keras model.hdf5 of Ribeiro et al. 2020)")
        with h5py.File(path, "r") as file:
            backend = _attribute_text(file.attrs.get("backend", b"tensorflow"))
            if backend != "tensorflow":
                raise ModelError(path, f"saved with the Keras {backend!r} backend; only 'tensorflow' kernels load as is")
            arrays = _read_layers(path, file["model_weights"] if "model_weights" in file else file, expected)
    except ModelError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ModelError(path, f"cannot read the weights (truncated or damaged HDF5 file?): {exc}") from exc
    for layer in model.layers:
        if layer.name in arrays:
            layer.set_weights(arrays[layer.name])


def _attribute_text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _attribute_names(attributes: Any, key: str) -> list[str]:
    """A list attribute of Keras HDF5 files, also when split into ``key0``, ``key1``, ... chunks."""
    if key in attributes:
        values = list(attributes[key])
    else:
        values, chunk = [], 0
        while f"{key}{chunk}" in attributes:
            values.extend(attributes[f"{key}{chunk}"])
            chunk += 1
    return [_attribute_text(value) for value in values]


def _short_weight_name(name: str) -> str:
    """``'conv1d_1/kernel:0'`` -> ``'kernel'``."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def _read_layers(path: Path, group: Any, expected: dict[str, list[tuple[str, tuple[int, ...]]]]
                 ) -> dict[str, list[np.ndarray]]:
    """Check the file's layers against ``expected`` (layer -> [(weight, shape)]) and read them."""
    layer_names = _attribute_names(group.attrs, "layer_names")
    if not layer_names:
        raise ModelError(path, "no 'layer_names' attribute: not a Keras 2 weights file")
    in_file = {name for name in layer_names if name in group and _attribute_names(group[name].attrs, "weight_names")}
    missing, extra = sorted(set(expected) - in_file), sorted(in_file - set(expected))
    if missing or extra:
        raise ModelError(path, f"layers do not match the Ribeiro et al. 2020 architecture: "
                         f"missing {missing or 'none'}, unexpected {extra or 'none'}")
    arrays: dict[str, list[np.ndarray]] = {}
    for layer, weights in expected.items():
        stored = {_short_weight_name(name): name for name in _attribute_names(group[layer].attrs, "weight_names")}
        if sorted(stored) != sorted(short for short, _ in weights):
            raise ModelError(path, f"layer {layer}: weights {sorted(stored)}, the architecture needs "
                             f"{sorted(short for short, _ in weights)}")
        arrays[layer] = [_read_weight(path, group[layer][stored[short]], layer, short, shape) for short, shape in weights]
    return arrays


def _read_weight(path: Path, dataset: Any, layer: str, short: str, shape: tuple[int, ...]) -> np.ndarray:
    if tuple(dataset.shape) != shape:
        raise ModelError(path, f"layer {layer}: {short} has shape {tuple(dataset.shape)}, the architecture needs {shape}")
    array = np.asarray(dataset[()], dtype=np.float32)
    if not np.isfinite(array).all():
        raise ModelError(path, f"layer {layer}: {short} contains NaN or infinite values")
    return array


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A built model with verified-or-not weights and a traced inference function.

    Attributes
    ----------
    path : Path
        The weights file.
    identity : WeightsIdentity
        Its hashes and verification status.
    provenance : dict
        Model, software and machine facts to store beside every prediction.
    keras_model : keras.Model
        The Keras model (read-only after loading).
    """

    backend_name: ClassVar[str] = "tensorflow"
    path: Path
    identity: WeightsIdentity
    provenance: dict[str, Any]
    keras_model: Any = field(repr=False)
    _compiled: Callable[[Any], Any] = field(repr=False)

    def predict_probabilities(self, batch: np.ndarray, *, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Class probabilities of preprocessed ECGs.

        Parameters
        ----------
        batch : numpy.ndarray
            (N, 4096, 12) float32 in mV at 400 Hz, leads in
            :data:`~ecgreview.record.LEAD_ORDER` (see ``preprocess_ecg``).
        batch_size : int, keyword-only
            ECGs per call of the traced function when N is larger.

        Returns
        -------
        numpy.ndarray
            (N, 6) float32 probabilities in :data:`~ecgreview.record.CLASSES` order.
        """
        return predict_in_chunks(batch, batch_size, self._compiled)

    def predict_reference(self, batch: np.ndarray) -> np.ndarray:
        """The same probabilities through ``keras.Model.predict`` (for agreement tests)."""
        batch = check_batch(batch)
        return np.asarray(self.keras_model.predict(batch, batch_size=DEFAULT_BATCH_SIZE, verbose=0), dtype=np.float32)


def _compile_inference(keras_model: Any) -> Callable[[Any], Any]:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((None, MODEL_SAMPLES, MODEL_LEADS), tf.float32)],
                 reduce_retracing=True)
    def infer(signal: Any) -> Any:
        return keras_model(signal, training=False)

    infer(tf.zeros((1, MODEL_SAMPLES, MODEL_LEADS), tf.float32))  # trace and warm once, at load
    return infer


def load_model(path: str | Path) -> LoadedModel:
    """Build the DNN, load a weights file, identify it and trace the inference path.

    Parameters
    ----------
    path : str or Path
        A Keras 2.2.4 ``model.hdf5`` in the released layout.

    Returns
    -------
    LoadedModel
        Unverified weights load too; ``identity.status`` says which they are.

    Raises
    ------
    ModelError
        The file is missing, unreadable or does not fit the architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(path, "weights file not found; install it with: python -m ecgreview model install")
    identity = identify_weights(path)
    keras_model = build_model()
    load_weights_hdf5(keras_model, path)
    facts = {**provenance(identity), "backend": "tensorflow tf.function (fixed input signature, traced at load)"}
    return LoadedModel(path=path, identity=identity, provenance=facts,
                       keras_model=keras_model, _compiled=_compile_inference(keras_model))


def predict_probabilities(model: LoadedModel, batch: np.ndarray, *, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Class probabilities (N, 6) of a (N, 4096, 12) float32 batch; see :meth:`LoadedModel.predict_probabilities`."""
    return model.predict_probabilities(batch, batch_size=batch_size)
