"""A reader-study design: which reader reads which case, in which order, aided or not.

A coordinator picks the cases (by ``source_sha256``) and the readers;
:func:`create_design` draws every reader's own case order from
``numpy.random.default_rng(seed)`` and records the seed and the orders, so the design
is reproducible from its inputs and seed and never depends on when it is loaded.

Two layouts:

* **two-step** (default): one session; every case is read ``unaided`` then, after
  saving, ``aided`` (the DNN and the device shown) in one sitting: mode ``two_step``.
* **crossover**: the cases are split at random into halves A and B; the readers are
  shuffled and alternately put in group 1 (A aided and B unaided in session 1, swapped
  in session 2) or group 2 (the reverse). Session 2 opens ``washout_days`` after the
  reader's last session-1 reading. Modes ``aided`` and ``unaided``.

Random draws, in this order: the A/B split (crossover), the reader groups (crossover),
then per reader (in the given order) per session a permutation of that session's cases.

A design is saved as JSON in ``Settings.home / "studies" / "<study_id>.json"``
(written to a temporary file, fsynced, then renamed: never half-written).
:func:`ecgreview.study.progress.progress` says, from the review rows, which case a
reader reads next.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ecgreview._files import write_atomically
from ecgreview.errors import ConfigError
from ecgreview.study.plan import AnalysisPlan, plan_from_document

__all__ = ["TIME_FORMAT", "Assignment", "StudyDesign", "create_design", "designs_for_reader", "list_designs", "load_design",
           "save_design", "session_label", "studies_dir"]

DESIGN_FORMAT = "ecgreview-study-design/1"
#: Reading modes of an assignment.
ASSIGNMENT_MODES: tuple[str, ...] = ("two_step", "unaided", "aided")
_STUDY_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_CASES, _MAX_READERS = 100_000, 1_000
_MAX_DESIGN_BYTES = 64 * 1024 * 1024
#: How a design file writes its UTC times (created, replaced).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Assignment:
    """One case for one reader: ``session`` (1 or 2), ``position`` (0-based, within the session)."""

    session: int
    position: int
    case_id: str
    mode: str


@dataclass(frozen=True)
class StudyDesign:
    """A saved reader study. Build one with :func:`create_design`.

    Attributes
    ----------
    study_id : str
        Lowercase letters, digits, ``-`` and ``_`` (it names the JSON file).
    case_ids : tuple of str
        ``source_sha256`` of every case, as chosen.
    readers : tuple of str
    seed : int
        Seed of ``numpy.random.default_rng`` that drew the orders.
    crossover : bool
    washout_days : int
        Days between a reader's last session-1 reading and session 2 (crossover only).
    created_at_utc : str
        ISO-8601 UTC (``2026-12-01T21:00:00Z``); readings before it do not count.
    schedule : dict of str to tuple of Assignment
        Per reader, every assignment in reading order (session 1 first).
    plan : AnalysisPlan or None
        The pre-specified analysis (:mod:`ecgreview.study.plan`); None in designs made without
        one (their analyses are exploratory).
    """

    study_id: str
    case_ids: tuple[str, ...]
    readers: tuple[str, ...]
    seed: int
    crossover: bool
    washout_days: int
    created_at_utc: str
    schedule: dict[str, tuple[Assignment, ...]]
    plan: AnalysisPlan | None = None

    @property
    def sessions(self) -> tuple[int, ...]:
        """``(1,)`` for two-step, ``(1, 2)`` for crossover."""
        return (1, 2) if self.crossover else (1,)

    def order(self, reader: str, session: int = 1) -> tuple[str, ...]:
        """The case ids of one reader's session, in reading order."""
        return tuple(item.case_id for item in self._assignments(reader) if item.session == session)

    def _assignments(self, reader: str) -> tuple[Assignment, ...]:
        if reader not in self.schedule:
            raise ValueError(f"reader {reader!r} is not in study {self.study_id!r}; readers: {', '.join(self.readers)}")
        return self.schedule[reader]

    def to_json(self) -> str:
        """The design as JSON text (see :func:`load_design`)."""
        fields = {key: value for key, value in asdict(self).items() if key not in ("schedule", "plan")}
        document = {"format": DESIGN_FORMAT, **fields,
                    "schedule": {reader: [asdict(item) for item in items] for reader, items in self.schedule.items()}}
        if self.plan is not None:
            document["plan"] = self.plan.to_document()
        return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def session_label(design: StudyDesign, session: int) -> str:
    """The ``session_id`` the review rows of one study session should carry: ``study:<id>:<session>``."""
    return f"study:{design.study_id}:{session}"


def _check_inputs(study_id: str, case_ids: Sequence[str], readers: Sequence[str], crossover: bool,
                  washout_days: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(study_id, str) or not _STUDY_ID.fullmatch(study_id):
        raise ValueError(f"study_id must be 1-64 lowercase letters, digits, '-' or '_' (starting with a letter or "
                         f"digit); got {study_id!r}")
    cases = tuple(str(case).strip().lower() for case in case_ids)
    bad = [case for case in cases if not _SHA256.fullmatch(case)]
    if bad:
        raise ValueError(f"case_ids must be source_sha256 values (64 hex digits); got {bad[0]!r}")
    names = tuple(reader.strip() if isinstance(reader, str) else reader for reader in readers)
    if any(not isinstance(name, str) or not name for name in names):
        raise ValueError("readers must be non-empty names")
    for label, values, limit in (("case_ids", cases, _MAX_CASES), ("readers", names, _MAX_READERS)):
        if not values or len(values) > limit:
            raise ValueError(f"{label} must hold 1 to {limit} entries; got {len(values)}")
        if len(set(values)) != len(values):
            raise ValueError(f"{label} has a repeated entry: {next(v for v in values if values.count(v) > 1)!r}")
    if crossover and len(cases) < 2:
        raise ValueError("a crossover design needs at least 2 cases (half aided, half unaided)")
    if isinstance(washout_days, bool) or not isinstance(washout_days, int) or not 0 <= washout_days <= 3650:
        raise ValueError(f"washout_days must be a whole number of days from 0 to 3650; got {washout_days!r}")
    return cases, names


def create_design(
    study_id: str, case_ids: Sequence[str], readers: Sequence[str], *, seed: int | None = None,
    crossover: bool = False, washout_days: int = 14, created_at_utc: datetime | None = None,
    plan: AnalysisPlan | None = None,
) -> StudyDesign:
    """Draw every reader's case order (and, for a crossover, the aided/unaided halves).

    Parameters
    ----------
    study_id : str
        Names the study and its JSON file.
    case_ids : sequence of str
        ``source_sha256`` of each case (64 hex digits), no repeats.
    readers : sequence of str
        Reader names as stored in the review CSV's ``reader`` column.
    seed : int, optional
        Seed of ``numpy.random.default_rng``; default: fresh entropy (recorded in the design).
    crossover : bool
        Crossover layout (see the module docstring) instead of two-step reading.
    washout_days : int
        Wash-out between the sessions of a crossover, in days.
    plan : AnalysisPlan, optional
        The pre-specified analysis; frozen with the design (its ``frozen_at_utc`` is set to
        ``created_at_utc`` when empty).

    Raises
    ------
    ValueError
        Naming the parameter and what is allowed.
    """
    cases, names = _check_inputs(study_id, case_ids, readers, crossover, washout_days)
    if seed is None:
        entropy = np.random.SeedSequence().entropy  # an int when drawn from the OS (no entropy given)
        if not isinstance(entropy, int):
            raise RuntimeError(f"numpy drew non-integer seed entropy {entropy!r}")
        seed = int(entropy % 2**63)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    rng = np.random.default_rng(int(seed))
    if crossover:
        shuffled = [cases[i] for i in rng.permutation(len(cases))]
        half_a, half_b = shuffled[:math.ceil(len(cases) / 2)], shuffled[math.ceil(len(cases) / 2):]
        group_one = {names[i] for i in rng.permutation(len(names))[::2]}
    schedule = {}
    for reader in names:
        if crossover:
            aided_first = half_a if reader in group_one else half_b
            sessions = [(1, [(case, "aided" if case in aided_first else "unaided") for case in cases]),
                        (2, [(case, "unaided" if case in aided_first else "aided") for case in cases])]
            sessions = [(number, [items[i] for i in rng.permutation(len(items))]) for number, items in sessions]
        else:
            sessions = [(1, [(cases[i], "two_step") for i in rng.permutation(len(cases))])]
        schedule[reader] = tuple(Assignment(number, position, case, mode) for number, items in sessions
                                 for position, (case, mode) in enumerate(items))
    created = (created_at_utc or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime(TIME_FORMAT)
    if plan is not None and not isinstance(plan, AnalysisPlan):
        raise ValueError(f"plan must be an AnalysisPlan or None; got {type(plan).__name__}")
    if plan is not None and not plan.frozen_at_utc:
        plan = replace(plan, frozen_at_utc=created)
    return StudyDesign(study_id, cases, names, int(seed), bool(crossover), washout_days if crossover else 0,
                       created, schedule, plan)


def studies_dir(settings: object) -> Path:
    """Where designs are saved: ``settings.home / "studies"``."""
    return Path(settings.home) / "studies"  # type: ignore[attr-defined]


def save_design(design: StudyDesign, folder: str | os.PathLike[str], *, replace: bool = False) -> Path:
    """Write ``design`` to ``folder/<study_id>.json`` atomically; returns the path.

    Raises
    ------
    ConfigError
        The file exists and ``replace`` is False, or it cannot be written.
    """
    target = Path(folder) / f"{design.study_id}.json"
    if target.exists() and not replace:
        raise ConfigError(target, "a study of this id exists already; choose another id")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, design.to_json().encode("utf-8"))
    except OSError as exc:
        raise ConfigError(target, f"study design not saved: {exc.strerror or exc}") from exc
    return target


def load_design(path_or_id: str | os.PathLike[str], folder: str | os.PathLike[str] | None = None) -> StudyDesign:
    """Read a saved design: a path to its JSON, or a study id looked up in ``folder``.

    The schedule is checked against the cases and readers (every reader has every case
    once per session, modes as the layout requires).

    Raises
    ------
    ConfigError
        Missing, too large, not JSON, or inconsistent; the reason names the field.
    """
    path = Path(path_or_id)
    if folder is not None and _STUDY_ID.fullmatch(str(path_or_id)):
        path = Path(folder) / f"{path_or_id}.json"
    try:
        if path.stat().st_size > _MAX_DESIGN_BYTES:
            raise ConfigError(path, f"study design is larger than {_MAX_DESIGN_BYTES // 2**20} MiB")
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(path, "no such study design") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(path, f"cannot read the study design: {exc}") from exc
    try:
        return _design_from_document(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(path, f"not a valid study design: {exc}") from exc


def _design_from_document(document: object) -> StudyDesign:
    if not isinstance(document, dict) or document.get("format") != DESIGN_FORMAT:
        raise ValueError(f"format must be {DESIGN_FORMAT!r}")
    cases, names = _check_inputs(document["study_id"], document["case_ids"], document["readers"],
                                 document["crossover"], document["washout_days"])
    if not isinstance(document["seed"], int) or not isinstance(document["crossover"], bool):
        raise ValueError("seed must be an integer and crossover true or false")
    datetime.strptime(document["created_at_utc"], TIME_FORMAT)
    raw = document["schedule"]
    if not isinstance(raw, dict) or sorted(raw) != sorted(names):
        raise ValueError("schedule must have exactly one entry per reader")
    schedule = {reader: tuple(Assignment(int(item["session"]), int(item["position"]), str(item["case_id"]),
                                         str(item["mode"])) for item in raw[reader]) for reader in names}
    sessions = (1, 2) if document["crossover"] else (1,)
    allowed = ("aided", "unaided") if document["crossover"] else ("two_step",)
    for reader, items in schedule.items():
        for session in sessions:
            mine = [item for item in items if item.session == session]
            if sorted(item.case_id for item in mine) != sorted(cases) or [i.position for i in mine] != list(range(len(mine))):
                raise ValueError(f"schedule of {reader!r}, session {session}: must list every case once, in order")
            if any(item.mode not in allowed for item in mine):
                raise ValueError(f"schedule of {reader!r}: modes must be {', '.join(allowed)}")
        if len(items) != len(cases) * len(sessions):
            raise ValueError(f"schedule of {reader!r}: sessions must be {', '.join(map(str, sessions))}")
    plan = None if document.get("plan") is None else plan_from_document(document["plan"])
    return StudyDesign(document["study_id"], cases, names, document["seed"], document["crossover"],
                       document["washout_days"], document["created_at_utc"], schedule, plan)


def list_designs(folder: str | os.PathLike[str]) -> list[str]:
    """Study ids saved in ``folder``, sorted; none when it does not exist."""
    root = Path(folder)
    return sorted(p.stem for p in root.glob("*.json") if _STUDY_ID.fullmatch(p.stem)) if root.is_dir() else []


def designs_for_reader(folder: str | os.PathLike[str], reader: str) -> list[StudyDesign]:
    """The saved designs that list ``reader``, by study id (for a reader's worklist)."""
    designs = [load_design(study_id, folder) for study_id in list_designs(folder)]
    return [design for design in designs if reader in design.readers]
