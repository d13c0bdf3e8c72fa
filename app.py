"""ecgreview — Streamlit entry point: the router, nothing else.

Run with ``streamlit run app.py`` (see README; ``start.sh`` does). Streamlit finds ``app`` below and
serves this file as an ``st.App`` with the server guards of :mod:`ecgreview.ui.server_guards`
(security headers, websocket origin, proxy boundary, session and upload checks, the Streamlit
version check); every script run (Streamlit runs the script as ``__main__``) signs in and routes.
"""

import streamlit as st

from ecgreview.ui import server_guards

if __name__ == "__main__":  # a script run: sign in, then route
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
else:  # imported by `streamlit run app.py` to serve it: the server, with its guards, warmed before it serves
    import asyncio
    import contextlib
    import logging
    import threading
    from collections.abc import AsyncIterator
    from typing import Any

    def _warm_up() -> None:
        """Import the pages and fill the caches they use (resources.warm_up); log "ecgreview ready in X s"."""
        from ecgreview.config import Settings
        from ecgreview.ui import identity, resources  # noqa: F401 - imported once here, not on the first run
        from ecgreview.ui.pages import evaluate, review, teaching, worklist  # noqa: F401

        log, quiet = resources.server_log(), _NotThisThread()
        streamlit_log = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
        streamlit_log.addFilter(quiet)  # "missing ScriptRunContext": expected, no script runs at start
        try:
            settings = Settings.from_env()
            _convert_in_a_child(settings)
            warm = resources.warm_up(settings)
            st.empty()  # draws nothing outside a session, but Streamlit's first element of a process looks at every
            # loaded module (its "use streamlit run" check, 0.3-1 s): paid here, not on the first reader's run
            log.info(warm.log_line())
        except Exception:  # the server starts anyway; the pages load what they need and say what fails
            log.exception("ecgreview warm-up failed; serving without it")
        finally:
            streamlit_log.removeFilter(quiet)

    _CONVERT = ("import sys; from ecgreview.model.onnx_backend import load_onnx_model, onnx_available; "
                "onnx_available()[0] and load_onnx_model(sys.argv[1])")

    def _convert_in_a_child(settings: Any) -> None:
        """Convert the weights the pages serve to ONNX in a child process (cached beside them), unless a
        conversion is there: converting imports Keras, and in a server with Keras loaded Streamlit runs
        ``keras.backend.clear_session()`` (a full ``gc.collect``) after every script run (bench/README)."""
        import subprocess
        import sys

        from ecgreview.model.serving import installed_models

        paths = installed_models(settings) if settings.backend != "tensorflow" else []
        if paths and not any(paths[0].parent.glob(f"{paths[0].stem}.*.onnx")):
            subprocess.run([sys.executable, "-c", _CONVERT, str(paths[0])], check=False, timeout=900,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # the server loads it, or says why

    class _NotThisThread(logging.Filter):
        """Drops the records logged by the thread that made it."""

        def __init__(self) -> None:
            super().__init__()
            self.thread = threading.get_ident()

        def filter(self, record: logging.LogRecord) -> bool:
            return record.thread != self.thread

    @contextlib.asynccontextmanager
    async def _lifespan(_app: Any) -> AsyncIterator[None]:
        await asyncio.to_thread(_warm_up)  # the runtime has started; no request is served before this ends
        yield

    app = st.App(__file__, middleware=server_guards.middleware(), lifespan=_lifespan)
