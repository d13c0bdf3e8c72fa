"""One version of the review store per block (review/readings.one_version): a page run's panels agree, and a
store that changes under a run is grouped once, not once per question."""

from __future__ import annotations

import threading

import pandas as pd

from ecgreview.record import CLASSES
from ecgreview.review import readings
from ecgreview.review.protocol import latest_readings
from ecgreview.review.store import Review, StoreStamp, append_review, read_reviews

SHA = "d" * 64


def _review(reader: str, af: str) -> Review:
    calls = dict.fromkeys(CLASSES, "absent") | {"AF": af}
    return Review.create(reader=reader, reader_calls=calls, source_sha256=SHA, opinions_seen=True)


def test_inside_a_block_every_question_is_answered_from_its_first_version(tmp_path, monkeypatch):
    store = tmp_path / "reviews.csv"
    append_review(store, _review("Dr A", "present"))
    groupings = []
    original = readings._group
    monkeypatch.setattr(readings, "_group", lambda path, previous: groupings.append(path) or original(path, previous))
    with readings.one_version():
        first = readings.case_readings(store, SHA)
        version = readings.store_version(store)
        assert version == StoreStamp.of(store)
        expected = latest_readings(read_reviews(store), SHA)  # the rows of that version, by the one rule
        for reader in ("Dr B", "Dr C"):  # others save while the page runs
            append_review(store, _review(reader, "absent"))
        assert readings.store_version(store) == version != StoreStamp.of(store)
        pd.testing.assert_frame_equal(readings.case_readings(store, SHA), first)
        pd.testing.assert_frame_equal(first.reset_index(drop=True), expected.reset_index(drop=True))
        assert len(readings.case_history(store, SHA)) == 1
    assert len(groupings) == 1  # grouped once in the block, though the store changed twice
    assert list(readings.case_readings(store, SHA)["reader"]) == ["Dr A", "Dr B", "Dr C"]  # outside: the store now
    assert readings.store_version(store) == StoreStamp.of(store)
    assert len(groupings) == 2


def test_blocks_are_separate_per_thread(tmp_path):
    store = tmp_path / "reviews.csv"
    append_review(store, _review("Dr A", "present"))
    seen: dict[str, int] = {}

    def other_run() -> None:
        with readings.one_version():
            seen["other"] = len(readings.case_readings(store, SHA))

    with readings.one_version():
        assert len(readings.case_readings(store, SHA)) == 1
        append_review(store, _review("Dr B", "absent"))
        thread = threading.Thread(target=other_run)
        thread.start()
        thread.join()
        assert len(readings.case_readings(store, SHA)) == 1
    assert seen["other"] == 2  # another run (thread) reads the store as it is
    assert readings.store_version(tmp_path / "none.csv") is None  # no store yet: no version
