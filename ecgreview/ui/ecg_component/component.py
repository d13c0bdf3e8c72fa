"""Mount the ECG paper component (Streamlit components v2: no iframe, the SVG in the page's DOM).

The component is registered once per process with the JS and CSS beside this module. Mounted with
the same ``key`` on every rerun, it stays in the page: a new case or view only sends new data, and
the browser redraws the SVG in place instead of mounting a new chart.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import streamlit as st

__all__ = ["ecg_paper"]

_NAME = "ecgreview.ecg_paper"


@cache
def _mount() -> Any:
    folder = resources.files(__package__)
    return st.components.v2.component(
        _NAME, js=(folder / "paper.js").read_text(encoding="utf-8"),
        css=(folder / "paper.css").read_text(encoding="utf-8"), isolate_styles=False)


def ecg_paper(payload: dict[str, Any], *, key: str) -> None:
    """Draw ``payload`` (:func:`ecgreview.ui.ecg_component.payload.paper_payload`) at the width of its container."""
    _mount()(key=key, data=payload, width="stretch", height="content")
