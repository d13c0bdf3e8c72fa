"""The statement mapping table: loading and validating ``statement_map.csv``.

The table format (columns, version line, normalised matching) is described in
:mod:`ecgreview.device.statements`, which uses it and re-exports the public names here.
"""

from __future__ import annotations

import csv
import functools
import os
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources

from ecgreview.errors import ConfigError
from ecgreview.record import CLASSES

__all__ = ["NEGATIVE_STRENGTHS", "NOT_AVAILABLE", "POSITIVE_STRENGTHS", "STRENGTHS", "TABLE_COLUMNS", "StatementRow",
           "StatementTable", "load_statement_table", "normalize_statement", "positive_strengths"]


#: Columns of the statement table, in order.
TABLE_COLUMNS: tuple[str, ...] = ("pattern", "class", "strength", "rhythm", "language", "note")
#: The device's call for every class of a file that carries no statements: the device gave no
#: interpretation, which is never "absent". Stored in the review CSV and shown as such.
NOT_AVAILABLE = "not available"
#: Strengths of a call, strongest first; the table's rows use the first three.
STRENGTHS: tuple[str, ...] = ("definite", "possible", "excluded", "absent", NOT_AVAILABLE)
#: Strengths that are the device saying a class is present (``possible`` included) or absent.
POSITIVE_STRENGTHS: tuple[str, ...] = STRENGTHS[:2]
NEGATIVE_STRENGTHS: tuple[str, ...] = STRENGTHS[2:4]


def positive_strengths(*, possible_counts_as_positive: bool = True) -> tuple[str, ...]:
    """The strengths that count as a positive device call in an evaluation (``possible`` by default)."""
    return POSITIVE_STRENGTHS if possible_counts_as_positive else POSITIVE_STRENGTHS[:1]
_RHYTHMS = ("", "sinus", "non-sinus")

# Clause ends: , ; ( ) [ ] { }, a colon not between digits ("2:1", "11:35"), a full stop after a word
# of three letters or more ("fibrillation. Now"; not "V.a.", "Z.n.", "1.").
_CLAUSE_BREAK = re.compile(r"[,;()\[\]{}]|(?<!\d):|:(?!\d)|(?<=[^\W\d_]{3})\.(?!\w)")
_TOKEN = re.compile(r"[^\W_]+")


def normalize_statement(text: str) -> str:
    """Accent-free, case-folded tokens of ``text`` joined by single spaces ("AV-Block I°" -> "av block i")."""
    return " ".join(_tokenize(text)[0])


def _tokenize(text: str) -> tuple[list[str], list[int]]:
    """Tokens of ``text`` and the clause number of each."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    tokens: list[str] = []
    clauses: list[int] = []
    for number, clause in enumerate(_CLAUSE_BREAK.split(plain)):
        found = _TOKEN.findall(clause)
        tokens.extend(found)
        clauses.extend([number] * len(found))
    return tokens, clauses


@dataclass(frozen=True)
class StatementRow:
    """One row of the statement table (``class_name`` None for a known, classless row)."""

    pattern: str
    class_name: str | None
    strength: str | None
    rhythm: str
    language: str
    note: str
    line: int
    regex: re.Pattern[str] = field(repr=False, compare=False)


@dataclass(frozen=True)
class StatementTable:
    """The parsed mapping table: its ``version``, ``rows`` and where it came from."""

    version: str
    rows: tuple[StatementRow, ...]
    source: str


@functools.lru_cache(maxsize=1)
def _packaged_table() -> StatementTable:
    text = resources.files("ecgreview").joinpath("data/statement_map.csv").read_text("utf-8")
    return _parse_table(text, "statement_map.csv")


def load_statement_table(path: str | os.PathLike[str] | None = None) -> StatementTable:
    """Read and validate a statement table (default: the packaged ``statement_map.csv``).

    Raises
    ------
    ConfigError
        The file cannot be read, or a line is malformed; the message names the line.
    """
    if path is None:
        return _packaged_table()
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read statement table: {exc}") from exc
    return _parse_table(text, os.fspath(path))


def _parse_table(text: str, source: str) -> StatementTable:
    lines = text.splitlines()
    version = re.fullmatch(r"#\s*version:\s*(\S.*?)\s*", lines[0]) if lines else None
    if version is None:
        raise ConfigError(source, "line 1: must be '# version: <version>'")
    rows: list[StatementRow] = []
    seen: dict[str, int] = {}
    header_seen = False
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [value.strip() for value in next(csv.reader([line]))]
        if not header_seen:
            if tuple(fields) != TABLE_COLUMNS:
                raise ConfigError(source, f"line {number}: header must be {','.join(TABLE_COLUMNS)}")
            header_seen = True
            continue
        row = _parse_row(fields, number, source)
        key = row.pattern if row.pattern.startswith("re:") else normalize_statement(row.pattern)
        if key in seen:
            raise ConfigError(source, f"line {number}: pattern {row.pattern!r} duplicates line {seen[key]}")
        seen[key] = number
        rows.append(row)
    if not rows:
        raise ConfigError(source, "no mapping rows")
    return StatementTable(version=version.group(1), rows=tuple(rows), source=source)


def _parse_row(fields: list[str], line: int, source: str) -> StatementRow:
    def fail(reason: str) -> ConfigError:
        return ConfigError(source, f"line {line}: {reason}")

    if len(fields) != len(TABLE_COLUMNS):
        raise fail(f"expected {len(TABLE_COLUMNS)} fields, found {len(fields)}")
    pattern, class_text, strength, rhythm, language, note = fields
    classes = {name.casefold(): name for name in CLASSES}
    if class_text != "-" and class_text.casefold() not in classes:
        raise fail(f"unknown class {class_text!r} (allowed: {', '.join(CLASSES)}, -)")
    class_name = None if class_text == "-" else classes[class_text.casefold()]
    allowed = ("-", "") if class_name is None else STRENGTHS[:3]
    if strength not in allowed:
        choices = ", ".join(choice for choice in allowed if choice)
        raise fail(f"strength {strength!r} not allowed for class {class_text!r} (allowed: {choices})")
    if rhythm not in _RHYTHMS:
        raise fail(f"unknown rhythm {rhythm!r} (allowed: sinus, non-sinus, empty)")
    if pattern.startswith("re:"):
        try:
            regex = re.compile(pattern[3:])
        except re.error as exc:
            raise fail(f"invalid regular expression {pattern[3:]!r}: {exc}") from exc
    else:
        phrase = normalize_statement(pattern)
        if not phrase:
            raise fail("empty pattern")
        regex = re.compile(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])")
    return StatementRow(pattern, class_name, strength if class_name else None, rhythm, language, note, line, regex)

