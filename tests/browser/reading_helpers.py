"""Playwright helpers shared by the browser tests of the reading room (the one-screen review page)."""

from __future__ import annotations

from ecgreview.record import CLASSES

TIMEOUT_MS = 90_000
#: The parts of the one-screen review page (Streamlit containers keyed in ecgreview/ui).
ECG = ".st-key-ecg-trace .js-plotly-plot"
DEVICE_PANEL = ".st-key-device-panel"
DNN_PANEL = ".st-key-dnn-panel"


def settle(page) -> None:
    """Wait until Streamlit has finished the current run."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=TIMEOUT_MS)


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
    box.press("Enter")
    settle(page)
    page.wait_for_timeout(500)
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
