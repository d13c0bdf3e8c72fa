"""The one reader–DNN agreement rule (:func:`ecgreview.review.store.dnn_agreement`), live and saved."""

from __future__ import annotations

import numpy as np

from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.store import Review, dnn_agreement


def test_agreement_per_class_with_open_and_uncertain_calls():
    reader = {"1dAVb": "present", "RBBB": "absent", "LBBB": "uncertain", "SB": None, "AF": "present", "ST": "absent"}
    dnn = {"1dAVb": "present", "RBBB": "present", "LBBB": "present", "SB": "absent", "AF": "", "ST": "absent"}
    assert dnn_agreement(reader, dnn) == {"1dAVb": "agree", "RBBB": "disagree", "LBBB": "", "SB": "", "AF": "",
                                          "ST": "agree"}


def test_saved_review_uses_the_same_rule():
    rng = np.random.default_rng(7)
    probabilities = [float(p) for p in rng.uniform(0, 0.3, len(CLASSES))]
    calls = {name: str(rng.choice(["present", "absent", "uncertain"])) for name in CLASSES}
    review = Review.create(reader="r", reader_calls=calls, source_sha256="a" * 64, opinions_seen=True,
                           probabilities=probabilities)
    expected = {name: "" if calls[name] == "uncertain" else
                ("agree" if (calls[name] == "present") == (p > t) else "disagree")
                for name, p, t in zip(CLASSES, probabilities, THRESHOLDS)}
    assert review.agreement == expected == dnn_agreement(calls, review.dnn_calls)
