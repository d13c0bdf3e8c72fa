"""Sign-in modes: the reader on every row comes from the login, not a text field."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from ecgreview.auth import add_user
from ecgreview.record import CLASSES
from ecgreview.reviews import read_reviews
from tests.ui.test_review_page import APP


@pytest.fixture
def local_home(home, monkeypatch):
    monkeypatch.setenv("ECGREVIEW_AUTH", "local")
    add_user(home / "users.csv", "dr.rossi", "correct horse battery", ["reader"])
    return home


def _sign_in(name: str, password: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception, app.exception
    assert [title.value for title in app.title] == ["ecgreview — sign in"]
    assert not app.radio and not app.get("plotly_chart")  # no ECG before sign-in
    app.text_input[0].input(name)
    app.text_input[1].input(password)
    app.button[0].click()
    return app.run()


def test_wrong_password_is_refused(local_home):
    app = _sign_in("dr.rossi", "wrong password")
    assert any("Wrong user name or password" in error.value for error in app.error)
    assert [title.value for title in app.title] == ["ecgreview — sign in"]


def test_signed_in_reader_is_stored_on_the_review(local_home):
    app = _sign_in("dr.rossi", "correct horse battery")
    assert "ECG review" in [title.value for title in app.title]
    assert not [field for field in app.text_input if field.label == "Reader"]  # no typed name
    assert any("**Reader** dr.rossi" in element.value for element in app.markdown)
    next(button for button in app.button if button.label == "Save review")  # the page is there
    for radio in app.radio:
        if radio.label in CLASSES:
            radio.set_value("absent")
    next(button for button in app.button if button.label == "Save review").click()
    app.run()
    assert not app.exception
    assert read_reviews(local_home / "reviews.csv").iloc[0]["reader"] == "dr.rossi"


def test_proxy_mode_without_header_shows_nothing(home, monkeypatch):
    monkeypatch.setenv("ECGREVIEW_AUTH", "proxy")
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert any("X-Remote-User" in error.value for error in app.error)
    assert not app.radio
