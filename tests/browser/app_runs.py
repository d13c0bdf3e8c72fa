"""Waiting for Streamlit script runs in the browser, on what the websocket says instead of fixed sleeps.

:data:`RUN_TRACKER_JS` (installed in every test page by ``conftest.page``) counts the script runs
the page asked for (``BackMsg.rerun_script``, field 11) and the runs the server reported finished
(``ForwardMsg.script_finished``, field 6, except "finished early for a rerun"), and whether a run is
in progress (``new_session``/``session_status_changed`` start one). The page's own
``data-test-script-state`` is not enough: a fast run is often never drawn as running.

* :func:`app_run` wraps an action that makes the app run (a click, Enter, a key): it waits until
  the page has asked for a run since the action began and every run asked for has finished.
* :func:`settle` waits until nothing is running and nothing asked for is outstanding (after a
  page load, or an action already waited for).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

#: How long a wait for the app may take, in ms (the first page of a server loads the model).
TIMEOUT_MS = 90_000

RUN_TRACKER_JS = r"""
(() => {
  if (window.__ecgreviewRuns) return;
  const runs = {requested: 0, finished: 0, running: false, lastRequest: 0, lastFinish: 0, sequence: 0};
  window.__ecgreviewRuns = runs;
  // Top-level protobuf fields of one message: number -> varint value (or null for other wire types).
  const fields = (bytes) => {
    const found = new Map();
    let at = 0;
    const varint = () => {
      let value = 0, shift = 0, byte;
      do {
        byte = bytes[at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7;
      } while (byte & 0x80 && at < bytes.length);
      return value;
    };
    while (at < bytes.length) {
      const tag = varint(), number = Math.floor(tag / 8), wire = tag % 8;
      if (wire === 0) found.set(number, varint());
      else if (wire === 2) {
        const length = varint(); found.set(number, bytes.subarray(at, at + length)); at += length;
      }
      else if (wire === 1) at += 8;
      else if (wire === 5) at += 4;
      else break;
    }
    return found;
  };
  const asBytes = (data) => data instanceof ArrayBuffer ? new Uint8Array(data)
    : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
  const FINISHED_EARLY_FOR_RERUN = 2;
  const Native = window.WebSocket;
  class Tracked extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        const bytes = asBytes(event.data);
        if (!bytes) return;
        const message = fields(bytes);
        if (message.has(4)) runs.running = true;  // new_session: a run starts
        if (message.has(9) && message.get(9) instanceof Uint8Array) {  // session_status_changed
          const status = fields(message.get(9));
          if (status.get(2) === 1) runs.running = true;  // script_is_running
        }
        const finished = message.get(6);  // script_finished
        if (typeof finished === 'number' && finished !== FINISHED_EARLY_FOR_RERUN) {
          runs.finished++;
          runs.running = false;
          runs.lastFinish = ++runs.sequence;
        }
      });
    }
    send(data) {
      const bytes = asBytes(data);
      if (bytes && fields(bytes).has(11)) { runs.requested++; runs.lastRequest = ++runs.sequence; }  // rerun_script
      return super.send(data);
    }
  }
  window.WebSocket = Tracked;
})();
"""

_IDLE_JS = """since => {
  const runs = window.__ecgreviewRuns, app = document.querySelector('[data-testid="stApp"]');
  return !!runs && !!app && runs.requested > since && !runs.running && runs.lastFinish > runs.lastRequest
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') !== 'running';
}"""


def runs_requested(page) -> int:
    """How many script runs this page has asked the server for."""
    return int(page.evaluate("() => window.__ecgreviewRuns ? window.__ecgreviewRuns.requested : 0"))


def wait_for_runs(page, since: int, *, timeout_ms: float = TIMEOUT_MS) -> None:
    """Wait until the page has asked for a run after ``since`` runs and every run asked for has finished."""
    page.wait_for_function(_IDLE_JS, arg=since, timeout=timeout_ms)


@contextmanager
def app_run(page, *, timeout_ms: float = TIMEOUT_MS) -> Iterator[None]:
    """Do an action that makes the app run (inside the ``with``); return when that run has finished."""
    since = runs_requested(page)
    yield
    wait_for_runs(page, since, timeout_ms=timeout_ms)


def settle(page, *, timeout_ms: float = TIMEOUT_MS) -> None:
    """Wait until no run is in progress and every run the page asked for has finished."""
    wait_for_runs(page, 0, timeout_ms=timeout_ms)
