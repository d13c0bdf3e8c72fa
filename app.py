"""ecgreview — Streamlit entry point: the router, nothing else.

Run with ``streamlit run app.py`` (see README).
"""

import streamlit as st

from ecgreview.ui.identity import sign_in
from ecgreview.ui.pages import evaluate, review, teaching, worklist

st.set_page_config(page_title="ecgreview", page_icon="🫀", layout="wide")
sign_in()
st.navigation([
    st.Page(review.render, title="Review", url_path="review", default=True),
    st.Page(worklist.render, title="Worklist", url_path="worklist"),
    st.Page(teaching.render, title="Teaching", url_path="teaching"),
    st.Page(evaluate.render, title="Cohort study", url_path="evaluate"),
]).run()
