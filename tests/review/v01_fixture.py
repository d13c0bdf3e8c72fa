"""Review CSVs in the 0.1 format (schema 1), written by the 0.1 code itself.

:func:`load_v01_store` runs ``ecgreview/reviews.py`` and ``ecgreview/_review_csv.py`` (0.1 paths) as
they were at :data:`V01_COMMIT` (the last commit before store v2), read from the git
history, so a fixture is byte for byte what a 0.1 app wrote. Where git or that commit
is not available (an exported tarball, a shallow clone), :func:`write_v01_store` falls
back to :func:`_reproduced_writer`, which reproduces the 0.1 header and row encoding;
``test_reproduced_writer_matches_the_git_blob`` checks the two agree where both run.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import types
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from ecgreview.record import CLASSES, THRESHOLDS
from tests.conftest import REPO

#: The last commit with the 0.1 review store.
V01_COMMIT = "3729ec2d2c70fb890a8a0264606bfc9299f2b673"

#: The 0.1 header (schema 1), as ``REVIEW_COLUMNS`` was at :data:`V01_COMMIT`.
V01_COLUMNS: tuple[str, ...] = (
    "review_id", "saved_at_utc", "reader", "role", "reading_mode", "opinions_seen",
    "session_id", "resolves_review_ids", "case_pseudonym", "source_name", "source_sha256",
    "app_version", "model_name", "model_sha256", "model_git_blob_sha1", "model_status", "thresholds",
    *(f"{kind}_{name}" for name in CLASSES
      for kind in ("dnn_prob", "dnn_call", "device_call", "reader_call", "agreement")),
    "device_statements", "statement_map_version", "phi_audit", "comment", "provenance",
)


def _git_source(path: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    result = subprocess.run([git, "-C", str(REPO), "show", f"{V01_COMMIT}:{path}"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def load_v01_store() -> types.ModuleType | None:
    """The 0.1 ``ecgreview.reviews`` module (now ``ecgreview.review.store``), run from the git blobs; None without git or the commit."""
    if "ecgreview_v01_reviews" in sys.modules:
        return sys.modules["ecgreview_v01_reviews"]
    low_level, store = _git_source("ecgreview/_review_csv.py"), _git_source("ecgreview/reviews.py")
    if low_level is None or store is None:
        return None
    for name, source in (("ecgreview_v01_review_csv", low_level),
                         ("ecgreview_v01_reviews", store.replace("from ecgreview._review_csv import",
                                                                 "from ecgreview_v01_review_csv import"))):
        module = types.ModuleType(name)
        module.__file__ = f"<git {V01_COMMIT[:10]}:{name}>"
        sys.modules[name] = module
        exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own history
    return sys.modules["ecgreview_v01_reviews"]


def fixture_reviews() -> list[dict[str, object]]:
    """Keywords of 0.1 ``Review.create`` for awkward reviews: every field, every kind of text."""
    start = datetime(2026, 3, 1, 8, 30, tzinfo=timezone.utc)
    at_threshold = [float(np.float32(t)) for t in THRESHOLDS]  # exactly at each float32 threshold
    calls = dict(zip(CLASSES, ["present", "absent", "uncertain", "absent", "present", "absent"]))
    first_id = str(uuid.UUID(int=1))
    rows: list[dict[str, object]] = [
        {"reader": "Dr Müller", "reader_calls": calls, "source_sha256": "a" * 64, "opinions_seen": True,
         "probabilities": at_threshold, "model_name": "ribeiro-2020", "model_sha256": "c" * 64,
         "model_git_blob_sha1": "d" * 40, "model_status": "verified", "device_calls": {"AF": "definite"},
         "device_statements": ("Sinus rhythm", "Vorhofflimmern möglich"), "statement_map_version": "2024-1",
         "source_name": "ecg 1.dcm", "case_pseudonym": "PSEUDO-7", "phi_audit": "clean",
         "comment": 'He said "hi", then\nleft; ünïcode — 心电图 ✓', "provenance": {"weights": "model.hdf5"},
         "review_id": first_id},
        {"reader": "=Dr Evil", "reader_calls": dict.fromkeys(CLASSES, "absent"), "source_sha256": "a" * 64,
         "opinions_seen": False, "reading_mode": "blinded", "session_id": "+1", "comment": "=HYPERLINK(\"x\")",
         "device_statements": ("@cmd",), "provenance": {}},
        {"reader": "Dr Chen", "reader_calls": dict.fromkeys(CLASSES, "present"), "source_sha256": "b" * 64,
         "opinions_seen": True, "role": "adjudicator", "resolves_review_ids": [first_id],
         "comment": "line one\r\nline two\rthree, 'quoted'", "probabilities": [0.0, 1.0, 0.5, 0.25, 0.125, 1e-7],
         "provenance": {"nested": {"list": [1, 2.5, None, "ü"]}, "text": "}\"\n"}},
        {"reader": "Student Ø", "reader_calls": dict.fromkeys(CLASSES, "uncertain"), "source_sha256": "b" * 64,
         "opinions_seen": True, "role": "student", "reading_mode": "teaching", "session_id": "Tuesday-AF",
         "comment": "'leading apostrophe", "provenance": {"a": "b"}},
    ]
    for index, row in enumerate(rows):
        row["saved_at_utc"] = start + timedelta(minutes=index)
        row.setdefault("review_id", str(uuid.UUID(int=index + 1)))
    return rows


def write_v01_store(path: Path, reviews: list[dict[str, object]] | None = None) -> str:
    """Write a 0.1 store at ``path``; returns which writer ran (``"git"`` or ``"reproduced"``)."""
    reviews = fixture_reviews() if reviews is None else reviews
    old = load_v01_store()
    if old is not None:
        for keywords in reviews:
            old.append_review(path, old.Review.create(**keywords))
        return "git"
    writer = _reproduced_writer()
    for keywords in reviews:
        writer(path, keywords)
    return "reproduced"


def _reproduced_writer() -> Callable[[Path, dict[str, object]], None]:
    """Append 0.1 rows without the 0.1 code: today's ``Review`` for the cells, the 0.1 layout and encoding."""
    from ecgreview.review.store import Review, _guard

    def line(cells: list[str]) -> str:
        quoting = csv.QUOTE_ALL if any("\r" in cell for cell in cells) else csv.QUOTE_MINIMAL
        buffer = io.StringIO()
        csv.writer(buffer, quoting=quoting, lineterminator="\n").writerow(cells)
        return buffer.getvalue()

    def append(path: Path, keywords: dict[str, object]) -> None:
        review = Review.create(**keywords)  # type: ignore[arg-type]
        row = review.to_row()
        for name, threshold in zip(CLASSES, review.thresholds):  # 0.1 compared in float64
            probability, reader = review.probabilities[name], review.reader_calls[name]
            dnn = "" if probability is None else ("present" if probability > threshold else "absent")
            row[f"dnn_call_{name}"] = dnn
            row[f"agreement_{name}"] = "" if not dnn or reader == "uncertain" else (
                "agree" if reader == dnn else "disagree")
        cells = [_guard(column, row[column]) for column in V01_COLUMNS]
        text = ("" if path.exists() and path.stat().st_size else line(list(V01_COLUMNS))) + line(cells)
        with path.open("a", encoding="utf-8", newline="") as handle:
            handle.write(text)

    return append
