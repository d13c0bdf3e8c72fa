"""What a PHI audit finds (DICOM and XML alike): findings name the attribute, never its value."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DUMMY_VALUES", "PhiAudit", "PhiFinding"]


#: Dummy values written for action ``D`` (and generic person names, dates and times), by VR.
DUMMY_VALUES: dict[str, str] = {
    "PN": "ANONYMIZED", "LO": "ANONYMIZED", "SH": "ANONYMIZED", "LT": "ANONYMIZED", "ST": "ANONYMIZED",
    "UT": "ANONYMIZED", "AE": "ANONYMIZED", "CS": "ANONYMIZED", "UC": "ANONYMIZED",
    "DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000Y",
}


@dataclass(frozen=True)
class PhiFinding:
    """One attribute that may identify someone. Holds no value, by design.

    Attributes
    ----------
    tag : str
        ``"(gggg,eeee)"``.
    keyword : str
        DICOM keyword, ``""`` for a private tag.
    vr : str
        Value representation.
    category : str
        What it is: ``patient name``, ``birth date``, ``private tag``, ...
    action : str
        What the profile does with it: ``X`` remove, ``Z`` empty, ``D`` dummy, ``U`` new UID.
    location : str
        Where it sits: ``""`` at top level, else e.g. ``RequestAttributesSequence[0]``.
    """

    tag: str
    keyword: str
    vr: str
    category: str
    action: str
    location: str = ""

    def __str__(self) -> str:
        if self.vr == "XML":  # an XML element or attribute (ecgreview.security.phi.xml): the tag is its path
            return f"{self.tag}: {self.category} (action {self.action})"
        where = f" in {self.location}" if self.location else ""
        return f"{self.tag} {self.keyword or 'private tag'} {self.vr}{where}: {self.category} (action {self.action})"


@dataclass(frozen=True)
class PhiAudit:
    """The result of :func:`audit_dicom`: findings, and the attributes kept by explicit exception."""

    source: str
    findings: tuple[PhiFinding, ...]
    kept: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``"clean"`` without findings, else ``"findings"``."""
        return "findings" if self.findings else "clean"

    def summary(self) -> str:
        """One line for a badge, e.g. ``PHI audit: 3 findings (birth date, patient name)``; no values."""
        if not self.findings:
            return "PHI audit: clean"
        categories = sorted({finding.category for finding in self.findings})
        noun = "finding" if len(self.findings) == 1 else "findings"
        return f"PHI audit: {len(self.findings)} {noun} ({', '.join(categories)})"
