"""Who is reading: sign-in for the ``local``, ``proxy`` and ``oidc`` modes (``ECGREVIEW_AUTH``), and role checks.

``sign_in`` runs in ``app.py`` before any page and before any widget: until the reader is known
it shows the sign-in and stops the script, so no ECG, upload or page is shown to an anonymous
visitor. In ``name`` mode (single workstation) the reader types a name instead, and the app
refuses to serve at all on an address other than loopback.

Identity is checked again on **every run**, because Streamlit resumes a session for any client
that reconnects with its session id (``WebsocketSessionManager.connect_session``; the id is no
secret: it appears in ``/_stcore/upload_file/<session id>/…`` URLs). Session state, including the
signed-in user, survives that resume. So:

* ``proxy``: the user header (and the user file, or the configured roles header) is re-read from
  the current connection's request headers (``st.context.headers`` follow the newest websocket);
  a missing or different header ends the session (all session state is cleared).
* ``local``: sign-in binds the session to the browser that signed in: a digest of the token in
  Streamlit's ``_streamlit_xsrf`` cookie (random per browser, kept across reloads, sent with every
  websocket handshake, never in a URL) is stored server-side in session state and compared, in
  constant time, with the current connection's cookie on every run. A client that presents only
  the session id has another token or none, and is signed out. The user file is re-read too, so a
  removed user or changed roles end the session at the next run. Local sign-in therefore needs
  ``server.enableXsrfProtection = true`` (the shipped config) and cookies.
* ``oidc``: Streamlit binds the session to the identity in its signed auth cookie and refuses a
  resume under another identity; ``st.user`` is re-checked here on every run as well.

Streamlit serves two actions outside any script run: ``PUT /_stcore/upload_file/<session>/<file>``
(any file id, for any active session, with the client's own XSRF cookie and header) and the
``clear_cache`` message (every cache of every user). :func:`install_server_guards` wraps the two
Streamlit methods behind them, once per process (when this module is first imported, which
``app.py`` does before anything else, and again idempotently in :func:`sign_in`; ``serve.py``
imports it when the server starts), so that outside ``name`` mode an upload is
refused (HTTP 403, the data dropped) unless its session is signed in, and caches are cleared only
for an admin. A client that knows a signed-in session's id can still put files into that
session's upload memory (each at most ``server.maxUploadSize``; no widget ever reads them, and
they go with the session); docs/deployment.md says what the proxy adds.

Role rules live in :mod:`ecgreview.security.auth` (pure functions over ``User``); the functions here apply
them to the signed-in user (``None`` in ``name`` mode, where every role is allowed).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Iterable, Mapping

import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.security import auth
from ecgreview.security.auth import User, authenticate, load_users, user_from_oidc, user_from_proxy
from ecgreview.ui import state
from ecgreview.ui.text import escape_markdown

XSRF_COOKIE = "_streamlit_xsrf"
_BINDING_CONTEXT = b"ecgreview session binding v1:"
_LOGGER = logging.getLogger(__name__)
_GUARDS = {"installed": False}
_SIGNED_IN: dict[str, User] = {}  # Streamlit session id -> user, for the server guards
_SIGNED_IN_LOCK = threading.Lock()


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


def sign_in() -> None:
    """Make sure the reader is known on this run; otherwise show the sign-in and stop this run."""
    try:
        settings = Settings.from_env()
    except EcgReviewError as exc:
        st.error(f"Configuration error — {escape_markdown(exc)}")
        st.stop()
    install_server_guards()
    if settings.auth_mode == "name":
        _require_loopback()
        return
    try:
        user = current_user()
        if user is not None:
            if _still_signed_in(settings, user):
                _remember(user)
                return
            _end_session()
            st.warning("Signed out: this connection does not carry the sign-in of this session. Sign in again.")
        user, binding = _identify(settings)
    except EcgReviewError as exc:
        st.error(f"Sign-in is misconfigured — {escape_markdown(exc)}")
        st.stop()
    if user is None:
        st.stop()
    st.session_state[state.USER] = user
    st.session_state[state.SESSION_BINDING] = binding
    _remember(user)
    st.rerun()


def sign_out(settings: Settings) -> None:
    """Forget the user and everything else in this session (and the OIDC cookie)."""
    _end_session()
    if settings.auth_mode == "oidc":
        st.logout()


def browser_binding(cookies: Mapping[str, str]) -> str | None:
    """Digest of the browser's XSRF token in ``cookies``, or None when there is no readable token.

    Streamlit's cookie reads ``2|<mask hex>|<masked token hex>|<timestamp>`` (version 2; the mask
    changes on every HTTP response, the token does not) or ``<token hex>`` (version 1).
    """
    value = cookies.get(XSRF_COOKIE, "").strip("\"'")
    try:
        if value.startswith("2|"):
            _, mask_hex, masked_hex, _ = value.split("|")
            mask, masked = bytes.fromhex(mask_hex), bytes.fromhex(masked_hex)
            token = bytes(byte ^ mask[index % len(mask)] for index, byte in enumerate(masked)) if mask else b""
        else:
            token = bytes.fromhex(value)
    except ValueError:
        return None
    return hashlib.sha256(_BINDING_CONTEXT + token).hexdigest() if len(token) >= 16 else None


def _request_headers() -> Mapping[str, str]:
    """Headers of the current websocket connection (a test replaces this)."""
    return {key: value for key, value in st.context.headers.items()}


def _request_cookies() -> Mapping[str, str]:
    """Cookies of the current websocket connection (a test replaces this)."""
    return {key: value for key, value in st.context.cookies.items()}


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


def _still_signed_in(settings: Settings, user: User) -> bool:
    """Whether the current connection still proves ``user`` (see the module docstring)."""
    if settings.auth_mode == "proxy":
        return _proxy_user(settings) == user
    if settings.auth_mode == "oidc":
        return bool(st.user.is_logged_in) and user_from_oidc(st.user.to_dict(), settings.user_file) == user
    stored = st.session_state.get(state.SESSION_BINDING)
    current = browser_binding(_request_cookies())
    if not stored or current is None or not hmac.compare_digest(stored, current):
        return False
    listed = load_users(settings.user_file).get(user.name)
    return listed is not None and listed[0] == user.roles


def _end_session() -> None:
    _remember(None)
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def _current_session_id() -> str | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    return context.session_id if context is not None else None


def _remember(user: User | None) -> None:
    """Record (or, with None, forget) the user of this Streamlit session for the server guards."""
    session_id = _current_session_id()
    if session_id is None:
        return
    with _SIGNED_IN_LOCK:
        if user is None:
            _SIGNED_IN.pop(session_id, None)
        else:
            _SIGNED_IN[session_id] = user


def signed_in_user_of(session_id: str) -> User | None:
    """The user signed in on the Streamlit session ``session_id`` (in this process), or None."""
    with _SIGNED_IN_LOCK:
        return _SIGNED_IN.get(session_id)


def _guards_enforced() -> bool:
    """Outside ``name`` mode (read at each call; a configuration error counts as enforced)."""
    try:
        return Settings.from_env().auth_mode != "name"
    except EcgReviewError:
        return True


def install_server_guards() -> None:
    """Refuse uploads from sessions not signed in, and cache clearing by anyone but an admin (once per process).

    Wraps ``MemoryUploadedFileManager.add_file`` and ``AppSession._handle_clear_cache_request``
    of the pinned Streamlit (see the module docstring); does nothing in ``name`` mode.
    """
    if _GUARDS["installed"]:
        return
    from starlette.exceptions import HTTPException
    from streamlit.runtime.app_session import AppSession
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    add_file, clear_cache = MemoryUploadedFileManager.add_file, AppSession._handle_clear_cache_request

    def guarded_add_file(manager: MemoryUploadedFileManager, session_id: str, file: UploadedFileRec) -> None:
        if _guards_enforced() and signed_in_user_of(session_id) is None:
            _LOGGER.warning("ecgreview: refused an upload to session %s, which is not signed in", session_id)
            raise HTTPException(status_code=403, detail="Sign in before uploading.")
        add_file(manager, session_id=session_id, file=file)

    def guarded_clear_cache(session: AppSession) -> None:
        user = signed_in_user_of(session.id)
        if _guards_enforced() and (user is None or not user.has_role("admin")):
            _LOGGER.warning("ecgreview: refused to clear the caches for session %s (not an admin)", session.id)
            return
        clear_cache(session)

    # Streamlit has no hook for either check: the two methods are wrapped (mypy: assigning to a method).
    MemoryUploadedFileManager.add_file = guarded_add_file  # type: ignore[method-assign,assignment]
    AppSession._handle_clear_cache_request = guarded_clear_cache  # type: ignore[method-assign,assignment]
    _GUARDS["installed"] = True


def _proxy_user(settings: Settings) -> User | None:
    return user_from_proxy(_request_headers(), header=settings.proxy_header, users_path=settings.user_file,
                           roles_header=settings.proxy_roles_header)


def _identify(settings: Settings) -> tuple[User | None, str | None]:
    """The user this connection proves (or None, after showing the sign-in), and the session binding."""
    if settings.auth_mode == "proxy":
        user = _proxy_user(settings)
        if user is None:
            st.error(f"Not signed in: the reverse proxy sent no valid {escape_markdown(settings.proxy_header)} header.")
        return user, None
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
    if not submitted:
        return None
    user = authenticate(settings.user_file, name.strip(), password)
    if user is None:
        st.error("Wrong user name or password.")
    return user


install_server_guards()  # at import (app.py imports this module first), not only at the first sign-in step
