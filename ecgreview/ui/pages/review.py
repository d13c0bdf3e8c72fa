"""The review page, one screen: the ECG on the left; the DNN, the device and the reader's calls on the right."""

from __future__ import annotations

import streamlit as st

from ecgreview.config import Settings
from ecgreview.model.inference import InferenceModel
from ecgreview.review.modes import DONE
from ecgreview.review.readings import one_version
from ecgreview.ui import (case_navigation, case_panels, decision_panel, identity, page_setup, readers_panel, resources,
                          serial_panel, state, two_step, viewer)
from ecgreview.ui.export_panel import export_section


def render() -> None:
    """Draw the page, every panel from one version of the review store (while others save, each question
    would otherwise find a new version and group the store again)."""
    with one_version():
        _render()


def _render() -> None:
    settings = page_setup.page_settings("ECG review", compact=True)
    if settings is None:
        return
    with st.sidebar:
        reader = page_setup.reader_input()
        mode_slot = st.container()
        model = page_setup.model_panel(settings)
        with mode_slot:
            decision_panel.reading_mode(dnn_installed=model is not None)
        source = case_navigation.worklist_case(settings) or case_navigation.case_picker(settings)
    if source is None:
        return
    analysis = case_panels.analyse(settings, source, model)
    if analysis is None:
        return
    sha = analysis.record.source_sha256
    refusal = identity.teaching_case_refusal(settings, sha)  # students: a teaching case only in its session
    if refusal is not None:
        st.warning(refusal)
        return
    case_navigation.keep_upload(settings, source, sha)
    decision_panel.mark_shown(sha)
    decision_panel.prepare_case(settings, analysis, reader)
    resolves = readers_panel.readers_panel_data(settings, analysis) if identity.may_adjudicate() else []
    priors = serial_panel.priors_of(settings, analysis)
    ecg, decision = st.columns([53, 47], gap="small")
    with ecg:
        case_panels.case_header(analysis.record, analysis.phi_audit)
        case_panels.signal_check(analysis)
        navigation, view_column = st.columns([9, 11], vertical_alignment="center")
        with navigation:
            following = case_navigation.case_navigation(settings, sha)
        with view_column:
            view = viewer.viewing_controls()
        viewer.ecg_trace(analysis.record, view)
    with decision:
        keys = decision_panel.KEYS_HELP_SHORT + (decision_panel.KEYS_HELP_PRIOR if priors else "")
        st.markdown("**Your reading** · " + keys)
        decision_panel.decision_panel(settings, analysis, reader, following, resolves, model is not None)
        if not decision_panel.opinions_hidden(sha):
            case_panels.device_panel(analysis)
    with ecg:
        serial_panel.render(settings, analysis, priors, view, model)  # the prior ECG of the pseudonym, and what changed
        viewer.extras(analysis.record, view)
        viewer.report_download(settings, analysis, reader)
    current = two_step.reading(sha)
    others = identity.may_see_other_readings() and (not current.is_study or current.step == DONE)  # never mid-study
    if others and not current.opinions_hidden:
        readers_panel.readers_table(settings, analysis)
        readers_panel.earlier_reviews(settings, sha)
    export_section(settings, analysis, reader)  # the saved reading as DICOM SR / FHIR
    _prefetch(settings, following, model, view)


def _prefetch(settings: Settings, following: str | None, model: InferenceModel | None, view: viewer.View) -> None:
    """Open the next case of the worklist in the background while the reader reads this one: asked once per
    session, next case and view (after the run's last element), not again on every rerun of the case."""
    asked = st.session_state.setdefault(state.PREFETCHED, set())
    if not following or (following, view) in asked:
        return
    source = case_navigation.find_case(settings, following)
    if source is not None:  # a case not indexed yet is asked again on the next run
        asked.add((following, view))
        resources.prefetch_case(source, model, lambda analysis: viewer.ecg_payload(analysis.record, view),
                                thresholds=settings.thresholds)
