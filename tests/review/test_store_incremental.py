"""Reading only what was appended: after any sequence of writes, ``read_reviews`` (which parses only the bytes
after the last settled row when the file just grew) gives the very frame and skipped rows a whole parse gives, and
so do its two parts (``read_review_parts``) and every case's readings grouped from them (``review.readings``).

The writes are those a store sees: saves (``append_review``, which also repairs a torn last row), a save cut
short or still being written, the rest of it, malformed and blank lines, multi-line comments, a bare carriage
return in a cell, a byte-order mark, and the file rewritten in place or replaced (both read whole again).
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecgreview.record import CLASSES
from ecgreview.review import _store_read, readings
from ecgreview.review import store as reviews
from ecgreview.review._store_csv import _csv_line
from ecgreview.review.protocol import clinical_readings, latest_readings
from ecgreview.review.store import Review, append_review, read_reviews

CALLS = dict.fromkeys(CLASSES, "absent")


def _review(number: int, comment: str = "") -> Review:
    return Review.create(reader=f"Dr {number % 3}", reader_calls=CALLS, source_sha256=f"{number % 5:064x}",
                         opinions_seen=True, comment=comment)


def _line(review: Review) -> bytes:
    return _csv_line([reviews._guard(column, value) for column, value in review.to_row().items()]).encode("utf-8")


def _whole_parse(store: Path) -> pd.DataFrame:
    """The frame a first read of the file gives (no cached version)."""
    return _store_read._parsed_frame(store, store.read_bytes())


def _append_bytes(store: Path, data: bytes) -> None:
    with store.open("ab") as handle:
        handle.write(data)


_COMMENTS = st.sampled_from(["", "two\nlines", 'a "quoted" word', "carriage\rreturn", "Vorhofflimmern, ÄÖÜ", "=1+2"])
_WRITES = st.lists(st.one_of(
    st.tuples(st.just("save"), _COMMENTS),
    st.tuples(st.just("partial"), _COMMENTS, st.floats(0.05, 0.95)),  # a save cut short (or still being written)
    st.tuples(st.just("unterminated"), _COMMENTS),  # a whole row but its line end (a row written by hand)
    st.tuples(st.just("rest"), st.just("")),  # the rest of the last partial row
    st.tuples(st.just("garbage"), st.sampled_from([b"x,y\n", b"\n", b'"unclosed,\n', b"not,a,uuid," * 3 + b"\n"])),
    st.tuples(st.just("rewrite"), st.just("")),  # the same file, rewritten in place with its first row only
    st.tuples(st.just("replace"), st.just("")),  # a new file (another inode) with the same rows
), min_size=1, max_size=14)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=_WRITES, bom=st.booleans())
def test_reading_what_was_appended_gives_what_a_whole_parse_gives(tmp_path_factory, monkeypatch, writes, bom):
    monkeypatch.setattr(_store_read, "_MAX_RECENT_ROWS", 3)  # the rows read since join the base now and then
    store = tmp_path_factory.mktemp("store") / "reviews.csv"
    append_review(store, _review(0))
    if bom:
        store.write_bytes(b"\xef\xbb\xbf" + store.read_bytes())
    first = store.read_bytes()
    read_reviews(store)  # a cached version to grow from
    pending = b""
    for number, (kind, *arguments) in enumerate(writes, start=1):
        if kind == "save":
            append_review(store, _review(number, arguments[0]))
        elif kind == "partial":
            line = _line(_review(number, arguments[0]))
            cut = max(1, int(len(line) * arguments[1]))
            while line[cut] & 0xC0 == 0x80:  # not inside a character (a save cut there: the tests below)
                cut -= 1
            _append_bytes(store, line[:cut])
            pending = line[cut:]
        elif kind == "unterminated":
            line = _line(_review(number, arguments[0]))
            _append_bytes(store, line[:-1])
            pending = line[-1:]
        elif kind == "rest" and pending:
            _append_bytes(store, pending)
            pending = b""
        elif kind == "garbage":
            _append_bytes(store, arguments[0])
        elif kind == "rewrite":
            with store.open("r+b") as handle:  # same inode: what `cp backup reviews.csv` does
                handle.truncate(0)
                handle.write(first)
        elif kind == "replace":
            replacement = store.with_name("replacement.csv")
            replacement.write_bytes(store.read_bytes())
            os.replace(replacement, store)
        expected = _whole_parse(store)
        read = read_reviews(store)
        pd.testing.assert_frame_equal(read, expected)
        assert read.attrs["skipped"] == expected.attrs["skipped"], (kind, store.read_bytes()[-400:])
        _assert_parts_and_cases_as_the_whole_parse(store, expected)


def _assert_parts_and_cases_as_the_whole_parse(store: Path, expected: pd.DataFrame) -> None:
    """The two parts read in turn are the whole parse's rows (index included), and every case's readings (grouped
    from the parts, the first kept from version to version) are the one rule's on the whole parse."""
    parts = reviews.read_review_parts(store)  # (read_reviews' frame, equal to the whole parse above, is the two joined)
    assert [*parts.base.index, *parts.tail.index] == list(expected.index)
    assert [*parts.base["review_id"], *parts.tail["review_id"]] == list(expected["review_id"])
    clinical, latest = clinical_readings(expected), latest_readings(expected)
    for sha in (f"{0:064x}", f"{1:064x}", "f" * 64):  # the rows by their id (the cells: above)
        history, readings_now = readings.case_history(store, sha), readings.case_readings(store, sha)
        assert list(history.columns) == list(readings_now.columns) == list(expected.columns)
        assert list(history.index) == list(clinical.index[clinical["source_sha256"] == sha])  # places in the store
        assert list(history["review_id"]) == list(clinical.loc[clinical["source_sha256"] == sha, "review_id"])
        assert list(readings_now["review_id"]) == list(latest.loc[latest["source_sha256"] == sha, "review_id"])


def test_a_save_parses_only_the_row_it_appended(tmp_path, monkeypatch):
    """At 300 rows, the read after a save parses the header and the new row, not the store."""
    store = tmp_path / "reviews.csv"
    for number in range(300):
        append_review(store, _review(number))
    assert len(read_reviews(store)) == 300
    parsed: list[bytes] = []
    real = _store_read._parse
    monkeypatch.setattr(_store_read, "_parse", lambda path, data, **kw: parsed.append(data) or real(path, data, **kw))
    latest = _review(300, "a new reading")
    append_review(store, latest)
    frame = read_reviews(store)
    assert len(frame) == 301 and frame["review_id"].iloc[-1] == latest.review_id
    header = store.read_bytes().split(b"\n", 1)[0] + b"\n"
    assert parsed == [header + _line(latest)]


def test_the_last_rows_rewritten_in_place_with_the_same_size_are_read_again(tmp_path):
    """The last rows changed in place (the same inode and size: only the content differs) are not kept from the
    cache: the last 4 KiB before the settled point are compared."""
    store = tmp_path / "reviews.csv"
    for number in range(3):
        append_review(store, _review(number))
    assert list(read_reviews(store)["reader"]) == ["Dr 0", "Dr 1", "Dr 2"]
    data = store.read_bytes()
    changed = data.replace(b"Dr 2", b"Dr 9")
    assert len(changed) == len(data)
    store.write_bytes(changed + _line(_review(3)))  # rewritten in place, then a save
    assert list(read_reviews(store)["reader"]) == ["Dr 0", "Dr 1", "Dr 9", "Dr 0"]


def test_many_saves_join_the_base_in_one_chunk_without_a_whole_parse(tmp_path, monkeypatch):
    """Past the rows a tail holds, the rows settled since join the base: no whole parse, the same frame, and the
    base's columns one chunk each (pyarrow's take on a chunked column first copies the chunks together)."""
    monkeypatch.setattr(_store_read, "_MAX_RECENT_ROWS", 4)
    store = tmp_path / "reviews.csv"
    append_review(store, _review(0))
    ids = [read_reviews(store)["review_id"].iloc[0]]
    wholes: list[bytes] = []
    real = _store_read._whole
    monkeypatch.setattr(_store_read, "_whole", lambda path, data, stamp: wholes.append(data) or real(path, data, stamp))
    keys = set()
    for number in range(1, 15):
        review = _review(number)
        append_review(store, review)
        ids.append(review.review_id)
        assert list(read_reviews(store)["review_id"]) == ids
        parts = reviews.read_review_parts(store)
        keys.add(parts.base_key)
        assert len(parts.tail) <= 4
        assert all(not isinstance(pa.array(parts.base[column].array), pa.ChunkedArray)  # one chunk: a plain array
                   or pa.array(parts.base[column].array).num_chunks == 1 for column in parts.base.columns)
    assert not wholes and len(keys) == 3  # joined after rows 5 and 10 (the first read's base: the third)
    pd.testing.assert_frame_equal(read_reviews(store), _whole_parse(store))


def test_a_save_cut_inside_a_character_leaves_the_store_readable(tmp_path):
    """A row cut short inside a multi-byte character (a save still being written, or cut short by a crash) is a
    partial row like any other when the store is read: the rows before it read and it is named as skipped (before,
    the whole store failed as "not UTF-8"); once the rest is written, the row reads."""
    store = tmp_path / "reviews.csv"
    append_review(store, _review(0))
    line = _line(_review(1, "Vorhofflimmern, Überleitung"))
    cut = line.index("Ü".encode()) + 1  # after the first of the character's two bytes
    _append_bytes(store, line[:cut])
    frame = read_reviews(store)
    assert len(frame) == 1 and len(frame.attrs["skipped"]) == 1 and "line 3: " in frame.attrs["skipped"][0]
    store.write_bytes(codecs.BOM_UTF8 + store.read_bytes())  # the same with a byte-order mark
    _store_read._cache.clear()
    frame = read_reviews(store)
    assert len(frame) == 1 and len(frame.attrs["skipped"]) == 1 and "line 3: " in frame.attrs["skipped"][0]
    _append_bytes(store, line[cut:])
    frame = read_reviews(store)
    assert list(frame["comment"]) == ["", "Vorhofflimmern, Überleitung"] and not frame.attrs["skipped"]


def test_a_save_after_one_cut_inside_a_character_is_written(tmp_path):
    """After a save cut short inside a character (a crash), the next save drops the character's first bytes (it was
    never written whole), closes the partial row and appends; before, every later save was refused as "not UTF-8"."""
    store = tmp_path / "reviews.csv"
    first = _review(0)
    append_review(store, first)
    line = _line(_review(1, "Überleitung"))
    cut = line.index("Ü".encode()) + 1
    _append_bytes(store, line[:cut])
    later = _review(2, "saved after the crash")
    append_review(store, later)
    frame = read_reviews(store)
    assert list(frame["review_id"]) == [first.review_id, later.review_id]
    assert len(frame.attrs["skipped"]) == 1 and "line 3: " in frame.attrs["skipped"][0]
    assert line[:cut - 1] in store.read_bytes()  # the partial row stays, less the unfinished character


def test_only_an_unfinished_last_character_is_found():
    from ecgreview.review._store_csv import _unfinished_character

    for character in ("Ü", "€", "🫀"):  # two, three and four bytes
        encoded = character.encode()
        for kept in range(1, len(encoded)):
            assert _unfinished_character(b"row," + encoded[:kept]) == kept
        assert _unfinished_character(b"row," + encoded) == 0
    assert _unfinished_character(b"row,\n") == 0 and _unfinished_character(b"") == 0
