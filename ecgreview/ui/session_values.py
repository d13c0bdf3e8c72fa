"""Values a reader sets once per browser session (their name in ``name`` mode, the reading mode), kept across
pages and a reload.

A Streamlit widget's state ends with the page that drew it, so each value lives in a session key of its own:
before the widget is drawn, the widget is given that value (:func:`seed`); when the reader changes the widget, a
callback keeps the new value (:func:`keep`). A reload (F5) starts a new Streamlit session: the value is also kept
in the page's URL (``?reader=…&mode=…``), which survives the reload, and a new session starts from it.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

__all__ = ["keep", "seed", "show"]

_MAX_CHARS = 64


def seed(value_key: str, widget_key: str, *, query_key: str, default: str,
         allowed: Callable[[str], bool] = lambda value: True) -> None:
    """Before the widget ``widget_key`` is drawn: give it the session's value (a new session: the URL's, when
    ``allowed``, else ``default``)."""
    if value_key not in st.session_state:
        from_url = st.query_params.get(query_key, "").strip()[:_MAX_CHARS]
        st.session_state[value_key] = from_url if from_url and allowed(from_url) else default
    if not allowed(st.session_state[value_key]):
        st.session_state[value_key] = default
    st.session_state[widget_key] = st.session_state[value_key]


def keep(value_key: str, widget_key: str, *, query_key: str, default: str) -> Callable[[], None]:
    """The widget's ``on_change`` callback: keep its new value for the session and in the URL."""
    def changed() -> None:
        value = st.session_state.get(widget_key)
        st.session_state[value_key] = (value.strip() if isinstance(value, str) else value) or default
        show(value_key, query_key=query_key, default=default)
    return changed


def show(value_key: str, *, query_key: str, default: str) -> None:
    """Put the session's value in the page's URL (removed when it is the default), so a reload keeps it."""
    value = st.session_state.get(value_key, default)
    if value and value != default:
        if st.query_params.get(query_key) != value:  # written only when it changes: each write updates the URL
            st.query_params[query_key] = value
    elif query_key in st.query_params:
        del st.query_params[query_key]
