"""Installing weights: local files, archives, and downloads from a local HTTP server."""

from __future__ import annotations

import http.server
import io
import re
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

from ecgreview.cli import main
from ecgreview.errors import ModelError
from ecgreview.model.network import KnownWeights, file_hashes, identify_weights
from ecgreview.model.weights import MANIFEST_NAME, ZENODO_MODEL_URL, install_weights, read_manifest


def _hdf5_bytes(tmp_path: Path, name: str, seed: int) -> Path:
    """A small real HDF5 file with incompressible content (stands in for a weights file)."""
    path = tmp_path / name
    with h5py.File(path, "w") as file:
        file.attrs["keras_version"] = b"2.2.4"
        file.create_dataset("values", data=np.random.default_rng(seed).random(40_000))
    return path


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def weights(tmp_path) -> dict[str, Path]:
    source = tmp_path / "source"
    source.mkdir()
    return {"model": _hdf5_bytes(source, "model.hdf5", 1), "seed": _hdf5_bytes(source, "model_1.hdf5", 2),
            "other": _hdf5_bytes(source, "other.hdf5", 3)}


@pytest.fixture
def archive(weights) -> bytes:
    """The Zenodo layout: model/model.hdf5 plus model/other_seeds/model_1.hdf5."""
    return _zip_bytes({"model/model.hdf5": weights["model"].read_bytes(),
                       "model/other_seeds/model_1.hdf5": weights["seed"].read_bytes()})


def _sha1(path: Path) -> str:
    return file_hashes(path)[1]


def _assert_nothing_installed(models_dir: Path) -> None:
    """No weights, no manifest, no staging folder left behind."""
    if models_dir.exists():
        assert sorted(models_dir.rglob("*")) == []


def _quiet(received: int, total: int | None) -> None:
    del received, total


def test_install_local_hdf5(weights, tmp_path):
    models = tmp_path / "models"
    installed = install_weights(weights["model"], models, expected_sha1=_sha1(weights["model"]), progress=_quiet)
    assert installed == models / "model.hdf5"
    assert installed.read_bytes() == weights["model"].read_bytes()
    assert sorted(p.name for p in models.iterdir()) == ["manifest.json", "model.hdf5"]
    entry = read_manifest(models)["model.hdf5"]
    assert entry["git_blob_sha1"] == _sha1(weights["model"]) and entry["status"] == "unverified"


def test_install_refuses_unexpected_hash_unless_allowed(weights, tmp_path):
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="model.hdf5 has git blob SHA-1 .* expected c92d38af.*refusing"):
        install_weights(weights["model"], models, progress=_quiet)
    _assert_nothing_installed(models)
    installed = install_weights(weights["other"], models, allow_unverified=True, progress=_quiet)
    assert installed == models / "other.hdf5"
    assert read_manifest(models)["other.hdf5"]["status"] == "unverified"


def test_install_local_zip_keeps_relative_names(weights, archive, tmp_path):
    zip_path = tmp_path / "model.zip"
    zip_path.write_bytes(archive)
    models = tmp_path / "models"
    expected = _sha1(weights["model"])
    known = {expected: KnownWeights("fixture release (verified)", weights["model"].stat().st_size)}
    installed = install_weights(zip_path, models, expected_sha1=expected, known=known, progress=_quiet)
    assert installed == models / "model.hdf5"
    assert (models / "other_seeds" / "model_1.hdf5").read_bytes() == weights["seed"].read_bytes()
    manifest = read_manifest(models)
    assert manifest["model.hdf5"]["status"] == "verified"
    assert manifest["other_seeds/model_1.hdf5"]["status"] == "unverified"
    assert manifest["other_seeds/model_1.hdf5"]["expected_git_blob_sha1"] is None
    assert identify_weights(installed, known=known).status == "verified"
    assert not [p for p in models.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(("members", "match"), [
    ({"model/readme.txt": b"no weights"}, "holds no .hdf5 or .h5 file"),
    ({"../evil.hdf5": b"x"}, "unsafe path in archive"),
    ({"a/one.hdf5": b"\x89HDF\r\n\x1a\n", "a/two.hdf5": b"\x89HDF\r\n\x1a\n"}, "no top-level model.hdf5"),
    ({"model/model.hdf5": b"not hdf5 at all"}, "model.hdf5 is not an HDF5 file"),
])
def test_install_rejects_bad_archives(tmp_path, members, match):
    zip_path = tmp_path / "model.zip"
    zip_path.write_bytes(_zip_bytes(members))
    with pytest.raises(ModelError, match=match):
        install_weights(zip_path, tmp_path / "models", allow_unverified=True, progress=_quiet)
    _assert_nothing_installed(tmp_path / "models")


def test_install_rejects_missing_and_foreign_sources(tmp_path):
    with pytest.raises(ModelError, match="absent.zip: no such file"):
        install_weights(tmp_path / "absent.zip", tmp_path / "models", progress=_quiet)
    page = tmp_path / "model.zip"
    page.write_text("<html>rate limited</html>")
    with pytest.raises(ModelError, match="neither a zip archive nor an HDF5 file"):
        install_weights(page, tmp_path / "models", progress=_quiet)
    _assert_nothing_installed(tmp_path / "models")


class _Server:
    """A local HTTP server whose routes misbehave on purpose; ``requests`` logs (path, Range)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                route = self.path.split("?")[0]
                server.requests.append((route, self.headers.get("Range")))
                server.respond(self, route, sum(1 for r, _ in server.requests if r == route))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def respond(self, handler: http.server.BaseHTTPRequestHandler, route: str, count: int) -> None:
        data = self.files.get(route.split("/")[-1], b"")
        start = int(handler.headers["Range"][6:-1]) if handler.headers.get("Range") else 0
        if route.startswith("/error") or (route.startswith("/half-then-500") and count > 1):
            handler.send_error(500, "Internal Server Error")
            return
        ranged = start > 0 and not route.startswith("/no-range")
        handler.send_response(206 if ranged else 200)
        if ranged:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:] if ranged else data
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        drop = route.startswith("/drop-always") or (count == 1 and route.split("/")[1] in
                                                    ("drop-once", "half-then-500", "no-range"))
        handler.wfile.write(body[: len(body) // 2] if drop else body)


@pytest.fixture
def server() -> Iterator[_Server]:
    instance = _Server()
    thread = threading.Thread(target=instance.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield instance
    instance.httpd.shutdown()
    instance.httpd.server_close()


def _download(server: _Server, route: str, models: Path, **options):
    return install_weights(f"{server.url}{route}?download=1", models, progress=_quiet, attempts=3,
                           timeout_s=5, retry_delay_s=0, **options)


def test_download_good_archive_with_progress(server, archive, weights, tmp_path):
    server.files["model.zip"] = archive
    seen: list[tuple[int, int | None]] = []
    installed = install_weights(f"{server.url}/files/model.zip?download=1", tmp_path / "models",
                                expected_sha1=_sha1(weights["model"]), progress=lambda r, t: seen.append((r, t)),
                                timeout_s=5, retry_delay_s=0)
    assert installed.read_bytes() == weights["model"].read_bytes()
    assert (tmp_path / "models" / "other_seeds" / "model_1.hdf5").is_file()
    assert seen[-1] == (len(archive), len(archive))
    assert read_manifest(tmp_path / "models")["model.hdf5"]["source"].startswith(server.url)


@pytest.mark.parametrize("route", ["/drop-once/model.zip", "/no-range/model.zip"])
def test_download_resumes_or_restarts_after_interruption(server, archive, weights, tmp_path, route):
    server.files["model.zip"] = archive
    installed = _download(server, route, tmp_path / "models", expected_sha1=_sha1(weights["model"]))
    assert installed.read_bytes() == weights["model"].read_bytes()
    ranges = [header for _, header in server.requests]
    assert ranges == [None, f"bytes={len(archive) // 2}-"]


def test_download_plain_hdf5(server, weights, tmp_path):
    server.files["model.hdf5"] = weights["model"].read_bytes()
    installed = _download(server, "/files/model.hdf5", tmp_path / "models", expected_sha1=_sha1(weights["model"]))
    assert installed == tmp_path / "models" / "model.hdf5"


@pytest.mark.parametrize(("route", "match"), [
    ("/truncated/model.zip", "not a valid zip archive"),
    ("/wrong/model.zip", "model.hdf5 has git blob SHA-1 .* expected .*refusing"),
    ("/error/model.zip", "HTTP 500 Internal Server Error after 0 bytes"),
    ("/half-then-500/model.zip", r"HTTP 500 .* after [1-9][\d,]* bytes"),
    ("/drop-always/model.zip", r"download incomplete: received [\d,]+ of [\d,]+ bytes in 3 attempts"),
])
def test_download_failures_install_nothing(server, archive, weights, tmp_path, route, match):
    server.files["model.zip"] = archive
    if route.startswith("/truncated"):
        server.files["model.zip"] = archive[: len(archive) * 2 // 3]
    if route.startswith("/wrong"):
        server.files["model.zip"] = _zip_bytes({"model/model.hdf5": weights["other"].read_bytes()})
    models = tmp_path / "models"
    with pytest.raises(ModelError, match=match) as caught:
        _download(server, route, models, expected_sha1=_sha1(weights["model"]))
    assert "nothing was installed" in str(caught.value) or route[1:6] in ("trunc", "wrong")
    _assert_nothing_installed(models)


def test_the_library_prints_nothing_and_the_command_shows_progress(server, weights, tmp_path, capsys, monkeypatch):
    server.files["model.hdf5"] = weights["model"].read_bytes()
    install_weights(f"{server.url}/model.hdf5", tmp_path / "library", expected_sha1=_sha1(weights["model"]))
    assert capsys.readouterr() == ("", "")  # the library reports through its callback only
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_BACKEND", "tensorflow")  # no ONNX conversion in this test
    code = main(["model", "install", f"{server.url}/model.hdf5", "--models-dir", str(tmp_path / "cli"),
                 "--allow-unverified"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert re.search(r"\d+/\d+ MiB downloaded", captured.err), captured.err
    assert "installed " in captured.out


def test_zenodo_url_is_the_release():
    assert ZENODO_MODEL_URL == "https://zenodo.org/records/3765717/files/model.zip?download=1"
    assert MANIFEST_NAME == "manifest.json"


def _status(monkeypatch, models: Path) -> int:
    """``model status --quiet`` with ``models`` as the models folder (and no ECGREVIEW_MODEL)."""
    monkeypatch.delenv("ECGREVIEW_MODEL", raising=False)
    monkeypatch.setenv("ECGREVIEW_CONFIG", str(models.parent / "absent-config.toml"))
    monkeypatch.setenv("ECGREVIEW_MODELS_DIR", str(models))
    return main(["model", "status", "--quiet"])


@pytest.mark.parametrize(("name", "installed_name"), [("weights.h5", "weights.h5"), ("Seed.H5", "Seed.H5"),
                                                      ("weights.bin", "weights.hdf5"), ("weights", "weights.hdf5")])
def test_whatever_install_accepts_status_and_the_app_find(weights, tmp_path, monkeypatch, name, installed_name):
    from ecgreview.config import Settings
    from ecgreview.model.serving import installed_models

    source = tmp_path / name
    source.write_bytes(weights["other"].read_bytes())
    models = tmp_path / "models"
    assert _status(monkeypatch, models) == 1  # nothing installed yet
    installed = install_weights(source, models, allow_unverified=True, progress=_quiet)
    assert installed == models / installed_name
    assert _status(monkeypatch, models) == 0
    assert installed_models(Settings.from_env()) == [installed]


def test_an_archive_of_h5_files_installs_and_is_found(weights, tmp_path, monkeypatch):
    from ecgreview.config import Settings
    from ecgreview.model.serving import installed_models

    archive_path = tmp_path / "weights.zip"
    archive_path.write_bytes(_zip_bytes({"export/model.h5": weights["other"].read_bytes()}))
    models = tmp_path / "models"
    installed = install_weights(archive_path, models, allow_unverified=True, progress=_quiet)
    assert installed == models / "model.h5"
    assert _status(monkeypatch, models) == 0
    assert installed_models(Settings.from_env()) == [installed]


def test_the_refusal_names_the_command_line_flag(weights, tmp_path, monkeypatch, capsys):
    with pytest.raises(ModelError, match="--allow-unverified") as caught:
        install_weights(weights["other"], tmp_path / "models", progress=_quiet)
    assert "allow_unverified=True" not in str(caught.value)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    assert main(["model", "install", str(weights["other"]), "--models-dir", str(tmp_path / "cli")]) == 2
    assert "--allow-unverified" in capsys.readouterr().err
    _assert_nothing_installed(tmp_path / "cli")


def test_install_says_when_the_app_would_not_use_the_weights(weights, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_CONFIG", str(tmp_path / "absent-config.toml"))
    monkeypatch.setenv("ECGREVIEW_BACKEND", "tensorflow")  # no ONNX conversion in this test
    monkeypatch.delenv("ECGREVIEW_MODEL", raising=False)
    monkeypatch.delenv("ECGREVIEW_MODELS_DIR", raising=False)
    assert main(["model", "install", str(weights["other"]), "--models-dir", str(tmp_path / "elsewhere"),
                 "--allow-unverified"]) == 0
    assert f"the app looks for weights in {tmp_path / 'home' / 'models'}" in capsys.readouterr().out
    assert main(["model", "install", str(weights["other"]), "--allow-unverified"]) == 0
    assert "note:" not in capsys.readouterr().out
