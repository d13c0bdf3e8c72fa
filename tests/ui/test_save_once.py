"""A save is done once per displayed reading: pressing Save again on the same case writes no second row."""

from __future__ import annotations

from ecgreview.record import CLASSES
from ecgreview.review.store import read_reviews
from tests.ui.test_review_page import _answer, _open


def test_a_second_save_of_the_same_displayed_reading_writes_nothing(home):
    app = _answer(_open(), reader="Dr Twice", calls=dict.fromkeys(CLASSES, "absent"))
    assert len(read_reviews(home / "reviews.csv")) == 1
    next(button for button in app.button if button.label == "Save review").click()  # again, nothing changed
    app.run()
    assert not app.exception, app.exception
    assert any("answer every class" in error.value for error in app.error)  # the form was cleared by the save
    assert len(read_reviews(home / "reviews.csv")) == 1
