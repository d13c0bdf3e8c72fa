"""The typed read model of the review store (issue #20): typed cells, the same rules as Review.from_row, once per version."""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import pandas as pd
import pytest

from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review import review_table
from ecgreview.review.review_table import PROBABILITY_COLUMNS, read_reviews_typed, typed_reviews
from ecgreview.review.store import REVIEW_COLUMNS, Review, append_review, read_reviews
from tests.review.v01_fixture import fixture_reviews, write_v01_store

CALLS = dict(zip(CLASSES, ["present", "absent", "uncertain", "absent", "present", "absent"]))


def _reviews() -> list[Review]:
    unaided = Review.create(reader="Dr Müller", reader_calls=CALLS, source_sha256="e" * 64, opinions_seen=False,
                            reading_mode="unaided", confidence=3, reading_time_s=41.25)
    aided = Review.create(reader="Dr Müller", reader_calls=CALLS, source_sha256="e" * 64, opinions_seen=True,
                          reading_mode="aided", resolves_review_ids=[unaided.review_id], confidence=4,
                          reading_time_s=12.5, probabilities=dict(zip(CLASSES, [0.2, None, 0.9, 0.1, 0.25, 0.3])))
    full = Review.create(reader="=Dr Evil", reader_calls=CALLS, source_sha256="b" * 64, opinions_seen=True,
                         probabilities=[0.5, 0.05, 0.9, 0.1, 0.2, 0.3], thresholds=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
                         device_statements=("=1+1", "Sinus rhythm"), provenance={"a": [1, None]})
    return [unaided, aided, full]


def test_cells_are_typed_as_review_from_row_reads_them(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    written = _reviews()
    for review in written:
        append_review(store, review)
    typed = read_reviews_typed(store)
    assert list(typed.columns) == list(REVIEW_COLUMNS) and typed.attrs["bad_cells"] == []
    assert isinstance(typed["saved_at_utc"].dtype, pd.DatetimeTZDtype)
    assert all(typed[column].dtype == "float64" for column in PROBABILITY_COLUMNS)
    for index, review in enumerate(written):
        row = typed.iloc[index]
        assert row["saved_at_utc"].to_pydatetime() == review.saved_at_utc
        assert row["thresholds"] == review.thresholds and row["device_statements"] == review.device_statements
        assert row["resolves_review_ids"] == review.resolves_review_ids and row["provenance"] == review.provenance
        assert bool(row["opinions_seen"]) is review.opinions_seen and row["schema_version"] == review.schema_version
        probabilities = [None if math.isnan(row[f"dnn_prob_{name}"]) else row[f"dnn_prob_{name}"] for name in CLASSES]
        assert probabilities == list(review.probabilities.values())
        assert (None if pd.isna(row["confidence"]) else int(row["confidence"])) == review.confidence
        assert (None if pd.isna(row["reading_time_s"]) else row["reading_time_s"]) == review.reading_time_s
        assert row["reader"] == review.reader and row["reader_call_SB"] == review.reader_calls["SB"]  # words stay str


def test_parsed_once_per_version_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "reviews.csv"
    first, second, _ = _reviews()
    append_review(store, first)
    builds: list[int] = []
    real = review_table.typed_reviews

    def counted(frame: pd.DataFrame) -> pd.DataFrame:
        builds.append(1)
        return real(frame)

    monkeypatch.setattr(review_table, "typed_reviews", counted)
    mine = read_reviews_typed(store)
    mine.loc[0, "reader"] = "changed by a caller"  # never reaches the cache
    assert read_reviews_typed(store)["reader"].tolist() == ["Dr Müller"] and len(builds) == 1
    append_review(store, second)
    assert len(read_reviews_typed(store)) == 2 and len(builds) == 2


def test_a_bad_cell_reads_as_missing_and_is_named(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    review = _reviews()[2]
    append_review(store, review)
    frame = read_reviews(store)
    frame.loc[0, "dnn_prob_AF"] = "high"
    frame.loc[0, "thresholds"] = "0.1;0.2"
    frame.loc[0, "confidence"] = "2.5"
    typed = typed_reviews(frame)
    assert math.isnan(typed.loc[0, "dnn_prob_AF"]) and typed.loc[0, "dnn_prob_1dAVb"] == 0.5
    assert typed.loc[0, "thresholds"] == THRESHOLDS and pd.isna(typed.loc[0, "confidence"])
    assert typed.attrs["bad_cells"] == [f"review {review.review_id}: dnn_prob_AF holds 'high'",
                                        f"review {review.review_id}: confidence holds '2.5'",
                                        f"review {review.review_id}: thresholds holds '0.1;0.2'"]


def test_a_schema_1_store_reads_typed(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    write_v01_store(store)
    typed = read_reviews_typed(store)
    assert len(typed) == len(fixture_reviews()) and typed.attrs["bad_cells"] == []
    assert (typed["schema_version"] == 1).all() and typed["confidence"].isna().all()
    assert typed["reading_time_s"].isna().all() and all(isinstance(value, tuple) for value in typed["thresholds"])
    assert all(uuid.UUID(value) for value in typed["review_id"])
