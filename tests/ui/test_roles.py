"""Each role against each page (finding 4): what a user may see and which role their rows carry.

Users sign in through the proxy header (``connection`` from test_sign_in stands in for the
websocket) and get their roles from the user file. The review page's wiring belongs to
ui/pages/review.py; here it is checked through the identity functions that page calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ecgreview.io import read_ecg
from ecgreview.record import CLASSES
from ecgreview.review.modes import BLINDED
from ecgreview.review.store import read_reviews
from ecgreview.review.teaching import TeachingCase, create_session
from ecgreview.review.worklist_query import SORT_KEYS
from ecgreview.security.auth import add_user
from ecgreview.security.boundary import PROXY_SECRET_HEADER
from ecgreview.ui import state
from tests.ui.reading_room_fixtures import ENV_VARIABLES, build_case_folder, run_after_indexing
from tests.ui.test_sign_in import PROXY_SECRET, Connection, connection  # noqa: F401  (fixture)

ROLES = {"anna": ("student",), "rossi": ("reader",), "bianchi": ("reader", "adjudicator"),
         "teach": ("teacher",), "root": ("admin",)}
CLINICIANS = ("rossi", "bianchi", "teach", "root")

_ROUTER = """
import streamlit as st
from ecgreview.ui.identity import sign_in
from ecgreview.ui.pages import evaluate, review, teaching, worklist
sign_in()
pages = {"review": review.render, "worklist": worklist.render, "teaching": teaching.render,
         "evaluate": evaluate.render}
st.navigation([st.Page(render, title=name.title(), url_path=name, default=name == %r)
               for name, render in pages.items()]).run()
"""

_DECISIONS = """
import streamlit as st
from ecgreview.ui import identity
identity.sign_in()
st.text(repr((identity.row_role("reader"), identity.row_role("adjudicator"), identity.may_see_other_readings(),
              identity.may_adjudicate(), identity.reads_blinded(), identity.may("teacher"))))
"""


@pytest.fixture
def site(tmp_path, monkeypatch, connection: Connection) -> Path:
    for variable in (*ENV_VARIABLES, "ECGREVIEW_AUTH", "ECGREVIEW_USERS", "ECGREVIEW_PROXY_ROLES_HEADER"):
        monkeypatch.delenv(variable, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("ECGREVIEW_HOME", str(home))
    monkeypatch.setenv("ECGREVIEW_CASES", str(build_case_folder(tmp_path / "cases")))
    monkeypatch.setenv("ECGREVIEW_AUTH", "proxy")
    monkeypatch.setenv("ECGREVIEW_PROXY_SECRET", PROXY_SECRET)
    for name, roles in ROLES.items():
        add_user(home / "users.csv", name, "unused password", roles)
    return home


def _as(connection: Connection, user: str) -> None:
    connection.headers = {"X-Remote-User": user, "X-Remote-Roles": "admin",  # the forged roles are ignored
                          PROXY_SECRET_HEADER: PROXY_SECRET}


def _open(connection: Connection, user: str, page: str, *, case: str | None = None) -> AppTest:
    _as(connection, user)
    app = AppTest.from_string(_ROUTER % page, default_timeout=180)
    if case is not None:
        app.query_params[state.QUERY_CASE] = case
    app = run_after_indexing(app)  # the page's refresh
    assert not app.exception, app.exception
    assert app.session_state[state.USER].name == user
    return app


@pytest.mark.parametrize("user", ROLES)
def test_cohort_page_is_for_clinicians(site, connection, user):
    app = _open(connection, user, "evaluate")
    refused = [warning.value for warning in app.warning if "page is for" in warning.value]
    if user == "anna":
        assert refused == ["The Cohort study page is for readers, adjudicators and teachers; "
                           "you are signed in as anna (student)."]
        assert not app.get("file_uploader") and not app.dataframe and not app.info
    else:
        assert not refused and app.get("file_uploader")
        assert any("No reviews yet" in info.value for info in app.info)


@pytest.mark.parametrize("user", ROLES)
def test_worklist_opens_for_every_role(site, connection, user):
    app = _open(connection, user, "worklist")
    assert not [warning.value for warning in app.warning if "page is for" in warning.value]
    assert set(app.dataframe[0].value["File"]) >= {"demo.dcm", "syn-af.dcm"}


def _session(site: Path) -> list[TeachingCase]:
    cases = [TeachingCase(read_ecg(site.parent / "cases" / name).source_sha256, name,
                          dict.fromkeys(CLASSES, "absent") | {"AF": "present"}) for name in ("syn-af.dcm",)]
    create_session(site / "sessions", "week 1", cases)
    return cases


@pytest.mark.parametrize("user", ROLES)
def test_teaching_page_by_role(site, connection, user):
    _session(site)
    app = _open(connection, user, "teaching")
    teacher_control = [control for control in app.get("button_group") if control.key == state.TEACHING_ROLE]
    assert bool(teacher_control) == (user in ("teach", "root"))
    # Everyone lands on the student's side: the case to read, and no reference, results or other answers.
    assert any("Case 1 of 1" in header.value for header in app.subheader)
    assert not app.dataframe and not any("Results of" in header.value for header in app.subheader)
    if teacher_control:
        app.segmented_control(key=state.TEACHING_ROLE).set_value("Teacher")
        app.run()
        assert any(header.value == "Prepare a session" for header in app.subheader)


def test_student_answer_is_a_student_row_and_the_reference_comes_after(site, connection):
    _session(site)
    app = _open(connection, "anna", "teaching")
    assert not app.dataframe and not any("reference" in header.value for header in app.subheader)
    for _ in CLASSES:
        app.button(key="set-call-absent").click().run()
    app.button(key="teaching-submit").click().run()
    assert not app.exception, app.exception
    rows = read_reviews(site / "reviews.csv")
    assert list(rows["reader"]) == ["anna"] and list(rows["role"]) == ["student"]
    reveal = app.dataframe[0].value.set_index("Class")
    assert reveal.loc["AF", "Mark"] == "✗ wrong"  # the reference, now that she has answered


@pytest.mark.parametrize(("user", "decisions"), [
    ("anna", ("student", "student", False, False, True, False)),
    ("rossi", ("reader", "reader", True, False, False, False)),
    ("bianchi", ("reader", "adjudicator", True, True, False, False)),
    ("teach", ("reader", "reader", True, False, False, True)),
    ("root", ("reader", "adjudicator", True, True, False, True)),
])
def test_review_page_decisions_by_role(site, connection, user, decisions):
    """What the review page asks identity: the role to store, and whether others' readings may be shown."""
    _as(connection, user)
    app = AppTest.from_string(_DECISIONS, default_timeout=60).run()
    assert not app.exception, app.exception
    assert app.text[0].value == repr(decisions)


def test_name_mode_decisions_allow_everything(site, connection, monkeypatch):
    monkeypatch.setenv("ECGREVIEW_AUTH", "name")
    app = AppTest.from_string(_DECISIONS, default_timeout=60).run()
    assert app.text[0].value == repr(("reader", "adjudicator", True, True, False, True))


def test_student_review_page_row_is_a_student_row(site, connection):
    app = _open(connection, "anna", "review")
    for _ in CLASSES:
        app.button(key="set-call-absent").click().run()
    next(button for button in app.button if button.label == "Save review").click()
    app.run()
    assert not app.exception, app.exception
    assert list(read_reviews(site / "reviews.csv")["role"]) == ["student"]


# -- issue 22 item 5: what a student may sort by and open, decided on the server ------------------------------------

@pytest.mark.parametrize("user", ROLES)
def test_students_cannot_sort_the_worklist_by_readings_or_discordance(site, connection, user):
    app = _open(connection, user, "worklist")
    offered = app.selectbox(key="worklist-sort").options
    if user == "anna":
        assert offered == [key for key in SORT_KEYS if key not in ("discordance", "reviews", "disagreement")]
    else:
        assert offered == list(SORT_KEYS)


def test_blinded_reading_hides_the_discordance_sort(site, connection):
    app = _open(connection, "rossi", "worklist")
    app.segmented_control(key=state.READING_MODE_WIDGET).set_value(BLINDED).run()
    assert "discordance" not in app.selectbox(key="worklist-sort").options
    assert "disagreement" not in app.selectbox(key="worklist-sort").options


@pytest.mark.parametrize("user", ["anna", "rossi", "teach"])
def test_a_teaching_case_opens_for_students_only_in_its_session(site, connection, user):
    """The review's attack: open the session's case on the Review page, save blinded, see the device and DNN,
    then answer the teaching case knowing them. A student is refused before anything of the case is shown."""
    case = _session(site)[0]
    app = _open(connection, user, "review", case=case.source_sha256)
    refused = [warning.value for warning in app.warning if "teaching session" in warning.value]
    shown = any(button.label == "Save review" for button in app.button)
    if user == "anna":
        assert refused and "Teaching page" in refused[0] and not shown and not app.get("plotly_chart")
    else:
        assert not refused and shown
