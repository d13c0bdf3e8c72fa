"""Sign-in modes: the reader on every row comes from the login, and identity is re-checked on every run.

AppTest has no websocket, so ``connection`` stands in for the headers and cookies of the current
connection (what ``st.context`` reads); changing it between runs is a reconnect to the same session.
tests/browser/test_security_browser.py does the same over a real websocket.
"""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

from ecgreview.record import CLASSES
from ecgreview.review.store import read_reviews
from ecgreview.security.auth import User, add_user
from ecgreview.ui import identity
from ecgreview.ui.text import escape_markdown
from tests.ui.test_review_page import APP


class Connection:
    """Headers and cookies the app sees on the next run."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.cookies: dict[str, str] = {}

    def new_browser(self) -> bytes:
        token = os.urandom(16)
        self.cookies = {identity.XSRF_COOKIE: generate_xsrf_token_string(token)}
        return token


@pytest.fixture
def connection(monkeypatch) -> Connection:
    current = Connection()
    monkeypatch.setattr(identity, "_request_headers", lambda: current.headers)
    monkeypatch.setattr(identity, "_request_cookies", lambda: current.cookies)
    return current


@pytest.fixture
def local_home(home, monkeypatch, connection):
    monkeypatch.setenv("ECGREVIEW_AUTH", "local")
    add_user(home / "users.csv", "dr.rossi", "correct horse battery", ["reader"])
    add_user(home / "users.csv", "teach", "teacher password", ["teacher"])
    connection.new_browser()
    return home


def _titles(app: AppTest) -> list[str]:
    return [title.value for title in app.title]


def _signed_in_as(app: AppTest) -> str | None:
    """The user the page is shown to (the sidebar's Sign out button is there), else None."""
    if not any(button.key == "sign-out" for button in app.button):
        return None
    return app.session_state["signed_in_user"].name


def _review_page_shown(app: AppTest) -> bool:
    return any(button.label == "Save review" for button in app.button)


def _sign_in(name: str, password: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception, app.exception
    assert _titles(app) == ["ecgreview — sign in"]
    assert not app.radio and not app.get("plotly_chart") and not app.get("file_uploader")  # nothing before sign-in
    app.text_input[0].input(name)
    app.text_input[1].input(password)
    app.button[0].click()
    return app.run()


def test_wrong_password_is_refused(local_home):
    app = _sign_in("dr.rossi", "wrong password")
    assert any("Wrong user name or password" in error.value for error in app.error)
    assert _titles(app) == ["ecgreview — sign in"]


def test_signed_in_reader_is_stored_on_the_review(local_home):
    app = _sign_in("dr.rossi", "correct horse battery")
    assert _review_page_shown(app)
    assert not [field for field in app.text_input if field.label == "Reader"]  # no typed name
    assert _signed_in_as(app) == "dr.rossi"
    for _ in CLASSES:  # the A key: "absent" for the class under the cursor, then the next class
        app.button(key="set-call-absent").click().run()
    next(button for button in app.button if button.label == "Save review").click()
    app.run()
    assert not app.exception
    assert read_reviews(local_home / "reviews.csv").iloc[0]["reader"] == "dr.rossi"


def test_session_id_alone_does_not_resume_a_local_sign_in(local_home, connection):
    """Finding 3: the same session (its id) reached from a client without the teacher's cookie is signed out."""
    app = _sign_in("teach", "teacher password")
    assert _signed_in_as(app) == "teach"
    connection.cookies = {}  # a raw websocket with the session id only
    app.run()
    assert _signed_in_as(app) is None and _titles(app) == ["ecgreview — sign in"]
    assert any("Signed out" in warning.value for warning in app.warning)
    assert not app.radio and "signed_in_user" not in app.session_state


def test_another_browser_cookie_does_not_resume_a_local_sign_in(local_home, connection):
    app = _sign_in("teach", "teacher password")
    connection.new_browser()  # the attacker's own browser, with its own XSRF token, and the teacher's session id
    app.run()
    assert _signed_in_as(app) is None and _titles(app) == ["ecgreview — sign in"]


def test_the_same_browser_stays_signed_in(local_home, connection):
    """A reload or reconnect of the signing-in browser: the cookie is re-masked, its token is the same."""
    token = connection.new_browser()
    app = _sign_in("dr.rossi", "correct horse battery")
    connection.cookies = {identity.XSRF_COOKIE: generate_xsrf_token_string(token)}  # new mask, same token
    app.run()
    assert _signed_in_as(app) == "dr.rossi"


def test_removed_user_is_signed_out_at_the_next_run(local_home):
    app = _sign_in("dr.rossi", "correct horse battery")
    add_user(local_home / "users.csv", "dr.rossi", "correct horse battery", ["student"], replace=True)
    app.run()
    assert _signed_in_as(app) is None


def test_local_sign_in_without_the_browser_cookie_is_refused(local_home, connection):
    connection.cookies = {}
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert any("_streamlit_xsrf cookie" in error.value for error in app.error)
    assert not app.text_input and not app.radio


def test_binding_reads_streamlits_cookie_format():
    token = os.urandom(16)
    first = identity.browser_binding({identity.XSRF_COOKIE: generate_xsrf_token_string(token)})
    assert first is not None
    assert identity.browser_binding({identity.XSRF_COOKIE: generate_xsrf_token_string(token)}) == first
    assert identity.browser_binding({identity.XSRF_COOKIE: token.hex()}) == first  # version 1
    assert identity.browser_binding({identity.XSRF_COOKIE: generate_xsrf_token_string(os.urandom(16))}) != first
    for broken in ("", "2|zz|00|1", "2|00", "abc", "2||" + "00" * 16 + "|1"):
        assert identity.browser_binding({identity.XSRF_COOKIE: broken}) is None


@pytest.fixture
def proxy_home(home, monkeypatch, connection):
    monkeypatch.setenv("ECGREVIEW_AUTH", "proxy")
    add_user(home / "users.csv", "teach", "unused password", ["teacher"])
    return home


def test_proxy_mode_without_header_shows_nothing(proxy_home):
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert any(escape_markdown("X-Remote-User") in error.value for error in app.error)
    assert not app.radio


def test_proxy_roles_from_a_client_are_ignored(proxy_home, connection):
    """Finding 1: X-Remote-Roles: admin from a client shows reader, not admin."""
    connection.headers = {"X-Remote-User": "mallory", "X-Remote-Roles": "admin"}
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert _signed_in_as(app) == "mallory"
    assert "Roles: reader" in [caption.value for caption in app.caption]
    assert app.session_state["signed_in_user"].roles == {"reader"}


def test_proxy_header_is_read_again_on_every_run(proxy_home, connection):
    """Finding 3 in proxy mode: the session follows the header; without it, it is signed out."""
    connection.headers = {"X-Remote-User": "teach"}
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert _signed_in_as(app) == "teach" and app.session_state["signed_in_user"].roles == {"teacher"}
    connection.headers = {}  # reconnect with the session id but through no proxy sign-in
    app.run()
    assert _signed_in_as(app) is None and not app.radio
    assert any(escape_markdown("X-Remote-User") in error.value for error in app.error)
    connection.headers = {"X-Remote-User": "mallory"}
    app.run()
    assert _signed_in_as(app) == "mallory" and app.session_state["signed_in_user"].roles == {"reader"}


def test_configured_proxy_roles_header(proxy_home, connection, monkeypatch):
    monkeypatch.setenv("ECGREVIEW_PROXY_ROLES_HEADER", "X-Ecg-Roles")
    connection.headers = {"X-Remote-User": "anna", "X-Ecg-Roles": "student"}
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert _signed_in_as(app) == "anna" and app.session_state["signed_in_user"].roles == {"student"}


@pytest.mark.parametrize("address", ["0.0.0.0", "10.0.0.5", "", None])
def test_name_mode_refuses_a_non_loopback_address(home, monkeypatch, address):
    """Finding 2: a typed name is for one workstation; on the network the app serves nothing."""
    monkeypatch.setattr(identity, "_server_address", lambda: address)
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert any("ECGREVIEW_AUTH=name" in error.value and "python -m ecgreview users add" in error.value
               for error in app.error)
    assert not app.radio and not app.text_input and not _review_page_shown(app)


def test_name_mode_serves_on_loopback(home, monkeypatch):
    monkeypatch.setattr(identity, "_server_address", lambda: "127.0.0.1")
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert _review_page_shown(app) and not app.error


class _FakeSession:
    """What the cache-clearing handler touches of an AppSession."""

    def __init__(self, session_id: str) -> None:
        self.id = session_id
        self.cleared = False
        self._session_state = self

    def clear(self) -> None:
        self.cleared = True


@pytest.fixture
def guards(monkeypatch):
    from streamlit.runtime.app_session import AppSession
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    identity.install_server_guards()
    monkeypatch.setattr(identity, "_SIGNED_IN", {"reader-session": User("r", frozenset({"reader"})),
                                                 "admin-session": User("root", frozenset({"admin"}))})
    manager = MemoryUploadedFileManager("/upload")
    upload = lambda session_id: manager.add_file(  # noqa: E731
        session_id=session_id, file=UploadedFileRec(file_id="f", name="a.dcm", type="application/dicom", data=b"x"))
    return upload, AppSession._handle_clear_cache_request


def test_no_upload_before_sign_in(home, monkeypatch, guards):
    """Finding 8: Streamlit's upload endpoint stores files for a session that has not signed in."""
    from starlette.exceptions import HTTPException

    upload, _ = guards
    monkeypatch.setenv("ECGREVIEW_AUTH", "local")
    with pytest.raises(HTTPException, match="Sign in before uploading") as refused:
        upload("anonymous-session")
    assert refused.value.status_code == 403
    upload("reader-session")  # signed in: accepted
    monkeypatch.setenv("ECGREVIEW_AUTH", "name")
    upload("anonymous-session")  # one workstation: no sign-in to wait for


def test_only_an_admin_clears_the_caches(home, monkeypatch, guards):
    _, clear_cache = guards
    monkeypatch.setenv("ECGREVIEW_AUTH", "proxy")
    for session_id, cleared in (("anonymous-session", False), ("reader-session", False), ("admin-session", True)):
        session = _FakeSession(session_id)
        clear_cache(session)
        assert session.cleared is cleared, session_id


def test_sign_in_registers_the_session_for_the_guards(local_home):
    app = _sign_in("dr.rossi", "correct horse battery")
    assert _signed_in_as(app) == "dr.rossi"
    assert User("dr.rossi", frozenset({"reader"})) in identity._SIGNED_IN.values()


def test_local_sign_in_without_users_says_how_to_add_them(home, monkeypatch, connection):
    monkeypatch.setenv("ECGREVIEW_AUTH", "local")
    connection.new_browser()
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert any("python -m ecgreview users add" in info.value for info in app.info)
