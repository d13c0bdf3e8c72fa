"""ONNX Runtime backend: conversion cached by the weights' hash, agreement with the Keras reference."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgreview.examples import demo_ecg_path
from ecgreview.io import read_ecg
from ecgreview.model import onnx_backend
from ecgreview.model.network import build_model, load_model
from ecgreview.preprocess import preprocess_ecg
from ecgreview.record import dnn_calls
from tests.model_fixtures import random_weights, synthetic_ecg_batch, weight_specs_from_keras, write_keras224_hdf5

available, reason = onnx_backend.onnx_available()
pytestmark = pytest.mark.skipif(not available, reason=f"ONNX Runtime backend not installed: {reason}")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    specs = weight_specs_from_keras(build_model())
    path = tmp_path_factory.mktemp("weights") / "model.hdf5"
    return write_keras224_hdf5(path, specs, random_weights(specs, seed=3))


@pytest.fixture(scope="module")
def keras_loaded(weights):
    return load_model(weights)


@pytest.fixture(scope="module")
def onnx_loaded(weights, keras_loaded):
    return onnx_backend.load_onnx_model(weights, keras_model=keras_loaded.keras_model)


def test_agrees_with_keras_on_demo_ecg_and_synthetic_batch(keras_loaded, onnx_loaded):
    batch = np.concatenate([preprocess_ecg(read_ecg(demo_ecg_path()))[None], synthetic_ecg_batch(7, seed=5)])
    reference = keras_loaded.predict_reference(batch)
    for probabilities in (onnx_loaded.predict_probabilities(batch),
                          np.concatenate([onnx_loaded.predict_probabilities(ecg[None]) for ecg in batch])):
        assert probabilities.dtype == np.float32 and probabilities.shape == (8, 6)
        assert np.abs(probabilities - reference).max() <= 1e-5
        assert np.array_equal(dnn_calls(probabilities), dnn_calls(reference))


def test_cached_beside_the_weights_and_reused(weights, keras_loaded, onnx_loaded, monkeypatch):
    expected = weights.with_name(f"model.{keras_loaded.identity.sha256}.onnx")
    assert onnx_loaded.onnx_path == expected and expected.is_file()
    assert onnx_loaded.provenance["backend"].startswith("onnxruntime ")
    assert onnx_loaded.identity == keras_loaded.identity

    def refuse(*args, **kwargs):
        raise AssertionError("converted again although the cache is valid")

    monkeypatch.setattr(onnx_backend, "convert_to_onnx", refuse)
    again = onnx_backend.load_onnx_model(weights)
    batch = synthetic_ecg_batch(2, seed=1)
    assert np.array_equal(again.predict_probabilities(batch), onnx_loaded.predict_probabilities(batch))


def test_stale_or_damaged_cache_is_replaced(weights, keras_loaded, onnx_loaded, tmp_path):
    copy = shutil.copyfile(weights, tmp_path / "model.hdf5")
    cache = onnx_backend.onnx_cache_path(copy, keras_loaded.identity.sha256)
    cache.write_bytes(b"damaged")
    model = onnx_backend.load_onnx_model(copy, keras_model=keras_loaded.keras_model)
    assert model.onnx_path == cache and cache.stat().st_size > 1_000_000
    other = tmp_path / "other.hdf5"
    shutil.copyfile(cache, onnx_backend.onnx_cache_path(other, "0" * 64))  # right name, wrong weights inside
    assert onnx_backend._cached_model(onnx_backend.onnx_cache_path(other, "0" * 64), "0" * 64) is None


def test_input_checks(onnx_loaded):
    with pytest.raises(ValueError, match=r"batch must have shape \(N, 4096, 12\)"):
        onnx_loaded.predict_probabilities(np.zeros((1, 4000, 12), np.float32))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        onnx_loaded.predict_probabilities(np.zeros((1, 4096, 12), np.float32), batch_size=0)
    assert onnx_loaded.predict_probabilities(np.zeros((0, 4096, 12), np.float32)).shape == (0, 6)


def test_missing_weights(tmp_path):
    with pytest.raises(onnx_backend.ModelError, match="weights file not found"):
        onnx_backend.load_onnx_model(tmp_path / "absent.hdf5")


def test_load_inference_model_picks_the_backend(tmp_path):
    import numpy as np

    from ecgreview.model.network import build_model
    from ecgreview.model.serving import load_inference_model
    from tests.model_fixtures import random_weights, synthetic_ecg_batch, weight_specs_from_keras, write_keras224_hdf5

    specs = weight_specs_from_keras(build_model())
    path = write_keras224_hdf5(tmp_path / "model.hdf5", specs, random_weights(specs, seed=5))
    onnx = load_inference_model(path)
    tensorflow = load_inference_model(path, backend="tensorflow")
    assert onnx.provenance["backend"].startswith("onnxruntime")
    assert tensorflow.provenance["backend"].startswith("tensorflow")
    batch = synthetic_ecg_batch(2, seed=9)
    np.testing.assert_allclose(onnx.predict_probabilities(batch), tensorflow.predict_probabilities(batch), atol=1e-5)
    with pytest.raises(ValueError, match="backend must be one of auto, tensorflow, onnx"):
        load_inference_model(path, backend="torch")


_CHILD_CHECK = """
import sys
from ecgreview.model.onnx_backend import convert_in_child_process
cached = convert_in_child_process(sys.argv[1])
print(cached, any(name == "keras" or name.startswith(("keras.", "tensorflow")) for name in sys.modules))
"""


def test_the_conversion_runs_in_a_child_and_this_process_never_imports_keras(fixture_weights, tmp_path):
    weights = Path(shutil.copy(fixture_weights, tmp_path / "model.hdf5"))  # no conversion cached beside it
    sha256 = onnx_backend.identify_weights(weights).sha256
    assert not onnx_backend.onnx_cache_path(weights, sha256).exists()
    run = subprocess.run([sys.executable, "-c", _CHILD_CHECK, str(weights)], capture_output=True, text=True,
                         timeout=900, check=True)
    assert run.stdout.split() == ["True", "False"], run.stdout + run.stderr  # cached; Keras stayed in the child
    assert onnx_backend.onnx_cache_path(weights, sha256).exists()
    assert onnx_backend.convert_in_child_process(weights)  # cached: no child this time
    assert not onnx_backend.convert_in_child_process(tmp_path / "missing.hdf5")
