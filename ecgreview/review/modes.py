"""Reading modes: the one vocabulary of how a case is read (imported everywhere, spelled once).

* :data:`SESSION_MODES`: what a reader chooses for the session on the Review page.
* :data:`DESIGN_MODES`: what a study design assigns to a case (``two_step``: unaided, then
  aided, in one session; ``unaided``/``aided``: one reading of a crossover session).
* :data:`ROW_MODES`: a review row's ``reading_mode``.

The rules of a reading in each mode are in :mod:`ecgreview.review.protocol`.
"""

from __future__ import annotations

__all__ = [
    "ADJUDICATION", "AIDED", "BLINDED", "DESIGN_MODES", "DONE", "RESOLVING_MODES", "ROW_MODES", "SESSION_MODES",
    "STUDY_ROW_MODES", "TEACHING", "TWO_STEP", "UNAIDED", "mode_label",
]

ADJUDICATION = "adjudication"
BLINDED = "blinded"
TEACHING = "teaching"
UNAIDED = "unaided"
AIDED = "aided"
TWO_STEP = "two_step"
#: The step of a two-step reading whose two rows are saved.
DONE = "done"

SESSION_MODES: tuple[str, ...] = (ADJUDICATION, BLINDED, TWO_STEP)
DESIGN_MODES: tuple[str, ...] = (TWO_STEP, UNAIDED, AIDED)
ROW_MODES: tuple[str, ...] = (ADJUDICATION, BLINDED, TEACHING, UNAIDED, AIDED)
#: Row modes of a reader study: the two readings the added-value analysis compares.
STUDY_ROW_MODES: tuple[str, ...] = (UNAIDED, AIDED)
#: Row modes that may name the rows they resolve (``resolves_review_ids``).
RESOLVING_MODES: tuple[str, ...] = (ADJUDICATION, AIDED)

_LABELS = {TWO_STEP: "two-step"}


def mode_label(mode: str) -> str:
    """How a mode is written for people (``two_step`` → ``two-step``)."""
    return _LABELS.get(mode, mode)
