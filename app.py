"""ecgreview — Streamlit entry point: the router, nothing else.

Run with ``streamlit run app.py`` (see README).
"""

import streamlit as st

from ecgreview.ui.pages import review

st.set_page_config(page_title="ecgreview", page_icon="🫀", layout="wide")
st.navigation([st.Page(review.render, title="Review", url_path="review", default=True)]).run()
