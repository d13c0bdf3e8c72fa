"""Other readers' readings of the case on the Review page: the readings an adjudication would resolve, the
readers' table (where they disagree) and the earlier reviews of the case, each from the review store grouped once
per version (:mod:`ecgreview.review.readings`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES
from ecgreview.review.case import CaseAnalysis
from ecgreview.review.case_cache import BoundedCache
from ecgreview.review.consensus import classes_to_adjudicate
from ecgreview.review.readings import case_history, case_readings, store_version
from ecgreview.security.auth import CONSENSUS_ROLES
from ecgreview.ui.text import escape_markdown

__all__ = ["earlier_reviews", "readers_panel_data", "readers_table"]


def readers_panel_data(settings: Settings, analysis: CaseAnalysis) -> list[str]:
    """The review ids an adjudication of this case would resolve: the readers' latest readings when they disagree."""
    readings, disputed = _disputed(settings, analysis.record.source_sha256)
    if not disputed:
        return []
    return list(readings.loc[readings["role"].isin(CONSENSUS_ROLES), "review_id"])


def _readings(settings: Settings, source_sha256: str) -> pd.DataFrame:
    try:
        return case_readings(settings.reviews_path, source_sha256)  # grouped once per version of the store
    except EcgReviewError as exc:
        st.error(f"Cannot read earlier reviews — {escape_markdown(exc)}")
        return pd.DataFrame(columns=["reader", "role", "review_id", "source_sha256",
                                     *[f"reader_call_{name}" for name in CLASSES]])


#: The classes a case's readers disagree on, per version of the store (two panels of every session's run ask).
_DISPUTED: BoundedCache[list[str]] = BoundedCache(100_000, size_of=lambda classes: 1 + len(classes))


def _disputed(settings: Settings, source_sha256: str) -> tuple[pd.DataFrame, list[str]]:
    """The case's latest readings and the classes they disagree on (:func:`classes_to_adjudicate`)."""
    try:  # before reading (the page run's one version: readings.one_version); a save in between leaves a key unused
        stamp = store_version(settings.reviews_path)
    except EcgReviewError:
        stamp = None  # the readings below say what is wrong
    readings = _readings(settings, source_sha256)
    if stamp is None or readings.empty:
        return readings, list(classes_to_adjudicate(readings))
    return readings, _DISPUTED.get((str(settings.reviews_path), stamp, source_sha256),
                                   lambda: list(classes_to_adjudicate(readings)))


def readers_table(settings: Settings, analysis: CaseAnalysis) -> None:
    """Other readers' latest readings of this case and where they disagree."""
    readings, disputed = _disputed(settings, analysis.record.source_sha256)
    readers = readings[readings["role"].isin(CONSENSUS_ROLES)]
    if len(readers) < 2:
        return
    st.markdown(f"**{len(readers)} readers** · " + (f"disagree on {', '.join(disputed)}" if disputed else "agree"))
    shown = readings[["reader", "role", *[f"reader_call_{name}" for name in CLASSES]]]
    st.dataframe(shown.rename(columns=lambda c: c.removeprefix("reader_call_")), hide_index=True)


def earlier_reviews(settings: Settings, source_sha256: str) -> None:
    """All clinical rows of this case in the review store (corrections are new rows; teaching answers stay in the
    teaching views), from the store grouped once per version (:func:`~ecgreview.review.readings.case_history`)."""
    try:
        earlier = case_history(settings.reviews_path, source_sha256)
    except EcgReviewError as exc:
        st.error(f"Cannot read earlier reviews — {escape_markdown(exc)}")
        return
    st.subheader(f"Earlier reviews of this case ({len(earlier)})")
    if len(earlier):
        columns = ["saved_at_utc", "reader", "role", "reading_mode", *[f"reader_call_{c}" for c in CLASSES], "comment"]
        st.dataframe(pd.DataFrame(earlier[columns]), hide_index=True)
