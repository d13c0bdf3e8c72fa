"""Which case is on screen: the case picker (demo, case folder, uploads), a worklist link (``?case=``),
keeping an upload for the worklist, and previous / next along the worklist's order.

Widgets only: every computation is a library call."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from ecgreview.config import Settings
from ecgreview.errors import EcgReviewError
from ecgreview.examples import demo_ecg_path
from ecgreview.io import list_case_files
from ecgreview.review.case import CaseSource
from ecgreview.review.uploads import upload_file_name, uploaded_cases
from ecgreview.review.worklist import INDEX_FILE, neighbours, save_upload
from ecgreview.ui import identity, indexing, resources, state
from ecgreview.ui.text import escape_markdown

__all__ = ["case_navigation", "case_neighbours", "case_picker", "find_case", "go_to_neighbour", "keep_upload",
           "open_case", "worklist_case"]


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
    the reader picks one by the file name she chose. The names are remembered for
    :func:`~ecgreview.ui.case_panels.case_label`."""
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
    (``file_name``, else the one the Review page's uploader remembered:
    :func:`~ecgreview.ui.case_panels.case_label`)."""
    if file_name is not None:
        safe = upload_file_name(file_name)
        st.session_state.setdefault(state.UPLOAD_NAMES, {})[source.name] = (safe, safe)
    uploaded = (st.session_state.get(state.CASE_SOURCE) == state.SOURCE_UPLOAD
                and not st.query_params.get(state.QUERY_CASE))
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
