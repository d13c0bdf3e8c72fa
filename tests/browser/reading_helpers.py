"""Playwright helpers shared by the browser tests of the reading room (the one-screen review page)."""

from __future__ import annotations

import re
import time

from ecgreview.examples import DEMO_CASES_DIR
from ecgreview.record import CLASSES
from tests.browser.app_runs import TIMEOUT_MS, app_run, settle

__all__ = ["BUNDLED_CASES", "DEVICE_PANEL", "DNN_PANEL", "ECG", "TIMEOUT_MS", "app_run", "call_option", "call_shown_js",
           "keys_absent_for_every_class", "open_worklist", "settle", "sign_in", "wait_for_case",
           "wait_for_figures_fitted", "wait_for_painted_grid"]

#: The parts of the one-screen review page (Streamlit containers keyed in ecgreview/ui).
ECG = ".st-key-ecg-trace svg.ecg-paper-svg"  # the ECG paper component (ecgreview/ui/ecg_component)
DEVICE_PANEL = ".st-key-device-panel"
DNN_PANEL = ".st-key-dnn-panel"
#: JS: whether every text in the element is drawn whole: no part of it that cuts its text with an ellipsis
#: has more text than room (``scrollWidth`` over ``clientWidth``, whole pixels).
TEXT_WHOLE_JS = """element => [element, ...element.querySelectorAll('*')]
  .filter(e => getComputedStyle(e).textOverflow === 'ellipsis').every(e => e.scrollWidth <= e.clientWidth)"""


#: The worklist on the bundled cases: the demo folder's WFDB records and the Mortara demo ECG (``case_paths``).
BUNDLED_CASES = len(list(DEMO_CASES_DIR.glob("*.hea"))) + 1


def open_worklist(page, url: str, *, cases: int) -> None:
    """Open the worklist page once it lists all ``cases`` cases of the server's folder.

    The server starts indexing at start-up and lists rows as they are read, so an early page may show part
    of them: the page is opened again until all are there.
    """
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        page.goto(f"{url}/worklist")
        page.get_by_role("heading", name="Worklist").wait_for(timeout=TIMEOUT_MS)
        shown = page.get_by_text(re.compile(r"\d+ (of \d+ cases|cases indexed so far)")).first
        shown.wait_for(timeout=TIMEOUT_MS)
        settle(page)
        if re.search(rf"\b{cases} of {cases} cases", shown.inner_text()):
            return
        assert time.monotonic() < deadline, f"the worklist still shows {shown.inner_text()!r}, not {cases} cases"
        time.sleep(0.5)  # the poll interval of a wait for the index


def wait_for_case(page, *, opinions: bool = True) -> None:
    """Wait until the review page shows a case: the ECG figure, the decision panel (and the device panel)."""
    page.locator(ECG).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.locator(DNN_PANEL).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    if opinions:
        page.locator(DEVICE_PANEL).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    settle(page)


def call_shown_js(name: str, call: str) -> str:
    """JS: whether the reader's call on class ``name`` shows ``call`` (its segmented control's chosen option)."""
    return (f"() => [...document.querySelectorAll('.st-key-call-{name} [role=radio][aria-checked=true]')]"
            f".some(option => option.innerText.trim() === '{call}')")


def call_option(page, name: str, call: str):
    """The option ``call`` of the segmented control for class ``name``."""
    return page.locator(f".st-key-call-{name} [role=radio]").filter(has_text=call).first


def sign_in(page, name: str) -> None:
    """Type the reader's name (name mode) and leave the box, so that single keys are shortcuts again."""
    box = page.get_by_label("Reader", exact=True)
    box.fill(name)
    with app_run(page):  # Enter sends the name: the page runs again with it
        box.press("Enter")
    page.evaluate("document.activeElement.blur()")


def keys_absent_for_every_class(page) -> None:
    """Key 1 (the first class), then A for each class; wait until every control shows "absent".

    Waits for the reading panel first: its key capture exists once the panel is on screen
    (a reader cannot press before they see it either).
    """
    page.locator(f".st-key-call-{CLASSES[-1]}").first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("() => !!window.__ecgreviewKeys", timeout=TIMEOUT_MS)
    page.keyboard.press("1")
    for _ in CLASSES:
        page.keyboard.press("a")
    for name in CLASSES:
        page.wait_for_function(call_shown_js(name, "absent"), timeout=TIMEOUT_MS)
    settle(page)


_GRID_PAINTED_JS = """frame => {
  const canvas = frame.querySelector('canvas');
  if (!canvas || !canvas.width || !canvas.height) return false;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, Math.min(canvas.height, 120)).data;
  for (let at = 0; at < pixels.length; at += 4) {
    if (pixels[at + 3] > 0 && pixels[at] + pixels[at + 1] + pixels[at + 2] < 300) return true;  // dark: text
  }
  return false;
}"""


def wait_for_painted_grid(frame) -> None:
    """Wait until a ``st.dataframe`` (a locator of its frame) has painted text on its canvas."""
    frame.wait_for(timeout=TIMEOUT_MS)
    frame.page.wait_for_function(_GRID_PAINTED_JS, arg=frame.element_handle(), timeout=TIMEOUT_MS)


_FIGURES_FITTED_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].every(plot => {
  const svg = plot.querySelector('.main-svg');
  return !!svg && !!plot._fullLayout && Math.abs(Number(svg.getAttribute('width')) - plot.clientWidth) < 2;
})"""


def wait_for_figures_fitted(page) -> None:
    """Wait until every plotly figure on the page is drawn at its container's width (after a resize)."""
    page.wait_for_function(_FIGURES_FITTED_JS, timeout=TIMEOUT_MS)
