"""What the Review page shows of an opened case: its header, the model caption, the signal check and the
device's statements and measurements; opening a case with a clear message when it cannot be read.

Widgets only: every computation is a library call."""

from __future__ import annotations

import os

import streamlit as st

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.model.inference import InferenceModel
from ecgreview.record import EcgRecord
from ecgreview.review.case import CaseAnalysis, CaseSource
from ecgreview.ui import resources, state
from ecgreview.ui.page_setup import INSTALL_HELP
from ecgreview.ui.text import escape_markdown

__all__ = ["analyse", "case_header", "case_label", "device_panel", "model_caption", "signal_check"]


def case_label(source_name: str) -> str:
    """The name a case is shown by: for an upload the file name the user chose (kept for the session),
    else ``source_name`` (the file's name; an upload's internal ``upload-<hash>`` name once forgotten)."""
    return st.session_state.get(state.UPLOAD_NAMES, {}).get(source_name, (source_name,))[0]


def analyse(settings: Settings, source: CaseSource, model: InferenceModel | None) -> CaseAnalysis | None:
    """Open the case (read, PHI audit, DNN at the site's thresholds; cached), or show why it cannot be opened
    (naming an upload by the file name the user chose)."""
    try:
        return resources.open_case(source, model, thresholds=settings.thresholds)
    except EcgReviewError as exc:
        named = exc.path is not None and os.path.basename(exc.path) == source.name
        message = f"{case_label(source.name)}: {exc.reason}" if named else str(exc)
        st.error(f"Cannot open this ECG — {escape_markdown(message)}")
        return None


def case_header(record: EcgRecord, phi_audit: str = "") -> None:
    """Pseudonym, age and sex, time, device and recording facts, and the PHI audit badge. Never a name or birth date."""
    when = record.acquisition_time.strftime("%Y-%m-%d %H:%M") if record.acquisition_time else "unknown"
    facts = {"Pseudonym": record.pseudonym or "—", "Age/sex": record.age_sex, "Acquired": when,
             "Device": record.device or "unknown",
             "Sampling": f"{record.sampling_rate_hz:g} Hz", "Duration": f"{record.duration_s:.1f} s"}
    st.markdown(" &nbsp;·&nbsp; ".join(f"**{label}** {escape_markdown(value)}" for label, value in facts.items()))
    kind = f" · {escape_markdown(record.source_format)}" if record.source_format else ""
    audited = bool(phi_audit) and "not available" not in phi_audit  # a format without a PHI audit: said once, here
    not_audited = f" · {escape_markdown(phi_audit)}" if phi_audit and not audited else ""
    st.caption(f"File {escape_markdown(case_label(record.source_name))}{kind} · "
               f"SHA-256 {record.source_sha256[:16]}…{not_audited}")
    if audited:
        clean = phi_audit.endswith("clean")
        st.badge(escape_markdown(phi_audit), icon=":material/verified_user:" if clean else ":material/warning:",
                 color="green" if clean else "orange",
                 help="PHI attributes present in the file (never their values); "
                      "stored with the review. `python -m ecgreview audit FILE` lists them.")


def model_caption(analysis: CaseAnalysis, *, model_loaded: bool) -> None:
    """Which weights the probabilities come from, or how to install them."""
    if analysis.probabilities is None:
        if model_loaded:
            st.info("The model gave no result for this ECG.")
        else:
            with st.popover("No DNN weights installed: how to add them"):
                st.markdown(INSTALL_HELP)
    else:
        identity = analysis.identity
        status = "" if identity is None or identity.status == "verified" else " · :orange[unverified weights]"
        st.markdown(f":gray[Ribeiro et al. 2020 DNN · {escape_markdown(identity.name if identity else '')}]{status}",
                    help=analysis.model_label)


def signal_check(analysis: CaseAnalysis) -> None:
    """The plausibility findings on the signal (:func:`ecgreview.plausibility.check_plausibility`), if any.

    Not an opinion on the diagnosis, so shown in every reading mode; stored with the review."""
    if analysis.signal_findings:
        with st.container(key="signal-check"):
            st.warning("**Signal check** · " + " · ".join(escape_markdown(finding.message)
                                                          for finding in analysis.signal_findings))


def device_panel(analysis: CaseAnalysis) -> None:
    """The device's own statements and the measurements it made (0 and empty are "not measured")."""
    record = analysis.record
    with st.container(key="device-panel"):
        if record.statements:  # the heading and the list as one element (one message, not two)
            st.markdown("**Device statements**\n\n"
                        + "\n".join(f"- {escape_markdown(text)}" for text in record.statements))
        else:
            st.markdown("**Device statements**")
            st.caption("The file carries no device statements: the device's calls are not available (n/a), "
                       "never absent.")
        if analysis.device.unmapped:
            st.caption("Unmapped (not compared): " + "; ".join(map(escape_markdown, analysis.device.unmapped)))
        read = [*(f"{escape_markdown(text)} (negated)" for text in analysis.device.negated),
                *(f"{escape_markdown(text)} (history)" for text in analysis.device.historical)]
        if read:
            st.caption("Read as negated or as history (not a finding on this ECG): " + "; ".join(read))
        measured = [m for m in record.measurements if m.measured]
        if measured:
            st.markdown("**Device measurements** · " + " · ".join(escape_markdown(m) for m in measured))
        not_measured = sorted({m.name for m in record.measurements if not m.measured})
        if not_measured:
            st.caption("Not measured by the device: " + ", ".join(map(escape_markdown, not_measured)))
