"""The reading keys (1–6 choose a class; P, A, U set its call), captured in the browser in order.

Streamlit button shortcuts fire one rerun per key, and two keys pressed while a rerun
is under way are folded into one: a press can be lost, or applied out of order. Here a
small component keeps, in the page, a numbered log of the reading keys and sends the
whole recent log as its state; the server applies every key it has not applied yet, in
order (:func:`apply_keys`). A key is never lost, and pressing ``P A A`` fast gives
present, absent, absent on three successive classes.

Keys pressed while no panel is mounted (between two cases) are kept in the page's log and
sent as soon as the next panel mounts.

The page also shows each call at once, before the server's answer: it keeps its own
copy of the class cursor (taken from the server whenever no key is in flight) and
marks the chosen option; the server's redraw then confirms it.

Keys typed in a text box (the reader's name, the comment) are left alone. S (save and
next), N and B (next / previous case) stay button shortcuts: each is one action.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from ecgreview.ui import state

__all__ = ["CLASS_KEYS", "CALL_KEYS", "key_log", "apply_keys"]

#: Key → class index (0-based) for the class cursor.
CLASS_KEYS = {str(number): number - 1 for number in range(1, 7)}
#: Key → the call it sets.
CALL_KEYS = {"p": "present", "a": "absent", "u": "uncertain"}

_JS = """
function showCall(hub, call) {
  const root = document.querySelector(".st-key-call-" + hub.classes[hub.cursor]);
  if (!root) return;
  for (const option of root.querySelectorAll("[role=radio]")) {
    const chosen = option.innerText.trim() === call;
    option.setAttribute("aria-checked", chosen ? "true" : "false");
    option.style.background = chosen ? "#b03a2e" : "";  // the theme's primary colour; redrawn by the server
    option.style.color = chosen ? "white" : "";
  }
}

export default function (component) {
  const { setStateValue, data } = component;
  const hub = (window.__ecgreviewKeys = window.__ecgreviewKeys ||
               { seq: 0, log: [], attached: false, page: Math.random().toString(36).slice(2) });
  hub.send = setStateValue;
  hub.keys = data.keys;
  hub.classes = data.classes;
  hub.case = data.case;  // which case the mounted panel reads (tests wait for it)
  if (data.applied >= hub.seq) {
    hub.cursor = data.cursor;  // no key in flight: the server's cursor is current
  } else {
    // keys pressed while no panel was mounted
    hub.send("keys", { page: hub.page, seq: hub.seq, log: hub.log.slice() });
  }
  if (hub.attached) return;
  hub.attached = true;
  window.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.composedPath()[0];
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    const key = (event.key || "").toLowerCase();
    if (!(key in hub.keys)) return;
    event.preventDefault();
    event.stopPropagation();
    const action = hub.keys[key];
    if (typeof action === "number") {
      hub.cursor = action;
    } else {
      showCall(hub, action);
      hub.cursor = (hub.cursor + 1) % hub.classes.length;
    }
    hub.seq += 1;
    hub.log.push([hub.seq, key]);
    if (hub.log.length > 200) hub.log.shift();
    hub.send("keys", { page: hub.page, seq: hub.seq, log: hub.log.slice() });
  }, true);
}
"""

_component = st.components.v2.component("ecgreview_reading_keys", js=_JS, html="<span></span>")


def apply_keys(log: Sequence[Sequence[Any]], *, last_applied: int, cursor: int,
               set_call: Callable[[int, str], None], classes: int = 6, same_page: bool = False) -> tuple[int, int]:
    """Apply the keys of ``log`` numbered after ``last_applied``, in order.

    Parameters
    ----------
    log : sequence of (int, str)
        ``(sequence number, key)`` pairs, oldest first, as the page sent them.
    last_applied : int
        The highest sequence number already applied (a smaller log means a new page: start over).
    same_page : bool
        The log comes from the page whose keys were applied so far (its id, sent with the log,
        is the one seen before): a smaller log is then an older copy of it, re-sent with a
        later rerun, and nothing is applied (starting over would set old calls again).
    cursor : int
        The class (index) the next P/A/U sets.
    set_call : callable
        ``set_call(class_index, call)`` records one call.

    Returns
    -------
    last_applied, cursor : int
        After the keys.
    """
    newest = max((int(seq) for seq, _ in log), default=0)
    if newest < last_applied and same_page:  # an older copy of this page's log: all applied already
        return last_applied, cursor
    if newest < last_applied:  # the page was reloaded: its numbering started again
        last_applied = 0
    for seq, key in log:
        if int(seq) <= last_applied:
            continue
        if key in CLASS_KEYS:
            cursor = CLASS_KEYS[key] % classes
        elif key in CALL_KEYS:
            set_call(cursor, CALL_KEYS[key])
            cursor = (cursor + 1) % classes
        last_applied = int(seq)
    return last_applied, cursor


def key_log(on_keys: Callable[[Mapping[str, Any]], None], *, classes: Sequence[str], cursor: int,
            applied: int, case: str = "") -> None:
    """Mount the key capture; ``on_keys(state)`` runs (before the rerun's script) whenever keys arrive.

    ``classes``, ``cursor`` and ``applied`` (the highest key number applied) let the page
    show a call as soon as its key is pressed; ``case`` (the case's SHA-256) tells the page
    which case the mounted panel reads.
    """
    def changed() -> None:
        value = st.session_state.get(state.KEY_LOG) or {}
        on_keys(value.get("keys") or {})
    _component(key=state.KEY_LOG, data={"keys": {**CLASS_KEYS, **CALL_KEYS}, "classes": list(classes),
                                        "cursor": cursor, "applied": applied, "case": case},
               on_keys_change=changed, height=0)
