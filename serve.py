"""ecgreview for production: ``app.py`` as an ASGI app with security headers and the server guards.

Run with ``streamlit run serve.py`` (the container does). It serves the same app as
``streamlit run app.py`` and adds, on every HTTP response:

* ``Content-Security-Policy``: ``img-src 'self' data: blob:`` (no image from another host, so a
  file's ``![](http://…)`` cannot make browsers call out), ``frame-ancestors 'self'``,
  ``object-src 'none'``, ``base-uri 'self'``, ``form-action 'self'``;
* ``X-Frame-Options: SAMEORIGIN``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``.

It also installs :func:`ecgreview.ui.identity.install_server_guards` when the server starts, so
that uploads and cache clearing are refused before sign-in from the first request on (with
``streamlit run app.py`` they are installed at the first script run). docs/deployment.md gives
the same headers for nginx.
"""

from __future__ import annotations

import streamlit as st
from starlette.middleware import Middleware

from ecgreview.ui.identity import install_server_guards

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", b"img-src 'self' data: blob:; frame-ancestors 'self'; object-src 'none'; "
                                 b"base-uri 'self'; form-action 'self'"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeadersMiddleware:
    """ASGI middleware that adds :data:`SECURITY_HEADERS` to every HTTP response (replacing same-named ones)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names = {name for name, _ in SECURITY_HEADERS}

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() not in names]
                message = {**message, "headers": kept + list(SECURITY_HEADERS)}
            await send(message)

        await self.app(scope, receive, send_with_headers)


install_server_guards()
app = st.App("app.py", middleware=[Middleware(SecurityHeadersMiddleware)])
