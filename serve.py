"""ecgreview for the container: the same server as ``streamlit run app.py``, under another name.

``streamlit run serve.py`` (the Dockerfile's command before ``app.py`` served itself) and
``streamlit run app.py`` are the same: ``app.py`` as an ``st.App`` with the middleware of
:func:`ecgreview.ui.server_guards.middleware` (security headers, websocket origin, proxy boundary,
session and upload checks, the Streamlit version check) and the warm start before the first request. Kept so that existing deployments and
scripts that run ``serve.py`` keep working.
"""

from __future__ import annotations

import streamlit as st

from ecgreview.ui import serving

app = st.App("app.py", **serving.app_options())  # a literal st.App call: how streamlit run finds it
