"""Tests of the device-statement -> Ribeiro class mapping (ecgreview.device.statements)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

import ecgreview.device.statements as statements_module
from ecgreview.device.statements import (
    NOT_AVAILABLE,
    count_statements,
    device_calls,
    load_statement_table,
    map_statements,
    normalize_statement,
)
from ecgreview.errors import ConfigError
from ecgreview.record import CLASSES, Measurement

HEADER = "pattern,class,strength,rhythm,language,note"


def _strength(statement: str, class_name: str) -> str:
    return map_statements([statement]).calls[class_name].strength


@pytest.mark.parametrize(
    ("statement", "class_name"),
    [
        ("1st degree AV block", "1dAVb"),
        ("first degree A-V block", "1dAVb"),
        ("AV-Block I°", "1dAVb"),
        ("AV-Block 1. Grades", "1dAVb"),
        ("BAV di I grado", "1dAVb"),
        ("bloqueio AV de primeiro grau", "1dAVb"),
        ("bloqueio AV de 1º grau", "1dAVb"),
        ("bloqueo AV de primer grado", "1dAVb"),
        ("bloc auriculo-ventriculaire du premier degré", "1dAVb"),
        ("complete RBBB", "RBBB"),
        ("right bundle branch block", "RBBB"),
        ("Rechtsschenkelblock", "RBBB"),
        ("BLOCCO DI BRANCA DESTRO", "RBBB"),
        ("bloqueio de ramo direito", "RBBB"),
        ("bloqueo de rama derecha", "RBBB"),
        ("Left bundle branch block", "LBBB"),
        ("Linksschenkelblock", "LBBB"),
        ("BLOCCO DI BRANCA SINISTRO", "LBBB"),
        ("bloqueio de ramo esquerdo", "LBBB"),
        ("bloc de branche gauche", "LBBB"),
        ("sinus bradycardia", "SB"),
        ("marked sinus bradycardia", "SB"),
        ("Sinusbradykardie", "SB"),
        ("BRADICARDIA SINUSALE", "SB"),
        ("bradicardia sinusal", "SB"),
        ("sinus tachycardia", "ST"),
        ("Sinustachykardie", "ST"),
        ("TACHICARDIA SINUSALE", "ST"),
        ("taquicardia sinusal", "ST"),
        ("atrial fibrillation", "AF"),
        ("Vorhofflimmern", "AF"),
        ("FIBRILLAZIONE ATRIALE", "AF"),
        ("fibrilação atrial", "AF"),
        ("fibrilación auricular", "AF"),
    ],
)
def test_real_statements_map_to_definite_class(statement, class_name):
    interpretation = map_statements([statement])
    assert interpretation.calls[class_name].strength == "definite"
    others = [name for name in CLASSES if name != class_name]
    assert all(interpretation.calls[name].strength == "absent" for name in others)
    assert interpretation.unmapped == ()


@pytest.mark.parametrize(
    "statement",
    [
        "incomplete RBBB",
        "incomplete right bundle branch block",
        "inkompletter Rechtsschenkelblock",
        "BLOCCO DI BRANCA DESTRO INCOMPLETO",
        "bloqueio incompleto de ramo direito",
        "left anterior fascicular block",
        "unspecific interventricular block",
        "unspezifischer intraventrikulärer Block",
        "atrial flutter",
        "Vorhofflattern",
        "second degree AV block",
        "AV block II",
        "sinus rhythm",
        "RITMO SINUSALE",
        "ECG NORMALE",
        "normal ECG",
        "ANTERIOR ST ELEVATION, PROBABLY DUE TO LVH",
        "窦性心律",
    ],
)
def test_known_statements_without_class(statement):
    interpretation = map_statements([statement])
    assert all(call.strength == "absent" for call in interpretation.calls.values())
    assert interpretation.known_without_class == (statement,)
    assert interpretation.unmapped == ()


@pytest.mark.parametrize(
    ("statement", "class_name"),
    [
        ("no atrial fibrillation", "AF"),
        ("not atrial fibrillation", "AF"),
        ("sinus rhythm, no RBBB", "RBBB"),
        ("keine Sinustachykardie", "ST"),
        ("kein AV-Block", "1dAVb"),
        ("non fibrillazione atriale", "AF"),
        ("nessun blocco di branca sinistro", "LBBB"),
        ("sem fibrilação atrial", "AF"),
        ("sin fibrilación auricular", "AF"),
        ("pas de bloc de branche gauche", "LBBB"),
        ("atrial fibrillation ruled out", "AF"),
        ("Vorhofflimmern ausgeschlossen", "AF"),
    ],
)
def test_negation_excludes(statement, class_name):
    assert _strength(statement, class_name) == "excluded"


@pytest.mark.parametrize(
    ("statement", "class_name"),
    [
        ("possible atrial fibrillation", "AF"),
        ("probable left bundle branch block", "LBBB"),
        ("consider first degree AV block", "1dAVb"),
        ("suspect RBBB", "RBBB"),
        ("cannot rule out atrial fibrillation", "AF"),
        ("V.a. Vorhofflimmern", "AF"),
        ("Verdacht auf Linksschenkelblock", "LBBB"),
        ("Vorhofflimmern möglich", "AF"),
        ("Vorhofflimmern nicht ausgeschlossen", "AF"),
        ("possibile fibrillazione atriale", "AF"),
        ("probabile blocco di branca destro", "RBBB"),
        ("provável fibrilação atrial", "AF"),
        ("possível bloqueio de ramo esquerdo", "LBBB"),
        ("irregular rhythm, no P wave detected", "AF"),
        ("atrial fibrillation/flutter", "AF"),
    ],
)
def test_probability_words_give_possible(statement, class_name):
    assert _strength(statement, class_name) == "possible"


def test_standalone_qualifier_applies_to_next_statement():
    interpretation = map_statements(["Possible", "Atrial fibrillation", "Right bundle branch block"])
    assert interpretation.calls["AF"].strength == "possible"
    assert interpretation.calls["RBBB"].strength == "definite"
    assert interpretation.known_without_class == ("Possible",)


def test_longest_match_wins_and_combined_statement_fires_both():
    assert _strength("incomplete right bundle branch block", "RBBB") == "absent"
    statements = ["Sinus rhythm with 1st degree AV block", "RBBB with left anterior fascicular block"]
    interpretation = map_statements(statements)
    assert interpretation.calls["1dAVb"].strength == "definite"
    assert interpretation.calls["RBBB"].strength == "definite"
    assert interpretation.calls["LBBB"].strength == "absent"


def test_normalisation_strips_accents_case_and_punctuation():
    assert normalize_statement("  AV-Block  I°  ") == "av block i"
    assert normalize_statement("FIBRILAÇÃO Atrial") == "fibrilacao atrial"
    assert _strength("VORHOFFLIMMERN!", "AF") == "definite"


def test_unmapped_statements_are_reported():
    interpretation = map_statements(["Sinus rhythm", "Frobnicated QRS", "", "  "])
    assert interpretation.unmapped == ("Frobnicated QRS",)
    assert interpretation.known_without_class == ("Sinus rhythm",)


def test_pr_over_200_ms_gives_possible_1davb_with_rule():
    interpretation = map_statements(["Sinus rhythm"], [Measurement("PR", 220.0, "ms")])
    assert interpretation.calls["1dAVb"].strength == "possible"
    (rule,) = interpretation.rules_fired
    assert rule.class_name == "1dAVb" and "220 ms > 200 ms" in rule.detail and "Ribeiro" in rule.source


def test_pr_rule_supports_statement_and_skips_af():
    supported = map_statements(["1st degree AV block"], [Measurement("PR interval", 240.0, "msec")])
    assert supported.calls["1dAVb"].strength == "definite"
    assert supported.rules_fired[0].action == "supports statement"
    in_af = map_statements(["atrial fibrillation"], [Measurement("PR", 240.0, "ms")])
    assert in_af.calls["1dAVb"].strength == "absent"


def test_heart_rate_45_with_sinus_rhythm_gives_sb():
    interpretation = map_statements(["Sinus rhythm"], [Measurement("Ventricular rate", 45.0, "bpm")])
    assert interpretation.calls["SB"].strength == "possible"
    assert interpretation.heart_rate_bpm == 45.0
    assert any(rule.class_name == "SB" and "< 50 bpm" in rule.detail for rule in interpretation.rules_fired)


def test_heart_rate_45_in_af_is_not_sb():
    interpretation = map_statements(["Atrial fibrillation"], [Measurement("Ventricular rate", 45.0, "bpm")])
    assert interpretation.calls["SB"].strength == "absent"
    assert interpretation.rules_fired == ()


def test_heart_rate_without_rhythm_statement_does_not_fire():
    assert map_statements(["Normal ECG"], [Measurement("HR", 40.0, "/min")]).calls["SB"].strength == "absent"


def test_no_statements_is_not_available_never_absent():
    """A file without statements (WFDB) has no device interpretation: no call is "absent", no rule runs."""
    interpretation = map_statements(["", "  "], [Measurement("HR", 40.0, "/min"), Measurement("PR", 240.0, "ms")])
    assert not interpretation.available
    assert {call.strength for call in interpretation.calls.values()} == {NOT_AVAILABLE}
    assert interpretation.rules_fired == () and interpretation.heart_rate_bpm is None
    assert device_calls(interpretation) == dict.fromkeys(CLASSES)  # left out, never negative
    assert map_statements(["Normal ECG"]).available


def test_heart_rate_from_rr_and_sinus_tachycardia():
    interpretation = map_statements(["RITMO SINUSALE"], [Measurement("RR", 500.0, "ms")])
    assert interpretation.heart_rate_bpm == pytest.approx(120.0)
    assert interpretation.calls["ST"].strength == "possible"
    assert "60000 / RR 500 ms" in interpretation.rules_fired[0].detail


def test_sb_statement_at_55_bpm_is_downgraded():
    interpretation = map_statements(["Sinus bradycardia"], [Measurement("Ventricular Heart Rate", 55.0, "{H.B.}/min")])
    assert interpretation.calls["SB"].strength == "possible"
    assert interpretation.rules_fired[0].action == "definite -> possible"


def test_bundle_branch_block_with_narrow_qrs_is_flagged():
    interpretation = map_statements(["Left bundle branch block"], [Measurement("QRS", 96.0, "ms")])
    assert interpretation.calls["LBBB"].strength == "definite"
    (rule,) = interpretation.rules_fired
    assert rule.action == "flagged" and "120 ms" in rule.detail
    assert map_statements(["LBBB"], [Measurement("QRS duration", 140.0, "ms")]).rules_fired == ()


def test_device_calls_counts_possible_as_positive_by_default():
    interpretation = map_statements(["possible atrial fibrillation", "RBBB", "no LBBB"])
    assert device_calls(interpretation) == {
        "1dAVb": False, "RBBB": True, "LBBB": False, "SB": False, "AF": True, "ST": False,
    }
    assert device_calls(interpretation, possible_counts_as_positive=False)["AF"] is False


def test_count_statements():
    counted = count_statements([["Sinus rhythm", "RBBB"], ["Sinus rhythm", "Possible", "xyz"]])
    assert counted[0] == ("Sinus rhythm", 2, "known, no class")
    assert ("RBBB", 1, "RBBB:definite") in counted
    assert ("Possible", 1, "qualifier") in counted
    assert ("xyz", 1, "unmapped") in counted


def test_table_version_is_read_from_table():
    table = load_statement_table()
    assert table.version == statements_module.STATEMENT_TABLE_VERSION
    assert map_statements(["sinus rhythm"]).table_version == table.version
    assert len(table.rows) > 200


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "map.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_custom_table_is_used(tmp_path):
    table = load_statement_table(_write(tmp_path, "# version: site-7", HEADER, "Herzrasen,ST,possible,,de,site term"))
    interpretation = map_statements(["Herzrasen"], table=table)
    assert interpretation.calls["ST"].strength == "possible"
    assert interpretation.table_version == "site-7"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((HEADER, "x,AF,definite,,en,"), r"map\.csv: line 1: must be '# version"),
        (("# version: 1", "pattern,class", "x,AF,definite,,en,"), r"line 2: header must be"),
        (("# version: 1", HEADER, "x,XYZ,definite,,en,"), r"line 3: unknown class 'XYZ'"),
        (("# version: 1", HEADER, "x,AF,sure,,en,"), r"line 3: strength 'sure' not allowed"),
        (("# version: 1", HEADER, "x,-,definite,,en,"), r"line 3: strength 'definite' not allowed for class '-'"),
        (("# version: 1", HEADER, "x,AF,definite,,en"), r"line 3: expected 6 fields, found 5"),
        (("# version: 1", HEADER, "re:(,AF,definite,,en,"), r"line 3: invalid regular expression"),
        (("# version: 1", HEADER, "x,AF,definite,atrial,en,"), r"line 3: unknown rhythm 'atrial'"),
        (("# version: 1", HEADER, "Vorhof-Flimmern,AF,definite,,de,", "vorhof flimmern,AF,possible,,de,"),
         r"line 4: pattern 'vorhof flimmern' duplicates line 3"),
        (("# version: 1", HEADER, "°°,AF,definite,,en,"), r"line 3: empty pattern"),
        (("# version: 1", HEADER), r"no mapping rows"),
    ],
)
def test_bad_table_raises_config_error_naming_line(tmp_path, lines, message):
    with pytest.raises(ConfigError, match=message):
        load_statement_table(_write(tmp_path, *lines))


def test_missing_table_file(tmp_path):
    with pytest.raises(ConfigError, match=r"absent\.csv: cannot read statement table"):
        load_statement_table(tmp_path / "absent.csv")


def test_every_corpus_dicom_statement_is_mapped_or_known(corpus_dir):
    pydicom = pytest.importorskip("pydicom")
    found = []
    for path in sorted((corpus_dir / "dicom").glob("*.dcm")):
        dataset = pydicom.dcmread(path)
        for item in dataset.get("WaveformAnnotationSequence", []):
            text = item.get("UnformattedTextValue")
            if text:
                found.append(str(text))
    assert found, "the corpus DICOM files should carry device statements"
    interpretation = map_statements(found)
    assert interpretation.unmapped == ()
    assert set(found) <= set(interpretation.known_without_class)


def test_every_corpus_xml_statement_is_mapped_or_known(corpus_dir):
    # GE MUSE <StmtText>, Philips Sierra <leftstatement> and <severity>; the HL7 aECG file is coded only.
    wanted = {"StmtText", "leftstatement", "severity"}
    found = []
    for path in sorted((corpus_dir / "other").glob("*.xml")):
        for element in ElementTree.parse(path).getroot().iter():
            if element.tag.rsplit("}", 1)[-1] in wanted and element.text and element.text.strip():
                found.append(element.text.strip())
    assert "SINUS RHYTHM" in found and "窦性心律" in found
    interpretation = map_statements(found)
    assert interpretation.unmapped == ()
    assert all(call.strength == "absent" for call in interpretation.calls.values())


def test_atrial_rate_is_not_the_heart_rate_and_units_are_lenient():
    measurements = [Measurement("Atrial rate", 40.0, "bpm"), Measurement("PR interval global", 0.25, "s")]
    interpretation = map_statements(["Sinus rhythm"], measurements)
    assert interpretation.heart_rate_bpm is None
    assert interpretation.calls["SB"].strength == "absent"
    assert interpretation.calls["1dAVb"].strength == "possible"


def test_evidence_names_statement_pattern_and_line():
    (evidence,) = map_statements(["V.a. Vorhofflimmern"]).calls["AF"].evidence
    assert "'V.a. Vorhofflimmern' ~ 'Vorhofflimmern' (line" in evidence and evidence.endswith("possible")


def test_coded_dicom_statement_maps_by_its_code(tmp_path):
    """A DICOM annotation with a ConceptCodeSequence (no free text) is read and mapped by scheme and code."""
    from pydicom.dataset import Dataset

    from ecgreview.io import read_ecg
    from tests.io.dicom_fixtures import build_ecg_dataset, write_dataset

    dataset = build_ecg_dataset(statements=())
    item, code = Dataset(), Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "164889003", "SCT", "kodierter Befund"
    item.ConceptCodeSequence = [code]
    item.ReferencedWaveformChannels = [1, 0]
    dataset.WaveformAnnotationSequence.append(item)
    record = read_ecg(write_dataset(dataset, tmp_path / "coded.dcm"))
    assert "SCT 164889003 kodierter Befund" in record.statements
    interpretation = map_statements(record.statements, record.measurements)
    assert interpretation.calls["AF"].strength == "definite"
    assert not interpretation.unmapped


@pytest.mark.parametrize(("statement", "expected"), [
    ("Sinus bradycardia", "SB:definite"),  # Philips 1.03
    ("Nonspecific intraventricular conduction delay", "known, no class"),  # Philips 1.03, Mortara: not LBBB
    ("Sinus rhythm with 1st degree A-V block", "1dAVb:definite"),  # GE 12SL
    ("Atrial fibrillation with rapid ventricular response", "AF:definite"),
    ("Undetermined rhythm", "known, no class"),
    ("When compared with ECG of 12-MAR-2014", "known, no class"),
    ("IV conduction delay", "known, no class"),
    ("SCP SBRAD", "SB:definite"), ("SCP CRBBB", "RBBB:definite"), ("SCP IVCD", "known, no class"),
    ("SCP 1AVB", "1dAVb:definite"), ("SCP AFLT", "known, no class"),
    ("窦性心律", "known, no class"), ("窦性心律不齐", "known, no class"),
    ("I度房室传导阻滞", "1dAVb:definite"), ("ii度房室传导阻滞", "known, no class"),
    ("完全性右束支传导阻滞", "RBBB:definite"), ("不完全性右束支传导阻滞", "known, no class"),
    ("室内传导阻滞", "known, no class"),
])
def test_vendor_wording(statement: str, expected: str) -> None:
    assert count_statements([[statement]]) == [(statement, 1, expected)]


def test_rhythm_or_conduction_statements_are_told_apart() -> None:
    from ecgreview.device.statements import is_rhythm_or_conduction

    assert all(map(is_rhythm_or_conduction, ["Sinus bradycardia", "AV-Block I°", "Vorhofflimmern", "SCP XYZ",
                                             "窦性心律", "Left anterior fascicular block", "IVCD"]))
    assert not any(map(is_rhythm_or_conduction, ["ST elevation", "LVH", "Normal ECG", "ST段抬高", "Average QRS"]))


def test_a_site_can_map_a_conduction_delay_to_lbbb(tmp_path) -> None:
    from importlib import resources

    text = resources.files("ecgreview").joinpath("data/statement_map.csv").read_text("utf-8")
    row = "intraventricular conduction delay,-,-,,en,\n"
    assert row in text
    site = tmp_path / "site.csv"
    site.write_text(text.replace("# version: ", "# version: site-", 1)
                    .replace(row, "intraventricular conduction delay,LBBB,possible,,en,site rule\n"), "utf-8")
    table = load_statement_table(site)
    assert map_statements(["Intraventricular conduction delay"]).calls["LBBB"].strength == "absent"
    assert map_statements(["Intraventricular conduction delay"], table=table).calls["LBBB"].strength == "possible"


def test_negated_and_historical_statements_are_listed():
    statements = ["Sinus rhythm", "No LBBB or RBBB", "History of atrial fibrillation", "LBBB is no longer present"]
    interpretation = map_statements(statements)
    assert interpretation.negated == ("No LBBB or RBBB",)
    assert interpretation.historical == ("History of atrial fibrillation", "LBBB is no longer present")
    (evidence,) = interpretation.calls["AF"].evidence
    assert evidence.endswith("history (no call)") and interpretation.calls["AF"].strength == "absent"


def test_negation_and_history_are_grammar_not_table_rows(tmp_path):
    """A site's own table gets the same grammar: its rows need no negated or historical variants."""
    table = load_statement_table(_write(tmp_path, "# version: site-8", HEADER, "Herzrasen,ST,definite,,de,site term",
                                        "Sinusknotenstolpern,AF,definite,,de,site term"))
    read = map_statements(["Kein Herzrasen oder Sinusknotenstolpern"], table=table)
    assert (read.calls["ST"].strength, read.calls["AF"].strength) == ("excluded", "excluded")
    assert map_statements(["Z.n. Herzrasen"], table=table).calls["ST"].strength == "absent"


def test_rate_word_without_sinus_counts_only_without_a_non_sinus_rhythm():
    assert _strength("Tachycardia", "ST") == "possible"
    in_af = map_statements(["Atrial fibrillation", "Tachycardia"])
    assert in_af.calls["ST"].strength == "absent" and "not sinus" in in_af.calls["ST"].evidence[0]
    assert map_statements(["Sinus rhythm", "Bradycardia"]).calls["SB"].strength == "possible"
    assert map_statements(["Ectopic atrial bradycardia"]).calls["SB"].strength == "absent"


@pytest.mark.parametrize(("statement", "clauses"), [
    ("2:1 AV block at 11:35", 1), ("Previous ECG: LBBB", 2), ("V.a. Vorhofflimmern", 1),
    ("Atrial fibrillation. Now sinus rhythm", 2), ("History of AF but now sinus rhythm", 2),
    ("Fibrilação atrial não mais presente", 1),
])
def test_clauses(statement, clauses):
    from ecgreview.device._grammar import split_clauses

    assert len(set(split_clauses(statement)[1])) == clauses


def test_count_statements_shows_history_and_negation():
    counted = dict((statement, mapped) for statement, _, mapped in
                   count_statements([["History of atrial fibrillation", "not LBBB/RBBB"]]))
    assert counted == {"History of atrial fibrillation": "AF:history", "not LBBB/RBBB": "LBBB:excluded; RBBB:excluded"}
