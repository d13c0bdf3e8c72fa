"""Who is reading: sign-in for the ``local``, ``proxy`` and ``oidc`` modes (``ECGREVIEW_AUTH``).

``sign_in`` runs in ``app.py`` before any page: until the reader is known it shows the
sign-in and stops the script, so no ECG is shown to an anonymous visitor. In ``name``
mode (single workstation) the reader types a name instead.
"""

from __future__ import annotations

import streamlit as st

from ecgreview.auth import User, authenticate, user_from_oidc, user_from_proxy
from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.ui import state


def current_user() -> User | None:
    """The signed-in user, or None in ``name`` mode."""
    return st.session_state.get(state.USER)


def may(role: str) -> bool:
    """Whether the reader may act as ``role`` (always, in ``name`` mode)."""
    user = current_user()
    return user is None or user.has_role(role)


def sign_in() -> None:
    """Make sure the reader is known; otherwise show the sign-in and stop this run."""
    try:
        settings = Settings.from_env()
    except EcgReviewError as exc:
        st.error(f"Configuration error — {exc}")
        st.stop()
    if settings.auth_mode == "name" or current_user() is not None:
        return
    try:
        user = _identify(settings)
    except EcgReviewError as exc:
        st.error(f"Sign-in is misconfigured — {exc}")
        st.stop()
    if user is None:
        st.stop()
    st.session_state[state.USER] = user
    st.rerun()


def _identify(settings: Settings) -> User | None:
    if settings.auth_mode == "proxy":
        user = user_from_proxy(st.context.headers, header=settings.proxy_header)
        if user is None:
            st.error(f"Not signed in: the reverse proxy sent no valid {settings.proxy_header} header.")
        return user
    if settings.auth_mode == "oidc":
        if not st.user.is_logged_in:
            st.title("ecgreview")
            st.button("Sign in with your hospital account", on_click=st.login, type="primary")
            return None
        return user_from_oidc(st.user.to_dict(), settings.users_path)
    return _local_form(settings)


def _local_form(settings: Settings) -> User | None:
    st.title("ecgreview — sign in")
    with st.form("sign-in"):
        name = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return None
    user = authenticate(settings.users_path, name.strip(), password)
    if user is None:
        st.error("Wrong user name or password.")
    return user


def sign_out(settings: Settings) -> None:
    """Forget the user in this session (and the OIDC cookie)."""
    st.session_state.pop(state.USER, None)
    if settings.auth_mode == "oidc":
        st.logout()
