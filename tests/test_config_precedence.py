"""Settings precedence: environment variable, then the TOML configuration file, then the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgreview.config import Settings, parse_thresholds
from ecgreview.errors import ConfigError
from ecgreview.record import THRESHOLDS

SITE = (0.2, 0.1, 0.06, 0.3, 0.4, 0.2)
FILE = (0.3, 0.2, 0.1, 0.4, 0.5, 0.25)


def _text(values: tuple[float, ...], separator: str = ",") -> str:
    return separator.join(f"{value:g}" for value in values)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_environment_or_file(home: Path) -> None:
    settings = Settings.from_env({"ECGREVIEW_HOME": str(home)})
    assert settings.thresholds == THRESHOLDS
    assert settings.reviews_path == home / "reviews.csv" and settings.backend == "auto"


def test_file_overrides_default(home: Path) -> None:
    _config(home, f'thresholds = "{_text(FILE)}"\nreviews = "{home}/study.csv"\nbackend = "onnx"\n')
    settings = Settings.from_env({"ECGREVIEW_HOME": str(home)})
    assert settings.thresholds == FILE
    assert settings.reviews_path == home / "study.csv" and settings.backend == "onnx"


def test_environment_overrides_file(home: Path) -> None:
    _config(home, f'thresholds = "{_text(FILE)}"\nreviews = "{home}/study.csv"\nbackend = "onnx"\n')
    settings = Settings.from_env({"ECGREVIEW_HOME": str(home), "ECGREVIEW_THRESHOLDS": _text(SITE, ";"),
                                  "ECGREVIEW_REVIEWS": str(home / "env.csv"), "ECGREVIEW_BACKEND": "tensorflow"})
    assert settings.thresholds == SITE
    assert settings.reviews_path == home / "env.csv" and settings.backend == "tensorflow"


def test_empty_environment_variable_falls_back_to_file(home: Path) -> None:
    _config(home, f'thresholds = "{_text(FILE)}"\n')
    assert Settings.from_env({"ECGREVIEW_HOME": str(home), "ECGREVIEW_THRESHOLDS": ""}).thresholds == FILE


def test_config_pointer_selects_the_file(tmp_path: Path, home: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text(f'thresholds = "{_text(SITE)}"\n', encoding="utf-8")
    _config(home, f'thresholds = "{_text(FILE)}"\n')
    settings = Settings.from_env({"ECGREVIEW_HOME": str(home), "ECGREVIEW_CONFIG": str(other)})
    assert settings.thresholds == SITE


@pytest.mark.parametrize(("text", "match"), [
    ("0.1,0.2", "thresholds must be six numbers in \\[0, 1\\] for 1dAVb, RBBB, LBBB, SB, AF, ST.*got 2 value"),
    ("0.1,0.2,0.3,0.4,0.5,1.5", "threshold for ST must be a number in \\[0, 1\\]; got '1.5'"),
    ("0.1,0.2,x,0.4,0.5,0.6", "threshold for LBBB must be a number in \\[0, 1\\]; got 'x'"),
    ("0.1,0.2,nan,0.4,0.5,0.6", "threshold for LBBB"),
])
def test_bad_thresholds_name_where_they_came_from(home: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=f"^ECGREVIEW_THRESHOLDS: {match}"):
        Settings.from_env({"ECGREVIEW_HOME": str(home), "ECGREVIEW_THRESHOLDS": text})
    path = _config(home, f'thresholds = "{text}"\n')
    with pytest.raises(ConfigError, match=f"^config.toml: {match}") as caught:
        Settings.from_env({"ECGREVIEW_HOME": str(home)})
    assert caught.value.path == str(path)


def test_parse_thresholds_blank_is_the_papers() -> None:
    assert parse_thresholds(None) == THRESHOLDS and parse_thresholds("  ") == THRESHOLDS
