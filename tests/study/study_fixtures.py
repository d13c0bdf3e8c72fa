"""A small generated reader study with known unaided/aided calls (the expectations are in the tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgreview.record import CLASSES

CASES = tuple(f"{index:064x}" for index in range(10))
#: AF reference: cases 0-3 present, 4-9 absent; every other class absent everywhere.
AF_POSITIVE = {0, 1, 2, 3}
#: DNN AF calls: right except case 3 (missed) and case 4 (false alarm).
DNN_AF_PRESENT = {0, 1, 2, 4}
#: AF calls per reader and mode: case index -> call; unlisted cases are "absent".
AF_CALLS = {
    ("ana", "unaided"): {0: "present", 1: "present", 2: "uncertain", 5: "present"},
    ("ana", "aided"): {0: "present", 1: "present", 2: "present", 4: "present"},
    ("ben", "unaided"): {0: "present", 1: "present", 2: "present", 3: "present"},
    ("ben", "aided"): {0: "present", 1: "present", 2: "present"},
}


def class_frame(present_af: set[int], cases: tuple[str, ...] = CASES) -> pd.DataFrame:
    """(cases, classes) 1.0/0.0 with AF present on ``present_af`` and every other class absent."""
    frame = pd.DataFrame(0.0, index=list(cases), columns=list(CLASSES))
    frame.loc[[cases[i] for i in present_af], "AF"] = 1.0
    return frame


def study_reviews(*, with_study_columns: bool = True) -> pd.DataFrame:
    """Review rows (str cells, as read_reviews gives them): unaided then aided per reader and case."""
    rows = []
    for reader in ("ana", "ben"):
        for index, case in enumerate(CASES):
            unaided_id = f"00000000-0000-4000-8000-{len(rows):012d}"
            for mode in ("unaided", "aided"):
                row = {"review_id": unaided_id if mode == "unaided" else f"00000000-0000-4000-9000-{len(rows):012d}",
                       "saved_at_utc": f"2026-12-01T10:{len(rows) // 60:02d}:{len(rows) % 60:02d}.000000Z",
                       "reader": reader, "role": "reader", "reading_mode": mode,
                       "opinions_seen": "true" if mode == "aided" else "false", "source_sha256": case}
                for name in CLASSES:
                    row[f"reader_call_{name}"] = AF_CALLS[(reader, mode)].get(index, "absent") if name == "AF" \
                        else "absent"
                if with_study_columns:
                    row["resolves_review_ids"] = unaided_id if mode == "aided" else ""
                    row["confidence"] = ("3" if mode == "unaided" else "4") if reader == "ana" else (
                        "" if mode == "unaided" else "5")
                    row["reading_time_s"] = "30.0" if mode == "unaided" else "10.0"
                rows.append(row)
    return pd.DataFrame(rows, dtype=str)


def perfect_and_wrong_readers(cases: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reader 'right' calls AF exactly as the reference, reader 'wrong' the opposite; both modes alike."""
    ids = tuple(f"{index:064x}" for index in range(cases))
    reference = class_frame(set(range(0, cases, 2)), ids)
    rows = []
    for reader in ("right", "wrong"):
        for case in ids:
            truth = reference.at[case, "AF"] == 1.0
            present = truth if reader == "right" else not truth
            for mode in ("unaided", "aided"):
                rows.append({"reader": reader, "role": "reader", "source_sha256": case, "reading_mode": mode,
                             **{f"reader_call_{name}": ("present" if present else "absent") if name == "AF"
                                else "absent" for name in CLASSES}})
    return pd.DataFrame(rows), reference


def random_study(cases: int, readers: int, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A larger random study (for speed and seed checks)."""
    rng = np.random.default_rng(seed)
    ids = [f"{index:064x}" for index in range(cases)]
    reference = pd.DataFrame(rng.integers(0, 2, (cases, len(CLASSES))).astype(float), index=ids, columns=list(CLASSES))
    rows = []
    for reader in range(readers):
        for case in ids:
            for mode, accuracy in (("unaided", 0.7), ("aided", 0.85)):
                correct = rng.random(len(CLASSES)) < accuracy
                calls = np.where(correct, reference.loc[case].to_numpy(), 1 - reference.loc[case].to_numpy())
                rows.append({"reader": f"reader {reader}", "role": "reader", "source_sha256": case, "reading_mode": mode,
                             **{f"reader_call_{name}": "present" if call else "absent"
                                for name, call in zip(CLASSES, calls)}})
    return pd.DataFrame(rows), reference
