"""Review store v2: 0.1 stores upgrade without loss, other schemas read whole, strict UTF-8, 0640, O(1) append."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from ecgreview.errors import ReviewStoreError
from ecgreview.record import CLASSES
from ecgreview.review import _store_csv as _review_csv
from ecgreview.review import _store_read
from ecgreview.review import store as reviews
from ecgreview.review.store import REVIEW_COLUMNS, SCHEMA_VERSION, Review, append_review, read_reviews
from tests.review.v01_fixture import (
    V01_COLUMNS,
    _reproduced_writer,
    fixture_reviews,
    load_v01_store,
    write_v01_store,
)

NEW_COLUMNS = [column for column in REVIEW_COLUMNS if column not in V01_COLUMNS]
CALLS = dict(zip(CLASSES, ["present", "absent", "uncertain", "absent", "present", "absent"]))


def _old_frame(path: Path):
    """The store as the 0.1 code reads it (or, without git, as written: the fixture's own rows)."""
    old = load_v01_store()
    if old is None:
        pytest.skip("git history with the 0.1 store is not available")
    return old.read_reviews(path, strict=True)


def two_step_pair(sha256: str = "e" * 64) -> tuple[Review, Review]:
    unaided = Review.create(reader="Dr Müller", reader_calls=CALLS, source_sha256=sha256, opinions_seen=False,
                            reading_mode="unaided", confidence=3, reading_time_s=41.25)
    aided = Review.create(reader="Dr Müller", reader_calls=CALLS | {"SB": "present"}, source_sha256=sha256,
                          opinions_seen=True, reading_mode="aided", resolves_review_ids=[unaided.review_id],
                          confidence=4, reading_time_s=12.5, probabilities=[0.2] * 6)
    return unaided, aided


# -- the 0.1 store -------------------------------------------------------------------------------------------------

def test_v01_store_reads_whole_with_every_character(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    write_v01_store(store)
    old = _old_frame(store)
    before = store.read_bytes()
    new = read_reviews(store, strict=True)
    assert store.read_bytes() == before  # reading never rewrites
    assert list(new.columns) == list(REVIEW_COLUMNS) and len(new) == len(old) == len(fixture_reviews())
    assert new[list(V01_COLUMNS)].equals(old[list(V01_COLUMNS)])
    assert (new[NEW_COLUMNS] == "").all().all()
    assert new["reader"].tolist()[0] == "Dr Müller" and new["comment"][0].endswith("心电图 ✓")


def test_v01_store_is_upgraded_on_the_first_append_with_a_backup_and_no_loss(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    write_v01_store(store)
    old, before = _old_frame(store), store.read_bytes()
    unaided, aided = two_step_pair()
    append_review(store, unaided)
    append_review(store, aided)  # the second append finds today's header: no second upgrade
    backups = list(tmp_path.glob("reviews.csv.before-schema-upgrade-*.bak"))
    assert len(backups) == 1 and backups[0].read_bytes() == before
    assert store.read_text(encoding="utf-8").split("\n", 1)[0] == ",".join(REVIEW_COLUMNS)
    frame = read_reviews(store, strict=True)
    assert frame.iloc[:len(old)][list(V01_COLUMNS)].equals(old[list(V01_COLUMNS)])
    assert (frame.iloc[:len(old)][NEW_COLUMNS] == "").all().all()
    assert frame.iloc[-2].to_dict() == unaided.to_row() and frame.iloc[-1].to_dict() == aided.to_row()
    assert frame["schema_version"].tolist() == [""] * len(old) + [str(SCHEMA_VERSION)] * 2
    # Every 0.1 row turns back into a Review (schema 1) equal to the one the 0.1 app saved.
    for index, keywords in enumerate(fixture_reviews()):
        review = Review.from_row(frame.iloc[index])
        assert review.schema_version == 1 and review.review_id == keywords["review_id"]
        assert review.comment == keywords.get("comment", "") and review.reader == keywords["reader"]
    assert os.stat(backups[0]).st_mode & 0o777 == 0o640


def test_v01_store_with_a_partial_last_row_upgrades_and_keeps_it(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    write_v01_store(store)
    complete = store.read_bytes()
    cut = complete + complete.split(b"\n", 1)[1][:200]  # a writer killed mid-row (inside the quoted comment)
    store.write_bytes(cut)
    skipped_before = read_reviews(store).attrs["skipped"]
    assert len(skipped_before) == 1
    review = Review.create(reader="Dr New", reader_calls=CALLS, source_sha256="f" * 64, opinions_seen=True,
                           confidence=5)
    append_review(store, review)
    frame = read_reviews(store)
    assert len(frame.attrs["skipped"]) == 1  # the partial row stays a skipped row, never merges
    assert frame.iloc[-1].to_dict() == review.to_row()
    assert len(frame) == len(fixture_reviews()) + 1
    assert cut.split(b"\n", 1)[1][-150:].decode("utf-8", errors="ignore")[10:] in store.read_text(encoding="utf-8")


def test_reproduced_writer_matches_the_git_blob(tmp_path: Path) -> None:
    if load_v01_store() is None:
        pytest.skip("git history with the 0.1 store is not available")
    write_v01_store(tmp_path / "git.csv")
    writer = _reproduced_writer()
    for keywords in fixture_reviews():
        writer(tmp_path / "reproduced.csv", keywords)
    assert (tmp_path / "git.csv").read_bytes() == (tmp_path / "reproduced.csv").read_bytes()


# -- a newer schema ------------------------------------------------------------------------------------------------

def test_a_store_with_a_column_this_version_does_not_know_reads_and_appends(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    first = Review.create(reader="Dr A", reader_calls=CALLS, source_sha256="a" * 64, opinions_seen=True)
    append_review(store, first)
    header, row = store.read_text(encoding="utf-8").split("\n")[:2]
    store.write_text(f"{header},future_column\n{row},x\n", encoding="utf-8")  # as a newer version wrote it
    frame = read_reviews(store, strict=True)
    assert list(frame.columns) == [*REVIEW_COLUMNS, "future_column"] and frame["future_column"].tolist() == ["x"]
    second = Review.create(reader="Dr B", reader_calls=CALLS, source_sha256="a" * 64, opinions_seen=True)
    append_review(store, second)
    assert not list(tmp_path.glob("*.bak"))  # nothing to upgrade: the row is written in the file's order
    frame = read_reviews(store, strict=True)
    assert frame["future_column"].tolist() == ["x", ""]
    assert frame.iloc[1][list(REVIEW_COLUMNS)].to_dict() == second.to_row()


# -- encoding and permissions --------------------------------------------------------------------------------------

def test_a_windows_1252_resave_fails_naming_the_line_instead_of_replacing_characters(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    for reader in ("Dr A", "Dr B", "Dr Müller"):
        append_review(store, Review.create(reader=reader, reader_calls=CALLS, source_sha256="a" * 64,
                                           opinions_seen=True))
    store.write_bytes(store.read_text(encoding="utf-8").encode("cp1252"))  # a spreadsheet's re-save
    column = store.read_bytes().split(b"\n")[3].index(b"\xfc") + 1
    with pytest.raises(ReviewStoreError, match=rf"reviews\.csv: line 4, byte {column}: not UTF-8 \(byte 0xfc\)"):
        read_reviews(store)
    before = store.read_bytes()
    with pytest.raises(ReviewStoreError, match=r"not UTF-8 \(byte 0xfc\).*nothing was written"):
        append_review(store, Review.create(reader="Dr C", reader_calls=CALLS, source_sha256="a" * 64,
                                           opinions_seen=True))
    assert store.read_bytes() == before


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_a_new_store_is_created_0640_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    store = tmp_path / "reviews.csv"
    previous = os.umask(umask)
    try:
        append_review(store, Review.create(reader="Dr A", reader_calls=CALLS, source_sha256="a" * 64,
                                           opinions_seen=True))
    finally:
        os.umask(previous)
    assert os.stat(store).st_mode & 0o777 == 0o640


# -- cost, cache, Review.from_row ---------------------------------------------------------------------------------

def test_append_reads_only_the_header_and_the_tail(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    review = Review.create(reader="Dr A", reader_calls=CALLS, source_sha256="a" * 64, opinions_seen=True,
                           comment="x" * 1000)
    append_review(store, review)
    header, row = store.read_bytes().split(b"\n", 1)
    # A body that no reader can parse (not UTF-8) far before the tail: an append never looks at it.
    body = row.replace(b"x" * 1000, b"\xff" * 1000) * 300 + row * 300
    store.write_bytes(header + b"\n" + body)
    later = Review.create(reader="Dr B", reader_calls=CALLS, source_sha256="a" * 64, opinions_seen=True)
    append_review(store, later)
    assert store.read_bytes().endswith(row + _review_csv._csv_line(
        [reviews._guard(c, v) for c, v in later.to_row().items()]).encode())
    with pytest.raises(ReviewStoreError, match="line 2, byte .*: not UTF-8"):
        read_reviews(store)


def test_reads_parse_once_per_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "reviews.csv"
    append_review(store, Review.create(reader="Dr A", reader_calls=CALLS, source_sha256="a" * 64,
                                       opinions_seen=True))
    parses = []
    real = _store_read._parse
    monkeypatch.setattr(_store_read, "_parse", lambda store, data, **kw: parses.append(data) or real(store, data, **kw))
    first = read_reviews(store)
    first.loc[0, "reader"] = "changed by a caller"  # a caller's change never reaches the cache
    assert read_reviews(store)["reader"].tolist() == ["Dr A"] and len(parses) == 1
    append_review(store, Review.create(reader="Dr B", reader_calls=CALLS, source_sha256="a" * 64,
                                       opinions_seen=True))
    assert read_reviews(store)["reader"].tolist() == ["Dr A", "Dr B"] and len(parses) == 2
    header, *rows = store.read_bytes().splitlines(keepends=True)
    assert parses[1] == header + rows[-1]  # the second read parsed only what was appended


def test_from_row_round_trips_every_field(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    unaided, aided = two_step_pair()
    full = Review.create(
        reader="=Dr Evil", reader_calls=CALLS, source_sha256="b" * 64, opinions_seen=True, role="adjudicator",
        resolves_review_ids=[str(uuid.uuid4())], probabilities=[0.5, None, 0.9, 0.1, 0.2, 0.3],
        model_name="m", model_sha256="c" * 64, model_git_blob_sha1="d" * 40, model_status="verified",
        device_calls={"AF": "definite"}, device_statements=("=1+1", "Sinus rhythm"), statement_map_version="v",
        phi_audit="clean", comment='multi\nline "quoted"', provenance={"a": [1, None]}, session_id="-s",
        thresholds=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6))
    for review in (unaided, aided, full):
        append_review(store, review)
    frame = read_reviews(store)
    for index, review in enumerate((unaided, aided, full)):
        assert Review.from_row(frame.iloc[index]) == review
    with pytest.raises(ValueError, match="confidence must be a number or empty"):
        Review.from_row(frame.iloc[0].to_dict() | {"confidence": "high"})


# -- two-step reading (issue 15) -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "match"), [
    ({"reading_mode": "unaided", "opinions_seen": True}, "'unaided' needs opinions_seen False"),
    ({"reading_mode": "aided", "opinions_seen": False}, "'aided' needs opinions_seen True and resolves_review_ids"),
    ({"reading_mode": "aided", "resolves_review_ids": [str(uuid.uuid4())] * 2}, "'aided' needs"),
    ({"confidence": 6}, "confidence must be one of 1, 2, 3, 4, 5 or None"),
    ({"confidence": True}, "confidence must be one of"),
    ({"confidence": 2.5}, "confidence must be one of"),
    ({"reading_time_s": -1}, "reading_time_s must be a finite number of seconds >= 0"),
    ({"reading_time_s": float("inf")}, "reading_time_s must be a finite number"),
    ({"reading_mode": "blinded", "resolves_review_ids": [str(uuid.uuid4())]}, "'adjudication' or 'aided'"),
])
def test_two_step_fields_are_validated(changes: dict[str, object], match: str) -> None:
    keywords: dict[str, object] = {"reader": "Dr A", "reader_calls": CALLS, "source_sha256": "a" * 64,
                                   "opinions_seen": True}
    with pytest.raises(ValueError, match=match):
        Review.create(**(keywords | changes))  # type: ignore[arg-type]


def test_an_aided_row_of_a_crossover_names_no_unaided_row() -> None:
    review = Review.create(reader="Dr A", reader_calls=CALLS, source_sha256="a" * 64, opinions_seen=True,
                           reading_mode="aided", confidence=3, session_id="study:x:1")
    assert review.resolves_review_ids == () and review.reading_mode == "aided"


def test_two_step_rows_are_stored_with_mode_confidence_and_time(tmp_path: Path) -> None:
    store = tmp_path / "reviews.csv"
    unaided, aided = two_step_pair()
    append_review(store, unaided)
    append_review(store, aided)
    frame = read_reviews(store)
    assert frame[["reading_mode", "opinions_seen", "confidence", "reading_time_s"]].values.tolist() == [
        ["unaided", "false", "3", "41.25"], ["aided", "true", "4", "12.5"]]
    assert frame["resolves_review_ids"].tolist() == ["", unaided.review_id]
    assert frame["dnn_call_AF"].tolist() == ["", "absent"]  # nothing of the DNN in the unaided row


def test_without_a_row_end_in_the_tail_the_whole_body_is_scanned(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import csv
    import io

    store = tmp_path / "reviews.csv"
    rows = [Review.create(reader=f"Dr {index}", reader_calls=CALLS, source_sha256="a" * 64, opinions_seen=True,
                          comment=f'row {index}, "quoted"\nsecond line') for index in range(5)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")  # another writer: provenance {} left unquoted
    writer.writerow(REVIEW_COLUMNS)
    writer.writerows([list(review.to_row().values()) for review in rows])
    complete = buffer.getvalue().encode("utf-8")
    assert b'}"\n' not in complete
    monkeypatch.setattr(_review_csv, "_TAIL_BYTES", 64)  # the tail holds no row end
    killed = rows[0].to_row() | {"review_id": str(uuid.uuid4())}
    partial = _review_csv._csv_line(list(killed.values())).encode("utf-8")
    for cut in (10, partial.index(b'"row') + 5, partial.index(b"second") + 3):
        store.write_bytes(complete + partial[:cut])
        later = Review.create(reader="Dr Later", reader_calls=CALLS, source_sha256="a" * 64, opinions_seen=True)
        append_review(store, later)
        frame = read_reviews(store)
        assert frame["reader"].tolist() == [*(f"Dr {index}" for index in range(5)), "Dr Later"], cut
        assert len(frame.attrs["skipped"]) == 1
