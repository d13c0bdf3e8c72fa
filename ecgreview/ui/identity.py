"""Who is reading: sign-in for the ``local``, ``proxy`` and ``oidc`` modes (``ECGREVIEW_AUTH``), and role checks.

``sign_in`` runs in ``app.py`` before any page and before any widget: until the reader is known
it shows the sign-in and stops the script, so no ECG, upload or page is shown to an anonymous
visitor. In ``name`` mode (single workstation) the reader types a name instead, and the app
refuses to serve at all on an address other than loopback.

Identity is checked again on **every run**, because Streamlit resumes a session for any client
that reconnects with its session id (the id is no secret: it appears in
``/_stcore/upload_file/<session id>/…`` URLs). Session state, including the signed-in user,
survives that resume. The server guards (:mod:`ecgreview.ui.server_guards`) already refuse such a
reconnection from another browser or proxy user before Streamlit hands the session over; this
check is the second line:

* ``proxy``: the request must come from the proxy (shared secret, source address, one identity
  header: :func:`ecgreview.security.boundary.proxy_refusal`), and the user header (and the user
  file, or the configured roles header) is re-read from the current connection's request headers;
* ``local``: sign-in binds the session to the browser that signed in: a digest of the token in
  Streamlit's ``_streamlit_xsrf`` cookie (random per browser, kept across reloads, sent with every
  websocket handshake, never in a URL) is kept server-side and compared, in constant time, with
  the current connection's on every run. Local sign-in therefore needs
  ``server.enableXsrfProtection = true`` (the shipped config) and cookies;
* ``oidc``: Streamlit binds the session to the identity in its signed auth cookie and refuses a
  resume under another identity; ``st.user`` is re-checked here on every run as well.

A connection that does not prove the session's sign-in is shown nothing and the session is left
as it is (its owner's browser takes it back on reconnecting, unsaved calls included). A sign-in
that no longer holds (the user removed from the user file, other roles) ends the session.

Local sign-in is throttled (:mod:`ecgreview.security.throttle`: back-off per account and client,
lockout of an account, at most ``Settings.signin_concurrency`` argon2 checks at once), and every
attempt is logged to the ``ecgreview.security`` log with the user name, UTC time and client
address, never the password.

Role rules live in :mod:`ecgreview.security.auth` (pure functions over ``User``); the functions here apply
them to the signed-in user (``None`` in ``name`` mode, where every role is allowed).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

import streamlit as st

from ecgreview.config import Settings, proxy_boundary_problem
from ecgreview.errors import EcgReviewError
from ecgreview.review.teaching import list_sessions, load_session, sessions_dir
from ecgreview.security import auth
from ecgreview.security.auth import User, authenticate, load_users, user_from_oidc, user_from_proxy
from ecgreview.security.boundary import XSRF_COOKIE, browser_binding, proxy_refusal
from ecgreview.security.throttle import ThrottleLimits, Verdict, lockout_path, shared_slots, shared_throttle
from ecgreview.ui import server_guards, state
from ecgreview.ui.text import escape_markdown

__all__ = ["XSRF_COOKIE", "browser_binding", "current_user", "may", "may_adjudicate", "may_see_other_readings",
           "reads_blinded", "require", "row_role", "sign_in", "sign_out", "teaching_case_refusal"]

#: Seconds a sign-in waits for a free password check before it is refused.
SLOT_WAIT_S = 3.0
_LOGGER = server_guards.LOGGER
_KEPT, _OTHER_CONNECTION, _ENDED = "kept", "other connection", "ended"


def current_user() -> User | None:
    """The signed-in user, or None in ``name`` mode."""
    return st.session_state.get(state.USER)


def may(role: str) -> bool:
    """Whether the reader may act as ``role`` (always, in ``name`` mode)."""
    return auth.has_any_role(current_user(), (role,))


def row_role(requested: str = "reader") -> str:
    """The role to store on a review-page row: ``student`` for students, ``adjudicator`` only when
    requested and allowed, else ``reader`` (see :func:`ecgreview.security.auth.row_role`)."""
    return auth.row_role(current_user(), requested)


def may_see_other_readings() -> bool:
    """Whether the reader may see other readers' and students' readings and comments (not students)."""
    return auth.may_see_other_readings(current_user())


def reads_blinded() -> bool:
    """Whether the reader must read blinded (students): opinions and other readings only after saving."""
    return auth.reads_blinded(current_user())


def may_adjudicate() -> bool:
    """Whether the reader may record a consensus (adjudicator) row."""
    return auth.may_adjudicate(current_user())


def require(roles: str | Iterable[str], page_name: str) -> bool:
    """True when the reader has one of ``roles``; otherwise say who the page is for and return False."""
    wanted = (roles,) if isinstance(roles, str) else tuple(roles)
    user = current_user()
    if user is None or auth.has_any_role(user, wanted):  # None: name mode, where every page is open
        return True
    st.warning(f"The {page_name} page is for {auth.describe_roles(wanted)}; you are signed in as "
               f"{escape_markdown(user.name)} ({', '.join(sorted(user.roles))}).")
    return False


def teaching_case_refusal(settings: Settings, source_sha256: str) -> str | None:
    """Why the reader may not open this case on the Review page (a student, and a case of a teaching
    session: read in that session only), or None."""
    user = current_user()
    if not auth.reads_blinded(user):
        return None
    for path in list_sessions(sessions_dir(settings)):
        try:
            session = load_session(path)
        except EcgReviewError:
            continue  # the Teaching page names the broken file
        cases = {case.source_sha256 for case in session.cases}
        if not auth.may_open_on_review_page(user, source_sha256, cases):
            return (f"This case belongs to the teaching session {escape_markdown(session.session_id)}: students read "
                    "it on the Teaching page, in that session.")
    return None


def sign_in() -> None:
    """Make sure the reader is known on this run; otherwise show the sign-in and stop this run."""
    try:
        settings = Settings.from_env()
        server_guards.install()
    except EcgReviewError as exc:
        st.error(f"Configuration error — {escape_markdown(exc)}")
        st.stop()
    if settings.auth_mode == "name":
        _require_loopback()
        return
    try:
        _require_proxy(settings)
        user = current_user()
        if user is not None:
            standing = _standing(settings, user)
            if standing == _KEPT:
                _remember(user, st.session_state.get(state.SESSION_BINDING))
                return
            if standing == _OTHER_CONNECTION:
                _refuse_connection()
            _end_session()
            st.warning("Signed out: your sign-in no longer holds (user file changed). Sign in again.")
        user, binding = _identify(settings)
    except EcgReviewError as exc:
        st.error(f"Sign-in is misconfigured — {escape_markdown(exc)}")
        st.stop()
    if user is None:
        st.stop()
    st.session_state[state.USER] = user
    st.session_state[state.SESSION_BINDING] = binding
    _remember(user, binding)
    st.rerun()


def sign_out(settings: Settings) -> None:
    """Forget the user and everything else in this session (and the OIDC cookie)."""
    _end_session()
    if settings.auth_mode == "oidc":
        st.logout()


def _request_headers() -> Mapping[str, str] | list[tuple[str, str]]:
    """Headers of the current websocket connection, every copy of a repeated one (a test replaces this)."""
    headers = st.context.headers
    return [(key, value) for key in headers for value in headers.get_all(key)]


def _request_cookies() -> Mapping[str, str]:
    """Cookies of the current websocket connection (a test replaces this)."""
    return {key: value for key, value in st.context.cookies.items()}


def _client_address() -> str:
    """The client's address as Streamlit reports it (loopback: ``127.0.0.1``; a test replaces this)."""
    return st.context.ip_address or "127.0.0.1"


def _server_address() -> str | None:
    return st.get_option("server.address")


def _require_loopback() -> None:
    address = _server_address()
    if auth.is_loopback_address(address):
        return
    st.title("ecgreview")
    st.error(f"This server listens on {escape_markdown(address or 'every network interface')}, and ECGREVIEW_AUTH=name (a typed "
             "reader name, no sign-in) is only for one workstation on 127.0.0.1. Set ECGREVIEW_AUTH=local and "
             "add users with `python -m ecgreview users add NAME --role reader`, or use proxy or oidc "
             "(docs/deployment.md); or run with --server.address 127.0.0.1.")
    st.stop()


def _require_proxy(settings: Settings) -> None:
    """In ``proxy`` mode, stop unless this connection came through the trusted proxy (nothing is cleared)."""
    if settings.auth_mode != "proxy":
        return
    problem = proxy_boundary_problem(settings)
    reason = problem or proxy_refusal(_request_headers(), _client_address(), header=settings.proxy_header,
                                      roles_header=settings.proxy_roles_header, secret=settings.proxy_secret,
                                      sources=settings.proxy_sources)
    if reason is not None:
        _LOGGER.warning("refused a proxy-mode run from %s: %s", _client_address(), reason)
        st.error(f"Not signed in: {escape_markdown(reason)}.")
        st.stop()


def _standing(settings: Settings, user: User) -> str:
    """Whether the current connection still proves ``user``: kept, another connection, or the sign-in ended."""
    if settings.auth_mode == "proxy":
        now = _proxy_user(settings)
        if now is None or now.name != user.name:
            return _OTHER_CONNECTION
        return _KEPT if now == user else _ENDED
    if settings.auth_mode == "oidc":
        still = bool(st.user.is_logged_in) and user_from_oidc(st.user.to_dict(), settings.user_file) == user
        return _KEPT if still else _ENDED
    stored = st.session_state.get(state.SESSION_BINDING)
    current = browser_binding(_request_cookies())
    if not stored or current is None or not hmac.compare_digest(stored, current):
        return _OTHER_CONNECTION
    listed = load_users(settings.user_file).get(user.name)
    return _KEPT if listed is not None and listed[0] == user.roles else _ENDED


def _refuse_connection() -> None:
    """Show nothing of a session this connection did not sign in to, and leave the session as it is."""
    _LOGGER.warning("refused a run of signed-in session %s from another browser or user (from %s)",
                    _current_session_id(), _client_address())
    st.title("ecgreview")
    st.error("This session belongs to another sign-in (another browser or user). Reload the page to start your "
             "own session.")
    st.stop()


def _end_session() -> None:
    _remember(None, None)
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def _current_session_id() -> str | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    return context.session_id if context is not None else None


def _remember(user: User | None, binding: str | None) -> None:
    """Register (or, with None, forget) the user of this Streamlit session with the server guards."""
    session_id = _current_session_id()
    if session_id is None:
        return
    if user is None:
        server_guards.forget_session(session_id)
    else:
        server_guards.register_session(session_id, user, binding)


def _proxy_user(settings: Settings) -> User | None:
    return user_from_proxy(_request_headers(), header=settings.proxy_header, users_path=settings.user_file,
                           roles_header=settings.proxy_roles_header)


def _identify(settings: Settings) -> tuple[User | None, str | None]:
    """The user this connection proves (or None, after showing the sign-in), and the session binding."""
    if settings.auth_mode == "proxy":
        user = _proxy_user(settings)
        if user is None:
            st.error(f"Not signed in: the reverse proxy sent no valid {escape_markdown(settings.proxy_header)} header.")
        return user, server_guards.connection_binding(settings, _request_headers(), {})
    if settings.auth_mode == "oidc":
        if not st.user.is_logged_in:
            st.title("ecgreview")
            st.button("Sign in with your hospital account", on_click=st.login, type="primary")
            return None, None
        return user_from_oidc(st.user.to_dict(), settings.user_file), None
    binding = browser_binding(_request_cookies())
    if binding is None:
        st.title("ecgreview — sign in")
        st.error(f"Sign-in needs the browser's {XSRF_COOKIE} cookie: allow cookies for this site, and keep "
                 "server.enableXsrfProtection = true in .streamlit/config.toml. Then reload the page.")
        return None, None
    return _local_form(settings), binding


def _local_form(settings: Settings) -> User | None:
    st.title("ecgreview — sign in")
    if not load_users(settings.user_file):
        st.info("No users yet. An administrator adds them on the server with "
                "`python -m ecgreview users add NAME --role reader` (docs/deployment.md).")
    with st.form("sign-in"):
        name = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    return _check_password(settings, name.strip(), password) if submitted else None


def _check_password(settings: Settings, name: str, password: str) -> User | None:
    """The user when the password is right and the throttle lets the attempt through; else None, after saying why."""
    client = _client_address()
    limits = ThrottleLimits(free_attempts=settings.signin_free, max_delay_s=settings.signin_max_delay_s,
                            lockout_after=settings.signin_lockout)
    throttle = shared_throttle(lockout_path(settings.user_file), limits)
    verdict = throttle.check(name, client)
    if not verdict.allowed:
        _log_attempt("refused", name, client, verdict.reason)
        st.error(_throttled_message(verdict, name))
        return None
    with shared_slots(settings.signin_concurrency).slot(timeout_s=SLOT_WAIT_S) as free:
        if not free:
            _log_attempt("refused", name, client, "too many sign-ins at once")
            st.error("Too many sign-ins at once; try again in a few seconds.")
            return None
        user = authenticate(settings.user_file, name, password)
    if user is None:
        after = throttle.record_failure(name, client, listed=name in load_users(settings.user_file))
        _log_attempt("failed", name, client, "wrong user name or password" + (
            "; the account is now locked" if after.reason == "locked" else ""))
        st.error("Wrong user name or password." + (f" {_throttled_message(after, name)}" if not after.allowed else ""))
        return None
    throttle.record_success(name)
    _log_attempt("succeeded", name, client, "")
    return user


def _throttled_message(verdict: Verdict, name: str) -> str:
    if verdict.reason == "locked":
        return ("This account is locked after too many failed sign-ins; an administrator unlocks it with "
                f"`python -m ecgreview users unlock {escape_markdown(name)}`.")
    return f"Too many failed sign-ins: try again in {max(1, round(verdict.retry_after_s))} s."


def _log_attempt(outcome: str, name: str, client: str, reason: str) -> None:
    """One line per sign-in attempt: outcome, user name (quoted, escaped), UTC time, client; never the password."""
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    level = logging.INFO if outcome == "succeeded" else logging.WARNING
    _LOGGER.log(level, "sign-in %s: user=%s time=%s client=%s%s", outcome, ascii(name[:100]), when, ascii(client),
                f" ({reason})" if reason else "")
