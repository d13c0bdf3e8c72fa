"""Who is one patient, for the serial comparison: the *link key* of an ECG under the site's linking rule
(``Settings.serial_link``); two ECGs with the same non-empty key belong to one patient
(:func:`ecgreview.review.serial.prior_cases` and the worklist's SQL, :mod:`ecgreview.review.worklist_serial`,
both compare these keys).

* ``patient-id`` (the default): the pseudonym of a DICOM, XML or SCP file (DICOM PatientID, the XML or
  SCP patient id). WFDB records carry no patient id, so they are never linked.
* ``record-prefix:<regex>``: as ``patient-id`` for files with a patient id, and for a WFDB record
  (a ``.hea`` header) the part of its record name (the file stem) that the regex's named group ``patient``,
  or else its first group, captures (:func:`re.search`: anchor with ``^`` for a prefix); a record whose name
  does not match, or whose group is empty, is not linked. Keys are namespaced (``id:P1`` from a patient id,
  ``record:P1`` from a record name), so a record name never links to a DICOM PatientID that happens to
  read the same: the two name patients in different ways.
"""

from __future__ import annotations

import functools
import re

__all__ = ["DEFAULT_LINK_RULE", "LINK_RULES", "describe_link_key", "link_key", "parse_link_rule"]

#: The linking rules (``Settings.serial_link``): ``patient-id``, or ``record-prefix:<regex>`` (module docstring).
LINK_RULES: tuple[str, ...] = ("patient-id", "record-prefix")
#: Today's rule, and the default: the patient id of DICOM, XML and SCP files; WFDB records are not linked.
DEFAULT_LINK_RULE = "patient-id"
#: A WFDB record's file: its header (``NAME.hea``, also the header found in an uploaded zip).
_WFDB_HEADER_SUFFIX = ".hea"
#: The keys' namespaces, and how each is said: a patient id, a WFDB record name's part.
_NAMESPACES = {"id": "pseudonym", "record": "record prefix"}


@functools.lru_cache(maxsize=32)
def parse_link_rule(rule: str) -> re.Pattern[str] | None:
    """The record-name pattern of a linking rule: None for ``patient-id``, the compiled regex for
    ``record-prefix:<regex>``.

    Raises
    ------
    ValueError
        ``rule`` is neither form, its regex does not compile, or it has no group (no part of the record
        name would be the key); the message names ``rule`` and the allowed forms.
    """
    forms = "'patient-id' or 'record-prefix:<regex>' (a regex with a group, e.g. 'record-prefix:^([A-Z0-9]+)_')"
    if rule == DEFAULT_LINK_RULE:
        return None
    kind, colon, text = rule.partition(":")
    if kind != LINK_RULES[1] or not colon or not text:
        raise ValueError(f"rule must be {forms}; got {rule!r}")
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise ValueError(f"rule {rule!r}: the regex does not compile ({exc})") from exc
    if pattern.groups == 0:
        raise ValueError(f"rule {rule!r}: the regex has no group; the named group 'patient' or the first group "
                         "is the part of the record name that links")
    return pattern


def link_key(pseudonym: str, source_name: str, rule: str = DEFAULT_LINK_RULE) -> str:
    """The key that links the ECGs of one patient under ``rule`` (see the module docstring); ``""``: not linked.

    Parameters
    ----------
    pseudonym : str
        The record's pseudonym (a patient id; for a WFDB record, its record name).
    source_name : str
        The file's name; a WFDB record's is its header's (``NAME.hea``).
    rule : str
        ``patient-id`` or ``record-prefix:<regex>`` (:func:`parse_link_rule`; ValueError otherwise).
    """
    pattern = parse_link_rule(rule)
    if not source_name.lower().endswith(_WFDB_HEADER_SUFFIX):
        return f"id:{pseudonym}" if pseudonym else ""
    match = pattern.search(pseudonym) if pattern is not None else None
    if pattern is None or match is None:
        return ""
    part = match.group("patient") if "patient" in pattern.groupindex else match.group(1)
    return f"record:{part}" if part else ""


def describe_link_key(key: str) -> str:
    """Whose ECGs a key links, in words: ``pseudonym P1`` (a patient id), ``record prefix PT01`` (a WFDB
    record name's part); ``""`` for no key."""
    namespace, _, part = key.partition(":")
    return f"{_NAMESPACES[namespace]} {part}" if part and namespace in _NAMESPACES else ""
