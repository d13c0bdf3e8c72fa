"""The command line: exit codes and messages of the subcommands wired in ecgreview.cli."""

from __future__ import annotations

import pytest

from ecgreview.cli import main
from ecgreview.examples import demo_ecg_path
from ecgreview.record import CLASSES


@pytest.fixture
def home(tmp_path, monkeypatch):
    for variable in ("ECGREVIEW_MODEL", "ECGREVIEW_MODELS_DIR", "ECGREVIEW_REVIEWS", "ECGREVIEW_CASES", "ECGREVIEW_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def fixture_weights(tmp_path_factory):
    from ecgreview.model.network import build_model
    from tests.model_fixtures import random_weights, weight_specs_from_keras, write_keras224_hdf5

    specs = weight_specs_from_keras(build_model())
    return write_keras224_hdf5(tmp_path_factory.mktemp("weights") / "model.hdf5", specs, random_weights(specs, seed=1))


def test_model_status_without_weights_says_how_to_install(home, capsys):
    assert main(["model", "status"]) == 1
    assert "model install" in capsys.readouterr().out
    assert main(["model", "status", "--quiet"]) == 1
    assert capsys.readouterr().out == ""


def test_install_refuses_unverified_model_hdf5_and_installs_nothing(home, fixture_weights, capsys):
    assert main(["model", "install", str(fixture_weights)]) == 2
    assert "SHA-1" in capsys.readouterr().err
    assert not list((home / "models").glob("**/*.hdf5")) if (home / "models").exists() else True


def test_predict_prints_every_class_and_the_weights_status(home, fixture_weights, monkeypatch, capsys):
    monkeypatch.setenv("ECGREVIEW_MODEL", str(fixture_weights))
    assert main(["model", "status"]) == 0
    assert "unverified" in capsys.readouterr().out.lower()
    assert main(["predict", str(demo_ecg_path())]) == 0
    out = capsys.readouterr().out
    assert "unverified" in out.lower()
    assert all(f" {name} " in out for name in CLASSES)


def test_predict_bad_file_is_a_clear_error(home, fixture_weights, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ECGREVIEW_MODEL", str(fixture_weights))
    junk = tmp_path / "notes.txt"
    junk.write_text("not an ECG")
    assert main(["predict", str(junk)]) == 2
    assert capsys.readouterr().err.startswith("notes.txt: ")


def test_missing_model_path_is_named(home, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ECGREVIEW_MODEL", str(tmp_path / "absent.hdf5"))
    assert main(["model", "status"]) == 2
    assert "absent.hdf5" in capsys.readouterr().err


def test_reproduce_paper_on_shared_data(ribeiro_dir, capsys):
    assert main(["reproduce-paper", str(ribeiro_dir)]) == 0
    assert "other_seeds/model_1.npy" in capsys.readouterr().out


def test_reproduce_paper_missing_folder(tmp_path, capsys):
    assert main(["reproduce-paper", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_compare_predictions_on_shared_reproduction(ribeiro_dir, tmp_path, capsys):
    code = main(["compare-predictions", str(ribeiro_dir / "dnn_predicts" / "model.npy"),
                 str(ribeiro_dir / "reproductions" / "tarilabs_output.csv"), "--out", str(tmp_path / "report")])
    assert code == 0
    assert (tmp_path / "report").is_dir() and any((tmp_path / "report").iterdir())


def test_statements_over_corpus_are_all_mapped(corpus_dir, capsys):
    assert main(["statements", str(corpus_dir)]) == 0
    out = capsys.readouterr().out
    assert "RITMO SINUSALE" in out and "0 unmapped" in out
    assert "No statement was read as negated or as history." in out  # the shared files state no negation
    assert "ECGs carry no statements: the device's calls are not available" in out  # the WFDB records


def test_statements_reports_unmapped_with_counts(tmp_path, capsys):
    from tests.io.dicom_fixtures import write_ecg_dicom

    for index in range(2):
        write_ecg_dicom(tmp_path, f"case{index}.dcm", statements=("Vorhofflimmern", "Quasimodo-Rhythmus"))
    assert main(["statements", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "2 ECGs read, 0 skipped" in out
    assert any(line.split() == ["2", "unmapped", "Quasimodo-Rhythmus"] for line in out.splitlines())
    assert any("AF:definite" in line and "Vorhofflimmern" in line for line in out.splitlines())


def test_statements_reports_negated_and_historical_statements_per_file(tmp_path, capsys):
    from tests.io.dicom_fixtures import write_ecg_dicom

    write_ecg_dicom(tmp_path, "philips.dcm", statements=("Nonspecific intraventricular conduction delay, not LBBB/RBBB",))
    write_ecg_dicom(tmp_path, "serial.dcm", statements=("Sinus rhythm", "History of atrial fibrillation",
                                                        "Left bundle branch block is no longer present"))
    write_ecg_dicom(tmp_path, "plain.dcm", statements=("Atrial fibrillation",))
    assert main(["statements", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "3 statements read as negated or as history (file: statement: reading):" in lines
    assert "philips.dcm: Nonspecific intraventricular conduction delay, not LBBB/RBBB: negated" in lines
    assert "serial.dcm: History of atrial fibrillation: history" in lines
    assert "serial.dcm: Left bundle branch block is no longer present: history" in lines
    assert not any(line.startswith("plain.dcm:") for line in lines)
    assert any(line.split()[:2] == ["1", "AF:history"] for line in lines)


def test_statements_missing_path(tmp_path, capsys):
    assert main(["statements", str(tmp_path / "absent")]) == 2
    assert "absent: no such file or folder" in capsys.readouterr().err


def test_users_add_from_stdin(home, monkeypatch, capsys):
    import io

    from ecgreview.security.auth import authenticate

    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main(["users", "add", "dr.neri", "--role", "reader", "--role", "teacher", "--password-stdin"]) == 0
    assert "added dr.neri (reader, teacher)" in capsys.readouterr().out
    assert authenticate(home / "users.csv", "dr.neri", "a long password").roles == {"reader", "teacher"}
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "dr.neri", "--role", "reader", "--replace", "--password-stdin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err


def test_install_unverified_on_request_prepares_the_serving_backend(home, fixture_weights, capsys):
    assert main(["model", "install", str(fixture_weights), "--allow-unverified"]) == 0
    out = capsys.readouterr().out
    installed = home / "models" / "model.hdf5"
    assert f"installed {installed}" in out and "ready: onnxruntime" in out
    assert installed.read_bytes() == fixture_weights.read_bytes()
    assert list((home / "models").glob("model.*.onnx"))  # conversion cached beside the weights
    assert main(["model", "status"]) == 0
    assert "unverified" in capsys.readouterr().out.lower()
