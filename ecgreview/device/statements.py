"""Map the ECG device's own free-text statements onto the six Ribeiro et al. 2020 classes.

The mapping table is ``ecgreview/data/statement_map.csv`` (site-editable, versioned on its
first line). Matching works on normalised text: accents stripped (NFKD), case folded,
punctuation removed, tokens joined by one space. Where patterns overlap, the longest match
wins, so "incomplete RBBB" is not RBBB.

How a statement is read (in code, not in the table) is the grammar of
:mod:`ecgreview.device._grammar`: clauses; negation and probability words and their scope
over coordinated findings ("not LBBB/RBBB", "Neither LBBB nor RBBB"); history ("History of
atrial fibrillation", "previous ECG showed ...": no call on this ECG) and ended findings
("LBBB is no longer present": ``excluded``); serial comparisons ("atrial fibrillation has
replaced sinus rhythm" is AF now). :attr:`DeviceInterpretation.negated` and
:attr:`DeviceInterpretation.historical` list the statements so read. A statement that is
only a probability word ("Possible", "Consider") is known, and qualifies the next statement.

A file without statements has no device interpretation: every call is
:data:`NOT_AVAILABLE` (never ``absent``), no measurement rule runs, and
:attr:`DeviceInterpretation.available` is False.

Sinus bradycardia and sinus tachycardia are sinus rhythms: a SB/ST row whose rhythm column is
not ``sinus`` (a bare "Bradycardia", "Tachykardie") gives its call only when no statement of
the file names a non-sinus rhythm (atrial fibrillation, flutter, ectopic atrial, ...).

Measurement rules, reported in ``rules_fired``; a measurement alone never gives
``definite``. Heart rate is "Ventricular rate"/"HR" (bpm), else 60000 / RR (ms).

* PR > 200 ms, rhythm not AF: 1dAVb ``possible`` when no statement names it.
* Heart rate < 50 bpm (> 100 bpm) with a sinus-rhythm statement and no AF: SB (ST)
  ``possible`` when no statement names it; a definite SB (ST) statement at a rate that
  misses the threshold is downgraded to ``possible`` (devices often call SB below 60).
* QRS < 120 ms with an RBBB/LBBB call: flagged, strength kept.

Sources: thresholds are the Ribeiro et al. 2020 class definitions as given in the
project brief (1dAVb PR > 200 ms, SB < 50 bpm, ST > 100 bpm with sinus rhythm); the
paper's text could not be retrieved to quote here. QRS >= 120 ms for complete bundle
branch block is the AHA/ACCF/HRS 2009 standard (Surawicz et al., JACC 53:976). Atrial
flutter is known without class: the paper's class is "atrial fibrillation", and we
found no statement that flutter was included.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ecgreview.device._grammar import HISTORY, NEGATED, Hit, is_qualifier, remembered_reading
from ecgreview.device.statement_table import (
    NOT_AVAILABLE,
    POSITIVE_STRENGTHS,
    STRENGTHS,
    TABLE_COLUMNS,
    StatementRow,
    StatementTable,
    _packaged_table,
    _tokenize,
    load_statement_table,
    normalize_statement,
    positive_strengths,
)
from ecgreview.record import CLASSES, Measurement

__all__ = [
    "DeviceCall", "DeviceInterpretation", "HISTORY", "NEGATED", "NOT_AVAILABLE", "RuleFiring", "StatementRow",
    "StatementTable", "STRENGTHS", "TABLE_COLUMNS", "count_statements", "device_calls", "has_statements",
    "is_rhythm_or_conduction", "load_statement_table", "map_statements", "normalize_statement",
]

_RANK = {"definite": 3, "possible": 2, "excluded": 1, "absent": 0}
_RATE_CLASSES = ("SB", "ST")
_POSITIVE = POSITIVE_STRENGTHS

PR_LIMIT_MS = 200.0
SB_LIMIT_BPM = 50.0
ST_LIMIT_BPM = 100.0
BBB_QRS_MIN_MS = 120.0
_RIBEIRO = "Ribeiro et al. 2020 (Nat Commun 11:1760) class definition"
_AHA_BBB = "AHA/ACCF/HRS 2009 (Surawicz et al., JACC 53:976): complete BBB QRS >= 120 ms"

#: Word stems of rhythm and conduction statements (normalised text), in the table's languages. An
#: unmapped statement matching one is a gap the table must close; the others are listed for the site.
_RHYTHM_OR_CONDUCTION = re.compile(
    r"rhythm|sinus|brady|tachy|fibrill|flimmer|flutter|flatter|block|bundle|branch|conduction|atrioventric|"
    r"junctional|nodal|paced|pacing|pacemaker|escape|idioventric|asystol|arrhythm|arythm|aritm|ectopic|"
    r"excitation|fascic|schenkel|leitung|blocco|bloqueio|bloqueo|conduzione|conducao|conduccion|taqui|tachi|"
    r"bradi|fibrila|ritmo|rythme|心律|心动|颤动|扑动|阻滞|传导|早搏|起搏"
    r"|(?<![a-z0-9])(a v|av|avb|wpw|rbbb|lbbb|ivcd|afib|bav|bloc|scp)(?![a-z0-9])"
)


def is_rhythm_or_conduction(statement: str) -> bool:
    """Whether ``statement`` reads as a rhythm or conduction statement (sinus, AV block, BBB, IVCD, ...).

    A word-stem test, deliberately broad; ``statements`` reports unmapped statements of this kind
    separately, because they can change a class call, while the rest (ST-T, hypertrophy) cannot.
    """
    return _RHYTHM_OR_CONDUCTION.search(normalize_statement(statement)) is not None


@dataclass(frozen=True)
class RuleFiring:
    """A measurement rule that fired: what it did to which class, and why."""

    rule: str
    class_name: str
    action: str
    detail: str
    source: str


@dataclass(frozen=True)
class DeviceCall:
    """The device's call for one class: ``strength`` (see :data:`STRENGTHS`) and its evidence."""

    class_name: str
    strength: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceInterpretation:
    """The device's statements and measurements, read as the six classes.

    Attributes
    ----------
    calls : dict of str to DeviceCall
        One call per class, in :data:`~ecgreview.record.CLASSES` order.
    unmapped : tuple of str
        Statements the table does not know at all (never silently dropped).
    known_without_class : tuple of str
        Statements the table knows that map to no class (sinus rhythm, normal ECG, ...).
    table_version : str
        Version line of the table used.
    rules_fired : tuple of RuleFiring
        Measurement rules that set, supported, downgraded or flagged a call.
    heart_rate_bpm : float or None
        Heart rate used by the rules, in beats per minute.
    negated : tuple of str
        Statements with a finding read as negated ("No LBBB or RBBB").
    historical : tuple of str
        Statements with a finding read as history or as no longer present ("History of AF").
    """

    calls: dict[str, DeviceCall]
    unmapped: tuple[str, ...]
    known_without_class: tuple[str, ...]
    table_version: str
    rules_fired: tuple[RuleFiring, ...]
    heart_rate_bpm: float | None = None
    negated: tuple[str, ...] = ()
    historical: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        """Whether the device gave an interpretation (the file carries statements); else every call is
        :data:`NOT_AVAILABLE`."""
        return any(call.strength != NOT_AVAILABLE for call in self.calls.values())


def __getattr__(name: str) -> str:
    if name == "STATEMENT_TABLE_VERSION":
        return _packaged_table().version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class _CallBuilder:
    class_name: str
    strength: str = "absent"
    evidence: list[str] = field(default_factory=list)

    def add(self, strength: str, evidence: str) -> None:
        self.evidence.append(evidence)
        if _RANK[strength] > _RANK[self.strength]:
            self.strength = strength

    def support(self, rule: str, detail: str, source: str) -> RuleFiring:
        """A measurement meets the definition: absent becomes possible, others are noted."""
        if self.strength == "absent":
            action = "absent -> possible"
            self.strength = "possible"
        else:
            conflict = self.strength == "excluded"
            action = "conflicts with statement (kept excluded)" if conflict else "supports statement"
        self.evidence.append(f"rule {rule}: {detail}")
        return RuleFiring(rule, self.class_name, action, detail, source)

    def downgrade(self, rule: str, detail: str, source: str) -> RuleFiring:
        self.strength = "possible"
        self.evidence.append(f"rule {rule}: {detail}")
        return RuleFiring(rule, self.class_name, "definite -> possible", detail, source)

    def freeze(self) -> DeviceCall:
        return DeviceCall(self.class_name, self.strength, tuple(self.evidence))


def _measurement(
    measurements: Iterable[Measurement], names: set[str], per_minute: bool
) -> tuple[float, Measurement] | None:
    """First measurement named like ``names``, in ms (or bpm when ``per_minute``)."""
    for item in measurements:
        words = [w for w in _tokenize(item.name)[0] if w not in {"interval", "duration", "global"}]
        unit = item.unit.strip().casefold()
        if " ".join(words) not in names or not math.isfinite(item.value) or item.value <= 0:
            continue
        if per_minute and (unit in {"", "bpm"} or "min" in unit):
            return item.value, item
        if not per_minute and unit in {"", "ms", "msec", "millisecond", "milliseconds"}:
            return item.value, item
        if not per_minute and unit in {"s", "sec", "second", "seconds"}:
            return item.value * 1000.0, item
    return None


def _heart_rate(measurements: Sequence[Measurement]) -> tuple[float, str] | None:
    rate = _measurement(measurements, {"ventricular rate", "ventricular heart rate", "heart rate", "hr", "rate"}, True)
    if rate is not None:
        return rate[0], f"{rate[1].name} {rate[0]:g} bpm"
    rr = _measurement(measurements, {"rr"}, False)
    if rr is not None:
        return 60000.0 / rr[0], f"60000 / RR {rr[0]:g} ms"
    return None


def _measurement_rules(
    calls: dict[str, _CallBuilder], measurements: Sequence[Measurement], sinus: bool
) -> tuple[list[RuleFiring], float | None]:
    """Apply the PR, heart-rate and QRS rules to ``calls``; the rules that fired, and the rate used (bpm)."""
    fired: list[RuleFiring] = []
    in_af = calls["AF"].strength in _POSITIVE
    pr = _measurement(measurements, {"pr"}, False)
    if pr is not None and pr[0] > PR_LIMIT_MS and not in_af:
        fired.append(calls["1dAVb"].support("PR>200ms", f"PR {pr[0]:g} ms > {PR_LIMIT_MS:g} ms", _RIBEIRO))
    rate = _heart_rate(measurements)
    if rate is not None:
        bpm, origin = rate
        for name, low, check in (("SB", True, bpm < SB_LIMIT_BPM), ("ST", False, bpm > ST_LIMIT_BPM)):
            limit = f"{'<' if low else '>'} {SB_LIMIT_BPM if low else ST_LIMIT_BPM:g} bpm"
            detail = f"heart rate {bpm:.0f} bpm ({origin})"
            if check and sinus and not in_af:
                fired.append(calls[name].support(f"{name} rate", f"{detail} {limit}, sinus rhythm", _RIBEIRO))
            elif not check and calls[name].strength == "definite":
                fired.append(calls[name].downgrade(f"{name} rate", f"{detail} not {limit}", _RIBEIRO))
    qrs = _measurement(measurements, {"qrs"}, False)
    for name in ("RBBB", "LBBB"):
        if qrs is not None and qrs[0] < BBB_QRS_MIN_MS and calls[name].strength in _POSITIVE:
            detail = f"QRS {qrs[0]:g} ms < {BBB_QRS_MIN_MS:g} ms required for complete {name}; strength kept"
            fired.append(RuleFiring(f"{name} QRS", name, "flagged", detail, _AHA_BBB))
    return fired, None if rate is None else rate[0]


def has_statements(statements: Iterable[str]) -> bool:
    """Whether a file carries a device interpretation: at least one non-blank statement."""
    return any(statement.strip() for statement in statements)


@dataclass
class _FileReading:
    """What the statements of one file say, statement by statement."""

    calls: dict[str, _CallBuilder] = field(default_factory=lambda: {name: _CallBuilder(name) for name in CLASSES})
    unmapped: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    negated: list[str] = field(default_factory=list)
    historical: list[str] = field(default_factory=list)
    rhythms: set[str] = field(default_factory=set)
    rate_only: list[tuple[str, Hit]] = field(default_factory=list)  # SB/ST from a row that does not say sinus

    def add(self, statement: str, hits: Sequence[Hit]) -> None:
        if not hits:
            self.unmapped.append(statement)
        elif all(hit.row.class_name is None for hit in hits):
            self.known.append(statement)
        for kind, found in ((NEGATED, self.negated), (HISTORY, self.historical)):
            if any(hit.reading == kind for hit in hits):
                found.append(statement)
        for hit in hits:
            if hit.row.rhythm and hit.current:
                self.rhythms.add(hit.row.rhythm)
            if hit.row.class_name in _RATE_CLASSES and hit.row.rhythm != "sinus" and hit.strength in _POSITIVE:
                self.rate_only.append((statement, hit))
            elif hit.row.class_name is not None:
                self.calls[hit.row.class_name].add(hit.strength or "absent", _evidence(statement, hit))

    def settle_rate_only(self) -> None:
        """SB/ST from "Bradycardia"/"Tachycardia": counted unless the file names only non-sinus rhythms."""
        not_sinus = "non-sinus" in self.rhythms and "sinus" not in self.rhythms
        for statement, hit in self.rate_only:
            builder = self.calls[hit.row.class_name or ""]
            if not_sinus:
                builder.evidence.append(f"{_evidence(statement, hit)}, not counted: the rhythm stated is not sinus")
            else:
                builder.add(hit.strength or "absent", _evidence(statement, hit))



def _evidence(statement: str, hit: Hit) -> str:
    said = hit.strength if hit.strength else f"{hit.reading} (no call)"
    return f"{statement!r} ~ {hit.row.pattern!r} (line {hit.row.line}): {said}"


def _read_file(statements: Sequence[str], table: StatementTable) -> _FileReading:
    reading, qualified = _FileReading(), False
    for statement in statements:
        if is_qualifier(statement):
            reading.known.append(statement)
            qualified = True
            continue
        reading.add(statement, remembered_reading(statement, table, qualified=qualified))
        qualified = False
    reading.settle_rate_only()
    return reading


def map_statements(
    statements: Iterable[str],
    measurements: Iterable[Measurement] = (),
    *,
    table: StatementTable | None = None,
) -> DeviceInterpretation:
    """Read the device's statements and measurements as the six Ribeiro classes.

    Parameters
    ----------
    statements : iterable of str
        Free-text statements in file order (``EcgRecord.statements``). None (or only blank
        ones): every call is :data:`NOT_AVAILABLE` and no measurement rule runs.
    measurements : iterable of Measurement
        Device measurements (``EcgRecord.measurements``); intervals in ms, rate in bpm.
    table : StatementTable, optional
        Defaults to the packaged table.

    Returns
    -------
    DeviceInterpretation
    """
    table = table if table is not None else _packaged_table()
    texts = [text.strip() for text in statements if text.strip()]
    if not texts:
        return DeviceInterpretation(calls={name: DeviceCall(name, NOT_AVAILABLE) for name in CLASSES}, unmapped=(),
                                    known_without_class=(), table_version=table.version, rules_fired=())
    reading = _read_file(texts, table)
    sinus = "sinus" in reading.rhythms and "non-sinus" not in reading.rhythms
    fired, bpm = _measurement_rules(reading.calls, tuple(measurements), sinus)
    return DeviceInterpretation(
        calls={name: builder.freeze() for name, builder in reading.calls.items()},
        unmapped=tuple(reading.unmapped), known_without_class=tuple(reading.known),
        table_version=table.version, rules_fired=tuple(fired), heart_rate_bpm=bpm,
        negated=tuple(reading.negated), historical=tuple(reading.historical),
    )


def device_calls(
    interpretation: DeviceInterpretation, *, possible_counts_as_positive: bool = True
) -> dict[str, bool | None]:
    """Binary device call per class for evaluation; ``possible`` counts as positive by default.

    None for every class when the device gave no interpretation (:data:`NOT_AVAILABLE`): such a
    case is left out of the device's scores, never counted as negative.
    """
    if not interpretation.available:
        return dict.fromkeys(CLASSES)
    positive = positive_strengths(possible_counts_as_positive=possible_counts_as_positive)
    return {name: interpretation.calls[name].strength in positive for name in CLASSES}


def count_statements(
    statement_lists: Iterable[Iterable[str]],
    *,
    table: StatementTable | None = None,
) -> list[tuple[str, int, str]]:
    """Each distinct statement, how often it occurs, and what it maps to, most frequent first.

    ``mapped_to`` is e.g. ``"AF:definite"``, ``"RBBB:excluded; LBBB:excluded"``, ``"AF:history"``
    (a finding read as history: no call), ``"known, no class"``, ``"qualifier"`` or ``"unmapped"``;
    each statement is read on its own (a preceding qualifier and the file's rhythm are ignored).
    """
    table = table if table is not None else _packaged_table()
    counts = Counter(s.strip() for statements in statement_lists for s in statements if s.strip())
    result = []
    for statement, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if is_qualifier(statement):
            mapped_to = "qualifier"
        else:
            hits = remembered_reading(statement, table, qualified=False)
            calls = [f"{hit.row.class_name}:{hit.strength or hit.reading}" for hit in hits if hit.row.class_name]
            mapped_to = "; ".join(calls) if calls else "known, no class" if hits else "unmapped"
        result.append((statement, count, mapped_to))
    return result
