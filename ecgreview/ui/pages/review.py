"""The review page: one ECG, the DNN and the device side by side, the reader's calls."""

from __future__ import annotations

import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.plots import plot_ecg
from ecgreview.ui import components


def render() -> None:
    """Draw the page."""
    st.title("ECG review")
    try:
        settings = Settings.from_env()
    except EcgReviewError as exc:
        st.error(f"Configuration error — {exc}")
        return
    with st.sidebar:
        reader = components.reader_input()
        model = components.model_panel(settings)
        case = components.case_picker(settings)
    if case is None:
        return
    analysis = components.analyse(case, model)
    if analysis is None:
        return
    components.case_header(analysis.record)
    st.plotly_chart(plot_ecg(analysis.record), theme=None, config={"displaylogo": False, "scrollZoom": True})
    opinions, form = st.columns([5, 4], gap="large")
    with opinions:
        components.dnn_panel(analysis, model_loaded=model is not None)
        components.device_panel(analysis)
    with form:
        components.review_form(analysis, settings, reader)
    components.earlier_reviews(settings, analysis.record)
