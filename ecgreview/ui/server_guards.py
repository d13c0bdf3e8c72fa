"""Every change ecgreview makes to Streamlit's server, in one place, for the one Streamlit it was written for.

Both ways of serving the app go through here: ``streamlit run app.py`` (the README, ``start.sh``)
and ``streamlit run serve.py`` (the container) each build an ``st.App`` with :func:`middleware`,
which checks the Streamlit version, installs the patches below once, and returns the ASGI
middleware. A Streamlit other than :data:`STREAMLIT_VERSION` (the pin of ``requirements.txt``)
is refused at start with a message saying which one to install: the patches rely on internals
that change between releases.

**Middleware** (before Streamlit sees a request; a refusal is HTTP 403 or a refused websocket
handshake, and a log line):

* every HTTP response carries :data:`SECURITY_HEADERS` (CSP with ``img-src 'self' data: blob:`` and
  ``frame-ancestors 'self'``, ``X-Frame-Options``, ``nosniff``, ``Referrer-Policy``);
* ``/_stcore/metrics`` is not served outside ``name`` mode (it answers without sign-in);
* a websocket's ``Origin`` must be the page's own, **port included**, or listed in
  ``server.corsAllowedOrigins`` (Streamlit compares host names only);
* ``proxy`` mode: every request but the health check must come from the proxy
  (:func:`ecgreview.security.boundary.proxy_refusal`: shared secret, source addresses, and the
  identity header at most once);
* a websocket that resumes a signed-in session, or an upload into one, is refused unless it
  comes from the browser (``local``) or proxy user (``proxy``) that signed in: Streamlit would
  otherwise disconnect the owner and hand the session over, and the sign-in check would then
  have to end it, losing the owner's unsaved work. The owner's session is left as it was.

**Patches** of Streamlit internals (:func:`install`; Streamlit has no hook for either):
``MemoryUploadedFileManager.add_file`` refuses an upload to a session that is not signed in
(outside ``name`` mode), and ``AppSession._handle_clear_cache_request`` clears the caches only for
an admin. Signed-in sessions are registered here by :mod:`ecgreview.ui.identity`
(:func:`register_session`). Security events go to the ``ecgreview.security`` log (stderr).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from ecgreview.config import Settings, proxy_boundary_problem
from ecgreview.errors import ConfigError, EcgReviewError
from ecgreview.security.auth import ADMIN, User, proxy_user_name
from ecgreview.security.boundary import (Headers, browser_binding, header_values, origin_allowed, parse_cookies, proxy_refusal,
                                         requested_session_id)

__all__ = ["SECURITY_HEADERS", "STREAMLIT_VERSION", "check_streamlit_version", "connection_binding",
           "forget_session", "install", "middleware", "register_session", "server_logger", "signed_in_user_of"]

#: The Streamlit these guards were written for: the pin of requirements.txt (a test keeps them equal).
STREAMLIT_VERSION = "1.67.0"
#: Added to every HTTP response (replacing same-named headers).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", b"img-src 'self' data: blob:; frame-ancestors 'self'; object-src 'none'; "
                                 b"base-uri 'self'; form-action 'self'"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
LOGGER = logging.getLogger("ecgreview.security")
_MAX_SESSIONS = 10_000
_STATE: dict[str, bool] = {"installed": False}
_INSTALL_LOCK = threading.Lock()
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def check_streamlit_version(installed: str | None = None) -> None:
    """Refuse a Streamlit other than :data:`STREAMLIT_VERSION` (``installed``: the running one by default).

    Raises
    ------
    ConfigError
        Names both versions and how to install the pinned one.
    """
    if installed is None:
        import streamlit

        installed = streamlit.__version__
    if installed != STREAMLIT_VERSION:
        raise ConfigError("streamlit", f"ecgreview's server guards (ecgreview/ui/server_guards.py) were written for "
                                       f"Streamlit {STREAMLIT_VERSION}, the version requirements.txt pins; this is "
                                       f"Streamlit {installed}. Install the pinned one (bash start.sh, or pip install "
                                       f"--require-hashes -r requirements.lock) before serving ecgreview.")


# -- signed-in sessions ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _SignedIn:
    user: User
    binding: str | None  # None: not bound to a connection here (oidc: Streamlit checks the identity)


_SESSIONS: OrderedDict[str, _SignedIn] = OrderedDict()
_SESSIONS_LOCK = threading.Lock()


def register_session(session_id: str, user: User, binding: str | None) -> None:
    """Record that ``user`` signed in on Streamlit session ``session_id`` from the connection ``binding``."""
    with _SESSIONS_LOCK:
        _SESSIONS.pop(session_id, None)
        _SESSIONS[session_id] = _SignedIn(user, binding)
        while len(_SESSIONS) > _MAX_SESSIONS:
            _SESSIONS.popitem(last=False)


def forget_session(session_id: str) -> None:
    """The session signed out (or never signed in)."""
    with _SESSIONS_LOCK:
        _SESSIONS.pop(session_id, None)


def signed_in_user_of(session_id: str) -> User | None:
    """The user signed in on the Streamlit session ``session_id`` (in this process), or None."""
    with _SESSIONS_LOCK:
        entry = _SESSIONS.get(session_id)
    return entry.user if entry is not None else None


def _binding_of(session_id: str) -> tuple[bool, str | None]:
    with _SESSIONS_LOCK:
        entry = _SESSIONS.get(session_id)
    return (entry is not None, entry.binding if entry is not None else None)


def connection_binding(settings: Settings, headers: Headers, cookies: Mapping[str, str]) -> str | None:
    """What ties a connection to a sign-in: the browser's XSRF token (``local``), the proxy's user (``proxy``)."""
    if settings.auth_mode == "local":
        return browser_binding(cookies)
    if settings.auth_mode == "proxy":
        name = proxy_user_name(headers, header=settings.proxy_header)
        return None if name is None else f"proxy user {name}"
    return None


# -- patches of Streamlit internals ----------------------------------------------------------------------------------

def _guards_enforced() -> bool:
    """Outside ``name`` mode (read at each call; a configuration error counts as enforced)."""
    try:
        return Settings.from_env().auth_mode != "name"
    except EcgReviewError:
        return True


def install() -> None:
    """Check the Streamlit version and wrap the two Streamlit methods (once per process; see the module docstring)."""
    with _INSTALL_LOCK:
        if _STATE["installed"]:
            return
        check_streamlit_version()
        server_logger(LOGGER.name)
        _patch_uploads_and_cache()
        _STATE["installed"] = True


def server_logger(name: str) -> logging.Logger:
    """The server's own log ``name`` (``ecgreview.security``, ``ecgreview.server``): INFO and above on stderr,
    beside Streamlit's lines, in one format."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def _patch_uploads_and_cache() -> None:
    from starlette.exceptions import HTTPException
    from streamlit.runtime.app_session import AppSession
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    add_file, clear_cache = MemoryUploadedFileManager.add_file, AppSession._handle_clear_cache_request

    def guarded_add_file(manager: MemoryUploadedFileManager, session_id: str, file: UploadedFileRec) -> None:
        if _guards_enforced() and signed_in_user_of(session_id) is None:
            LOGGER.warning("refused an upload to session %s, which is not signed in", session_id)
            raise HTTPException(status_code=403, detail="Sign in before uploading.")
        add_file(manager, session_id=session_id, file=file)

    def guarded_clear_cache(session: AppSession) -> None:
        user = signed_in_user_of(session.id)
        if _guards_enforced() and (user is None or not user.has_role(ADMIN)):
            LOGGER.warning("refused to clear the caches for session %s (not an admin)", session.id)
            return
        clear_cache(session)

    # mypy: assigning to a method.
    MemoryUploadedFileManager.add_file = guarded_add_file  # type: ignore[method-assign,assignment]
    AppSession._handle_clear_cache_request = guarded_clear_cache  # type: ignore[method-assign,assignment]


# -- ASGI middleware -------------------------------------------------------------------------------------------------

def middleware() -> list[Any]:
    """The ASGI middleware for ``st.App`` (at server start): version checked, patches installed, settings read.

    Raises
    ------
    ConfigError
        Another Streamlit, invalid settings, or ``proxy`` mode without a way to recognise the proxy.
    """
    from starlette.middleware import Middleware

    install()
    settings = Settings.from_env()
    problem = proxy_boundary_problem(settings)
    if problem is not None:
        raise ConfigError("ECGREVIEW_AUTH", problem)
    return [Middleware(GuardsMiddleware, settings=settings)]


class GuardsMiddleware:
    """The checks of the module docstring, then security headers on every HTTP response."""

    def __init__(self, app: AsgiApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            LOGGER.warning("refused %s %s from %s: %s", scope["type"], scope.get("path", ""),
                           (scope.get("client") or ("unknown",))[0], refusal)
            await _refuse(scope, send, refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with_security_headers(message.get("headers", []))}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def refusal(self, scope: Scope) -> str | None:
        """Why this request is refused, or None."""
        settings, path = self.settings, str(scope.get("path", ""))
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope.get("headers", [])]
        if path.endswith("/_stcore/metrics") and settings.auth_mode != "name":
            return "metrics are not served outside name mode (they answer without sign-in)"
        client = (scope.get("client") or (None,))[0]
        if settings.auth_mode == "proxy" and not path.endswith("/_stcore/health"):
            reason = proxy_refusal(headers, client, header=settings.proxy_header, roles_header=settings.proxy_roles_header,
                                   secret=settings.proxy_secret, sources=settings.proxy_sources)
            if reason is not None:
                return reason
        if scope["type"] == "websocket":
            origin, host = header_values(headers, "origin"), header_values(headers, "host")
            if not origin_allowed(origin[0] if origin else None, host[0] if host else None,
                                  allowed_origins=_allowed_origins()):
                return "the websocket's Origin is not this page's (scheme, host and port)"
            return self._resume_refusal(requested_session_id(headers), headers)
        if "/_stcore/upload_file/" in path:
            session_id = path.split("/_stcore/upload_file/", 1)[1].split("/", 1)[0]
            return self._resume_refusal(session_id, headers)
        return None

    def _resume_refusal(self, session_id: str | None, headers: list[tuple[str, str]]) -> str | None:
        if not session_id:
            return None
        found, bound_to = _binding_of(session_id)
        if not found or bound_to is None:
            return None
        cookies = parse_cookies("; ".join(header_values(headers, "cookie")))
        if connection_binding(self.settings, headers, cookies) != bound_to:
            return f"session {session_id} is signed in from another browser or user; its owner keeps it"
        return None


def _allowed_origins() -> list[str]:
    from streamlit import config

    return list(config.get_option("server.corsAllowedOrigins") or [])


def _with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {name for name, _ in SECURITY_HEADERS}
    return [(name, value) for name, value in headers if name.lower() not in names] + list(SECURITY_HEADERS)


async def _refuse(scope: Scope, send: Send, reason: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})  # before accept: the handshake gets HTTP 403
        return
    body = f"Forbidden: {reason}.\n".encode()
    headers = _with_security_headers([(b"content-type", b"text/plain; charset=utf-8"),
                                      (b"content-length", str(len(body)).encode())])
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
