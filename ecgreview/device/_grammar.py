"""How a device statement is read: table matches, and the scope of negation, probability and time.

A statement is split into clauses: ``, ; ( ) [ ] { }``, a colon (not in "2:1" or "11:35"), a
full stop after a word ("fibrillation. Now"; not "V.a." or "Z.n."), and before a contrastive
word ("now", "but", "jetzt", "aber", "ora", "ma", "agora", "porém", "ahora", "pero",
"maintenant", ...). Table patterns are matched on the whole statement (longest match wins); the
cues below are read between the matches ("hits") of each clause.

Scope
-----
* **Negation and probability** ("no", "kein", "sem", ..., "possible", "V.a.", ...) before a hit
  apply to it when at most three words lie between ("no evidence of AF") and none of them is
  "and"/"or" (only a finding joined there shares the cue, below), "with"/"mit" or "new"/"now". After a hit, a cue that starts the rest of its clause (after "is",
  "ist", "è", ...) applies ("AF ruled out", "LBBB is absent", "Vorhofflimmern möglich"), or
  one that is the whole next clause ("Vorhofflimmern, ausgeschlossen").
* A question mark reads as "possible" ("?AF", "Vorhofflimmern?").
* **Coordination**: hits joined only by "or", "/", "and", "nor", "oder", "und", "noch", "o",
  "ou", "e", "y", "et", "ni", "né", "nem", ... share the cues of their group: a cue before the
  first reaches the ones after it ("not LBBB/RBBB", "No LBBB or RBBB", "Neither LBBB nor RBBB",
  "weder RSB noch LSB"); a cue after the last reaches the ones before ("LBBB and RBBB
  excluded"). German compounds cut short are completed first ("Rechts- und
  Linksschenkelblock" reads "Rechtsschenkelblock und Linksschenkelblock").
* **History**: a statement about an earlier ECG or the patient's history is not a finding on
  this ECG: "history of", "previous ECG", "Z.n.", "storia di", "antecedente de", "antécédent
  de", ... mark every later hit of the clause; "previous", "prior", "old", "known", "bekannt",
  "vorbestehend", "pregresso", "conocido", "ancien", ... mark the hit they stand before (or
  after: "FA pregressa"). Such a hit gives no call. "new"/"now"/"neu"/"nuovo"/... end the
  history scope; after "compared with"/"verglichen mit"/"rispetto"/... (a serial comparison)
  the words "previous ECG" name the ECG compared with, not the finding's time.
* **Ended**: "no longer (present)", "resolved", "nicht mehr", "non più", "não mais", "ya no",
  "n'est plus", "X replaced by Y", and "Y has replaced X" say X is absent now. Decision: such a
  hit is ``excluded`` (a statement that the finding is not there now), and it is reported as
  *history*, not as a negation. "Compared with previous ECG: atrial fibrillation has replaced
  sinus rhythm" is AF now.

Precedence for one hit: ended, then history, then an exclusion row of the table, then
probability, then negation (probability first: "cannot rule out" is not a negation).
Known limits: Portuguese "no" ("in the") reads as a negation; CJK text gets no modifiers;
"known X" is read as history even where the writer meant "X, known before and present now".
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ecgreview.device.statement_table import StatementRow, StatementTable, _tokenize, normalize_statement

NEGATED = "negated"
HISTORY = "history"

_GAP_TOKENS = 3  # words allowed between a cue and the hit it modifies

Cue = tuple[str, ...]


def _cues(phrases: str) -> tuple[Cue, ...]:
    """Normalised cues from ``a|b c|d*``; a trailing ``*`` makes the last word a prefix."""
    cues = []
    for phrase in phrases.split("|"):
        tokens = normalize_statement(phrase.rstrip("*")).split()
        if phrase.endswith("*"):
            tokens[-1] += "*"
        cues.append(tuple(tokens))
    return tuple(cues)


# ---------------------------------------------------------------- cues before a hit (kind -> phrases)
_BEFORE: dict[str, str] = {
    "negation": "no|not|without|absence of|negative for|neither|free of|kein*|ohne|weder|non|nessun*|senza|"
                "assenza di|não|sem|ausência de|nenhum*|sin|ningun*|ausencia de|se descarta|descarta|pas de|pas d|"
                "pas|sans|aucun*|absence de",
    "negation_coordinator": "nor|ni|né|nem",
    "possible": "possible|possibly|probable|probably|consider|suspect|suspected|suspicion of|questionable|"
                "cannot rule out|can not rule out|can't rule out|cannot exclude|can not exclude|likely|borderline|"
                "möglich*|wahrscheinlich*|V.a.|Verdacht auf|fraglich*|eventuell|possibil*|probabil*|sospett*|"
                "provável|possível|suspeita de|posible|sospecha de|suspicion de|évocateur de",
    "history_word": "previous|prior|old|known|past|earlier|former|bekannt*|vorbekannt*|vorbestehend*|"
                    "vorangegangen*|früher*|precedente|pregress*|noto|nota|noti|vecchi*|prévio|prévia|previo|previa|"
                    "conhecid*|antig*|conocid*|antigu*|ancien*|connu*|précédent*",
    "history_clause": "history|history of|hx|hx of|h/o|status post|previous ECG|previous EKG|previous tracing|"
                      "prior ECG|prior EKG|prior tracing|earlier ECG|old ECG|previously|in the past|anamnestic|"
                      "anamnestisch|Anamnese|Z.n.|Zustand nach|Vor-EKG|Vorbefund|im Vorbefund|storia di|anamnesi|"
                      "in anamnesi|ECG precedente|tracciato precedente|precedentemente|in precedenza|história de|"
                      "histórico de|historia de|antecedente de|antecedentes de|ECG anterior|ECG prévio|ECG previo|"
                      "previamente|anteriormente|antécédent de|antécédents de|ECG antérieur|ECG précédent|ancien ECG|"
                      "précédemment|antérieurement",
    "ended": "no longer|not anymore|nicht mehr|non più|não mais|ya no|plus de|resolved|resolution of",
    "replaced": "has replaced|replaced|replaces|hat ersetzt|ersetzt|löst ab|ha sostituito|sostituisce|substituiu|"
                "substitui|reemplazó|reemplaza|ha reemplazado|a remplacé|remplace",
    "replaced_by": "replaced by|ersetzt durch|abgelöst durch|abgelöst von|sostituito da|sostituita da|"
                   "substituído por|substituída por|reemplazado por|reemplazada por|remplacé par|remplacée par",
    "present": "new|newly|now|currently|presently|neu|neue|neuer|neues|neuem|neuen|neu aufgetreten*|jetzt|nun|"
               "aktuell*|derzeit*|nuovo|nuova|nuovi|nuove|ora|adesso|attualmente|novo|nova|agora|atualmente|nuevo|"
               "nueva|ahora|actualmente|nouveau|nouvelle|nouvel|maintenant|actuellement|désormais",
    "comparison": "compared|comparison|verglichen|Vergleich|gegenüber|rispetto|confronto|confrontato|comparado|"
                  "comparada|comparação|comparación|comparé|comparée|comparaison|par rapport",
    "breaker": "with|mit|con|com|avec",
    "coordinator": "or|and|oder|und|noch|bzw|sowie|o|ou|e|ed|y|u|et|oppure",
}
# ---------------------------------------------------------------- cues after a hit
_AFTER: dict[str, str] = {
    "possible": "possible|probable|likely|suspected|not excluded|not ruled out|cannot be excluded|"
                "cannot be ruled out|can not be excluded|möglich|wahrscheinlich|nicht ausgeschlossen|"
                "nicht sicher ausgeschlossen|fraglich|possibile|probabile|non escluso|non esclusa|possível|provável|"
                "não excluído|não excluída|não descartado|não descartada|posible|no descartado|no descartada|"
                "no excluido|no excluida|non exclu|non exclue",
    "negation": "excluded|ruled out|absent|not present|not seen|not detected|not identified|not found|"
                "ausgeschlossen|nicht nachweisbar|nicht vorhanden|nicht nachgewiesen|escluso|esclusa|esclusi|"
                "escluse|assente|non presente|excluído|excluída|descartado|descartada|ausente|excluido|excluida|"
                "exclu|exclue|exclus|absente",
    "history": "in the past|on previous ECG|on the previous ECG|in previous ECG|on prior ECG|on old ECG|im Vor-EKG|"
               "im Vorbefund|nell'ECG precedente|all'ECG precedente|no ECG anterior|em ECG anterior|en ECG previo|"
               "en el ECG previo|en el ECG anterior|sur l'ECG précédent|sur l'ECG antérieur|known|old|bekannt|vorbekannt|anamnestisch|vorbestehend|pregresso|pregressa|noto|nota|"
               "in anamnesi|prévio|prévia|previo|previa|conhecido|conhecida|conocido|conocida|connu|connue|ancien|"
               "ancienne",
    "ended": "no longer|no longer present|not anymore|resolved|has resolved|nicht mehr|nicht mehr nachweisbar|"
             "non più|non più presente|não mais|ya no|n'est plus|ne sont plus|replaced by|ersetzt durch|"
             "abgelöst durch|sostituito da|sostituita da|substituído por|substituída por|reemplazado por|"
             "reemplazada por|remplacé par|remplacée par",
}
_FILLERS = frozenset(normalize_statement("is are was were has have had been be ist sind war wird wurde è sono stato "
                                          "stata é são foi está es son fue est sont a été").split())
_COORDINATORS = frozenset(normalize_statement(f"{_BEFORE['coordinator']}|{_BEFORE['negation_coordinator']}")
                          .split())
# Contrastive words start a clause ("Previous AF but now sinus rhythm"); not "mas"/"mais", which also
# mean "more" (pt "não mais presente", es "más").
_CONTRASTS = frozenset(normalize_statement("now but however currently presently jetzt nun aber jedoch aktuell derzeit "
                                           "ora adesso ma però tuttavia attualmente agora porém atualmente ahora "
                                           "actualmente maintenant actuellement cependant désormais").split())
# A cue reaches past "and"/"or" only to a finding joined there (coordination), not past other words.
_RESETS = ("breaker", "coordinator", "present", "replaced_by")


def _lexicon(groups: dict[str, str]) -> tuple[tuple[Cue, str], ...]:
    return tuple((cue, kind) for kind, phrases in groups.items() for cue in _cues(phrases))


_BEFORE_CUES = _lexicon(_BEFORE)
_AFTER_CUES = _lexicon(_AFTER)
QUALIFIERS: frozenset[Cue] = frozenset(cue for cue, kind in (*_BEFORE_CUES, *_AFTER_CUES) if kind == "possible")

# German compounds cut short: "Rechts- und Linksschenkelblock", "Vorhof- oder Kammerflimmern".
_ELLIPSIS = re.compile(r"(\w+)-\s+(und|oder|noch|bzw\.?|sowie)\s+(\w*?)(schenkelblock|flimmern|flattern|block)",
                       re.IGNORECASE)


@dataclass
class Hit:
    """A table row matched in a statement: tokens ``start:end``, the call it gives and how it was read.

    ``strength`` is None for a row without class and for a finding read as history; ``reading``
    is ``""``, :data:`NEGATED` or :data:`HISTORY`.
    """

    row: StatementRow
    start: int
    end: int
    strength: str | None = None
    reading: str = ""

    @property
    def current(self) -> bool:
        """Whether the finding is stated as present (or possible) on this ECG."""
        return not self.reading


def _matches(cue: Cue, tokens: Sequence[str]) -> bool:
    return len(cue) == len(tokens) and all(
        token.startswith(part[:-1]) if part.endswith("*") else token == part for part, token in zip(cue, tokens))


def _cue_at(tokens: Sequence[str], position: int, limit: int, lexicon: tuple[tuple[Cue, str], ...]) -> tuple[int, str]:
    """The longest cue starting at ``position`` and ending by ``limit``: (length, kind), or (0, "")."""
    best = (0, "")
    for cue, kind in lexicon:
        if best[0] < len(cue) <= limit - position and _matches(cue, tokens[position:position + len(cue)]):
            best = (len(cue), kind)
    return best


def split_clauses(text: str) -> tuple[list[str], list[int]]:
    """Tokens of ``text`` (as :func:`normalize_statement`) and the clause number of each."""
    tokens, clauses = _tokenize(_ELLIPSIS.sub(r"\1\4 \2 \3\4", text).replace("?", " possible "))
    shifted, shift = [], 0
    for index, (token, clause) in enumerate(zip(tokens, clauses)):
        shift += (index > 0 and token in _CONTRASTS and tokens[index - 1] not in _CONTRASTS
                  and clause == clauses[index - 1])
        shifted.append(clause + shift)
    return tokens, shifted


def _find_hits(tokens: list[str], table: StatementTable) -> list[Hit]:
    """Non-overlapping table hits (longest first), in statement order."""
    joined = " ".join(tokens)
    starts = [0, *itertools.accumulate(len(token) + 1 for token in tokens)][:-1]  # character offset of each token
    candidates = [(m.start(), m.end(), row) for row in table.rows for m in row.regex.finditer(joined) if m.group()]
    candidates.sort(key=lambda c: (c[0] - c[1], c[2].line))
    taken: list[Hit] = []
    for start, end, row in candidates:
        first, last = bisect.bisect_right(starts, start) - 1, bisect.bisect_left(starts, end)
        if all(last <= hit.start or first >= hit.end for hit in taken):
            taken.append(Hit(row, first, last))
    return sorted(taken, key=lambda hit: hit.start)


class _Reader:
    """The cues of one statement, read against its hits."""

    def __init__(self, tokens: list[str], clauses: list[int], hits: list[Hit]) -> None:
        self.tokens, self.clauses, self.hits = tokens, clauses, hits
        in_hit = {index for hit in hits for index in range(hit.start, hit.end)}
        self.cues: list[tuple[int, int, str]] = []  # (start, end, kind) of the cues before hits
        position = 0
        while position < len(tokens):
            limit = self._segment_end(position, in_hit)
            length, kind = (0, "") if position in in_hit else _cue_at(tokens, position, limit, _BEFORE_CUES)
            if length:
                self.cues.append((position, position + length, kind))
            position += max(length, 1)
        # A clause that is only a history heading ("Previous ECG:", "Anamnese:") puts the next one in history.
        self.headed = {clauses[start] + 1 for start, end, kind in self.cues
                       if kind == "history_clause" and self.clause_span(start) == (start, end)}

    def _segment_end(self, position: int, in_hit: set[int]) -> int:
        end = position
        while end < len(self.tokens) and end not in in_hit and self.clauses[end] == self.clauses[position]:
            end += 1
        return end

    def clause_span(self, index: int) -> tuple[int, int]:
        clause = self.clauses[index]
        return bisect.bisect_left(self.clauses, clause), bisect.bisect_right(self.clauses, clause)

    def before(self, number: int) -> tuple[set[str], set[str]]:
        """The cues just before hit ``number`` (its window), and the clause's state up to it (history, ended)."""
        hit = self.hits[number]
        clause_start, _ = self.clause_span(hit.start)
        previous_end = max(clause_start, self.hits[number - 1].end if number else 0)
        window: set[str] = set()
        state = {"history"} if self.clauses[hit.start] in self.headed else set()
        comparing = False
        for start, end, kind in (cue for cue in self.cues if clause_start <= cue[0] and cue[1] <= hit.start):
            if kind == "comparison":
                comparing = True
                state.discard("history")
            elif kind == "history_clause" and not comparing:
                state.add("history")
            elif kind == "replaced":
                state.add("ended")
            elif kind in ("present", "replaced_by"):
                state.clear()
            if start < previous_end:
                continue
            if kind in _RESETS:
                window.clear()
            elif hit.start - end <= _GAP_TOKENS and kind in ("negation", "negation_coordinator", "possible",
                                                              "history_word", "ended"):
                window.add({"negation_coordinator": "negation", "history_word": "history"}.get(kind, kind))
        if comparing:
            window.discard("history")
        return window, state

    def after(self, number: int) -> set[str]:
        """The cue that starts the rest of hit ``number``'s clause, or that is the whole next clause."""
        hit = self.hits[number]
        _, clause_end = self.clause_span(hit.end - 1)
        next_start = self.hits[number + 1].start if number + 1 < len(self.hits) else len(self.tokens)
        limit = min(clause_end, next_start)
        position = hit.end
        while position < limit and (self.tokens[position] in _FILLERS or self.tokens[position] in _COORDINATORS):
            position += 1
        if position < limit:
            return {_cue_at(self.tokens, position, limit, _AFTER_CUES)[1]} - {""}
        if limit < clause_end or clause_end >= len(self.tokens):
            return set()
        next_clause_end = self.clause_span(clause_end)[1]
        words = [token for token in self.tokens[clause_end:next_clause_end] if token not in _FILLERS]
        length, kind = _cue_at(words, 0, len(words), _AFTER_CUES)
        return {kind} if next_start >= next_clause_end and words and length == len(words) else set()

    def coordinated(self, number: int) -> bool:
        """Whether hit ``number`` and the next are joined only by coordinators ("or", "/", "und", ...)."""
        first, second = self.hits[number], self.hits[number + 1]
        return (self.clauses[first.end - 1] == self.clauses[second.start]
                and all(token in _COORDINATORS for token in self.tokens[first.end:second.start]))


def read_statement(text: str, table: StatementTable, *, qualified: bool = False) -> list[Hit]:
    """The table's hits in ``text``, each with its strength and reading (module docstring).

    ``qualified``: the statement before was a lone probability word ("Possible"), which makes
    the first hit ``possible``.
    """
    tokens, clauses = split_clauses(text)
    hits = _find_hits(tokens, table)
    reader = _Reader(tokens, clauses, hits)
    befores = [reader.before(number) for number in range(len(hits))]
    windows = [window for window, _ in befores]
    tails = [reader.after(number) for number in range(len(hits))]
    for number in range(1, len(hits)):  # a cue before a coordinated group reaches its later members
        if reader.coordinated(number - 1) and not windows[number]:
            windows[number] = windows[number - 1]
    for number in range(len(hits) - 2, -1, -1):  # and a cue after it reaches the earlier ones
        if reader.coordinated(number) and not tails[number]:
            tails[number] = tails[number + 1]
    for number, hit in enumerate(hits):
        _resolve(hit, windows[number] | tails[number] | befores[number][1], qualified and number == 0)
    return hits


def _resolve(hit: Hit, kinds: set[str], qualified: bool) -> None:
    row = hit.row
    if "ended" in kinds:
        hit.reading, hit.strength = HISTORY, "excluded" if row.class_name else None
    elif "history" in kinds:
        hit.reading, hit.strength = HISTORY, None
    elif row.class_name is not None and row.strength == "excluded":
        hit.reading, hit.strength = NEGATED, "excluded"
    elif qualified or "possible" in kinds:
        hit.strength = "possible" if row.class_name else None
    elif "negation" in kinds:
        hit.reading, hit.strength = NEGATED, "excluded" if row.class_name else None
    else:
        hit.strength = row.strength


def is_qualifier(text: str) -> bool:
    """Whether ``text`` is only a probability word ("Possible", "Consider", "V.a."), qualifying the next statement."""
    tokens = tuple(split_clauses(text)[0])
    return bool(tokens) and any(_matches(cue, tokens) for cue in QUALIFIERS)


#: Per statement table (by identity; the table is kept alive beside its readings): each statement's hits, by
#: (text, qualified). Devices repeat a few hundred sentences, so the index reads each once per process.
_READINGS: dict[int, tuple[StatementTable, dict[tuple[str, bool], tuple[Hit, ...]]]] = {}
#: Bounds of that cache: tables kept, and statements per table (the oldest half is dropped when full).
_READINGS_TABLES, _READINGS_PER_TABLE = 4, 4096


def remembered_reading(statement: str, table: StatementTable, *, qualified: bool) -> tuple[Hit, ...]:
    """:func:`read_statement`, remembered per table, text and qualifier.

    The hits are shared between calls: they are read, never changed, after the grammar has resolved them.
    """
    entry = _READINGS.get(id(table))
    if entry is None or entry[0] is not table:
        if len(_READINGS) >= _READINGS_TABLES:
            _READINGS.pop(next(iter(_READINGS)))
        entry = _READINGS[id(table)] = (table, {})
    readings, key = entry[1], (statement, qualified)
    hits = readings.get(key)
    if hits is None:
        if len(readings) >= _READINGS_PER_TABLE:
            for old in list(readings)[: _READINGS_PER_TABLE // 2]:
                del readings[old]
        hits = readings[key] = tuple(read_statement(statement, table, qualified=qualified))
    return hits
