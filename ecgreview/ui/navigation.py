"""Moving between pages: the one way a page opens a case on the review page."""

from __future__ import annotations

import streamlit as st

from ecgreview.ui import state


def open_review(source_sha256: str) -> None:
    """Switch to the review page showing this case."""
    from ecgreview.ui.pages import review

    st.switch_page(st.Page(review.render, title="Review", url_path="review"),
                   query_params={state.QUERY_CASE: source_sha256})
