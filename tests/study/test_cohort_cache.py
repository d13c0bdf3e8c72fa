"""The cohort is read and parsed once per version of its review files, whatever references a page asks for (issue #20)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecgreview.study import cohort as cohort_module
from ecgreview.study.cohort import load_cohort
from tests.study.test_cohort import add_review, case_sha256


def test_several_references_parse_the_files_once_and_a_new_row_is_seen(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "reviews.csv"
    add_review(store, 0, reader="Dr A", calls={"AF": "present"}, probabilities={"AF": 0.9}, minute=0)
    add_review(store, 0, reader="Dr B", calls={"AF": "present"}, probabilities={"AF": 0.9}, minute=1)
    reads: list[int] = []
    real = cohort_module._read_all

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cohort_module, "_read_all", counted)
    consensus = load_cohort(store)
    by_reader = load_cohort(store, reference="reader:Dr B", possible_counts_as_positive=False)
    assert len(reads) == 1
    assert consensus.reference_label.startswith("reader consensus") and by_reader.reference_label == "reader Dr B"
    assert consensus.probabilities.loc[case_sha256(0), "AF"] == by_reader.probabilities.loc[case_sha256(0), "AF"] == 0.9
    consensus.probabilities.loc[case_sha256(0), "AF"] = 0.0  # a caller's change never reaches the cache
    assert load_cohort(store).probabilities.loc[case_sha256(0), "AF"] == 0.9 and len(reads) == 1
    add_review(store, 1, reader="Dr A", minute=2)
    assert list(load_cohort(store).cases.index) == [case_sha256(0), case_sha256(1)] and len(reads) == 2
