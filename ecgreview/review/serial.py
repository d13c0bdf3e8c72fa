"""Serial comparison: the prior ECGs of a patient's pseudonym, and what changed since the prior.

**Linking** (:func:`~ecgreview.review.serial_link.link_key`, the one rule of who is one patient, in
:mod:`ecgreview.review.serial_link`, and :func:`prior_cases`; the worklist's SQL,
:mod:`ecgreview.review.worklist_serial`, compares the same keys and is tested against it): two ECGs belong to
one patient when they have the same non-empty *link key* under the site's linking rule
(``Settings.serial_link``: ``patient-id``, the default, or ``record-prefix:<regex>`` for WFDB record names).
An ECG's *priors* are the other ECGs (other content: another SHA-256) of its link key acquired strictly
earlier, newest first; an ECG without an acquisition time (a WFDB header without base date and time) has
no priors and is no one's prior. Times are compared as the index stores them (ISO 8601 text, the device's
local time).

**Call changes** (:func:`call_change`, :func:`change_masks`): per class, a call present now and
absent on the prior is ``new``, absent now and present on the prior ``resolved``; unchanged
calls are ``present`` or ``absent``; without both calls there is no change to tell (``""``).
The DNN's calls are :func:`ecgreview.record.dnn_calls` at the site's thresholds, the device's
:func:`ecgreview.device.statements.device_calls` (``possible`` counts; no statements: none).

**Interval changes** (:func:`interval_changes`): heart rate, PR, QRS, QT and QTc from the
device's measurements of each ECG, now minus prior; a measurement the device did not make is
left blank, never read as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

import pandas as pd

from ecgreview.device.statements import device_calls
from ecgreview.record import CLASSES, EcgRecord, Measurement
from ecgreview.review.calipers import heart_rate_bpm
from ecgreview.review.case import CaseAnalysis
from ecgreview.review.serial_link import DEFAULT_LINK_RULE, link_key

__all__ = ["CHANGES", "INTERVALS", "Acquired", "call_change", "change_masks", "change_summary", "change_table",
           "changed_classes", "disagreement_count",
           "disagreement_reason", "interval_changes", "prior_cases"]

#: What a class's call did between the prior ECG and this one.
CHANGES: tuple[str, ...] = ("new", "resolved", "present", "absent")
#: The intervals of the change table: display name → (measurement names in preference order, unit).
INTERVALS: dict[str, tuple[tuple[str, ...], str]] = {
    "Heart rate": (("Ventricular rate",), "bpm"), "PR": (("PR",), "ms"), "QRS": (("QRS",), "ms"),
    "QT": (("QT",), "ms"), "QTc": (("QTc",), "ms"),
}


class Acquired(Protocol):
    """What linking needs of a case (an :class:`~ecgreview.review.worklist.IndexedCase` has it)."""

    @property
    def source_sha256(self) -> str: ...

    @property
    def source_name(self) -> str: ...

    @property
    def pseudonym(self) -> str: ...

    @property
    def acquisition_time(self) -> str: ...


CaseT = TypeVar("CaseT", bound=Acquired)


def prior_cases(current: Acquired, cases: Sequence[CaseT], *, rule: str = DEFAULT_LINK_RULE) -> list[CaseT]:
    """The priors of ``current`` among ``cases``: the same non-empty :func:`link_key` under ``rule``, other
    content, acquired strictly earlier; newest first (ties by SHA-256, descending), one per content (see the
    module docstring).

    Parameters
    ----------
    current : Acquired
        The case read now (``acquisition_time`` as the index stores it, ISO 8601 text).
    cases : sequence of Acquired
        Candidate cases (any keys; ``current`` itself may be among them).
    rule : str
        The linking rule (``Settings.serial_link``).
    """
    key = link_key(current.pseudonym, current.source_name, rule)
    if not key or not current.acquisition_time:
        return []
    seen, priors = {current.source_sha256}, []
    for case in sorted(cases, key=lambda item: (item.acquisition_time, item.source_sha256), reverse=True):
        if (case.acquisition_time and case.acquisition_time < current.acquisition_time
                and case.source_sha256 not in seen and link_key(case.pseudonym, case.source_name, rule) == key):
            seen.add(case.source_sha256)
            priors.append(case)
    return priors


def call_change(prior: bool | None, current: bool | None) -> str:
    """``new``, ``resolved``, ``present``, ``absent`` (:data:`CHANGES`), or ``""`` without both calls."""
    if prior is None or current is None:
        return ""
    if current != prior:
        return "new" if current else "resolved"
    return "present" if current else "absent"


def change_masks(prior_mask: int, current_mask: int) -> tuple[int, int]:
    """:func:`call_change` on call masks (bit ``i`` is class ``CLASSES[i]``): the (new, resolved) masks."""
    return current_mask & ~prior_mask, prior_mask & ~current_mask


def changed_classes(mask: int) -> list[str]:
    """The class names of the bits set in ``mask`` (:data:`~ecgreview.record.CLASSES` order)."""
    return [name for index, name in enumerate(CLASSES) if mask >> index & 1]


def _dnn(analysis: CaseAnalysis) -> dict[str, bool | None]:
    calls = analysis.dnn_calls
    return dict(zip(CLASSES, calls)) if calls is not None else dict.fromkeys(CLASSES)


def _probability(analysis: CaseAnalysis, index: int) -> str:
    return "—" if analysis.probabilities is None else f"{float(analysis.probabilities[index]):.3f}"


def change_table(current: CaseAnalysis, prior: CaseAnalysis) -> pd.DataFrame:
    """One row per class: the DNN's probability prior → now with its call change, and the device's
    call prior → now with its change (:func:`call_change`).

    Returns
    -------
    pandas.DataFrame
        Columns Class, DNN prior, DNN now, DNN change, Device prior, Device now, Device change;
        a probability or call that does not exist (no model, no statements) reads ``—``.
    """
    dnn_now, dnn_prior = _dnn(current), _dnn(prior)
    device_now, device_prior = device_calls(current.device), device_calls(prior.device)
    rows = []
    for index, name in enumerate(CLASSES):
        rows.append({
            "Class": name, "DNN prior": _probability(prior, index), "DNN now": _probability(current, index),
            "DNN change": call_change(dnn_prior[name], dnn_now[name]) or "—",
            "Device prior": prior.device.calls[name].strength, "Device now": current.device.calls[name].strength,
            "Device change": call_change(device_prior[name], device_now[name]) or "—",
        })
    return pd.DataFrame(rows)


def change_summary(table: pd.DataFrame) -> str:
    """The calls that changed, as a cardiologist reads them first: "New LBBB (DNN, device) · AF resolved
    (device)"; empty when no DNN or device call changed. ``table`` is :func:`change_table`'s."""
    parts = []
    for change, words in (("new", "New {}"), ("resolved", "{} resolved")):
        for _, row in table.iterrows():
            sources = [who for who, column in (("DNN", "DNN change"), ("device", "Device change"))
                       if row[column] == change]
            if sources:
                parts.append(f"{words.format(row['Class'])} ({', '.join(sources)})")
    return " · ".join(parts)


def _interval(measurements: Sequence[Measurement], names: tuple[str, ...]) -> float | None:
    for item in measurements:
        if item.name in names and item.measured:
            return float(item.value)
    if names == INTERVALS["Heart rate"][0]:  # no rate stated: 60000 / RR
        rr_ms = _interval(measurements, ("RR",))
        return None if rr_ms is None else heart_rate_bpm(rr_ms)
    return None


def interval_changes(current: EcgRecord, prior: EcgRecord) -> pd.DataFrame:
    """Heart rate (bpm), PR, QRS, QT and QTc (ms) from the device's measurements: prior, now, change.

    Returns
    -------
    pandas.DataFrame
        Columns Interval, Prior, Now, Change (now − prior, signed), as text with units; ``—``
        where a device did not measure it.
    """
    rows = []
    for label, (names, unit) in INTERVALS.items():
        before, now = _interval(prior.measurements, names), _interval(current.measurements, names)
        change = "—" if before is None or now is None else f"{now - before:+.0f} {unit}"
        rows.append({"Interval": label, "Prior": "—" if before is None else f"{before:.0f} {unit}",
                     "Now": "—" if now is None else f"{now:.0f} {unit}", "Change": change})
    return pd.DataFrame(rows)


def disagreement_count(*, discordant_count: int, new_mask: int = 0, resolved_mask: int = 0,
                       device_new_mask: int = 0, device_resolved_mask: int = 0) -> int:
    """How much a worklist row disagrees (the worklist's ``disagreement_rank`` is minus this): the discordant
    classes, plus the classes whose call changed since the prior, by the DNN or the device (a class both
    changed counts once).

    The change masks are :func:`change_masks`' (DNN: :func:`ecgreview.record.dnn_calls`; device:
    :func:`ecgreview.device.statements.device_calls`, 0 unless both ECGs carry statements).
    """
    return discordant_count + bin(new_mask | resolved_mask | device_new_mask | device_resolved_mask).count("1")


def disagreement_reason(
    *, discordant_mask: int, dnn_mask: int | None, device_positive: int, device_negative: int,
    readers_present: int = 0, readers_absent: int = 0, new_mask: int = 0, resolved_mask: int = 0,
    prior_acquired: str = "", device_new_mask: int = 0, device_resolved_mask: int = 0,
) -> str:
    """Why a worklist row disagrees, in words: for each discordant class who calls it and who does not
    ("DNN AF, device no AF"), then the DNN's and the device's changes against the prior ("new DNN LBBB vs
    2019-03-02", "DNN AF resolved vs 2019-03-02", "new device LBBB vs 2019-03-02"). Empty when nothing
    disagrees.

    ``discordant_mask`` is the one discordance rule's result
    (:func:`ecgreview.review.consensus.calls_disagree`, as the worklist's ``opinions`` table keeps it);
    this function only says whose opinions they are. Masks hold one bit per class in ``CLASSES`` order;
    ``dnn_mask`` is None without a DNN output (the DNN then has no opinion).
    """
    parts = []
    for name in changed_classes(discordant_mask):
        bit = 1 << CLASSES.index(name)
        opinions = [("DNN", dnn_mask is not None and bool(dnn_mask & bit), dnn_mask is not None and not dnn_mask & bit),
                    ("device", bool(device_positive & bit), bool(device_negative & bit)),
                    ("readers", bool(readers_present & bit), bool(readers_absent & bit))]
        present = " and ".join(who for who, says_present, _ in opinions if says_present)
        absent = " and ".join(who for who, _, says_absent in opinions if says_absent)
        parts.append(f"{present} {name}, {absent} no {name}")
    when = f" vs {prior_acquired[:10]}" if prior_acquired else ""
    parts += [f"new DNN {name}{when}" for name in changed_classes(new_mask)]
    parts += [f"DNN {name} resolved{when}" for name in changed_classes(resolved_mask)]
    parts += [f"new device {name}{when}" for name in changed_classes(device_new_mask)]
    parts += [f"device {name} resolved{when}" for name in changed_classes(device_resolved_mask)]
    return "; ".join(parts)
