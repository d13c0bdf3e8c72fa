"""Widgets of the review page. Widgets only: every computation is a library call."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from ecgreview.case import CaseAnalysis
from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.examples import demo_ecg_path
from ecgreview.io import bundle_files, list_case_files
from ecgreview.model import LoadedModel, installed_models
from ecgreview.plots import plot_probabilities
from ecgreview.record import EcgRecord
from ecgreview.ui import identity, resources, state
from ecgreview.worklist import INDEX_FILE, case_paths, neighbours, save_upload

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


def page_settings(title: str) -> Settings | None:
    """Draw the page title and return the settings, or show the configuration error and None."""
    st.title(title)
    try:
        return Settings.from_env()
    except EcgReviewError as exc:
        st.error(f"Configuration error — {exc}")
        return None


def reader_input() -> str:
    """The reader: the signed-in user, or (``name`` mode) a typed name kept for the session."""
    user = identity.current_user()
    if user is None:
        return st.text_input("Reader", key=state.READER_NAME, placeholder="your name",
                             help="Stored with every review.").strip()
    st.markdown(f"**Reader** {user.name}")
    st.caption("Roles: " + ", ".join(sorted(user.roles)))
    if st.button("Sign out", key="sign-out"):
        identity.sign_out(Settings.from_env())
        st.rerun()
    return user.name


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
        model = resources.cached_model(str(path), path.stat().st_mtime_ns, settings.backend)
    except (EcgReviewError, OSError) as exc:
        st.error(f"Cannot load the model — {exc}")
        return None
    identity = model.identity
    (st.success if identity.status == "verified" else st.warning)(identity.label)
    st.caption(f"Backend: {model.provenance.get('backend', '')}")
    with st.expander("Provenance"):
        st.json(model.provenance)
    return model


def case_picker(settings: Settings) -> tuple[bytes, str] | None:
    """Choose a case: the bundled demo, the configured case folder, or an upload."""
    st.subheader("Case")
    sources = [state.SOURCE_DEMO, state.SOURCE_UPLOAD] + ([state.SOURCE_FOLDER] if settings.cases_dir else [])
    source = st.radio("Source", sources, key=state.CASE_SOURCE, horizontal=True, label_visibility="collapsed")
    if source == state.SOURCE_UPLOAD:
        uploads = st.file_uploader(
            "ECG file (DICOM, HL7 aECG / MUSE / Philips XML, WFDB .hea with its .mat, or a zip)",
            key=state.CASE_FILE, accept_multiple_files=True,
            help="Uploaded cases are kept in the app's folder and listed in the worklist.")
        return bundle_files([(upload.name, upload.getvalue()) for upload in uploads]) if uploads else None
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
        model_key = f"{model.identity.sha256}:{model.provenance.get('backend', '')}" if model else "none"
        phi_audit = resources.cached_phi_audit(data, name)
        return resources.cached_analysis(record.source_sha256, model_key, phi_audit, record, model)
    except EcgReviewError as exc:
        st.error(f"Cannot open this ECG — {exc}")
        return None


def case_header(record: EcgRecord, phi_audit: str = "") -> None:
    """Pseudonym, time, device and recording facts, and the PHI audit badge. Never a name or birth date."""
    when = record.acquisition_time.strftime("%Y-%m-%d %H:%M") if record.acquisition_time else "unknown"
    facts = {"Pseudonym": record.pseudonym or "—", "Acquired": when, "Device": record.device or "unknown",
             "Sampling": f"{record.sampling_rate_hz:g} Hz", "Duration": f"{record.duration_s:.1f} s"}
    st.markdown(" &nbsp;·&nbsp; ".join(f"**{label}** {value}" for label, value in facts.items()))
    st.caption(f"File {record.source_name} · SHA-256 {record.source_sha256[:16]}…")
    if phi_audit:
        clean = phi_audit.endswith("clean")
        st.badge(phi_audit, icon=":material/verified_user:" if clean else ":material/warning:",
                 color="green" if clean else "orange",
                 help="DICOM PS3.15 Basic Profile attributes present in the file (never their values); "
                      "stored with the review. `python -m ecgreview audit FILE` lists them.")


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


def worklist_case(settings: Settings) -> tuple[bytes, str] | None:
    """The case named by ``?case=<source_sha256>`` (from the worklist or a link), or None."""
    sha = st.query_params.get(state.QUERY_CASE, "").strip().lower()
    if not sha:
        return None
    index = resources.cached_index(str(settings.home / INDEX_FILE))
    path = index.find(sha)
    if path is None:  # a link into a folder this server has not indexed yet
        with st.spinner("Indexing the case folder…"):
            index.update(case_paths(settings))
        path = index.find(sha)
    if path is None:
        st.error(f"Case {sha[:16]}… is not in the case folder or the uploaded cases.")
        return None
    st.subheader("Case")
    st.caption(f"From the worklist: {path.name}")
    if st.button("Close case", key="close-case"):
        del st.query_params[state.QUERY_CASE]
        st.rerun()
    try:
        return path.read_bytes(), path.name
    except OSError as exc:
        st.error(f"{path.name}: cannot read the file ({exc.strerror})")
        return None


def keep_upload(settings: Settings, case: tuple[bytes, str], source_sha256: str, *, force: bool = False) -> None:
    """Keep an uploaded case (once) so that the worklist lists it."""
    uploaded = st.session_state.get(state.CASE_SOURCE) == state.SOURCE_UPLOAD and not st.query_params.get(state.QUERY_CASE)
    if force or uploaded:
        try:
            save_upload(settings, case[0], case[1], source_sha256)
        except OSError as exc:
            st.warning(f"The upload was not kept for the worklist ({exc.strerror or exc}).")


def case_order(settings: Settings) -> list[str]:
    """The worklist's current order (its filter and sort), else every indexed case by file."""
    order = st.session_state.get(state.WORKLIST_ORDER)
    if order:
        return order
    index = resources.cached_index(str(settings.home / INDEX_FILE))
    return [case.source_sha256 for case in index.cases() if not case.error]


def open_case(source_sha256: str | None) -> None:
    """Show another case on the review page (``?case=``)."""
    if source_sha256:
        st.query_params[state.QUERY_CASE] = source_sha256
        st.rerun()


def case_navigation(settings: Settings, source_sha256: str) -> str | None:
    """Previous / next case of the current worklist order (keys B and N); returns the next case."""
    previous, following = neighbours(case_order(settings), source_sha256)
    back, forward, _ = st.columns([2, 2, 8])
    if back.button("Previous case", shortcut="B", disabled=previous is None, key="previous-case"):
        open_case(previous)
    if forward.button("Next case", shortcut="N", disabled=following is None, key="next-case"):
        open_case(following)
    return following
