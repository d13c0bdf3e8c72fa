"""Sign-in modes: the reader on every row comes from the login, and identity is re-checked on every run.

AppTest has no websocket, so ``connection`` stands in for the headers, cookies and address of the
current connection (what ``st.context`` reads); changing it between runs is a reconnect to the same
session. tests/browser/test_security_browser.py and test_security_round_two.py do the same over a
real websocket.
"""

from __future__ import annotations

import logging
import os
import time

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

from ecgreview.cli import main as cli_main
from ecgreview.record import CLASSES
from ecgreview.review.store import read_reviews
from ecgreview.security import throttle
from ecgreview.security.auth import User, add_user
from ecgreview.security.boundary import PROXY_SECRET_HEADER
from ecgreview.ui import identity, server_guards, state
from ecgreview.ui.text import escape_markdown
from tests.ui.test_review_page import APP

PROXY_SECRET = "proxy-secret-0123456789"


class Connection:
    """Headers (a mapping, or pairs to repeat one), cookies and client address the app sees on the next run."""

    def __init__(self) -> None:
        self.headers: dict[str, str] | list[tuple[str, str]] = {}
        self.cookies: dict[str, str] = {}
        self.client = "127.0.0.1"

    def new_browser(self) -> bytes:
        token = os.urandom(16)
        self.cookies = {identity.XSRF_COOKIE: generate_xsrf_token_string(token)}
        return token


@pytest.fixture
def connection(monkeypatch) -> Connection:
    current = Connection()
    monkeypatch.setattr(identity, "_request_headers", lambda: current.headers)
    monkeypatch.setattr(identity, "_request_cookies", lambda: current.cookies)
    monkeypatch.setattr(identity, "_client_address", lambda: current.client)
    throttle.forget_shared_state()  # the server process's throttle, fresh for each test
    return current


class SecurityLog(logging.Handler):
    """The lines of the ``ecgreview.security`` log."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def security_log():
    server_guards.install()
    handler = SecurityLog()
    server_guards.LOGGER.addHandler(handler)
    yield handler.lines
    server_guards.LOGGER.removeHandler(handler)


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


def _refused_connection(app: AppTest) -> bool:
    """Nothing of the session shown: only the refusal."""
    return (_titles(app) == ["ecgreview"] and not _review_page_shown(app) and not app.text_input
            and any("belongs to another sign-in" in error.value for error in app.error))


@pytest.mark.parametrize("impostor", ["no cookie", "own browser"])
def test_a_session_id_alone_neither_resumes_nor_ends_a_local_sign_in(local_home, connection, impostor):
    """Finding 3 of issue 12 and item 3 of issue 22: the teacher's session reached by another client shows that
    client nothing, and the teacher's session (unsaved calls included) is still there when her browser returns."""
    token = connection.new_browser()
    app = _sign_in("teach", "teacher password")
    app.button(key="set-call-absent").click().run()  # an unsaved call: the cursor moved on to the next class
    app.session_state["unsaved-work"] = "calls not saved yet"
    unsaved = {key: app.session_state[key] for key in (state.CLASS_CURSOR, "unsaved-work")}
    if impostor == "no cookie":
        connection.cookies = {}  # a raw websocket with the session id only
    else:
        connection.new_browser()  # the attacker's own browser, with its own XSRF token
    app.run()
    assert _refused_connection(app)
    connection.cookies = {identity.XSRF_COOKIE: generate_xsrf_token_string(token)}  # the teacher's browser reconnects
    app.run()
    assert _signed_in_as(app) == "teach" and _review_page_shown(app)
    assert {key: app.session_state[key] for key in unsaved} == unsaved and unsaved[state.CLASS_CURSOR] == 1


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
    assert _signed_in_as(app) is None and "signed_in_user" not in app.session_state
    assert any("Signed out" in warning.value for warning in app.warning)


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
    monkeypatch.setenv("ECGREVIEW_PROXY_SECRET", PROXY_SECRET)
    add_user(home / "users.csv", "teach", "unused password", ["teacher"])
    connection.headers = {PROXY_SECRET_HEADER: PROXY_SECRET}
    return home


def _through_proxy(**headers: str) -> dict[str, str]:
    return {PROXY_SECRET_HEADER: PROXY_SECRET, **{name.replace("_", "-"): value for name, value in headers.items()}}


def test_proxy_mode_without_header_shows_nothing(proxy_home):
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert any(escape_markdown("X-Remote-User") in error.value for error in app.error)
    assert not app.radio


def test_proxy_mode_needs_the_proxy_secret(proxy_home, connection, security_log):
    """Issue 22 item 4: a client that reaches the app port directly can send any user name, but not the secret."""
    connection.headers = {"X-Remote-User": "root"}
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert _signed_in_as(app) is None and not _review_page_shown(app)
    assert any(escape_markdown(PROXY_SECRET_HEADER) in error.value for error in app.error)
    assert any("refused a proxy-mode run" in line for line in security_log)
    connection.headers = _through_proxy(X_Remote_User="root")
    assert _signed_in_as(app.run()) == "root"


def test_proxy_identity_header_sent_twice_is_refused(proxy_home, connection):
    """Issue 22 item 4: behind a proxy that adds its header, the client's copy must not win (nor the proxy's)."""
    connection.headers = [(PROXY_SECRET_HEADER, PROXY_SECRET), ("X-Remote-User", "root"), ("X-Remote-User", "teach")]
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert _signed_in_as(app) is None and not _review_page_shown(app)
    assert any(escape_markdown("X-Remote-User header was sent more than once") in error.value for error in app.error)


def test_proxy_mode_without_secret_or_sources_serves_nothing(home, monkeypatch, connection):
    monkeypatch.setenv("ECGREVIEW_AUTH", "proxy")
    connection.headers = {"X-Remote-User": "teach"}
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert _signed_in_as(app) is None
    assert any(escape_markdown("ECGREVIEW_PROXY_SECRET") in error.value
               and escape_markdown("ECGREVIEW_PROXY_SOURCES") in error.value for error in app.error)


def test_proxy_roles_from_a_client_are_ignored(proxy_home, connection):
    """Finding 1: X-Remote-Roles: admin from a client shows reader, not admin."""
    connection.headers = _through_proxy(X_Remote_User="mallory", X_Remote_Roles="admin")
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert _signed_in_as(app) == "mallory"
    assert "Roles: reader" in [caption.value for caption in app.caption]
    assert app.session_state["signed_in_user"].roles == {"reader"}


def test_proxy_header_is_read_again_on_every_run(proxy_home, connection):
    """Finding 3 in proxy mode: a reconnection without the header, or with another user's, is shown nothing,
    and the session stays its owner's; a change of roles in the user file ends it."""
    connection.headers = _through_proxy(X_Remote_User="teach")
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert _signed_in_as(app) == "teach" and app.session_state["signed_in_user"].roles == {"teacher"}
    for other in (_through_proxy(), _through_proxy(X_Remote_User="mallory")):
        connection.headers = other  # the session id, through the proxy, without the teacher's sign-in
        app.run()
        assert _refused_connection(app) and app.session_state["signed_in_user"].name == "teach"
    connection.headers = _through_proxy(X_Remote_User="teach")
    assert _signed_in_as(app.run()) == "teach"
    add_user(proxy_home / "users.csv", "teach", "unused password", ["student"], replace=True)
    app.run()
    assert _signed_in_as(app.run()) == "teach" and app.session_state["signed_in_user"].roles == {"student"}


def test_configured_proxy_roles_header(proxy_home, connection, monkeypatch):
    monkeypatch.setenv("ECGREVIEW_PROXY_ROLES_HEADER", "X-Ecg-Roles")
    connection.headers = _through_proxy(X_Remote_User="anna", X_Ecg_Roles="student")
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

    server_guards.install()
    server_guards.register_session("reader-session", User("r", frozenset({"reader"})), None)
    server_guards.register_session("admin-session", User("root", frozenset({"admin"})), None)
    manager = MemoryUploadedFileManager("/upload")
    upload = lambda session_id: manager.add_file(  # noqa: E731
        session_id=session_id, file=UploadedFileRec(file_id="f", name="a.dcm", type="application/dicom", data=b"x"))
    yield upload, AppSession._handle_clear_cache_request
    for session_id in ("reader-session", "admin-session"):
        server_guards.forget_session(session_id)


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
    assert User("dr.rossi", frozenset({"reader"})) in [entry.user for entry in server_guards._SESSIONS.values()]


def test_local_sign_in_without_users_says_how_to_add_them(home, monkeypatch, connection):
    monkeypatch.setenv("ECGREVIEW_AUTH", "local")
    connection.new_browser()
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert any("python -m ecgreview users add" in info.value for info in app.info)


# -- issue 22 item 1-2: guessing is throttled, locked out, logged; argon2 checks are bounded ------------------------

def _attempt(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input[0].input(name)
    app.text_input[1].input(password)
    app.button[0].click()
    return app.run()


def _errors(app: AppTest) -> str:
    return " | ".join(error.value for error in app.error)


def test_guessing_is_slowed_down_and_every_attempt_logged(local_home, connection, security_log):
    """The review's attack: wrong passwords in a row, then the right one. After five the right one waits too."""
    connection.client = "10.1.2.3"
    app = _sign_in("dr.rossi", "guess number 0")
    for number in range(1, 5):
        assert "Wrong user name or password." in _errors(_attempt(app, "dr.rossi", f"guess number {number}"))
    assert "Too many failed sign-ins: try again in 1 s." in _errors(app)  # after the fifth
    _attempt(app, "dr.rossi", "correct horse battery")
    assert _signed_in_as(app) is None and "Too many failed sign-ins" in _errors(app)
    time.sleep(1.1)  # the thing tested: the throttle's 1 s window passes in real time (the server's own clock)
    assert _signed_in_as(_attempt(app, "dr.rossi", "correct horse battery")) == "dr.rossi"
    failed = [line for line in security_log if line.startswith("sign-in failed")]
    assert len(failed) == 5 and all("user='dr.rossi'" in line and "client='10.1.2.3'" in line and " time=" in line
                                    for line in failed)
    assert [line for line in security_log if line.startswith("sign-in refused")] != []
    assert [line for line in security_log if line.startswith("sign-in succeeded: user='dr.rossi'")] != []
    assert not [line for line in security_log if "guess number" in line or "correct horse" in line]


def test_an_account_locks_until_an_admin_unlocks_it(local_home, connection, monkeypatch, capsys):
    monkeypatch.setenv("ECGREVIEW_SIGNIN_LOCKOUT", "3")
    monkeypatch.setenv("ECGREVIEW_SIGNIN_FREE", "10")
    app = _sign_in("teach", "wrong password 1")
    _attempt(app, "teach", "wrong password 2")
    _attempt(app, "teach", "wrong password 3")
    assert "This account is locked after too many failed sign-ins" in _errors(app)
    assert "python -m ecgreview users unlock teach" in _errors(app)
    assert _signed_in_as(_attempt(app, "teach", "teacher password")) is None  # locked: not even checked
    connection.new_browser()  # another browser: the lock is the account's
    assert _signed_in_as(_sign_in("teach", "teacher password")) is None
    assert cli_main(["users", "unlock", "teach"]) == 0 and "unlocked teach" in capsys.readouterr().out
    assert _signed_in_as(_sign_in("teach", "teacher password")) == "teach"


def test_too_many_sign_ins_at_once_are_refused_before_argon2(local_home, connection, monkeypatch, security_log):
    monkeypatch.setattr(identity, "SLOT_WAIT_S", 0.2)
    slots = throttle.shared_slots(2)  # the server's two verification slots, both busy
    with slots.slot(timeout_s=1) as first, slots.slot(timeout_s=1) as second:
        assert first and second
        app = _sign_in("dr.rossi", "correct horse battery")
    assert "Too many sign-ins at once; try again in a few seconds." in _errors(app) and _signed_in_as(app) is None
    assert any("too many sign-ins at once" in line for line in security_log)
    assert _signed_in_as(_attempt(app, "dr.rossi", "correct horse battery")) == "dr.rossi"
