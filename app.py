"""ecgreview — Streamlit entry point: the router, nothing else.

Run with ``streamlit run app.py`` (see README; ``start.sh`` does). Streamlit finds ``app`` below and
serves this file as an ``st.App`` with the server guards of :mod:`ecgreview.ui.server_guards`
(security headers, websocket origin, proxy boundary, session and upload checks, the Streamlit
version check) and the warm start of :mod:`ecgreview.ui.warm_start` (both: :mod:`ecgreview.ui.serving`);
every script run (Streamlit runs the script as ``__main__``) signs in and routes.
"""

import streamlit as st

from ecgreview.ui import serving

if __name__ == "__main__":  # a script run: sign in, then route
    from ecgreview.ui.identity import sign_in
    from ecgreview.ui.page_setup import configure_page
    from ecgreview.ui.pages import evaluate, review, teaching, worklist

    configure_page()
    sign_in()
    st.navigation([
        st.Page(review.render, title="Review", url_path="review", default=True),
        st.Page(worklist.render, title="Worklist", url_path="worklist"),
        st.Page(teaching.render, title="Teaching", url_path="teaching"),
        st.Page(evaluate.render, title="Cohort study", url_path="evaluate"),
    ]).run()
else:  # imported by `streamlit run app.py` to serve it: the server, with its guards, warmed before it serves
    app = st.App(__file__, **serving.app_options())  # a literal st.App call: how streamlit run finds it
