"""The Review page's serial panel (AppTest): the prior ECG of the pseudonym listed, shown on the same paper on
request, and the per-class and interval change tables, hidden while the reading is blinded; a WFDB record's prior
by the ``record-prefix`` linking rule when the site configures it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ecgreview.io import read_ecg
from ecgreview.review.modes import BLINDED
from ecgreview.ui import decision_panel, state
from ecgreview.ui.serial_panel import SHOW_PRIOR_KEY, SHOW_PRIOR_SHORTCUT
from tests.review.serial_fixtures import WFDB_PAIR_RULE, write_serial_pair, write_wfdb_pair
from tests.ui.reading_room_fixtures import ENV_VARIABLES, open_page


@pytest.fixture
def pair(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A home whose case folder holds only the constructed pair (prior, current)."""
    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_CASES", str(tmp_path / "cases"))
    return write_serial_pair(tmp_path / "cases")


@pytest.fixture
def wfdb_pair(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A home whose case folder holds only the constructed WFDB pair (prior, current headers)."""
    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECGREVIEW_CASES", str(tmp_path / "cases"))
    return write_wfdb_pair(tmp_path / "cases")


def _ok(app: AppTest) -> AppTest:
    assert not app.exception, app.exception
    return app


def _texts(app: AppTest) -> str:
    return " ".join(element.value for element in [*app.markdown, *app.caption])


def _figures(app: AppTest) -> int:
    return len(app.get("plotly_chart"))


def _open(path: Path) -> AppTest:
    return _ok(open_page("review", query={state.QUERY_CASE: read_ecg(path).source_sha256}))


def test_the_prior_is_listed_shown_and_compared(pair):
    prior, current = pair
    app = _open(current)
    texts = _texts(app)
    assert "**Prior ECGs** · 1 of pseudonym" in texts
    assert "**Since 2019\\-03\\-02:** New LBBB \\(device\\)" in texts  # the headline (markdown-escaped)
    assert app.selectbox(key=next(key for key in _keys(app) if key.startswith("serial-prior-"))).value
    tables = [element.value for element in app.dataframe]
    per_class = next(table for table in tables if "Device change" in table.columns).set_index("Class")
    assert per_class.loc["LBBB", "Device prior"] == "absent" and per_class.loc["LBBB", "Device now"] == "definite"
    assert per_class.loc["LBBB", "Device change"] == "new" and per_class.loc["LBBB", "DNN change"] == "—"  # no model
    intervals = next(table for table in tables if "Interval" in table.columns).set_index("Interval")
    assert intervals.loc["QRS", "Prior"] == "94 ms" and intervals.loc["QRS", "Change"] == "+54 ms"
    assert intervals.loc["QTc", "Change"] == "+70 ms"
    shown = _figures(app)
    app.toggle(key=SHOW_PRIOR_KEY).set_value(True)
    _ok(app.run())
    assert _figures(app) == shown + 1  # the prior under the current ECG
    assert "Prior ECG · acquired 2019\\-03\\-02 10\\:15" in _texts(app)
    app.segmented_control(key="serial-arrangement").set_value("Side by side")
    _ok(app.run())
    assert _figures(app) == shown + 2  # the current again, beside the prior


def _keys(app: AppTest) -> list[str]:
    return [element.key for element in app.selectbox if element.key]


def test_the_first_ecg_of_a_pseudonym_has_no_serial_panel(pair):
    prior, _ = pair
    assert "Prior ECGs" not in _texts(_open(prior))


def test_blinded_reading_shows_no_changes(pair):
    _, current = pair
    app = _open(current)
    app.segmented_control(key=state.READING_MODE_WIDGET).set_value(BLINDED)
    _ok(app.run())
    texts = _texts(app)
    assert "**Prior ECGs** · 1 of pseudonym" in texts and "New LBBB" not in texts
    assert "are shown once the opinions are" in texts
    assert not [element for element in app.dataframe if "Device change" in element.value.columns]


def test_a_wfdb_prior_is_linked_by_record_prefix_when_configured(wfdb_pair, monkeypatch):
    prior, current = wfdb_pair
    assert "Prior ECGs" not in _texts(_open(current))  # the default rule: WFDB records are not linked
    monkeypatch.setenv("ECGREVIEW_SERIAL_LINK", WFDB_PAIR_RULE)
    app = _open(current)
    texts = _texts(app)
    assert "**Prior ECGs** · 1 of record prefix PT01" in texts
    assert "**Since 2019\\-03\\-02:**" in texts
    chosen = app.selectbox(key=next(key for key in _keys(app) if key.startswith("serial-prior-")))
    assert chosen.value == read_ecg(prior).source_sha256
    assert "Prior ECGs" not in _texts(_open(prior))  # the older record has no prior


def test_the_key_help_names_v_on_the_review_page_only(pair):
    prior, current = pair
    texts = _texts(_open(current))
    assert f"`{SHOW_PRIOR_SHORTCUT}` prior ECG" in texts  # the Review page's "Your reading" line
    assert f"`{SHOW_PRIOR_SHORTCUT}` prior ECG" not in _texts(_open(prior))  # no prior: no key to name
    assert f"`{SHOW_PRIOR_SHORTCUT}` show or hide the prior ECG" in decision_panel.KEYS_HELP
    teaching_help = decision_panel.KEYS_HELP.split(" · `S`")[0]  # what the teaching page (no serial panel) shows
    assert f"`{SHOW_PRIOR_SHORTCUT}`" not in teaching_help and "`B`" not in teaching_help
