"""Sections of the cohort-study page beside Table 1: inter-reader kappa, discordant cases, unmapped statements.

Every number comes from :mod:`ecgreview.study.cohort_report`; these functions only lay it out (headers in
words, empty cells as a dash: :func:`ecgreview.ui.text.table_in_words`), each interval with its method, and
say in words when a section has nothing to show.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ecgreview.study.agreement import COHEN_CI_METHOD
from ecgreview.study.cohort import Cohort
from ecgreview.study.cohort_report import discordant_cases, inter_reader_fleiss_kappa, unmapped_statements
from ecgreview.ui.text import table_in_words

__all__ = ["discordant_section", "kappa_tables", "unmapped_section"]

_DISCORDANT_ORDER = ("link", "case_pseudonym", "class", "dnn_probability", "dnn_call", "device_call", "reference",
                     "wrong", "source_name", "source_sha256")


def kappa_tables(cohort: Cohort, kappa: pd.DataFrame) -> None:
    """Cohen's kappa per pair of readers beside Fleiss' kappa of all readers, with their 95% CIs."""
    cohen, fleiss = st.columns(2)
    cohen.markdown("**Cohen's kappa** (each pair of readers, cases both decided)")
    cohen.dataframe(table_in_words(kappa.drop(columns="ci_method")), hide_index=True)
    cohen.caption(f"95% CI: {COHEN_CI_METHOD}.")
    fleiss.markdown("**Fleiss' kappa** (all readers, cases every reader decided)")
    if len(cohort.readers) < 3:
        fleiss.caption("Fleiss' kappa needs three or more readers; with two, Cohen's kappa is the measure.")
        return
    table = inter_reader_fleiss_kappa(cohort)
    fleiss.dataframe(table_in_words(table.drop(columns="ci_method")), hide_index=True)
    fleiss.caption(f"95% CI: {table['ci_method'].iloc[0]}.")


def discordant_section(cohort: Cohort) -> pd.DataFrame:
    """Cases where the DNN or the device disagree with the reference, with a link to open each; returns the table."""
    discordant = discordant_cases(cohort)
    st.subheader(f"Discordant cases ({discordant['source_sha256'].nunique()} ECGs, {len(discordant)} classes)")
    if cohort.reference.isna().all().all():
        st.caption("No case has a reference for any class, so no call can be discordant.")
    shown = discordant[[column for column in _DISCORDANT_ORDER if column in discordant.columns]]
    st.dataframe(table_in_words(shown), hide_index=True, column_config={
        "Link": st.column_config.LinkColumn("Open", display_text="open in review")})
    return discordant


def unmapped_section(cohort: Cohort) -> None:
    """Device statements the mapping table does not know."""
    unmapped = unmapped_statements(cohort)
    st.subheader(f"Unmapped device statements ({len(unmapped)})")
    if unmapped.empty:
        st.caption("Every device statement is known to the mapping table.")
    else:
        st.dataframe(table_in_words(unmapped), hide_index=True)
