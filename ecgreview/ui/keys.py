"""The reading keys, captured in the browser in order: 1–6 choose a class; P, A, U set its call;
Shift+1–5 the confidence (study readings); S save (and next), N next case, B previous case.

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

Keys typed in a text box (the reader's name, the comment) are left alone. S, N and B go
through the same log as the calls (they were button shortcuts, and a press during a rerun
was lost): the server applies the calls first and then hands the action, once, to the page
(``on_action``), so "six calls, then S" always saves those six calls. A page passes the keys
it handles (``actions``): the teaching page takes S only, and its N stays a button shortcut.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from ecgreview.ui import state

__all__ = ["ACTION_KEYS", "CALL_KEYS", "CLASS_KEYS", "CONFIDENCE_KEYS", "apply_keys", "key_log"]

#: Key → class index (0-based) for the class cursor.
CLASS_KEYS = {str(number): number - 1 for number in range(1, 7)}
#: Key → the call it sets.
CALL_KEYS = {"p": "present", "a": "absent", "u": "uncertain"}
#: Key (as the page logs Shift+1 … Shift+5, by physical key: any keyboard layout) → the confidence it sets.
CONFIDENCE_KEYS = {f"c{level}": level for level in range(1, 6)}
#: Key → the page action it asks for.
ACTION_KEYS = {"s": "save", "n": "next", "b": "previous"}

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
  hub.applied = data.applied;  // the last key the server has applied, as of the last run that changed the data
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
    let key = (event.key || "").toLowerCase();
    if (event.shiftKey && /^Digit[1-5]$/.test(event.code || "")) key = "c" + event.code.slice(5);
    if (!(key in hub.keys)) return;
    event.preventDefault();
    event.stopPropagation();
    const [kind, value] = hub.keys[key];
    if (kind === "class") {
      hub.cursor = value;
    } else if (kind === "call") {
      showCall(hub, value);
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
               set_call: Callable[[int, str], None], classes: int = 6, same_page: bool = False,
               set_confidence: Callable[[int], None] | None = None,
               on_action: Callable[[int, str], None] | None = None) -> tuple[int, int]:
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
    set_confidence : callable, optional
        ``set_confidence(level)`` for Shift+1–5; those keys are ignored without it.
    on_action : callable, optional
        ``on_action(sequence_number, action)`` for S, N and B (``save``, ``next``, ``previous``),
        after every key logged before it; those keys are ignored without it.

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
        elif key in CONFIDENCE_KEYS and set_confidence is not None:
            set_confidence(CONFIDENCE_KEYS[key])
        elif key in ACTION_KEYS and on_action is not None:
            on_action(int(seq), ACTION_KEYS[key])
        last_applied = int(seq)
    return last_applied, cursor


def key_log(on_keys: Callable[[Mapping[str, Any]], None], *, classes: Sequence[str], cursor: int,
            applied: int, case: str = "", actions: Sequence[str] = (), confidence: bool = False) -> None:
    """Mount the key capture; ``on_keys(state)`` runs (before the rerun's script) whenever keys arrive.

    ``classes``, ``cursor`` and ``applied`` (the highest key number applied) let the page
    show a call as soon as its key is pressed; ``case`` (the case's SHA-256) tells the page
    which case the mounted panel reads. ``actions`` (of ``save``, ``next``, ``previous``) and
    ``confidence`` say which other keys this page takes through the log; the others are left
    to the page (a button shortcut, or nothing).
    """
    def changed() -> None:
        value = st.session_state.get(state.KEY_LOG) or {}
        on_keys(value.get("keys") or {})
    keys = {**{key: ("class", index) for key, index in CLASS_KEYS.items()},
            **{key: ("call", call) for key, call in CALL_KEYS.items()},
            **({key: ("confidence", level) for key, level in CONFIDENCE_KEYS.items()} if confidence else {}),
            **{key: ("action", action) for key, action in ACTION_KEYS.items() if action in actions}}
    _component(key=state.KEY_LOG, data={"keys": keys, "classes": list(classes),
                                        "cursor": cursor, "applied": applied, "case": case},
               on_keys_change=changed, height=0)
