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
            warm = resources.warm_up(Settings.from_env())
            st.empty()  # draws nothing outside a session, but Streamlit's first element of a process looks at every
            # loaded module (its "use streamlit run" check, 0.3-1 s): paid here, not on the first reader's run
            log.info(warm.log_line())
        except Exception:  # the server starts anyway; the pages load what they need and say what fails
            log.exception("ecgreview warm-up failed; serving without it")
        finally:
            streamlit_log.removeFilter(quiet)

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
