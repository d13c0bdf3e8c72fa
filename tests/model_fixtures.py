"""Fixture weights files in the exact layout of the released Keras 2.2.4 ``model.hdf5``.

The layer and weight list is derived here, independently of ``ecgreview.model.network``, from
the released ``model_config`` JSON (``../shared/ribeiro/model_config_keras224.json``):
shapes are propagated through the graph. :func:`weight_specs_from_keras` gives the same
list from a built Keras model, for tests that run without ``../shared``.

The weights are random (seeded): they exercise loading and numerics only and never
stand for the model's predictions.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np

#: (layer name, [(weight name as stored, e.g. "conv1d_1/kernel:0", shape)]) in file order.
WeightSpecs = list[tuple[str, list[tuple[str, tuple[int, ...]]]]]

CONFIG_NAME = "model_config_keras224.json"


def _layer_weights(layer: dict[str, Any], length: int, channels: int) -> tuple[list[tuple[str, tuple[int, ...]]], int, int]:
    """Weights of one layer and its output (length, channels), given its input's."""
    kind, config, name = layer["class_name"], layer["config"], layer["name"]
    if kind == "Conv1D":
        (kernel,), (stride,) = config["kernel_size"], config["strides"]
        weights = [("kernel", (kernel, channels, config["filters"]))]
        weights += [("bias", (config["filters"],))] if config["use_bias"] else []
        return weights, math.ceil(length / stride), config["filters"]
    if kind == "BatchNormalization":
        names = (["gamma"] if config["scale"] else []) + (["beta"] if config["center"] else [])
        return [(weight, (channels,)) for weight in names + ["moving_mean", "moving_variance"]], length, channels
    if kind == "MaxPooling1D":
        return [], math.ceil(length / config["strides"][0]), channels
    if kind == "Flatten":
        return [], 1, length * channels
    if kind == "Dense":
        weights = [("kernel", (channels, config["units"]))] + ([("bias", (config["units"],))] if config["use_bias"] else [])
        return weights, 1, config["units"]
    if kind in ("Activation", "Dropout", "Add", "InputLayer"):
        return [], length, channels
    raise ValueError(f"{name}: layer class {kind} not handled by the fixture")


def weight_specs_from_config(model_config: dict[str, Any]) -> WeightSpecs:
    """The stored weights of every layer, in order, from a Keras 2 ``model_config``."""
    shapes: dict[str, tuple[int, int]] = {}
    specs: WeightSpecs = []
    for layer in model_config["config"]["layers"]:
        if layer["class_name"] == "InputLayer":
            _, length, channels = layer["config"]["batch_input_shape"]
        else:
            length, channels = shapes[layer["inbound_nodes"][0][0][0]]
        weights, length, channels = _layer_weights(layer, length, channels)
        shapes[layer["name"]] = (length, channels)
        specs.append((layer["name"], [(f"{layer['name']}/{weight}:0", shape) for weight, shape in weights]))
    return specs


def weight_specs_from_keras(model: Any) -> WeightSpecs:
    """The same list from a built Keras 3 model (for tests without ``../shared``)."""
    return [(layer.name, [(f"{layer.name}/{weight.name}:0", tuple(weight.shape)) for weight in layer.weights])
            for layer in model.layers]


def parameter_count(specs: WeightSpecs) -> int:
    """Total number of values in all weights."""
    return sum(math.prod(shape) for _, weights in specs for _, shape in weights)


def random_weights(specs: WeightSpecs, *, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Seeded random float32 weights that keep activations in a sane range."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, list[np.ndarray]] = {}
    for layer, weights in specs:
        values = []
        for name, shape in weights:
            short = name.rsplit("/", 1)[-1].split(":")[0]
            if short == "kernel":
                value = rng.normal(0.0, math.sqrt(2.0 / math.prod(shape[:-1])), shape)
            elif short in ("gamma", "moving_variance"):
                value = rng.uniform(0.5, 1.5, shape)
            else:
                value = rng.normal(0.0, 0.1, shape)
            values.append(value.astype(np.float32))
        if values:
            arrays[layer] = values
    return arrays


def write_keras224_hdf5(path: Path, specs: WeightSpecs, arrays: dict[str, list[np.ndarray]], *,
                        model_config_text: str | None = None) -> Path:
    """Write ``arrays`` in the Keras 2.2.4 ``save_model`` layout: root attributes and ``model_weights``."""
    with h5py.File(path, "w") as file:
        file.attrs["keras_version"] = b"2.2.4"
        file.attrs["backend"] = b"tensorflow"
        file.attrs["model_config"] = (model_config_text or json.dumps({"class_name": "Model", "config": {}})).encode()
        group = file.create_group("model_weights")
        group.attrs["layer_names"] = np.array([layer.encode() for layer, _ in specs])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.2.4"
        for layer, weights in specs:
            layer_group = group.create_group(layer)
            layer_group.attrs["weight_names"] = np.array([name.encode() for name, _ in weights], dtype="S")
            for (name, _), value in zip(weights, arrays.get(layer, [])):
                layer_group.create_dataset(name, data=value)
    return path


def write_fixture_from_config(path: Path, ribeiro_dir: Path, *, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """A released-layout ``model.hdf5`` built from the shared config JSON; returns its arrays."""
    text = (ribeiro_dir / CONFIG_NAME).read_text(encoding="utf-8")
    specs = weight_specs_from_config(json.loads(text))
    arrays = random_weights(specs, seed=seed)
    write_keras224_hdf5(path, specs, arrays, model_config_text=text)
    return arrays


def synthetic_ecg_batch(count: int, *, seed: int = 0, sampling_rate_hz: float = 400.0) -> np.ndarray:
    """(count, 4096, 12) float32 ECG-like signals in mV: P-QRS-T beats at 60-100 bpm, 10 s centred, zero-padded."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(4000) / sampling_rate_hz
    lead_gain = np.array([1.0, 1.4, 0.4, -1.1, 0.3, 0.9, -0.6, 0.4, 0.9, 1.3, 1.2, 0.9])
    batch = np.zeros((count, 4096, 12), dtype=np.float32)
    for index in range(count):
        rr_s = 60.0 / rng.uniform(60, 100)
        signal = np.zeros_like(time_s)
        for beat_s in np.arange(0.3, 10.0, rr_s):
            for offset_s, width_s, amplitude_mv in ((-0.16, 0.025, 0.15), (0.0, 0.01, 1.0), (0.25, 0.045, 0.3)):
                signal += amplitude_mv * np.exp(-0.5 * ((time_s - beat_s - offset_s) / width_s) ** 2)
        leads = signal[:, None] * lead_gain + rng.normal(0, 0.02, (len(time_s), 12))
        batch[index, 48:48 + len(time_s)] = leads
    return batch


@functools.cache
def released_layout_specs() -> WeightSpecs:
    """The released layout, from the Keras model of :func:`ecgreview.model.network.build_model` (built once)."""
    from ecgreview.model.network import build_model

    return weight_specs_from_keras(build_model())


def write_released_layout_weights(path: Path, *, seed: int) -> Path:
    """Seeded random weights in the released layout (no ../shared needed); returns ``path``."""
    specs = released_layout_specs()
    return write_keras224_hdf5(path, specs, random_weights(specs, seed=seed))
