"""Map the ECG device's own free-text statements onto the six Ribeiro et al. 2020 classes.

The mapping table is ``ecgreview/data/statement_map.csv`` (site-editable, versioned on its
first line). Matching works on normalised text: accents stripped (NFKD), case folded,
punctuation removed, tokens joined by one space; ``, ; ( ) [ ]`` end a clause. Where
patterns overlap, the longest match wins, so "incomplete RBBB" is not RBBB.

Modifiers (in code, not in the table): a negation word in the four tokens before a match
(same clause, after the previous match) makes it ``excluded``; a probability word there,
or as the whole rest of its clause ("Vorhofflimmern möglich"), makes it ``possible``;
probability is checked first ("cannot rule out"). A statement that is only a probability
word ("Possible", "Consider") is known, and qualifies the next statement. Known limits:
Portuguese "no" ("in the") reads as a negation; CJK text gets no modifiers.

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

import bisect
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ecgreview.device.statement_table import (
    STRENGTHS,
    TABLE_COLUMNS,
    StatementRow,
    StatementTable,
    _packaged_table,
    _tokenize,
    load_statement_table,
    normalize_statement,
)
from ecgreview.record import CLASSES, Measurement

__all__ = [
    "DeviceCall", "DeviceInterpretation", "RuleFiring", "StatementRow", "StatementTable",
    "STRENGTHS", "TABLE_COLUMNS", "count_statements", "device_calls", "is_rhythm_or_conduction",
    "load_statement_table", "map_statements", "normalize_statement",
]

_RANK = {"definite": 3, "possible": 2, "excluded": 1, "absent": 0}

PR_LIMIT_MS = 200.0
SB_LIMIT_BPM = 50.0
ST_LIMIT_BPM = 100.0
BBB_QRS_MIN_MS = 120.0
_RIBEIRO = "Ribeiro et al. 2020 (Nat Commun 11:1760) class definition"
_AHA_BBB = "AHA/ACCF/HRS 2009 (Surawicz et al., JACC 53:976): complete BBB QRS >= 120 ms"

_WINDOW_TOKENS = 4


def _cues(phrases: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(normalize_statement(phrase).split()) for phrase in phrases.split("|"))


# Modifier words (add a language here and in the table). Probability is checked before negation.
_NEGATION_BEFORE = _cues("no|not|without|absence of|negative for|kein|keine|keinen|keiner|ohne|non|nessun|nessuna|"
                         "senza|sem|não|ausência de|sin|ausencia de|pas de|sans|aucun|aucune")
_POSSIBLE_BEFORE = _cues("possible|possibly|probable|probably|consider|suspect|suspected|suspicion of|"
                         "cannot rule out|can not rule out|can't rule out|cannot exclude|likely|borderline|möglich|"
                         "mögliche|möglicher|"
                         "möglicherweise|wahrscheinlich|V.a.|Verdacht auf|possibile|probabile|sospetto|sospetta|"
                         "provável|possível|suspeita de|posible|sospecha de|suspicion de")
_POSSIBLE_AFTER = _cues("possible|probable|likely|suspected|not excluded|not ruled out|cannot be excluded|"
                        "cannot be ruled out|möglich|wahrscheinlich|nicht ausgeschlossen|nicht sicher ausgeschlossen|"
                        "possibile|probabile|non escluso|non esclusa|possível|provável|posible")
_NEGATION_AFTER = _cues("excluded|ruled out|absent|not present|no longer present|ausgeschlossen|nicht nachweisbar|"
                        "escluso|esclusa|descartado|descartada|exclu|exclue")


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
    """

    calls: dict[str, DeviceCall]
    unmapped: tuple[str, ...]
    known_without_class: tuple[str, ...]
    table_version: str
    rules_fired: tuple[RuleFiring, ...]
    heart_rate_bpm: float | None = None


@dataclass
class _Hit:
    row: StatementRow
    start: int
    end: int
    strength: str | None = None


def __getattr__(name: str) -> str:
    if name == "STATEMENT_TABLE_VERSION":
        return _packaged_table().version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _has_cue(window: Sequence[str], cues: tuple[tuple[str, ...], ...]) -> bool:
    return any(tuple(window[i:i + len(cue)]) == cue for cue in cues for i in range(len(window) - len(cue) + 1))


def _match(text: str, table: StatementTable, qualified: bool) -> list[_Hit]:
    """Non-overlapping table hits in ``text`` (longest first), each with its strength."""
    tokens, clauses = _tokenize(text)
    joined = " ".join(tokens)
    starts = [0, *itertools.accumulate(len(token) + 1 for token in tokens)][:-1]  # character offset of each token
    candidates = [(m.start(), m.end(), row) for row in table.rows for m in row.regex.finditer(joined) if m.group()]
    candidates.sort(key=lambda c: (c[0] - c[1], c[2].line))
    taken: list[_Hit] = []
    for start, end, row in candidates:
        first, last = bisect.bisect_right(starts, start) - 1, bisect.bisect_left(starts, end)
        if all(last <= hit.start or first >= hit.end for hit in taken):
            taken.append(_Hit(row, first, last))
    taken.sort(key=lambda hit: hit.start)
    previous_end = 0
    for index, hit in enumerate(taken):
        following = taken[index + 1].start if index + 1 < len(taken) else len(tokens)
        clause_start = clauses.index(clauses[hit.start])
        before = tokens[max(previous_end, clause_start, hit.start - _WINDOW_TOKENS):hit.start]
        after = [t for t, c in zip(tokens[hit.end:following], clauses[hit.end:following]) if c == clauses[hit.end - 1]]
        hit.strength = _strength(hit.row, before, tuple(after), qualified and index == 0)
        previous_end = hit.end
    return taken


def _strength(row: StatementRow, before: Sequence[str], after: tuple[str, ...], qualified: bool) -> str | None:
    if row.class_name is None or row.strength == "excluded":
        return row.strength
    if qualified or _has_cue(before, _POSSIBLE_BEFORE) or after in _POSSIBLE_AFTER:
        return "possible"
    if _has_cue(before, _NEGATION_BEFORE) or after in _NEGATION_AFTER:
        return "excluded"
    return row.strength


def _is_qualifier(text: str) -> bool:
    tokens = tuple(_tokenize(text)[0])
    return bool(tokens) and (tokens in _POSSIBLE_BEFORE or tokens in _POSSIBLE_AFTER)


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
    in_af = calls["AF"].strength in ("definite", "possible")
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
        if qrs is not None and qrs[0] < BBB_QRS_MIN_MS and calls[name].strength in ("definite", "possible"):
            detail = f"QRS {qrs[0]:g} ms < {BBB_QRS_MIN_MS:g} ms required for complete {name}; strength kept"
            fired.append(RuleFiring(f"{name} QRS", name, "flagged", detail, _AHA_BBB))
    return fired, None if rate is None else rate[0]


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
        Free-text statements in file order (``EcgRecord.statements``).
    measurements : iterable of Measurement
        Device measurements (``EcgRecord.measurements``); intervals in ms, rate in bpm.
    table : StatementTable, optional
        Defaults to the packaged table.

    Returns
    -------
    DeviceInterpretation
    """
    table = table if table is not None else _packaged_table()
    calls = {name: _CallBuilder(name) for name in CLASSES}
    unmapped: list[str] = []
    known: list[str] = []
    rhythms: set[str] = set()
    qualified = False
    for statement in (s.strip() for s in statements):
        if not statement:
            continue
        if _is_qualifier(statement):
            known.append(statement)
            qualified = True
            continue
        hits = _match(statement, table, qualified)
        qualified = False
        if not hits:
            unmapped.append(statement)
        elif all(hit.row.class_name is None for hit in hits):
            known.append(statement)
        for hit in hits:
            if hit.row.class_name is not None:
                evidence = f"{statement!r} ~ {hit.row.pattern!r} (line {hit.row.line}): {hit.strength}"
                calls[hit.row.class_name].add(hit.strength or "absent", evidence)
            if hit.row.rhythm and hit.strength != "excluded":
                rhythms.add(hit.row.rhythm)
    sinus = "sinus" in rhythms and "non-sinus" not in rhythms
    fired, bpm = _measurement_rules(calls, tuple(measurements), sinus)
    return DeviceInterpretation(
        calls={name: builder.freeze() for name, builder in calls.items()},
        unmapped=tuple(unmapped), known_without_class=tuple(known),
        table_version=table.version, rules_fired=tuple(fired), heart_rate_bpm=bpm,
    )


def device_calls(interpretation: DeviceInterpretation, *, possible_counts_as_positive: bool = True) -> dict[str, bool]:
    """Binary device call per class for evaluation; ``possible`` counts as positive by default."""
    positive = {"definite", "possible"} if possible_counts_as_positive else {"definite"}
    return {name: interpretation.calls[name].strength in positive for name in CLASSES}


def count_statements(
    statement_lists: Iterable[Iterable[str]],
    *,
    table: StatementTable | None = None,
) -> list[tuple[str, int, str]]:
    """Each distinct statement, how often it occurs, and what it maps to, most frequent first.

    ``mapped_to`` is e.g. ``"AF:definite"``, ``"known, no class"``, ``"qualifier"`` or
    ``"unmapped"``; each statement is read on its own (a preceding qualifier is ignored).
    """
    table = table if table is not None else _packaged_table()
    counts = Counter(s.strip() for statements in statement_lists for s in statements if s.strip())
    result = []
    for statement, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if _is_qualifier(statement):
            mapped_to = "qualifier"
        else:
            hits = _match(statement, table, False)
            calls = [f"{hit.row.class_name}:{hit.strength}" for hit in hits if hit.row.class_name]
            mapped_to = "; ".join(calls) if calls else "known, no class" if hits else "unmapped"
        result.append((statement, count, mapped_to))
    return result
