"""PHI audit of ECG files, and de-identification of DICOM: what identifies a person, never its value.

* :mod:`ecgreview.security.phi.dicom`: audit and de-identification of DICOM ECGs
  (DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile);
* :mod:`ecgreview.security.phi.xml`: audit of XML ECGs (HL7 aECG, GE MUSE, Philips Sierra);
* :func:`audit_file` picks one of the two by content. Both give a :class:`PhiAudit`
  of :class:`PhiFinding` (:mod:`ecgreview.security.findings`), with the same one-line summary.

The submodules are imported when a file is audited, so importing this package stays light
(pydicom is loaded by the DICOM audit only).
"""

from __future__ import annotations

import os

from ecgreview.errors import EcgReadError
from ecgreview.security.findings import PhiAudit, PhiFinding

__all__ = ["PhiAudit", "PhiFinding", "audit_file"]


def audit_file(path_or_bytes: str | os.PathLike[str] | bytes, name: str | None = None) -> PhiAudit:
    """Audit a DICOM or XML ECG file (HL7 aECG, GE MUSE, Philips Sierra), chosen by content.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        The file, or its bytes (an upload).
    name : str, optional
        File name of the bytes (its ``.dcm`` suffix is a hint for preamble-less DICOM).

    Returns
    -------
    PhiAudit
        As :func:`~ecgreview.security.phi.dicom.audit_dicom` or
        :func:`~ecgreview.security.phi.xml.audit_xml`; findings never hold values.

    Raises
    ------
    EcgReadError
        If the file is neither DICOM nor XML (WFDB, SCP-ECG: no PHI audit), or cannot be read.
    """
    from ecgreview.io import _looks_like_dicom
    from ecgreview.io._source import _load_source
    from ecgreview.io._xml import _root_tag
    from ecgreview.security.phi.dicom import audit_dicom
    from ecgreview.security.phi.xml import audit_xml

    data, source_name = _load_source(path_or_bytes, name)
    if _looks_like_dicom(data):
        return audit_dicom(data, name=source_name)
    if _root_tag(data, source_name or None) is not None:
        return audit_xml(data, name=source_name)
    if source_name.lower().endswith((".dcm", ".dicom")):
        return audit_dicom(data, name=source_name)
    raise EcgReadError(source_name or None, "no PHI audit for this format (DICOM and HL7 aECG, GE MUSE or "
                                            "Philips Sierra XML only)")

