"""The frame of every page: title and settings, the reader (name mode or signed in), the model in use.

Widgets only: every computation is a library call."""

from __future__ import annotations

import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.model.inference import InferenceModel
from ecgreview.model.serving import installed_models
from ecgreview.ui import identity, resources, session_values, state
from ecgreview.ui.text import escape_markdown

__all__ = ["INSTALL_HELP", "configure_page", "model_panel", "page_settings", "reader_input"]


def configure_page() -> None:
    """The browser tab's title and icon, the wide layout: app.py on every run; the warm start once, outside a session
    (where it sends nothing), so that Streamlit compiles its emoji check of the icon before the first reader's run."""
    st.set_page_config(page_title="ecgreview", page_icon="🫀", layout="wide")


INSTALL_HELP = """No model weights are installed, so no DNN opinion is shown. Reading and recording work.

To add the official weights (Ribeiro et al. 2020, Zenodo DOI 10.5281/zenodo.3765717), in the app's folder
(the app's own Python: `.venv/bin/python`, as `start.sh` set it up):
```
.venv/bin/python -m ecgreview model install
```
downloads `model.zip` and checks its hash; offline, download it elsewhere and run
```
.venv/bin/python -m ecgreview model install model.zip
```
(a `model.hdf5` works too). Then reload this page. Or point `ECGREVIEW_MODEL` at a weights file (README)."""


#: One-screen review page (the ECG, the six calls and Save on a 1280 x 800 screen): less margin around
#: the page, a narrower sidebar, and a compact decision grid: one line per class, no wrapped words.
_COMPACT_STYLE = """<style>
[data-testid='stMainBlockContainer']{padding:1rem 1.25rem .5rem 1.25rem}
section[data-testid='stSidebar']{width:15rem !important;min-width:15rem !important}
.st-key-dnn-panel [data-testid='stVerticalBlock']{gap:.3rem}
.st-key-dnn-panel [data-testid='stHorizontalBlock']{gap:.4rem;flex-wrap:nowrap}
.st-key-dnn-panel [data-testid='stColumn']{min-width:0}
.st-key-dnn-panel [data-testid='stMarkdownContainer'] p,.st-key-dnn-panel [data-testid='stCaptionContainer']{
 white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-size:.875rem;margin:0}
.st-key-dnn-panel button{min-height:1.9rem;padding:.1rem .45rem}
.st-key-dnn-panel [data-testid='stButtonGroup'] button{padding:.1rem .4rem}
.st-key-dnn-panel [data-testid='stButtonGroup'] button p{font-size:.85rem}
.st-key-dnn-panel [data-testid='stButtonGroup']>div{flex-wrap:nowrap}
.st-key-previous-case button,.st-key-next-case button{padding-left:.5rem;padding-right:.5rem}
</style>"""


def page_settings(title: str, *, compact: bool = False) -> Settings | None:
    """Draw the page title and return the settings, or show the configuration error and None.

    ``compact`` (the review page) leaves out the title and the top margin, so that the
    ECG and the decision panel fit one screen.
    """
    if compact:
        st.html(_COMPACT_STYLE)
    else:
        st.title(title)
    try:
        return Settings.from_env()
    except EcgReviewError as exc:
        st.error(f"Configuration error — {escape_markdown(exc)}")
        return None


def reader_input() -> str:
    """The reader: the signed-in user, or (``name`` mode) a typed name kept for the session."""
    user = identity.current_user()
    if user is None:  # name mode: kept for the browser session, across pages and a reload
        session_values.seed(state.READER_NAME, state.READER_NAME_WIDGET, query_key=state.QUERY_READER, default="")
        st.text_input("Reader", key=state.READER_NAME_WIDGET, placeholder="your name",
                      on_change=session_values.keep(state.READER_NAME, state.READER_NAME_WIDGET,
                                                    query_key=state.QUERY_READER, default=""),
                      help="Stored with every review; kept for this browser session, across pages and a reload.")
        session_values.show(state.READER_NAME, query_key=state.QUERY_READER, default="")
        return st.session_state[state.READER_NAME]
    st.markdown(f"**Reader** {escape_markdown(user.name)}")
    st.caption("Roles: " + ", ".join(sorted(user.roles)))
    if st.button("Sign out", key="sign-out"):
        identity.sign_out(Settings.from_env())
        st.rerun()
    return user.name


def model_panel(settings: Settings) -> InferenceModel | None:
    """Choose and load the model; say which weights are in use, or how to install them."""
    st.subheader("Model")
    try:
        paths = installed_models(settings)
    except EcgReviewError as exc:
        st.error(str(exc))
        return None
    if not paths:
        st.warning("No DNN weights installed.")
        return None
    path = paths[0] if len(paths) == 1 else st.selectbox(
        "Weights file", paths, key=state.MODEL_CHOICE, format_func=lambda p: p.name)
    try:
        model = resources.cached_model(str(path), path.stat().st_mtime_ns, settings.backend)
    except (EcgReviewError, OSError) as exc:
        st.error(f"Cannot load the model — {escape_markdown(exc)}")
        return None
    identity = model.identity
    (st.success if identity.status == "verified" else st.warning)(
        f"{escape_markdown(identity.name)} · {identity.status}", icon=None)
    st.caption(f"Backend: {escape_markdown(model.provenance.get('backend', ''))}")
    with st.expander("Provenance"):
        st.caption(escape_markdown(identity.label))
        st.json(model.provenance)
    return model
