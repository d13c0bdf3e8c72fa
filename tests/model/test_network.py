"""The Ribeiro DNN: architecture, HDF5 loading, identity, inference paths, model discovery."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

from ecgreview.config import Settings
from ecgreview.errors import ModelError
from ecgreview.model import provenance as provenance_module
from ecgreview.model.network import (
    KnownWeights,
    LoadedModel,
    build_model,
    identify_weights,
    load_model,
    load_weights_hdf5,
    predict_probabilities,
    provenance,
)
from ecgreview.model.serving import find_model, installed_models
from ecgreview.record import CLASSES, THRESHOLDS, dnn_calls
from tests.model_fixtures import (
    CONFIG_NAME,
    parameter_count,
    random_weights,
    synthetic_ecg_batch,
    weight_specs_from_config,
    weight_specs_from_keras,
    write_fixture_from_config,
    write_keras224_hdf5,
)

RELEASED_PARAMETERS = 6_425_638  # stated by the issue and the paper's release


@pytest.fixture(scope="session")
def reference_model():
    """One Keras model per session, for in-memory reference forward passes."""
    return build_model()


@pytest.fixture(scope="module")
def fixture_weights(tmp_path_factory, ribeiro_dir) -> tuple[Path, dict[str, list[np.ndarray]]]:
    path = tmp_path_factory.mktemp("weights") / "model.hdf5"
    return path, write_fixture_from_config(path, ribeiro_dir, seed=7)


@pytest.fixture(scope="module")
def loaded(fixture_weights) -> LoadedModel:
    return load_model(fixture_weights[0])


def _copy(source: Path, tmp_path: Path, name: str = "model.hdf5") -> Path:
    target = tmp_path / name
    shutil.copyfile(source, target)
    return target


def _in_memory_forward(model, arrays: dict[str, list[np.ndarray]], batch: np.ndarray) -> np.ndarray:
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(arrays[layer.name])
    return np.asarray(model(batch, training=False))


def test_import_stays_light():
    code = "import sys, ecgreview.model.network, ecgreview.model.weights; print(sorted({'tensorflow', 'keras', 'h5py'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_architecture_matches_released_config(reference_model, ribeiro_dir):
    config = json.loads((ribeiro_dir / CONFIG_NAME).read_text(encoding="utf-8"))
    assert [layer.name for layer in reference_model.layers] == [layer["name"] for layer in config["config"]["layers"]]
    specs = weight_specs_from_config(config)
    assert weight_specs_from_keras(reference_model) == specs
    assert reference_model.count_params() == parameter_count(specs) == RELEASED_PARAMETERS


def test_parameter_count_without_shared_data(reference_model):
    assert reference_model.count_params() == RELEASED_PARAMETERS
    assert reference_model.input_shape == (None, 4096, 12)
    assert reference_model.output_shape == (None, len(CLASSES))
    assert reference_model.layers[-1].name == "dense_8"


def test_loader_assigns_every_array(reference_model, fixture_weights):
    path, arrays = fixture_weights
    load_weights_hdf5(reference_model, path)
    for layer in reference_model.layers:
        for stored, loaded_value in zip(arrays.get(layer.name, []), layer.get_weights(), strict=True):
            np.testing.assert_array_equal(loaded_value, stored)


def test_fixture_from_build_model_loads(reference_model, tmp_path):
    """Runs without ../shared: fixture layout generated from the built model itself."""
    specs = weight_specs_from_keras(reference_model)
    arrays = random_weights(specs, seed=3)
    path = write_keras224_hdf5(tmp_path / "model.hdf5", specs, arrays)
    load_weights_hdf5(reference_model, path)
    np.testing.assert_array_equal(reference_model.get_layer("dense_8").get_weights()[0], arrays["dense_8"][0])


def test_loaded_model_equals_in_memory_forward(loaded, fixture_weights, reference_model):
    batch = np.concatenate([synthetic_ecg_batch(2, seed=1),
                            np.random.default_rng(2).normal(0, 0.5, (1, 4096, 12)).astype(np.float32)])
    expected = _in_memory_forward(reference_model, fixture_weights[1], batch)
    assert np.max(np.abs(loaded.predict_probabilities(batch) - expected)) <= 1e-6


@pytest.mark.parametrize("kind", ["random", "ecg"])
def test_compiled_path_agrees_with_predict(loaded, kind):
    if kind == "random":
        batch = np.random.default_rng(5).normal(0, 1.0, (3, 4096, 12)).astype(np.float32)
    else:
        batch = synthetic_ecg_batch(3, seed=11)
    compiled, reference = loaded.predict_probabilities(batch), loaded.predict_reference(batch)
    assert compiled.shape == (3, 6) and compiled.dtype == np.float32
    assert np.max(np.abs(compiled - reference)) <= 1e-5
    np.testing.assert_array_equal(dnn_calls(compiled), dnn_calls(reference))
    single = np.concatenate([loaded.predict_probabilities(batch[i:i + 1]) for i in range(3)])
    assert np.max(np.abs(single - compiled)) <= 1e-5


def test_chunked_batches_and_no_retracing(loaded):
    batch = synthetic_ecg_batch(5, seed=4)
    whole = loaded.predict_probabilities(batch)
    chunked = predict_probabilities(loaded, batch, batch_size=2)
    assert np.max(np.abs(whole - chunked)) <= 1e-5  # oneDNN rounding depends on the batch size
    assert loaded.predict_probabilities(batch[:0]).shape == (0, 6)
    assert loaded._compiled.experimental_get_tracing_count() == 1


def test_concurrent_calls_agree(loaded):
    batch = synthetic_ecg_batch(4, seed=9)
    expected = loaded.predict_probabilities(batch, batch_size=1)
    results: dict[int, np.ndarray] = {}

    def work(index: int) -> None:
        results[index] = loaded.predict_probabilities(batch[index:index + 1])

    threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    np.testing.assert_allclose(np.concatenate([results[i] for i in range(4)]), expected, atol=1e-6)


@pytest.mark.parametrize(("batch", "error", "match"), [
    (np.zeros((1, 4000, 12), np.float32), ValueError, r"shape \(N, 4096, 12\).*\(1, 4000, 12\)"),
    (np.zeros((4096, 12), np.float32), ValueError, "shape"),
    (np.zeros((1, 4096, 12), np.float64), ValueError, "float32"),
    (np.full((1, 4096, 12), np.nan, np.float32), ValueError, "NaN"),
    ([[0.0]], TypeError, "numpy.ndarray"),
])
def test_predict_rejects_bad_input(loaded, batch, error, match):
    with pytest.raises(error, match=match):
        loaded.predict_probabilities(batch)


def test_calls_use_strict_thresholds():
    thresholds = np.array(THRESHOLDS, dtype=np.float32)
    assert not dnn_calls(thresholds[None]).any()
    assert dnn_calls(np.nextafter(thresholds, np.float32(1))[None]).all()
    with pytest.raises(ValueError, match="6 values in the last axis"):
        dnn_calls(np.zeros((2, 5)))


def test_identity_unverified_and_verified_by_override(fixture_weights):
    path = fixture_weights[0]
    identity = identify_weights(path)
    assert identity.status == "unverified" and identity.sha256 in identity.label
    if shutil.which("git"):
        blob = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True)
        assert identity.git_blob_sha1 == blob.stdout.strip()
    known = {identity.git_blob_sha1: KnownWeights("fixture (verified)", identity.size_bytes)}
    assert identify_weights(path, known=known).status == "verified"
    wrong_size = {identity.git_blob_sha1: KnownWeights("fixture", identity.size_bytes + 1)}
    assert identify_weights(path, known=wrong_size).status == "unverified"


def test_release_hash_is_known():
    entry = provenance_module.KNOWN_WEIGHTS["c92d38aff9ce2990fb44d3b278417f761934d448"]
    assert entry.size_bytes == 25_826_560 and "verified" in entry.label


def _edit(path: Path, edit) -> Path:
    with h5py.File(path, "r+") as file:
        edit(file["model_weights"])
    return path


def _drop_layer(group, name: str = "conv1d_5") -> None:
    del group[name]
    group.attrs["layer_names"] = np.array([n for n in group.attrs["layer_names"] if n != name.encode()])


def _add_layer(group) -> None:
    group.create_group("dense_9").attrs["weight_names"] = np.array([b"dense_9/kernel:0"])
    group["dense_9"].create_dataset("dense_9/kernel:0", data=np.zeros((3, 3), np.float32))
    group.attrs["layer_names"] = np.append(group.attrs["layer_names"], b"dense_9")


def _reshape_dense(group) -> None:
    del group["dense_8/dense_8/kernel:0"]
    group["dense_8"].create_dataset("dense_8/kernel:0", data=np.zeros((5120, 5), np.float32))


def _nan_bias(group) -> None:
    group["dense_8/dense_8/bias:0"][0] = np.nan


@pytest.mark.parametrize(("edit", "match"), [
    (_drop_layer, r"missing \['conv1d_5'\], unexpected none"),
    (_add_layer, r"missing none, unexpected \['dense_9'\]"),
    (_reshape_dense, r"layer dense_8: kernel has shape \(5120, 5\), the architecture needs \(5120, 6\)"),
    (_nan_bias, "layer dense_8: bias contains NaN"),
])
def test_loader_rejects_mismatched_files(reference_model, fixture_weights, tmp_path, edit, match):
    path = _edit(_copy(fixture_weights[0], tmp_path, "edited.hdf5"), edit)
    with pytest.raises(ModelError, match=match) as caught:
        load_weights_hdf5(reference_model, path)
    assert str(caught.value).startswith("edited.hdf5: ")


def test_loader_rejects_non_hdf5_and_truncated(reference_model, fixture_weights, tmp_path):
    text = tmp_path / "model.hdf5"
    text.write_text("<html>not found</html>")
    with pytest.raises(ModelError, match="model.hdf5: not an HDF5 file"):
        load_weights_hdf5(reference_model, text)
    data = fixture_weights[0].read_bytes()
    truncated = tmp_path / "truncated.hdf5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="truncated.hdf5: cannot read the weights"):
        load_weights_hdf5(reference_model, truncated)
    with pytest.raises(ModelError, match="weights file not found"):
        load_model(tmp_path / "absent.hdf5")


def _settings(tmp_path: Path, model_path: Path | None = None) -> Settings:
    return Settings(home=tmp_path, models_dir=tmp_path / "models", reviews_path=tmp_path / "r.csv", model_path=model_path)


def test_find_model_prefers_setting_then_verified(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    assert find_model(settings) is None
    models = settings.models_dir
    (models / "other_seeds").mkdir(parents=True)
    (models / ".install-x").mkdir()
    (models / ".install-x" / "model.hdf5").write_bytes(b"staged")
    (models / "a.hdf5").write_bytes(b"unverified a")
    (models / "other_seeds" / "model_1.hdf5").write_bytes(b"verified one")
    assert installed_models(settings) == [models / "a.hdf5", models / "other_seeds" / "model_1.hdf5"]
    blob = identify_weights(models / "other_seeds" / "model_1.hdf5").git_blob_sha1
    monkeypatch.setattr(provenance_module, "KNOWN_WEIGHTS", {blob: KnownWeights("test release (verified)", 12)})
    (models / "other_seeds" / "model_1.hdf5").touch()  # new mtime: not a cached identity
    assert find_model(settings) == models / "other_seeds" / "model_1.hdf5"
    assert find_model(_settings(tmp_path, models / "a.hdf5")) == models / "a.hdf5"
    with pytest.raises(ModelError, match="ECGREVIEW_MODEL names a weights file that does not exist"):
        find_model(_settings(tmp_path, tmp_path / "missing.hdf5"))


def test_provenance_is_complete_and_serialisable(loaded):
    facts = loaded.provenance
    json.dumps(facts)
    assert facts["model_file"] == "model.hdf5" and facts["status"] == "unverified"
    assert facts["versions"]["tensorflow"] and facts["versions"]["keras"].startswith("3.")
    assert set(facts["cpu_flags"]) <= {"avx2", "avx512f", "fma"}
    assert facts["git_commit"] == "" or len(facts["git_commit"]) == 40
    assert provenance(loaded.identity)["sha256"] == loaded.identity.sha256
    assert math.isfinite(facts["size_bytes"])


def test_provenance_records_the_runtime(fixture_weights, monkeypatch):
    from ecgreview.model.provenance import identify_weights, provenance

    identity = identify_weights(fixture_weights[0])
    monkeypatch.setenv("ECGREVIEW_RUNTIME", "docker")
    assert provenance(identity)["runtime"] == "docker"
    monkeypatch.delenv("ECGREVIEW_RUNTIME")
    assert provenance(identity)["runtime"] in ("host", "container")
