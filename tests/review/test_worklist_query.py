"""The worklist as SQLite queries (ecgreview.review.worklist_query): the same rows, filters and sort as a reader
expects, discordance by the one rule (calls_disagree), incremental syncs, and paging."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.review.consensus import calls_disagree
from ecgreview.review.store import append_review, read_review_tail, read_reviews
from ecgreview.review.worklist import CaseIndex
from ecgreview.review.worklist_query import WorklistFilters, query_worklist, worklist_neighbours
from ecgreview.review.worklist_sync import _mask, sync_dnn_calls, sync_listing, sync_readings
from tests.io.dicom_fixtures import build_ecg_dataset, write_dataset
from tests.review.test_worklist import FakeModel, _review, folder  # noqa: F401  (fixture)

MODEL = "a" * 64


def _page(index, store, *, reader="Dr A", **options):
    sync_listing(index.path)
    sync_dnn_calls(index.path, model_sha256=MODEL, thresholds=THRESHOLDS)
    sync_readings(index.path, store)
    sort_by, descending = options.pop("sort_by", "file"), options.pop("descending", False)
    return query_worklist(index.path, model_sha256=MODEL, thresholds=THRESHOLDS, reader=reader,
                          filters=WorklistFilters(**options), sort_by=sort_by, descending=descending)


@pytest.fixture
def indexed(tmp_path, folder):  # noqa: F811
    index = CaseIndex(tmp_path / "index.sqlite")
    index.update(sorted(folder.iterdir()), model=FakeModel())
    shas = {case.source_name: case.source_sha256 for case in index.cases(thresholds=THRESHOLDS)}
    return index, shas, tmp_path / "reviews.csv"


def test_rows_show_discordance_between_dnn_device_and_readers(indexed):
    index, shas, store = indexed
    append_review(store, _review(shas["af.dcm"], "Dr A", {"AF": "present"}))
    append_review(store, _review(shas["demo.dcm"], "Dr A", {}))
    append_review(store, _review(shas["demo.dcm"], "Dr B", {"SB": "present"}))
    append_review(store, _review(shas["demo.dcm"], "Student", {}, role="student", reading_mode="teaching",
                                 session_id="s1"))
    page = _page(index, store)
    rows = page.rows.set_index("File")
    assert page.total == 4 and page.matching == 4 and "broken.dcm" not in rows.index
    assert not rows.loc["af.dcm", "Discordant"]  # DNN, device and Dr A all say AF
    assert rows.loc["sinus.dcm", "Discordant classes"] == "AF"  # DNN AF, device sinus
    assert rows.loc["silent.dcm", "Device calls"] == "n/a" and not rows.loc["silent.dcm", "Discordant"]
    assert rows.loc["demo.dcm", "Reviews"] == "Dr A, Dr B"  # the student's answer is no reading
    assert set(rows.loc["demo.dcm", "Discordant classes"].split(", ")) == {"SB", "AF"}
    assert rows.loc["af.dcm", "Reviewed by me"] and not rows.loc["sinus.dcm", "Reviewed by me"]
    assert rows.loc["af.dcm", "DNN calls"] == "AF" and rows.loc["af.dcm", "Device calls"] == "AF"


def test_filters_sort_and_paging(indexed):
    index, shas, store = indexed
    append_review(store, _review(shas["af.dcm"], "Dr A", {"AF": "present"}))

    def names(**options) -> list[str]:
        return list(_page(index, store, **options).rows["File"])

    assert names() == ["af.dcm", "demo.dcm", "silent.dcm", "sinus.dcm"]
    assert names(discordant_only=True) == ["demo.dcm", "sinus.dcm"]
    assert names(unreviewed_by_me=True) == ["demo.dcm", "silent.dcm", "sinus.dcm"]
    assert names(reviewer="Dr A") == ["af.dcm"]
    assert names(class_name="AF") == ["af.dcm", "demo.dcm", "silent.dcm", "sinus.dcm"]  # the DNN calls AF
    assert names(class_name="RBBB") == []
    assert names(sort_by="pseudonym")[0] == "demo.dcm"  # "642341" sorts before "PSEUDO-0042"
    assert names(sort_by="discordance")[0] in ("af.dcm", "silent.dcm")  # the least discordant first, ascending
    assert set(names(sort_by="discordance")[-2:]) == {"demo.dcm", "sinus.dcm"}
    second = query_worklist(index.path, model_sha256=MODEL, thresholds=THRESHOLDS, offset=2, limit=1)
    assert list(second.rows["File"]) == ["silent.dcm"] and second.order == () and second.matching == 4
    ordered = query_worklist(index.path, model_sha256=MODEL, thresholds=THRESHOLDS, with_order=True)
    assert list(ordered.order) == list(ordered.rows["source_sha256"])
    with pytest.raises(ValueError, match="sort_by must be one of"):
        query_worklist(index.path, model_sha256=MODEL, thresholds=THRESHOLDS, sort_by="colour")
    with pytest.raises(ValueError, match="class_name must be one of"):
        query_worklist(index.path, model_sha256=MODEL, thresholds=THRESHOLDS,
                       filters=WorklistFilters(class_name="MI"))


def test_saves_are_followed_from_the_end_of_the_store_and_a_replaced_store_is_read_whole(indexed, monkeypatch):
    index, shas, store = indexed
    append_review(store, _review(shas["af.dcm"], "Dr A", {"AF": "present"}))
    assert _page(index, store).rows.set_index("File").loc["sinus.dcm", "Reviews"] == ""
    assert not sync_readings(index.path, store)  # nothing appended
    import ecgreview.review.worklist_sync as module

    def tail_only(path, *, start):
        if start == 0:
            raise AssertionError("the whole store was read for an appended row")
        return read_review_tail(path, start=start)

    monkeypatch.setattr(module, "read_review_tail", tail_only)
    append_review(store, _review(shas["sinus.dcm"], "Dr A", {"AF": "absent"}))  # any writer, any process
    append_review(store, _review(shas["sinus.dcm"], "Dr B", {}))
    append_review(store, _review(shas["af.dcm"], "Dr A", {"AF": "absent"}))  # Dr A corrects the AF case
    assert sync_readings(index.path, store)
    rows = query_worklist(index.path, model_sha256=MODEL, thresholds=THRESHOLDS, reader="Dr A").rows
    rows = rows.set_index("File")
    assert rows.loc["sinus.dcm", "Reviews"] == "Dr A, Dr B"
    assert rows.loc["af.dcm", "Discordant classes"] == "AF"  # DNN and device AF, Dr A now absent
    with store.open("ab") as handle:
        handle.write(b'x-partial-row,"still being')  # a row being written: left for the next call
    assert not sync_readings(index.path, store)
    monkeypatch.undo()
    store.write_bytes(store.read_bytes()[: store.read_bytes().rfind(b"\n") + 1])
    copy = store.with_name("copy.csv")
    copy.write_bytes(store.read_bytes())
    copy.replace(store)  # a new file (a schema upgrade rewrites the store): read whole
    assert sync_readings(index.path, store)
    store.unlink()
    assert sync_readings(index.path, store)
    rows = query_worklist(index.path, model_sha256=MODEL, thresholds=THRESHOLDS).rows
    assert set(rows["Reviews"]) == {""}


def test_the_listing_follows_changed_and_removed_files(indexed, folder):  # noqa: F811
    index, shas, store = indexed
    assert sync_listing(index.path) == 5 and sync_listing(index.path) == 0
    (folder / "sinus.dcm").unlink()
    index.update(sorted(folder.iterdir()), prune=True)
    assert sync_listing(index.path) == 1
    assert "sinus.dcm" not in set(query_worklist(index.path, model_sha256="", thresholds=THRESHOLDS).rows["File"])


def test_site_thresholds_change_the_calls(indexed):
    index, shas, store = indexed
    sync_listing(index.path)
    high = (0.95,) * len(CLASSES)
    sync_dnn_calls(index.path, model_sha256=MODEL, thresholds=high)
    rows = query_worklist(index.path, model_sha256=MODEL, thresholds=high).rows
    assert set(rows["DNN calls"]) == {"none"}  # p = 0.9 for AF is not > 0.95


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from([None, True, False]), min_size=4, max_size=4), min_size=len(CLASSES),
                max_size=len(CLASSES)))
def test_the_bit_rule_is_calls_disagree(opinions):
    """Per class: DNN, device, reader 1, reader 2 (None: no opinion). The SQL expression's bits agree."""
    positive = _mask([any(value is True for value in per_class) for per_class in opinions])
    negative = _mask([any(value is False for value in per_class) for per_class in opinions])
    expected = [bool(calls_disagree([np.nan if value is None else float(value) for value in per_class]))
                for per_class in opinions]
    assert [bool((positive & negative) >> index & 1) for index in range(len(CLASSES))] == expected


@pytest.mark.parametrize("sort_by", ["file", "acquired", "pseudonym", "discordance", "reviews", "disagreement"])
@pytest.mark.parametrize("descending", [False, True])
def test_neighbours_follow_the_page_order(indexed, sort_by, descending):
    index, shas, store = indexed
    append_review(store, _review(shas["af.dcm"], "Dr A", {"AF": "present"}))
    page = _page(index, store, sort_by=sort_by, descending=descending)
    order = list(page.rows["source_sha256"])
    options = dict(model_sha256=MODEL, thresholds=THRESHOLDS, sort_by=sort_by, descending=descending)
    for position, sha in enumerate(order):
        expected = (order[position - 1] if position else None, order[position + 1] if position + 1 < len(order)
                    else None)
        assert worklist_neighbours(index.path, sha, **options) == expected
    assert worklist_neighbours(index.path, "0" * 64, **options) == (None, order[0])
    discordant = list(_page(index, store, discordant_only=True).rows["source_sha256"])
    assert worklist_neighbours(index.path, discordant[0], model_sha256=MODEL, thresholds=THRESHOLDS,
                               filters=WorklistFilters(discordant_only=True)) == (None, discordant[1])


def test_rows_without_model_or_reviews(indexed):
    index, shas, store = indexed
    sync_listing(index.path)
    sync_readings(index.path, store)  # no store yet
    rows = query_worklist(index.path, model_sha256="", thresholds=THRESHOLDS).rows
    assert set(rows["DNN calls"]) == {"—"} and set(rows["Reviews"]) == {""}
    assert list(rows.columns)[0] == "source_sha256"


# -- issue #24 item 2: disagreement between the DNN, the device and the prior ECG -----------------------------------

def _add_prior(index, folder, probabilities):  # noqa: F811
    """A constructed prior of PSEUDO-0042 (the fixture's cases are acquired 2024-03-05): sinus rhythm on
    2019-03-02, with the DNN output ``probabilities`` written into the index for it."""
    dataset = build_ecg_dataset(statements=("SINUS RHYTHM",))
    dataset.AcquisitionDateTime = "20190302101500"
    write_dataset(dataset, folder / "prior.dcm")
    index.update(sorted(folder.iterdir()), model=FakeModel())
    sha = next(case.source_sha256 for case in index.cases(thresholds=THRESHOLDS) if case.source_name == "prior.dcm")
    with closing(sqlite3.connect(index.path)) as connection, connection:
        connection.execute("INSERT OR REPLACE INTO predictions VALUES (?, ?, ?)",
                           (sha, MODEL, json.dumps(probabilities)))
    return sha


def test_disagreement_sort_puts_dnn_device_disagreement_and_new_dnn_calls_first(indexed, folder):  # noqa: F811
    index, shas, store = indexed
    before = _page(index, store, sort_by="disagreement").rows.set_index("File")
    assert before.loc["sinus.dcm", "Reason"] == "DNN AF, device no AF" and before.loc["sinus.dcm", "Prior"] == ""
    assert before.loc["af.dcm", "Reason"] == "" and before.loc["af.dcm", "Disagreement"] == 0
    _add_prior(index, folder, [0.0, 0.0, 0.0, 0.0, 0.01, 0.0])  # no AF on the prior; the FakeModel calls AF now
    page = _page(index, store, sort_by="disagreement")  # the serial rows follow the new file and its prediction
    rows = page.rows.set_index("File")
    assert list(page.rows["File"])[0] == "sinus.dcm"  # DNN AF against device sinus, and AF new since 2019
    assert rows.loc["sinus.dcm", "Reason"] == "DNN AF, device no AF; new DNN AF vs 2019-03-02"
    assert rows.loc["sinus.dcm", "Disagreement"] == 2 and rows.loc["sinus.dcm", "Prior"].startswith("2019-03-02")
    assert rows.loc["af.dcm", "Reason"] == "new DNN AF vs 2019-03-02; new device AF vs 2019-03-02"  # prior: sinus
    assert rows.loc["demo.dcm", "Reason"] == "DNN AF, device no AF"  # another pseudonym: no prior
    assert list(page.rows["File"])[-1] == "prior.dcm" and rows.loc["prior.dcm", "Reason"] == ""
    assert list(page.rows["Disagreement"]) == sorted(page.rows["Disagreement"], reverse=True)
    assert "prior.dcm" not in set(_page(index, store, disagreement_only=True).rows["File"])
    ascending = list(_page(index, store, sort_by="disagreement", descending=True).rows["File"])
    assert ascending[0] == "prior.dcm" and ascending[-1] == "sinus.dcm"


def test_a_reading_changes_the_disagreement_and_its_reason(indexed, folder):  # noqa: F811
    index, shas, store = indexed
    _add_prior(index, folder, [0.0, 0.0, 0.0, 0.0, 0.9, 0.0])  # DNN AF on the prior too: no DNN change
    assert _page(index, store).rows.set_index("File").loc["af.dcm", "Reason"] == "new device AF vs 2019-03-02"
    append_review(store, _review(shas["af.dcm"], "Dr A", {}))  # Dr A: no AF
    rows = _page(index, store, sort_by="disagreement").rows.set_index("File")
    assert rows.loc["af.dcm", "Reason"] == "DNN and device AF, readers no AF; new device AF vs 2019-03-02"
