"""Widgets of the review page. Widgets only: every computation is a library call."""

from __future__ import annotations

import os

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.examples import demo_ecg_path
from ecgreview.io import list_case_files
from ecgreview.model.inference import InferenceModel
from ecgreview.model.serving import installed_models
from ecgreview.record import EcgRecord
from ecgreview.review.case import CaseAnalysis, CaseSource
from ecgreview.review.uploads import upload_file_name, uploaded_cases
from ecgreview.review.worklist import INDEX_FILE, neighbours, save_upload
from ecgreview.ui import identity, indexing, resources, session_values, state
from ecgreview.ui.text import escape_markdown

INSTALL_HELP = """No model weights are installed, so no DNN opinion is shown. Reading and recording work.

To add the official weights (Ribeiro et al. 2020, Zenodo DOI 10.5281/zenodo.3765717), in the app's folder
(the app's own Python: `.venv/bin/python`, as `start.sh` set it up):
```
.venv/bin/python -m ecgreview model install
```
downloads `model.zip` and checks its hash; offline, download it elsewhere and run
```
.venv/bin/python -m ecgreview model install model.zip
```
(a `model.hdf5` works too). Then reload this page. Or point `ECGREVIEW_MODEL` at a weights file (README)."""


#: One-screen review page (the ECG, the six calls and Save on a 1280 x 800 screen): less margin around
#: the page, a narrower sidebar, and a compact decision grid: one line per class, no wrapped words.
_COMPACT_STYLE = """<style>
[data-testid='stMainBlockContainer']{padding:1rem 1.25rem .5rem 1.25rem}
section[data-testid='stSidebar']{width:15rem !important;min-width:15rem !important}
.st-key-dnn-panel [data-testid='stVerticalBlock']{gap:.3rem}
.st-key-dnn-panel [data-testid='stHorizontalBlock']{gap:.4rem;flex-wrap:nowrap}
.st-key-dnn-panel [data-testid='stColumn']{min-width:0}
.st-key-dnn-panel [data-testid='stMarkdownContainer'] p,.st-key-dnn-panel [data-testid='stCaptionContainer']{
 white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-size:.875rem;margin:0}
.st-key-dnn-panel button{min-height:1.9rem;padding:.1rem .45rem}
.st-key-dnn-panel [data-testid='stButtonGroup'] button{padding:.1rem .4rem}
.st-key-dnn-panel [data-testid='stButtonGroup'] button p{font-size:.85rem}
.st-key-dnn-panel [data-testid='stButtonGroup']>div{flex-wrap:nowrap}
.st-key-previous-case button,.st-key-next-case button{padding-left:.5rem;padding-right:.5rem}
</style>"""


def page_settings(title: str, *, compact: bool = False) -> Settings | None:
    """Draw the page title and return the settings, or show the configuration error and None.

    ``compact`` (the review page) leaves out the title and the top margin, so that the
    ECG and the decision panel fit one screen.
    """
    if compact:
        st.html(_COMPACT_STYLE)
    else:
        st.title(title)
    try:
        return Settings.from_env()
    except EcgReviewError as exc:
        st.error(f"Configuration error — {escape_markdown(exc)}")
        return None


def reader_input() -> str:
    """The reader: the signed-in user, or (``name`` mode) a typed name kept for the session."""
    user = identity.current_user()
    if user is None:  # name mode: kept for the browser session, across pages and a reload
        session_values.seed(state.READER_NAME, state.READER_NAME_WIDGET, query_key=state.QUERY_READER, default="")
        st.text_input("Reader", key=state.READER_NAME_WIDGET, placeholder="your name",
                      on_change=session_values.keep(state.READER_NAME, state.READER_NAME_WIDGET,
                                                    query_key=state.QUERY_READER, default=""),
                      help="Stored with every review; kept for this browser session, across pages and a reload.")
        session_values.show(state.READER_NAME, query_key=state.QUERY_READER, default="")
        return st.session_state[state.READER_NAME]
    st.markdown(f"**Reader** {escape_markdown(user.name)}")
    st.caption("Roles: " + ", ".join(sorted(user.roles)))
    if st.button("Sign out", key="sign-out"):
        identity.sign_out(Settings.from_env())
        st.rerun()
    return user.name


def model_panel(settings: Settings) -> InferenceModel | None:
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
        st.error(f"Cannot load the model — {escape_markdown(exc)}")
        return None
    identity = model.identity
    (st.success if identity.status == "verified" else st.warning)(
        f"{escape_markdown(identity.name)} · {identity.status}", icon=None)
    st.caption(f"Backend: {escape_markdown(model.provenance.get('backend', ''))}")
    with st.expander("Provenance"):
        st.caption(escape_markdown(identity.label))
        st.json(model.provenance)
    return model


def case_picker(settings: Settings) -> CaseSource | None:
    """Choose a case: the bundled demo, the configured case folder, or an upload."""
    st.subheader("Case")
    sources = [state.SOURCE_DEMO, state.SOURCE_UPLOAD] + ([state.SOURCE_FOLDER] if settings.cases_dir else [])
    source = st.radio("Source", sources, key=state.CASE_SOURCE, horizontal=True, label_visibility="collapsed")
    if source == state.SOURCE_UPLOAD:
        uploads = st.file_uploader(
            "ECG file (DICOM, HL7 aECG / MUSE / Philips XML, WFDB .hea with its .mat, or a zip)",
            key=state.CASE_FILE, accept_multiple_files=True,
            help="Uploaded cases are kept in the app's folder and listed in the worklist.")
        return _uploaded_case(uploads) if uploads else None
    if source == state.SOURCE_FOLDER:
        files = list_case_files(settings.cases_dir)
        if not files:
            st.info(f"No ECG files in {escape_markdown(settings.cases_dir)}.")
            return None
        return CaseSource.from_path(st.selectbox("File", files, key=state.CASE_FOLDER_FILE,
                                                 format_func=lambda p: str(p.relative_to(settings.cases_dir))))
    st.caption("pydicom's Mortara ELI 250 example ECG (MIT licence).")
    return CaseSource.from_path(demo_ecg_path())


def _uploaded_case(uploads: list[UploadedFile]) -> CaseSource | None:
    """The upload's case on screen: each file is a case (a WFDB record's files are one); with several,
    the reader picks one by the file name she chose. The names are remembered for :func:`case_label`."""
    try:
        cases = uploaded_cases([(upload.name, upload.getvalue()) for upload in uploads])
    except EcgReviewError as exc:
        st.error(f"Cannot open the upload — {escape_markdown(exc)}")
        return None
    names = st.session_state.setdefault(state.UPLOAD_NAMES, {})
    for case in cases:
        names[case.source.name] = (case.file_name, case.kept_name)
    if len(cases) == 1:
        return cases[0].source
    by_name = {case.source.name: case for case in cases}
    chosen = st.selectbox(f"Uploaded case ({len(cases)} cases)", list(by_name), key=state.UPLOAD_CHOICE,
                          format_func=lambda name: by_name[name].file_name)
    return by_name[chosen or cases[0].source.name].source


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
        st.markdown("**Device statements**")
        if record.statements:
            st.markdown("\n".join(f"- {escape_markdown(text)}" for text in record.statements))
        else:
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


def worklist_case(settings: Settings) -> CaseSource | None:
    """The case named by ``?case=<source_sha256>`` (from the worklist, a link or a teaching session), or None.

    The case is opened by its path in the index, so a multi-file record is read with
    the files beside it, as the index read it.
    """
    sha = st.query_params.get(state.QUERY_CASE, "").strip().lower()
    if not sha:
        return None
    source = find_case(settings, sha)
    if source is None:
        if not indexing.progress_panel(settings):  # else it opens when the update has found it
            st.error(f"Case {escape_markdown(sha[:16])}… is not in the case folder or the uploaded cases.")
        return None
    st.subheader("Case")
    st.caption(f"From the worklist: {escape_markdown(source.name)}")
    if st.button("Close case", key="close-case"):
        del st.query_params[state.QUERY_CASE]
        st.rerun()
    return source


def find_case(settings: Settings, source_sha256: str) -> CaseSource | None:
    """The indexed case with this SHA-256, or None. A link to a case not indexed yet starts one update of
    the index in the background (once per session and case; :func:`indexing.progress_panel` shows it)."""
    index = resources.cached_index(str(settings.home / INDEX_FILE))
    path = index.find(source_sha256)
    if path is None:  # a link into a folder this server has not indexed yet
        asked = st.session_state.setdefault(state.INDEX_REQUESTED_FOR, set())
        if source_sha256 not in asked:
            asked.add(source_sha256)
            indexing.indexer(settings).request(max_age_s=0)
    return None if path is None else CaseSource.from_path(path)


def keep_upload(settings: Settings, source: CaseSource, source_sha256: str, *, force: bool = False,
                file_name: str | None = None) -> None:
    """Keep an uploaded case (once) so that the worklist lists it, by the file name the user chose
    (``file_name``, else the one the Review page's uploader remembered: :func:`case_label`)."""
    if file_name is not None:
        safe = upload_file_name(file_name)
        st.session_state.setdefault(state.UPLOAD_NAMES, {})[source.name] = (safe, safe)
    uploaded = st.session_state.get(state.CASE_SOURCE) == state.SOURCE_UPLOAD and not st.query_params.get(state.QUERY_CASE)
    if source.data is not None and (force or uploaded):
        user = identity.current_user()
        label, kept_name = st.session_state.get(state.UPLOAD_NAMES, {}).get(source.name, (source.name, source.name))
        where = st if force else st.sidebar  # on the Review page beside the uploader: the reading stays one screen
        refusal = None
        try:
            save_upload(settings, source.data, kept_name, source_sha256, uploader=user.name if user else None)
        except OSError as exc:
            refusal = f"({escape_markdown(exc.strerror or exc)})."
        except EcgReviewError as exc:  # the site's PHI policy
            refusal = f"— {escape_markdown(exc.reason)}"
        if refusal:
            where.warning(f"{escape_markdown(label)} was not kept for the worklist {refusal}")


def case_neighbours(settings: Settings, source_sha256: str) -> tuple[str | None, str | None]:
    """The previous and next case: in a study session its cases in the design's order, else the worklist's
    order (its filters and sort, from the index: :func:`ecgreview.ui.indexing.neighbours`)."""
    order = st.session_state.get(state.WORKLIST_ORDER)
    if order and st.session_state.get(state.WORKLIST_QUERY) is None:
        return neighbours(order, source_sha256)
    return indexing.neighbours(settings, source_sha256)


def open_case(source_sha256: str | None) -> None:
    """Show another case on the review page (``?case=``)."""
    if source_sha256:
        st.query_params[state.QUERY_CASE] = source_sha256
        st.rerun()


def case_navigation(settings: Settings, source_sha256: str) -> str | None:
    """Previous / next case of the current worklist order (keys B and N, through the reading keys' log:
    :func:`go_to_neighbour`); returns the next case."""
    previous, following = case_neighbours(settings, source_sha256)
    back, forward = st.columns([6, 5], gap="small")  # "Previous case" whole at 1280 px wide
    back.button("Previous case", disabled=previous is None, key="previous-case", help="Key B",
                on_click=_show_case, args=(previous,))  # set before the click's run: one run, not two
    forward.button("Next case", disabled=following is None, key="next-case", help="Key N",
                   on_click=_show_case, args=(following,))
    return following


def _show_case(source_sha256: str | None) -> None:
    """A button's callback: the run that follows shows this case (``?case=``)."""
    if source_sha256:
        st.query_params[state.QUERY_CASE] = source_sha256


def go_to_neighbour(settings: Settings, source_sha256: str, direction: str) -> None:
    """Open the next (``"next"``) or previous case of the worklist order, when there is one (keys N and B)."""
    previous, following = case_neighbours(settings, source_sha256)
    target = following if direction == "next" else previous
    if target is not None:
        open_case(target)
