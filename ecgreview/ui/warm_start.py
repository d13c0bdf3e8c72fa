"""The server's start: before it answers anything, the caches the pages use are filled and one log line says
when it is ready (``ecgreview ready in X s``).

``app.py`` hands :func:`lifespan` to ``st.App``. The weights are converted to ONNX in a child process
(:func:`ecgreview.model.onnx_backend.convert_in_child_process`) so that this server never imports Keras;
then :func:`ecgreview.ui.resources.warm_up` loads the model, the statement table and the first cases, and
starts the index. A failure is logged and the server starts anyway: the pages load what they need and
say what fails. Last, what the start left alive is moved out of the garbage collector's way (:func:`settle_heap`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import streamlit as st

__all__ = ["lifespan", "settle_heap"]


class _NotThisThread(logging.Filter):
    """Drops the records logged by the thread that made it."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


def _warm_up() -> None:
    """Import the pages, convert the weights in a child, fill the caches (resources.warm_up); log the ready line."""
    from ecgreview.config import Settings
    from ecgreview.model.onnx_backend import convert_in_child_process
    from ecgreview.model.serving import installed_models
    from ecgreview.ui import identity, resources  # noqa: F401 - imported once here, not on the first run
    from ecgreview.ui.page_setup import configure_page
    from ecgreview.ui.pages import evaluate, review, teaching, worklist  # noqa: F401

    log, quiet = resources.server_log(), _NotThisThread()
    streamlit_log = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    streamlit_log.addFilter(quiet)  # "missing ScriptRunContext": expected, no script runs at start
    try:
        settings = Settings.from_env()
        served = installed_models(settings) if settings.backend != "tensorflow" else []
        if served:
            convert_in_child_process(served[0])
        warm = resources.warm_up(settings)
        st.empty()  # draws nothing outside a session, but Streamlit's first element of a process looks at every
        # loaded module (its "use streamlit run" check, 0.3-1 s): paid here, not on the first reader's run
        configure_page()  # sends nothing outside a session; its icon's emoji check compiles Streamlit's emoji
        # pattern (30 ms) on the first call: here, not on the first reader's run
        settle_heap()
        log.info(warm.log_line())
    except Exception:  # the server starts anyway; the pages load what they need and say what fails
        log.exception("ecgreview warm-up failed; serving without it")
    finally:
        streamlit_log.removeFilter(quiet)


def settle_heap() -> None:
    """Collect the start's garbage, then move every object alive now (modules, the statement table, the model,
    the warm cases) to the permanent generation (:func:`gc.freeze`): Python's full collections no longer traverse
    them. Unfrozen, one full collection of the ~190,000 objects a started server holds took 0.1 s of a save's run,
    about every 20th save (a profile of 60 saves, bench/README.md). Frozen objects are still freed when their last
    reference goes; one the start made and later dropped inside a reference cycle (a warm case evicted from the
    case cache) is never collected: at most what the start held, once. The start's own garbage is collected first.
    """
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """``st.App``'s lifespan: the warm-up runs once the runtime has started; no request is served before it ends."""
    await asyncio.to_thread(_warm_up)
    yield
