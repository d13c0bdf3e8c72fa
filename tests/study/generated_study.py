"""A generated two-step reader study written as the app writes it: a design with its plan, a review CSV, a
clinical-diagnosis CSV.

``write_generated_study(home)`` draws, from one seed, a reference per case and class, the DNN's
probabilities, and each reader's unaided call (own sensitivity and specificity) and aided call (the
reader takes the DNN's call with some probability, more often when it is right; an uncertain call now
and then). Rows go through :func:`~ecgreview.review.store.append_review`, so the store checks them.
Nothing here is an expected result: the tests compute what they check.

Options make the awkward stores of the Cohort page: ``with_dnn=False`` (no weights: no probabilities,
so no aided rows can be saved), ``readers=1``, ``positives=False`` (no class present anywhere).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.store import Review, append_review
from ecgreview.study.design import StudyDesign, create_design, save_design, session_label
from ecgreview.study.plan import AnalysisPlan

#: Prevalence per class in the generated cases (CLASSES order).
PREVALENCE = (0.12, 0.15, 0.1, 0.12, 0.25, 0.12)
CREATED = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
#: The device's statement per class (statement_map.csv wording); "sinus rhythm" when it names none.
STATEMENTS = ("first degree AV block", "right bundle branch block", "left bundle branch block", "sinus bradycardia",
              "atrial fibrillation", "sinus tachycardia")
FAKE_MODEL_SHA256 = hashlib.sha256(b"generated weights").hexdigest()


@dataclass(frozen=True)
class GeneratedStudy:
    """Where the generated study was written."""

    design: StudyDesign
    reviews: Path
    clinical: Path
    reference: pd.DataFrame


def _case_ids(cases: int) -> list[str]:
    return [hashlib.sha256(f"generated case {index}".encode()).hexdigest() for index in range(cases)]


def _probabilities(rng: np.random.Generator, truth: np.ndarray) -> np.ndarray:
    """Higher for present classes, with overlap (the DNN is good, not perfect)."""
    positive = rng.beta(2.2, 2, truth.shape)
    negative = rng.beta(0.8, 10, truth.shape)
    return np.round(np.where(truth == 1, positive, negative), 4)


def _unaided(rng: np.random.Generator, truth: np.ndarray, sensitivity: float, specificity: float) -> np.ndarray:
    hit = rng.random(truth.shape)
    return np.where(truth == 1, hit < sensitivity, hit > specificity).astype(int)


def _aided(rng: np.random.Generator, unaided: np.ndarray, dnn: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Follow the DNN with probability 0.6 where it is right, 0.25 where it is wrong."""
    follow = rng.random(unaided.shape) < np.where(dnn == truth, 0.6, 0.25)
    return np.where(follow, dnn, unaided)


def _words(calls: np.ndarray, rng: np.random.Generator, uncertain_rate: float) -> dict[str, str]:
    words = ["present" if call else "absent" for call in calls]
    return {name: "uncertain" if rng.random() < uncertain_rate else word for name, word in zip(CLASSES, words)}


def _device(truth: np.ndarray, case_number: int) -> dict[str, object]:
    """The device's calls: the reference, except one class in every 17th case (the device is not perfect)."""
    calls = truth.copy()
    if case_number % 17 == 5:
        calls[case_number % len(CLASSES)] ^= 1
    named = [statement for statement, call in zip(STATEMENTS, calls) if call]
    return {"device_calls": {name: "definite" if call else "absent" for name, call in zip(CLASSES, calls)},
            "device_statements": tuple(named) or ("sinus rhythm",)}


def _reader_rows(rng, reader, index, order, truth, probabilities, design, with_dnn, when):
    sensitivity, specificity = 0.62 + 0.05 * index, 0.88 + 0.02 * index
    for case_number, case in order:
        common = {"reader": reader, "source_sha256": case, "source_name": f"case{case_number:03d}.xml",
                  "case_pseudonym": f"C{case_number:03d}", "session_id": session_label(design, 1),
                  "probabilities": list(probabilities[case_number]) if with_dnn else None,
                  "model_name": "generated.hdf5" if with_dnn else "",
                  "model_sha256": FAKE_MODEL_SHA256 if with_dnn else "", "statement_map_version": "2026.11",
                  **_device(truth[case_number], case_number)}
        before = _unaided(rng, truth[case_number], sensitivity, specificity)
        when += timedelta(seconds=int(rng.integers(20, 90)))
        unaided = Review.create(reader_calls=_words(before, rng, 0.02), opinions_seen=False, reading_mode="unaided",
                                confidence=int(rng.integers(2, 5)), reading_time_s=float(rng.integers(20, 90)),
                                saved_at_utc=when, **common)
        yield unaided
        if not with_dnn:
            continue
        dnn = (probabilities[case_number] > np.asarray(THRESHOLDS)).astype(int)
        after = _aided(rng, before, dnn, truth[case_number])
        when += timedelta(seconds=int(rng.integers(5, 30)))
        yield Review.create(reader_calls=_words(after, rng, 0.01), opinions_seen=True, reading_mode="aided",
                            resolves_review_ids=[unaided.review_id], confidence=int(rng.integers(3, 6)),
                            reading_time_s=float(rng.integers(5, 30)), saved_at_utc=when, **common)


def write_generated_study(home: Path, *, readers: int = 4, cases: int = 150, seed: int = 19,
                          with_dnn: bool = True, positives: bool = True, study_id: str = "generated",
                          plan: AnalysisPlan | None = None, reviews: Path | None = None) -> GeneratedStudy:
    """Write the design (``home/studies``), the review CSV (``home/reviews.csv`` unless given) and a clinical CSV."""
    rng = np.random.default_rng(seed)
    ids = _case_ids(cases)
    truth = (rng.random((cases, len(CLASSES))) < np.asarray(PREVALENCE)).astype(int) if positives else \
        np.zeros((cases, len(CLASSES)), dtype=int)
    probabilities = _probabilities(rng, truth)
    names = [f"Dr {letter}" for letter in "ABCDEFGHIJ"[:readers]]
    plan = plan or AnalysisPlan(primary_classes=("AF", "LBBB"), reference_standard="clinical",
                                reference_description="generated discharge diagnosis")
    design = create_design(study_id, ids, names, seed=seed, created_at_utc=CREATED, plan=plan)
    save_design(design, home / "studies", replace=True)
    store = reviews or home / "reviews.csv"
    store.parent.mkdir(parents=True, exist_ok=True)
    for index, reader in enumerate(names):
        order = [(ids.index(case), case) for case in design.order(reader)]
        start = CREATED + timedelta(hours=1 + index)
        for review in _reader_rows(rng, reader, index, order, truth, probabilities, design, with_dnn, start):
            append_review(store, review)
    reference = pd.DataFrame(truth, index=ids, columns=list(CLASSES))
    clinical = home / "clinical.csv"
    reference.rename_axis("source_sha256").reset_index().to_csv(clinical, index=False)
    return GeneratedStudy(design, store, clinical, reference.astype(float))
