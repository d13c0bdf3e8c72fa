"""The cohort page's agreement section: Cohen's kappa beside Fleiss' kappa, CI columns, the methods named."""

from __future__ import annotations

from tests.study.test_cohort import add_review
from tests.ui.test_evaluate_page import _open, reviews  # noqa: F401  (the fixture)


def test_three_readers_show_fleiss_beside_cohen_with_intervals(reviews, tmp_path):  # noqa: F811
    for offset, reader in enumerate(("Dr A", "Dr B", "Dr C")):
        for index in range(6):
            call = "present" if (index + offset) % 3 == 0 else "absent"
            add_review(reviews, index, reader=reader, calls={"AF": call}, minute=10 * offset + index)
    app = _open(tmp_path)
    cohen, fleiss = app.dataframe[1].value, app.dataframe[2].value
    assert {"CI low", "CI high", "Standard error"} <= set(cohen.columns) and len(cohen) == 3 * 6
    assert {"CI low", "CI high", "Kappa", "Cases"} <= set(fleiss.columns) and set(fleiss["Readers"]) == {3}
    captions = [caption.value for caption in app.caption]
    assert any("Fleiss, Cohen & Everitt (1969)" in text for text in captions)
    assert any("percentile bootstrap over subjects (cases), 2000 resamples, seed 0" in text for text in captions)


def test_two_readers_say_fleiss_needs_three(reviews, tmp_path):  # noqa: F811
    for reader in ("Dr A", "Dr B"):
        add_review(reviews, 0, reader=reader)
        add_review(reviews, 1, reader=reader, calls={"AF": "present"})
    app = _open(tmp_path)
    assert any("Fleiss' kappa needs three or more readers" in caption.value for caption in app.caption)
