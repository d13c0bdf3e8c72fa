"""Widgets of the review page. Widgets only: every computation is a library call."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from ecgreview.case import CaseAnalysis
from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.examples import demo_ecg_path
from ecgreview.io import list_case_files
from ecgreview.model import LoadedModel, installed_models
from ecgreview.plots import plot_probabilities
from ecgreview.record import CLASSES, EcgRecord
from ecgreview.reviews import READER_CALLS, append_review, reviews_for_case
from ecgreview.ui import resources, state

INSTALL_HELP = """No model weights are installed, so no DNN opinion is shown. Reading and recording work.

To add the official weights (Ribeiro et al. 2020, Zenodo DOI 10.5281/zenodo.3765717):
```
python -m ecgreview model install
```
downloads `model.zip` and checks its hash; offline, download it elsewhere and run
```
python -m ecgreview model install model.zip
```
(a `model.hdf5` works too). Then reload this page. Or point `ECGREVIEW_MODEL` at a weights file (README)."""


def reader_input() -> str:
    """The reader's name (kept for the session)."""
    return st.text_input("Reader", key=state.READER_NAME, placeholder="your name", help="Stored with every review.").strip()


def model_panel(settings: Settings) -> LoadedModel | None:
    """Choose and load the model; say which weights are in use, or how to install them."""
    st.subheader("Model")
    try:
        paths = installed_models(settings)
    except EcgReviewError as exc:
        st.error(str(exc))
        return None
    if not paths:
        st.warning("No DNN weights installed.")
        return None
    path = paths[0] if len(paths) == 1 else st.selectbox(
        "Weights file", paths, key=state.MODEL_CHOICE, format_func=lambda p: p.name)
    try:
        model = resources.cached_model(str(path), path.stat().st_mtime_ns)
    except (EcgReviewError, OSError) as exc:
        st.error(f"Cannot load the model — {exc}")
        return None
    identity = model.identity
    (st.success if identity.status == "verified" else st.warning)(identity.label)
    with st.expander("Provenance"):
        st.json(model.provenance)
    return model


def case_picker(settings: Settings) -> tuple[bytes, str] | None:
    """Choose a case: the bundled demo, the configured case folder, or an upload."""
    st.subheader("Case")
    sources = [state.SOURCE_DEMO, state.SOURCE_UPLOAD] + ([state.SOURCE_FOLDER] if settings.cases_dir else [])
    source = st.radio("Source", sources, key=state.CASE_SOURCE, horizontal=True, label_visibility="collapsed")
    if source == state.SOURCE_UPLOAD:
        upload = st.file_uploader("ECG file (DICOM waveform)", key=state.CASE_FILE)
        return (upload.getvalue(), upload.name) if upload is not None else None
    path = demo_ecg_path()
    if source == state.SOURCE_FOLDER:
        files = list_case_files(settings.cases_dir)
        if not files:
            st.info(f"No ECG files in {settings.cases_dir}.")
            return None
        path = st.selectbox("File", files, format_func=lambda p: str(p.relative_to(settings.cases_dir)))
    else:
        st.caption("pydicom's Mortara ELI 250 example ECG (MIT licence).")
    try:
        return Path(path).read_bytes(), Path(path).name
    except OSError as exc:
        st.error(f"{Path(path).name}: cannot read the file ({exc.strerror})")
        return None


def analyse(case: tuple[bytes, str], model: LoadedModel | None) -> CaseAnalysis | None:
    """Read the case and run the model (cached by content and weights hash)."""
    data, name = case
    try:
        record = resources.cached_read(data, name)
        model_key = model.identity.sha256 if model else "none"
        return resources.cached_analysis(record.source_sha256, model_key, record, model)
    except EcgReviewError as exc:
        st.error(f"Cannot open this ECG — {exc}")
        return None


def case_header(record: EcgRecord) -> None:
    """Pseudonym, time, device and recording facts. Never a name or birth date."""
    when = record.acquisition_time.strftime("%Y-%m-%d %H:%M") if record.acquisition_time else "unknown"
    facts = {"Pseudonym": record.pseudonym or "—", "Acquired": when, "Device": record.device or "unknown",
             "Sampling": f"{record.sampling_rate_hz:g} Hz", "Duration": f"{record.duration_s:.1f} s"}
    st.markdown(" &nbsp;·&nbsp; ".join(f"**{label}** {value}" for label, value in facts.items()))
    st.caption(f"File {record.source_name} · SHA-256 {record.source_sha256[:16]}…")


def dnn_panel(analysis: CaseAnalysis, *, model_loaded: bool) -> None:
    """Per class: DNN probability against its threshold, the DNN and device calls."""
    st.subheader("DNN and device")
    if analysis.probabilities is None:
        st.info(INSTALL_HELP if not model_loaded else "The model gave no result for this ECG.")
    else:
        st.caption(f"Ribeiro et al. 2020 DNN — {analysis.model_label}")
        st.plotly_chart(plot_probabilities(analysis.probabilities), theme=None, config={"displayModeBar": False})
    st.dataframe(pd.DataFrame(analysis.class_rows()), hide_index=True)


def device_panel(analysis: CaseAnalysis) -> None:
    """The device's own statements and measurements."""
    record = analysis.record
    st.markdown("**Device statements**")
    if record.statements:
        st.markdown("\n".join(f"- {text}" for text in record.statements))
    else:
        st.caption("The file carries no device statements.")
    if analysis.device.unmapped:
        st.caption("Unmapped (not compared): " + "; ".join(analysis.device.unmapped))
    if record.measurements:
        st.markdown("**Device measurements** · " + " · ".join(str(m) for m in record.measurements))


def review_form(analysis: CaseAnalysis, settings: Settings, reader: str) -> None:
    """The reader's call per class, a comment, Save. Nothing is pre-filled."""
    st.subheader("Your reading")
    nonce = st.session_state.setdefault(state.FORM_NONCE, 0)
    with st.form(f"review-{analysis.record.source_sha256[:16]}"):
        calls = {name: st.radio(name, READER_CALLS, index=None, horizontal=True, key=f"call-{name}-{nonce}") for name in CLASSES}
        comment = st.text_area("Comment", key=f"comment-{nonce}")
        submitted = st.form_submit_button("Save review", type="primary")
    if submitted:
        _save(analysis, settings, reader, calls, comment)
    saved = st.session_state.get(state.LAST_SAVED)
    if saved:
        st.success(saved)


def _save(analysis: CaseAnalysis, settings: Settings, reader: str, calls: dict, comment: str) -> None:
    unanswered = [name for name, call in calls.items() if call is None]
    if not reader or unanswered:
        problems = (["enter your name under Reader in the sidebar"] if not reader else []) + (
            [f"answer every class ({', '.join(unanswered)} still open)"] if unanswered else [])
        st.error(f"Not saved — {'; '.join(problems)}. Your answers are still in the form.")
        return
    try:
        review = analysis.to_review(reader=reader, reader_calls=calls, comment=comment)
        append_review(settings.reviews_path, review)
    except (ValueError, EcgReviewError) as exc:
        st.error(f"Not saved — {exc}. Your answers are still in the form.")
        return
    st.session_state[state.LAST_SAVED] = f"Saved review {review.review_id[:8]} to {settings.reviews_path}"
    st.session_state[state.FORM_NONCE] += 1
    st.rerun()


def earlier_reviews(settings: Settings, record: EcgRecord) -> None:
    """Reviews of this case already in the CSV (corrections are new rows)."""
    try:
        earlier = reviews_for_case(settings.reviews_path, record.source_sha256)
    except EcgReviewError as exc:
        st.error(f"Cannot read earlier reviews — {exc}")
        return
    st.subheader(f"Earlier reviews of this case ({len(earlier)})")
    if len(earlier):
        columns = ["saved_at_utc", "reader", "role", *[f"reader_call_{c}" for c in CLASSES], "comment"]
        st.dataframe(earlier[[c for c in columns if c in earlier.columns]], hide_index=True)
