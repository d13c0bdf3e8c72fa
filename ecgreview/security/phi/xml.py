"""PHI audit of XML ECG files: HL7 aECG, GE MUSE and Philips Sierra.

:func:`audit_xml` lists the elements (and attributes) of an XML ECG that identify a
person or could help to: patient name, birth date, identifiers, patient
characteristics (sex, age, race, height, weight), addresses and contacts,
physicians and operators, institution and location, dates and times, free text and
device identity, in the categories of the DICOM audit (:mod:`ecgreview.security.phi.dicom`). A
finding names the element's path, never its value, so the result can be shown and
logged freely; :meth:`~ecgreview.security.findings.PhiAudit.summary` gives the same one-line
badge as for DICOM.

The patient id element (``PatientDemographics/PatientID``, ``generalpatientdata/
patientid``, aECG ``trialSubject/id``) is the pseudonym the readers copy onto the
record; like DICOM PatientID it is kept by explicit exception and listed in
``kept``. An element counts only when it holds a value: text, or for HL7 and
Philips the ``value``, ``extension``, ``code``, ``displayName`` or ``id``
attribute.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from ecgreview.io._source import _load_source
from ecgreview.io._xml import _parse_xml
from ecgreview.security.findings import DUMMY_VALUES, PhiAudit, PhiFinding

__all__ = ["audit_xml"]

#: Attributes that carry an element's value in HL7 aECG (``value``, ``extension`` …) and Philips (``id``).
_VALUE_ATTRIBUTES = frozenset({"value", "extension", "code", "displayname", "id"})
_KEPT = "pseudonym"
_PERSON_ROLES = ("md", "physician", "operator", "tech", "technician", "overreader", "editor", "attending",
                 "referring", "ordering", "confirmer", "confirmedby", "investigator")


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    category: str
    action: str  # as in the DICOM profile: X remove, Z empty, D dummy; "keep" for the pseudonym


def _rule(pattern: str, category: str, action: str) -> _Rule:
    return _Rule(re.compile(rf"(?:^|/){pattern}$"), category, action)


#: Paths in lower case, local names joined by ``/`` (``@attribute`` for attributes); the first match wins.
_RULES: tuple[_Rule, ...] = (
    _rule(r"(trialsubject/id|patientdemographics/patientid|generalpatientdata/patientid)", _KEPT, "keep"),
    _rule(r"(subjectdemographicperson|generalpatientdata)/name(/[^/]+)?", "patient name", "Z"),
    _rule(r"(patient[^/]*name|otherpatientnames|birthname|maidenname|mothersmaidenname)", "patient name", "Z"),
    _rule(r"[^/]*(dateofbirth|birthdate|birthtime|dob)", "birth date", "Z"),
    _rule(r"(mrn|uniquepatientid|secondaryid|otherpatientids?|medicalrecordnumber|accessionnumber|ordernumber"
          r"|uniqueorderid|requisitionnumber|placerordernumber|fillerordernumber|encounter(id|number)"
          r"|visit(id|number)|admissionid|[^/]*accountnumber|ssn|socialsecuritynumber|nationalid|insurancenumber)",
          "identifier", "X"),
    _rule(r"(patientage|ageunits|age/(years|months|days)|gender|sex|administrativegendercode|race|racecode"
          r"|ethnicgroupcode|ethnicity|height(cm|in)?|weight(kg|lb)?)", "patient characteristic", "X"),
    _rule(r"(addr|address|streetaddressline|streetname|city|state|postalcode|zip|zipcode|country|telecom|phone"
          r"|phonenumber|telephone|email)", "address or contact", "X"),
    _rule(rf"[^/]*({'|'.join(_PERSON_ROLES)})[^/]*(lastname|firstname|middlename|name|id)", "physician or operator",
          "X"),
    _rule(r"(operator|editor|technician|physician|[^/]*person/name"
          r"|(studyeventperformer|seriesperformer|trialinvestigator|assignedentity)/id)", "physician or operator", "X"),
    _rule(r"((testingsite|trialsite)/id|(location|representedauthoringorganization)/name|bed"
          r"|[^/]*(institution|department|facility|site|location|hospital|room|ward)[^/]*)", "institution", "D"),
    _rule(r"(effectivetime/(low|high|center)|activitytime/(low|high)"
          r"|(acquisition|edit|confirm|order|orderplacement|report|admit|admission|discharge|visit|study|test"
          r"|collection|creation)(date|time|datetime))", "date or time", "D"),
    _rule(r"(testreason|reasonfortest|reasonfororder|orderremarks|comments?|userdefined|userdefine/value"
          r"|admitdiagnosis|subjectfindingcomment/text|filename)", "free text", "X"),
    _rule(r"(cartnumber|[^/]*serialnumber|manufacturedseriesdevice/id)", "device identity", "D"),
)
#: Rules for attributes (Philips keeps dates, times and the device id in attributes).
_ATTRIBUTE_RULES: tuple[_Rule, ...] = (
    _rule(r"(dataacquisition|reportinfo|interpretation)@(date|time)", "date or time", "D"),
    _rule(r"machine@machineid", "device identity", "D"),
)
_DUMMY = {value.lower() for value in DUMMY_VALUES.values()}


def audit_xml(path_or_bytes: str | os.PathLike[str] | bytes, *, name: str | None = None) -> PhiAudit:
    """Audit an HL7 aECG, GE MUSE or Philips Sierra XML file for protected health information.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        The file, or its bytes (an upload).
    name : str, optional
        File name for the result and error messages when bytes are given.

    Returns
    -------
    PhiAudit
        ``status`` ``"clean"`` or ``"findings"``. Each finding's ``tag`` is the element's
        path (``RestingECG/PatientDemographics/PatientLastName``, or ``…/dataacquisition@date``
        for an attribute), ``keyword`` its local name, ``vr`` ``"XML"``; never a value.

    Raises
    ------
    EcgReadError
        If the file is not well-formed XML, declares entities, or exceeds the readers' limits.
    """
    data, source_name = _load_source(path_or_bytes, name)
    source = source_name or None
    root = _parse_xml(data, source, "ECG")
    findings: dict[tuple[str, str], PhiFinding] = {}
    kept: dict[str, str] = {}
    _walk(root, "", findings, kept)
    return PhiAudit(source_name, tuple(findings.values()), tuple(kept.values()))


def _walk(element: ElementTree.Element, parent: str, findings: dict[tuple[str, str], PhiFinding],
          kept: dict[str, str]) -> None:
    """Record the findings of ``element`` and its descendants (iteratively: deep XML cannot overflow the stack)."""
    stack = [(element, parent)]
    while stack:
        current, parent_path = stack.pop()
        if not isinstance(current.tag, str):  # comments and processing instructions
            continue
        path = f"{parent_path}/{current.tag}" if parent_path else current.tag
        _check(path, current.tag, _element_has_value(current), _RULES, findings, kept)
        for attribute, value in current.attrib.items():
            _check(f"{path}@{attribute}", attribute, _is_value(value), _ATTRIBUTE_RULES, findings, kept)
        stack.extend((child, path) for child in reversed(current))


def _check(path: str, keyword: str, has_value: bool, rules: tuple[_Rule, ...],
           findings: dict[tuple[str, str], PhiFinding], kept: dict[str, str]) -> None:
    """Record ``path`` under the first of ``rules`` it matches, when it holds a value."""
    if not has_value:
        return
    lowered = path.lower()
    rule = next((rule for rule in rules if rule.pattern.search(lowered)), None)
    if rule is None:
        return
    if rule.action == "keep":
        kept.setdefault(path, f"{path}: kept by explicit exception ({rule.category})")
    else:
        findings.setdefault((path, rule.category), PhiFinding(path, keyword, "XML", rule.category, rule.action))


def _element_has_value(element: ElementTree.Element) -> bool:
    if _is_value(element.text or ""):
        return True
    return any(key.lower() in _VALUE_ATTRIBUTES and _is_value(value) for key, value in element.attrib.items())


def _is_value(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and stripped.lower() not in _DUMMY

