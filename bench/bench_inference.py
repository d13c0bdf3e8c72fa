"""Inference benchmark: Keras ``predict`` vs the traced ``tf.function`` vs ONNX Runtime, in one run.

Usage: ``.venv/bin/python bench/bench_inference.py [--repeats 20] [--batch-repeats 5]``

Measures, on fixture weights of the released architecture (random values, generated in a
temporary folder; the speed does not depend on the values):

* per-ECG latency at batch size 1: median of ``--repeats`` calls after two warm-up calls;
* throughput at batch size 32 (ECGs/s): median of ``--batch-repeats`` batches;
* cold start in a fresh subprocess: interpreter start, import, load and first prediction;
* peak RSS of that subprocess after one batch of 32 (its ``VmHWM``; ``os.wait4``'s ``ru_maxrss``
  also counts the forked parent's pages on Linux, so the smaller of the two is reported).

Backends are measured round-robin (one call of each in turn) so that load from other
processes affects them alike. Prints a table with ratios to Keras ``predict`` and the
targets of the issue; always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.model_fixtures import random_weights, synthetic_ecg_batch, weight_specs_from_keras, write_keras224_hdf5  # noqa: E402

#: Child process for the cold start: prints when (epoch s) its first prediction was done.
_COLD_START = """
import time, json, sys
import numpy as np
backend, weights = sys.argv[1], sys.argv[2]
if backend == "onnx":
    from ecgreview.model.onnx_backend import load_onnx_model as load
else:
    from ecgreview.model.network import load_model as load
model = load(weights)
model.predict_probabilities(np.zeros((1, 4096, 12), np.float32) + 0.1)
first_prediction_epoch_s = time.time()
model.predict_probabilities(np.zeros((32, 4096, 12), np.float32) + 0.1)
status = open("/proc/self/status").read()
peak_kib = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"first_prediction_epoch_s": first_prediction_epoch_s, "peak_rss_kib": peak_kib}))
"""
GIB = 1024 ** 3


def write_fixture_weights(folder: Path) -> Path:
    """A released-layout ``model.hdf5`` with seeded random weights in ``folder``."""
    from ecgreview.model.network import build_model

    specs = weight_specs_from_keras(build_model())
    return write_keras224_hdf5(folder / "model.hdf5", specs, random_weights(specs, seed=0))


def round_robin(calls: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of each callable, measured in turn."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def cold_start(backend: str, weights: Path) -> dict[str, float]:
    """Wall time from process start to the first prediction, and peak RSS, of a fresh subprocess."""
    environment = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    start_epoch_s = time.time()
    process = subprocess.Popen([sys.executable, "-c", _COLD_START, backend, str(weights)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=environment, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        return {}
    child = json.loads(output.strip().splitlines()[-1])
    # ru_maxrss of the child keeps the high-water mark of the forked parent across exec on
    # Linux; the child's own VmHWM does not, so it is the figure reported when smaller.
    peak_kib = min(child["peak_rss_kib"], usage.ru_maxrss)
    return {"cold_start_s": child["first_prediction_epoch_s"] - start_epoch_s, "peak_rss_gib": peak_kib * 1024 / GIB}


def measure_backends(weights: Path, repeats: int, batch_repeats: int) -> tuple[dict, dict, str]:
    """bs-1 median latency (s) and bs-32 median batch time (s) per backend, and why ONNX is missing."""
    from ecgreview.model.network import load_model
    from ecgreview.model.onnx_backend import load_onnx_model, onnx_available

    model = load_model(weights)
    single, batch = synthetic_ecg_batch(1, seed=1), synthetic_ecg_batch(32, seed=2)
    calls_1 = {"Keras predict": lambda: model.keras_model.predict(single, verbose=0),
               "tf.function": lambda: model.predict_probabilities(single)}
    calls_32 = {"Keras predict": lambda: model.keras_model.predict(batch, batch_size=32, verbose=0),
                "tf.function": lambda: model.predict_probabilities(batch, batch_size=32)}
    available, reason = onnx_available()
    if available:
        try:
            onnx = load_onnx_model(weights, keras_model=model.keras_model)
            calls_1["ONNX Runtime"] = lambda: onnx.predict_probabilities(single)
            calls_32["ONNX Runtime"] = lambda: onnx.predict_probabilities(batch, batch_size=32)
            difference = np.abs(onnx.predict_probabilities(batch) - model.predict_reference(batch)).max()
            print(f"ONNX Runtime vs Keras reference, max |difference| on 32 ECGs: {difference:.2e}")
        except Exception as exc:  # report, never fake
            available, reason = False, f"{type(exc).__name__}: {exc}"
    return round_robin(calls_1, repeats), round_robin(calls_32, batch_repeats, warmup=1), reason


def print_table(latency: dict, batch: dict, cold: dict, onnx_reason: str) -> None:
    """The results, ratios to Keras predict, and the targets."""
    keras_1, keras_32 = latency["Keras predict"], batch["Keras predict"]
    print(f"\n{'backend':<15}{'bs-1 ms':>9}{'vs Keras':>10}{'bs-32 ECG/s':>13}{'vs Keras':>10}"
          f"{'cold start s':>14}{'peak RSS GiB':>14}")
    for name in ("Keras predict", "tf.function", "ONNX Runtime"):
        if name not in latency:
            print(f"{name:<15}not available ({onnx_reason})")
            continue
        child = cold.get({"tf.function": "tf", "ONNX Runtime": "onnx"}.get(name, ""), {})
        start = f"{child['cold_start_s']:.2f}" if "cold_start_s" in child else "-"
        rss = f"{child['peak_rss_gib']:.2f}" if "peak_rss_gib" in child else "-"
        print(f"{name:<15}{latency[name] * 1e3:>9.1f}{keras_1 / latency[name]:>9.2f}x"
              f"{32 / batch[name]:>13.1f}{keras_32 / batch[name]:>9.2f}x{start:>14}{rss:>14}")
    fastest = min(latency.values())
    best_batch = min(batch[name] for name in batch if name != "Keras predict")
    checks = [
        ("single ECG (tf.function) <= 1.5x fastest bs-1", latency["tf.function"] <= 1.5 * fastest,
         f"{latency['tf.function'] / fastest:.2f}x"),
        ("batch (best compiled) >= 2x Keras predict bs 32", keras_32 / best_batch >= 2, f"{keras_32 / best_batch:.2f}x"),
        *[(f"cold start <= 5 s ({label})", cold[key]["cold_start_s"] <= 5, f"{cold[key]['cold_start_s']:.2f} s")
          for key, label in (("tf", "tf.function"), ("onnx", "ONNX Runtime, cached conversion"))
          if "cold_start_s" in cold.get(key, {})],
        ("peak RSS <= 1.5 GiB", max(child.get("peak_rss_gib", 99) for child in cold.values()) <= 1.5,
         f"{max(child.get('peak_rss_gib', 99) for child in cold.values()):.2f} GiB"),
    ]
    print("\ntargets:")
    for label, met, value in checks:
        print(f"  {'met ' if met else 'MISS'}  {label}: {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=20, help="bs-1 calls per backend (median)")
    parser.add_argument("--batch-repeats", type=int, default=5, help="bs-32 batches per backend (median)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ecgreview-bench-") as folder:
        weights = write_fixture_weights(Path(folder))
        latency, batch, reason = measure_backends(weights, max(args.repeats, 20), max(args.batch_repeats, 1))
        cold = {"tf": cold_start("tf", weights)}
        if "ONNX Runtime" in latency:
            cold["onnx"] = cold_start("onnx", weights)  # the conversion is cached by now: a cache hit
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}; Python {sys.version.split()[0]}; "
          "fixture weights (random values)")
    print_table(latency, batch, cold, reason)
    return 0


if __name__ == "__main__":
    sys.exit(main())
