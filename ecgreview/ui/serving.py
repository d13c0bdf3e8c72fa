"""How ``app.py`` is served: the options of its ``st.App``, in one place for ``app.py`` and ``serve.py``.

The ``st.App(...)`` call itself stays in each script (``streamlit run`` finds the app by that literal call);
both pass ``**app_options()``: the server guards as middleware (:mod:`ecgreview.ui.server_guards`) and the
warm start as lifespan (:mod:`ecgreview.ui.warm_start`).
"""

from __future__ import annotations

from typing import Any

from ecgreview.ui import server_guards, warm_start

__all__ = ["app_options"]


def app_options() -> dict[str, Any]:
    """``st.App``'s keyword options: ``middleware`` (the guards; checks the Streamlit version and the settings)
    and ``lifespan`` (the warm start before the first request)."""
    return {"middleware": server_guards.middleware(), "lifespan": warm_start.lifespan}
