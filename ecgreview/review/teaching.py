"""Teaching sessions: a list of cases with a reference answer per class, read by students.

A session is a CSV file in ``Settings.home/sessions`` (``<session_id>.csv``) with the
columns :data:`SESSION_COLUMNS`, written with the formula guard (a file name such as ``=x.dcm``
is written ``'=x.dcm`` and read back as it was); a reference is ``present``, ``absent`` or empty
(not scored). Teachers build references from consensus reviews
(:func:`reference_from_readings`: the one consensus rule of the cohort study,
:func:`ecgreview.review.consensus.consensus_status`) or imported labels (:func:`reference_from_labels`).
Students' answers are ordinary rows of the review store with ``role="student"``,
``reading_mode="teaching"`` and the ``session_id``; the scores here are computed from
those rows, so a session can be resumed and scored at any time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecgreview._files import write_atomically
from ecgreview.config import Settings
from ecgreview.errors import ConfigError
from ecgreview.record import CLASSES
from ecgreview.review.consensus import DECIDED, consensus_status
from ecgreview.review.store import Review, latest_reviews
from ecgreview.security.spreadsheet import csv_text, unguard_text

__all__ = [
    "SESSION_COLUMNS", "TeachingCase", "TeachingSession", "comparison_rows", "create_session", "list_sessions", "load_session",
    "mark_answers", "next_case", "reference_from_labels", "reference_from_readings", "score_student",
    "sessions_dir", "student_answers", "teacher_table",
]

SESSION_COLUMNS: tuple[str, ...] = ("source_sha256", "source_name", *(f"reference_{name}" for name in CLASSES))
REFERENCE_VALUES: tuple[str, ...] = ("present", "absent", "")


@dataclass(frozen=True)
class TeachingCase:
    """One case of a session: the ECG's SHA-256 and name, and the reference per class."""

    source_sha256: str
    source_name: str
    reference: dict[str, str]


@dataclass(frozen=True)
class TeachingSession:
    """A teaching session: its id (the file's stem) and its cases in order."""

    session_id: str
    cases: tuple[TeachingCase, ...]


def sessions_dir(settings: Settings) -> Path:
    """Where session files live: ``home/sessions``."""
    return settings.home / "sessions"


def _session_id(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-")
    if not slug:
        raise ValueError(f"name must contain letters or digits; got {name!r}")
    return slug[:80]


def create_session(directory: str | Path, name: str, cases: Sequence[TeachingCase]) -> TeachingSession:
    """Write a new session file; refuses an existing name or an empty case list.

    Returns
    -------
    TeachingSession
        As read back from the file.
    """
    if not cases:
        raise ValueError("cases must hold at least one case")
    session_id = _session_id(name)
    path = Path(directory) / f"{session_id}.csv"
    if path.exists():
        raise ValueError(f"a session named {session_id!r} already exists ({path})")
    rows = []
    for case in cases:
        values = [case.reference.get(name, "") for name in CLASSES]
        _check_reference(path, values)
        rows.append(dict(zip(SESSION_COLUMNS, (case.source_sha256, case.source_name, *values))))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, csv_text(rows, columns=SESSION_COLUMNS).encode("utf-8"))  # file names formula-guarded
    return load_session(path)


def _check_reference(path: Path, values: Sequence[str]) -> None:
    bad = [value for value in values if value not in REFERENCE_VALUES]
    if bad:
        raise ConfigError(path, f"reference values must be 'present', 'absent' or empty; got {bad[0]!r}")


def load_session(path: str | Path) -> TeachingSession:
    """Read and check a session file.

    Raises
    ------
    ConfigError
        Unreadable file, wrong header, a bad reference value or SHA-256.
    """
    path = Path(path)
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read the session file: {exc}") from exc
    if not rows or tuple(rows[0]) != SESSION_COLUMNS:
        raise ConfigError(path, f"header must be {','.join(SESSION_COLUMNS)}")
    cases = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(SESSION_COLUMNS) or not re.fullmatch(r"[0-9a-f]{64}", row[0].strip().lower()):
            raise ConfigError(path, f"line {number}: expected {len(SESSION_COLUMNS)} fields starting with a SHA-256")
        values = [value.strip().lower() for value in row[2:]]
        _check_reference(path, values)
        cases.append(TeachingCase(row[0].strip().lower(), unguard_text(row[1]), dict(zip(CLASSES, values))))
    if not cases:
        raise ConfigError(path, "the session has no cases")
    return TeachingSession(path.stem, tuple(cases))


def list_sessions(directory: str | Path) -> list[Path]:
    """Session files in ``directory``, by name."""
    folder = Path(directory)
    return sorted(folder.glob("*.csv")) if folder.is_dir() else []


def reference_from_labels(labels: Mapping[str, bool]) -> dict[str, str]:
    """A reference from imported labels (e.g. ``EcgRecord.reference_labels``); missing classes are empty."""
    return {name: ("" if name not in labels else "present" if labels[name] else "absent") for name in CLASSES}


def reference_from_readings(readings: pd.DataFrame) -> dict[str, str]:
    """A consensus reference from one case's latest readings (:func:`ecgreview.review.protocol.latest_readings`).

    The consensus of :func:`ecgreview.review.consensus.consensus_status` (the cohort study's rule):
    the latest adjudicator's ``present``/``absent`` where there is one, else the strict
    majority of the readers; empty (not scored) where there is no consensus (tie,
    uncertain, not read).
    """
    if readings.empty:
        return dict.fromkeys(CLASSES, "")
    if readings["source_sha256"].nunique() != 1:
        raise ValueError(f"readings must be of one case; got {readings['source_sha256'].nunique()} cases")
    status = consensus_status(readings).iloc[0]
    return {name: status[name] if status[name] in DECIDED else "" for name in CLASSES}


def student_answers(reviews: pd.DataFrame, session_id: str, student: str | None = None) -> pd.DataFrame:
    """The latest teaching answer per student per case of ``session_id`` (of one ``student`` when given)."""
    frame = reviews[(reviews["role"] == "student") & (reviews["session_id"] == session_id)]
    if student is not None:
        frame = frame[frame["reader"] == student.strip()]
    return latest_reviews(frame)


def next_case(session: TeachingSession, reviews: pd.DataFrame, student: str) -> TeachingCase | None:
    """The student's first unanswered case of the session, or None when all are answered."""
    answered = set(student_answers(reviews, session.session_id, student)["source_sha256"])
    return next((case for case in session.cases if case.source_sha256 not in answered), None)


def mark_answers(case: TeachingCase, answers: Mapping[str, str]) -> dict[str, bool | None]:
    """Per class: whether the answer equals the reference (None where the reference is empty).

    ``uncertain`` is never right where a reference exists.
    """
    return {name: None if not case.reference[name] else answers.get(name) == case.reference[name] for name in CLASSES}


def _marks(session: TeachingSession, answers: pd.DataFrame) -> pd.DataFrame:
    """One row per (student, case, class) with ``correct`` (bool) for scored classes."""
    cases = {case.source_sha256: case for case in session.cases}
    records = []
    for row in answers.to_dict("records"):
        case = cases.get(row["source_sha256"])
        if case is None:
            continue
        answer = Review.from_row(row)
        marks = mark_answers(case, answer.reader_calls)
        records += [{"student": answer.reader, "case": case.source_sha256, "class": name, "correct": mark}
                    for name, mark in marks.items() if mark is not None]
    return pd.DataFrame(records, columns=["student", "case", "class", "correct"])


def score_student(session: TeachingSession, reviews: pd.DataFrame, student: str) -> pd.DataFrame:
    """Per class: correct answers, scored answers and the fraction correct (NaN where none scored).

    Returns
    -------
    pandas.DataFrame
        Index: class name plus ``"all"``; columns ``correct``, ``scored``, ``score``.
    """
    marks = _marks(session, student_answers(reviews, session.session_id, student))
    table = pd.DataFrame(index=pd.Index([*CLASSES, "all"], name="class"), columns=["correct", "scored"], data=0)
    for name, group in marks.groupby("class"):
        table.loc[name] = [int(group["correct"].sum()), len(group)]
    table.loc["all"] = [int(marks["correct"].sum()), len(marks)]
    table["score"] = table["correct"] / table["scored"].where(table["scored"] > 0)
    return table


def teacher_table(session: TeachingSession, reviews: pd.DataFrame) -> pd.DataFrame:
    """One row per student: cases answered, the fraction correct per class and overall (NaN: nothing scored)."""
    answers = student_answers(reviews, session.session_id)
    marks = _marks(session, answers)
    rows = []
    for student in sorted(set(answers["reader"])):
        mine = marks[marks["student"] == student]
        row: dict[str, object] = {"student": student,
                                  "answered": int((answers["reader"] == student).sum()),
                                  "of": len(session.cases)}
        for name in CLASSES:
            scored = mine[mine["class"] == name]["correct"]
            row[name] = float(scored.mean()) if len(scored) else float("nan")
        row["all"] = float(mine["correct"].mean()) if len(mine) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=["student", "answered", "of", *CLASSES, "all"])


def comparison_rows(
    case: TeachingCase, answers: Mapping[str, str], *, dnn_calls: Mapping[str, bool] | None,
    device_strengths: Mapping[str, str],
) -> list[dict[str, str]]:
    """Per class, side by side: the student's answer marked right/wrong, the reference, the DNN, the device.

    Parameters
    ----------
    dnn_calls : mapping of str to bool, optional
        ``p > threshold`` per class; None without a model.
    device_strengths : mapping of str to str
        The device's call per class (``definite``, ``possible``, ``excluded``, ``absent``, or
        :data:`~ecgreview.device.statements.NOT_AVAILABLE` for a file without statements).
    """
    marks = mark_answers(case, answers)
    rows = []
    for name in CLASSES:
        mark = marks[name]
        rows.append({
            "Class": name, "Your answer": answers.get(name, ""),
            "Mark": "—" if mark is None else ("✓ right" if mark else "✗ wrong"),
            "Reference": case.reference[name] or "not scored",
            "DNN": "—" if dnn_calls is None else ("present" if dnn_calls[name] else "absent"),
            "Device": device_strengths.get(name, "—"),
        })
    return rows
