"""The regression corpus of device statements (tests/device/statement_corpus.csv, issue #18).

Each row is one file's statements with the calls a clinician reads in them, written by hand;
every row runs here. The corpus must keep six languages and every category of the grammar.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ecgreview.device.statements import map_statements
from ecgreview.record import CLASSES

CORPUS = Path(__file__).with_name("statement_corpus.csv")
SEPARATOR = " | "
LANGUAGES = {"en", "de", "it", "pt", "es", "fr"}
CATEGORIES = {"plain", "negation", "coordination", "history", "ended", "comparison", "possible", "look-alike"}


def _rows() -> list[dict[str, str]]:
    lines = [line for line in CORPUS.read_text("utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


ROWS = _rows()


def test_corpus_is_large_and_covers_six_languages_and_every_category():
    assert len(ROWS) >= 150
    assert {row["language"] for row in ROWS} >= LANGUAGES
    assert {row["category"] for row in ROWS} == CATEGORIES
    for language in LANGUAGES:  # each language has negated and historical statements
        read_as = {word for row in ROWS if row["language"] == language for word in row["read_as"].split()}
        assert read_as == {"negated", "history"}, language
    assert all(row[name] in ("", "definite", "possible", "excluded") for row in ROWS for name in CLASSES)
    assert all(row["source"] for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[f"{n:03d}-{row['language']}-{row['statement'][:48]}" for n, row in
                                           enumerate(ROWS, start=2)])
def test_corpus_statement_is_read_as_expected(row):
    interpretation = map_statements(row["statement"].split(SEPARATOR))
    calls = {name: interpretation.calls[name].strength for name in CLASSES}
    expected = {name: row[name] or "absent" for name in CLASSES}
    evidence = [line for call in interpretation.calls.values() for line in call.evidence]
    assert calls == expected, evidence
    read_as = set(row["read_as"].split())
    assert bool(interpretation.negated) == ("negated" in read_as), interpretation.negated
    assert bool(interpretation.historical) == ("history" in read_as), interpretation.historical


def test_every_statement_of_the_shared_corpus_is_in_the_regression_corpus(corpus_dir):
    from ecgreview.errors import EcgReviewError
    from ecgreview.io import list_case_files, read_ecg

    found = set()
    for path in list_case_files(corpus_dir):
        try:
            found.update(read_ecg(path).statements)
        except EcgReviewError:
            continue  # the corpus keeps a broken file and headers without their signal on purpose
    assert found, "the shared corpus should carry device statements"
    listed = {statement for row in ROWS for statement in row["statement"].split(SEPARATOR)}
    assert found <= listed, sorted(found - listed)


def test_remembered_readings_equal_fresh_ones_in_any_order():
    """The per-table memory of statement readings (_grammar.remembered_reading) changes no reading: every corpus
    file read with a cold memory, then again in reverse order with it warm (the qualifier state included), is read
    the same."""
    from ecgreview.device import _grammar

    files = [row["statement"].split(SEPARATOR) for row in ROWS]
    _grammar._READINGS.clear()
    cold = [map_statements(texts) for texts in files]
    assert _grammar._READINGS, "nothing was remembered: the memory is not used"
    warm = [map_statements(texts) for texts in reversed(files)][::-1]
    assert warm == cold


def test_remembered_readings_are_bounded(monkeypatch):
    from ecgreview.device import _grammar

    monkeypatch.setattr(_grammar, "_READINGS_PER_TABLE", 8)
    _grammar._READINGS.clear()
    for number in range(50):
        map_statements([f"Sinus rhythm {number}"])
    assert all(len(readings) <= 8 for _, readings in _grammar._READINGS.values())
