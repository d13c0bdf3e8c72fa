"""Tests of the signal plausibility stage (ecgreview.plausibility) on generated records and real ECGs."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from ecgreview.examples import DEMO_CASES_DIR, demo_ecg_path
from ecgreview.io import read_ecg
from ecgreview.plausibility import (
    FINDING_CODES,
    FINDING_SEVERITIES,
    SEVERITIES,
    SignalFinding,
    check_plausibility,
    finding_codes,
    parse_finding_codes,
)
from ecgreview.record import LEAD_ORDER, EcgRecord

RATE_HZ = 500.0
#: Waves of the heart vector, one beat: (centre in s from the R peak, width in s, x (to the left),
#: y (downwards), z (to the front) in mV). Frontal axis about +50°, P axis about +55°.
WAVES = (
    (-0.160, 0.022, 0.07, 0.10, 0.02),  # P
    (-0.030, 0.008, -0.05, 0.05, 0.10),  # q
    (0.000, 0.010, 0.90, 0.80, -0.25),  # R
    (0.030, 0.010, -0.15, -0.20, 0.60),  # S
    (0.300, 0.045, 0.25, 0.25, -0.10),  # T
)
#: Horizontal-plane angle of each chest lead from the left (x) towards the front (z), in degrees.
CHEST_ANGLES_DEG = {"V1": 115, "V2": 95, "V3": 75, "V4": 60, "V5": 30, "V6": 0}


def synthetic_record(seconds: float = 10.0, *, heart_rate_bpm: float = 70.0, seed: int = 0,
                     waves: tuple[tuple[float, ...], ...] = WAVES) -> EcgRecord:
    """A 12-lead ECG-like record from a heart vector: limb leads by Einthoven/Goldberger, 5 µV steps."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(round(seconds * RATE_HZ)) / RATE_HZ
    beats_s = np.arange(0.35, seconds, 60.0 / heart_rate_bpm)
    beats_s = beats_s + rng.normal(0.0, 0.01, size=beats_s.size)
    vector = rng.normal(0.0, 0.005, size=(time_s.size, 3))
    for beat_s in beats_s:
        for centre_s, width_s, *direction in waves:
            vector += np.exp(-0.5 * ((time_s - beat_s - centre_s) / width_s) ** 2)[:, None] * np.asarray(direction)
    x, y, z = vector.T + 0.05 * np.sin(2 * np.pi * 0.3 * time_s)  # breathing wander
    lead_i, lead_ii = x, 0.5 * x + np.sqrt(3) / 2 * y
    leads = {"I": lead_i, "II": lead_ii, "III": lead_ii - lead_i, "aVR": -(lead_i + lead_ii) / 2,
             "aVL": lead_i - lead_ii / 2, "aVF": lead_ii - lead_i / 2}
    for name, angle_deg in CHEST_ANGLES_DEG.items():
        leads[name] = 1.5 * (x * np.cos(np.radians(angle_deg)) + z * np.sin(np.radians(angle_deg)))
    signal_mv = np.round(np.stack([leads[name] for name in LEAD_ORDER], axis=1) / 0.005) * 0.005
    return EcgRecord(signal_mv.astype(np.float32), RATE_HZ, LEAD_ORDER, source_name="synthetic")


def changed(record: EcgRecord, **columns: np.ndarray) -> EcgRecord:
    """``record`` with the named leads replaced."""
    signal_mv = record.signal_mv.copy()
    for name, values in columns.items():
        signal_mv[:, record.lead_names.index(name)] = values
    return record.replace(signal_mv=signal_mv)


def arms_swapped(record: EcgRecord) -> EcgRecord:
    """The record as recorded with the left and right arm electrodes swapped: I negated, II<->III, aVR<->aVL."""
    lead = record.lead
    return changed(record, I=-lead("I"), II=lead("III"), III=lead("II"), aVR=lead("aVL"), aVL=lead("aVR"))


def codes(record: EcgRecord, **limits: float) -> str:
    return finding_codes(check_plausibility(record, **limits))


# --- Generated records -------------------------------------------------------------------------


def test_normal_generated_record_has_no_finding() -> None:
    for seed in range(3):
        assert check_plausibility(synthetic_record(seed=seed)) == ()


def test_ten_millivolt_lead_is_implausible() -> None:
    record = synthetic_record()
    lead_v2 = record.lead("V2")
    tall = changed(record, V2=lead_v2 * (10.0 / np.abs(lead_v2 - np.median(lead_v2)).max()))
    [finding] = check_plausibility(tall)
    assert finding.code == "amplitude" and finding.leads == ("V2",) and finding.severity == "implausible"
    assert re.search(r"V2 (9\.\d|10\.\d) mV", finding.message) and "±5 mV" in finding.message
    assert codes(tall, amplitude_limit_mv=12.0) == ""


def test_a_gain_five_times_too_high_flags_every_tall_lead() -> None:
    record = synthetic_record()
    scaled = record.replace(signal_mv=record.signal_mv * 5)
    peaks_mv = {name: 5 * float(np.abs(record.lead(name) - np.median(record.lead(name))).max()) for name in LEAD_ORDER}
    [finding] = check_plausibility(scaled)
    assert finding.code == "amplitude"
    assert {name for name, peak in peaks_mv.items() if peak > 5.5} <= set(finding.leads)
    assert set(finding.leads) <= {name for name, peak in peaks_mv.items() if peak > 4.5}
    assert len(finding.leads) >= 3


def test_one_electrode_pop_is_not_an_amplitude_finding() -> None:
    record = synthetic_record()
    lead_v3 = record.lead("V3").copy()
    lead_v3[2000:2010] = 12.0
    assert codes(changed(record, V3=lead_v3)) == ""


def test_flat_lead_is_found_over_the_record_or_two_seconds() -> None:
    record = synthetic_record()
    assert codes(changed(record, V3=np.zeros(len(record.signal_mv)))) == "flat:V3"
    dropped = record.lead("V5").copy()
    dropped[1000:2200] = dropped[1000]  # 2.4 s held
    assert codes(changed(record, V5=dropped)) == "flat:V5"
    brief = record.lead("V5").copy()
    brief[1000:1600] = brief[1000]  # 1.2 s: a pause-length gap, not a flat lead
    assert codes(changed(record, V5=brief)) == ""
    assert codes(changed(record, V5=brief), flat_duration_s=1.0) == "flat:V5"


def test_flat_finding_names_all_flat_leads_in_lead_order() -> None:
    record = synthetic_record()
    zeros = np.zeros(len(record.signal_mv))
    [finding] = check_plausibility(changed(record, V6=zeros, V2=zeros + 0.3))
    assert finding.leads == ("V2", "V6") and "leads V2, V6" in finding.message


def test_clipped_lead_is_saturated() -> None:
    record = synthetic_record()
    lead_v5 = record.lead("V5")
    clipped = changed(record, V5=np.minimum(lead_v5, 0.6 * lead_v5.max()))
    [finding] = check_plausibility(clipped)
    assert finding.code == "saturated" and finding.leads == ("V5",) and "clipped" in finding.message
    assert codes(clipped, saturation_ms=1000.0) == ""
    lead_ii = record.lead("II")  # a clipped limb lead also breaks I + III = II
    assert codes(changed(record, II=np.minimum(lead_ii, 0.6 * lead_ii.max()))) == "saturated:II;limb_leads:I,II,III"


def test_a_held_last_value_is_not_saturation() -> None:
    record = synthetic_record()
    lead_v4 = record.lead("V4").copy()
    lead_v4[-60:] = lead_v4.max() + 0.5  # PTB-XL style: the record ends on a 0.12 s plateau
    assert codes(changed(record, V4=lead_v4)) == ""
    lead_v4[-60:] = lead_v4[-61]
    lead_v4[2000:2060] = lead_v4.max() + 0.5  # the same plateau mid-record is clipping
    assert codes(changed(record, V4=lead_v4)) == "saturated:V4"


def test_calibration_pulse_in_every_lead_is_no_finding() -> None:
    record = synthetic_record()
    signal_mv = record.signal_mv.copy()
    signal_mv[-250:-150] = 1.0  # a device's 1 mV, 0.2 s pulse in every lead
    assert codes(record.replace(signal_mv=signal_mv)) == ""


def test_mislabelled_limb_leads_break_einthoven() -> None:
    record = synthetic_record()
    mislabelled = changed(record, II=record.lead("III"), III=record.lead("II"))
    [finding] = check_plausibility(mislabelled)
    assert finding.code == "limb_leads" and finding.leads == ("I", "II", "III") and "limit 10%" in finding.message
    assert codes(mislabelled.replace(derived_leads=frozenset({"III", "aVR", "aVL", "aVF"}))) == ""
    assert codes(mislabelled, limb_residual_limit=10.0) == ""


def test_swapped_arm_electrodes_are_suspected() -> None:
    for seed in range(3):
        [finding] = check_plausibility(arms_swapped(synthetic_record(seed=seed)))
        assert finding.code == "arm_reversal" and finding.leads == ("I", "aVR")
        assert finding.severity == "suspected" and "suspected" in finding.message


def test_arm_reversal_needs_an_inverted_p_wave() -> None:
    record = synthetic_record()
    p_waves = record.lead("I") - synthetic_record(waves=WAVES[1:]).lead("I")
    assert np.abs(p_waves).max() > 0.05
    swapped = arms_swapped(record)
    assert "arm_reversal" in codes(swapped)
    assert "arm_reversal" not in codes(changed(swapped, I=swapped.lead("I") + 2 * p_waves))


def test_missing_samples_are_reported_and_other_checks_still_run() -> None:
    record = synthetic_record()
    lead_ii = record.lead("II").copy()
    lead_ii[100:110] = np.nan
    lead_v2 = record.lead("V2") * 12
    [missing, amplitude] = check_plausibility(changed(record, II=lead_ii, V2=lead_v2))
    assert (missing.code, missing.leads) == ("non_finite", ("II",)) and "II (10 of 5000)" in missing.message
    assert (amplitude.code, amplitude.leads) == ("amplitude", ("V2",))


def test_short_record_and_lead_subsets() -> None:
    record = synthetic_record(seconds=1.0)
    assert check_plausibility(record) == ()
    three = record.replace(signal_mv=record.signal_mv[:, :3], lead_names=("I", "II", "III"))
    assert check_plausibility(three) == ()


@pytest.mark.parametrize("option", ["amplitude_limit_mv", "window_s", "flat_limit_mv", "flat_duration_s",
                                    "saturation_ms", "limb_residual_limit"])
@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf")])
def test_limits_must_be_positive_numbers(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"^{option} must be a positive finite number"):
        check_plausibility(synthetic_record(seconds=1.0), **{option: value})


def test_signal_must_match_its_lead_names() -> None:
    record = synthetic_record(seconds=1.0)
    with pytest.raises(ValueError, match=r"record\.signal_mv must be \(samples, 11\)"):
        check_plausibility(record.replace(lead_names=LEAD_ORDER[:11]))


# --- Storage text --------------------------------------------------------------------------------


def test_finding_codes_round_trip() -> None:
    record = synthetic_record()
    broken = changed(arms_swapped(record), V3=np.zeros(len(record.signal_mv)), V2=record.lead("V2") * 12)
    findings = check_plausibility(broken)
    text = finding_codes(findings)
    assert text == "amplitude:V2;flat:V3;arm_reversal:I,aVR"
    assert parse_finding_codes(text) == tuple((finding.code, finding.leads) for finding in findings)
    assert finding_codes(()) == "" and parse_finding_codes("") == ()


@pytest.mark.parametrize(("text", "message"), [
    ("amplitude", r"'code:lead,lead' items joined by ';'; got item 'amplitude'"),
    ("amplitude:II;", r"got item ''"),
    ("amplitude:II,,V1", r"got item 'amplitude:II,,V1'"),
    ("noise:II", r"unknown finding code 'noise'"),
    ("flat:V7", r"unknown lead 'V7' in 'flat:V7'"),
    ("flat:V1;flat:V2", r"repeats finding code 'flat'"),
])
def test_parse_finding_codes_refuses_malformed_text(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_finding_codes(text)


def test_finding_codes_refuses_a_repeated_code() -> None:
    flat = SignalFinding("flat", ("V1",), "implausible", "")
    with pytest.raises(ValueError, match=r"findings repeat code 'flat'"):
        finding_codes([flat, flat])


def test_signal_finding_is_validated() -> None:
    assert set(FINDING_SEVERITIES.values()) == set(SEVERITIES) and tuple(FINDING_SEVERITIES) == FINDING_CODES
    with pytest.raises(ValueError, match=r"code must be one of non_finite, amplitude"):
        SignalFinding("noise", ("I",), "implausible", "")
    with pytest.raises(ValueError, match=r"severity of 'arm_reversal' must be 'suspected'"):
        SignalFinding("arm_reversal", ("I", "aVR"), "implausible", "")
    with pytest.raises(ValueError, match=r"leads must be one or more of"):
        SignalFinding("flat", (), "implausible", "")


# --- Real ECGs -----------------------------------------------------------------------------------


def _header_gains(header: Path) -> set[float]:
    """The ADC gains (adu per unit) of a WFDB header's signal lines, read here independently of the reader."""
    lines = [line.split() for line in header.read_text().splitlines() if line.strip() and not line.startswith("#")]
    signal_count = int(lines[0][1])
    return {float(re.match(r"[\d.eE+-]+", fields[2]).group()) for fields in lines[1:signal_count + 1]}  # type: ignore[union-attr]


def _corpus_labels(corpus_dir: Path) -> dict[str, set[str]]:
    with (corpus_dir / "wfdb" / "labels.csv").open(newline="") as handle:
        return {row["record"]: set(filter(None, row["labels"].split(";"))) for row in csv.DictReader(handle)}


def _readable(headers: list[Path]) -> list[Path]:
    return [header for header in headers if (header.with_suffix(".mat")).exists()]


def test_ptb_xl_records_with_gain_200_get_the_amplitude_finding(corpus_dir: Path) -> None:
    headers = _readable(sorted((corpus_dir / "wfdb").glob("HR*.hea")))
    low_gain = [header for header in headers if _header_gains(header) == {200.0}]
    assert low_gain, "no PTB-XL record with a header gain of 200 adu/mV in the corpus"
    for header in low_gain:
        record = read_ecg(header)
        peak_mv = float(np.abs(record.signal_mv - np.median(record.signal_mv, axis=0)).max())
        assert peak_mv > 10, f"{header.name}: expected the 10-12 mV peaks of a wrong gain, got {peak_mv:.1f} mV"
        [finding] = [item for item in check_plausibility(record) if item.code == "amplitude"]
        assert {"V4", "V5"} <= set(finding.leads), f"{header.name}: {finding.message}"


def test_normal_ptb_xl_records_get_no_finding(corpus_dir: Path) -> None:
    labels = _corpus_labels(corpus_dir)
    normal = [header for header in _readable(sorted((corpus_dir / "wfdb").glob("HR*.hea")))
              if labels.get(header.stem) == {"NSR"}]
    assert len(normal) >= 5
    for header in normal:
        assert check_plausibility(read_ecg(header)) == (), header.name


def test_swapped_arms_on_real_ptb_xl_records_are_suspected(corpus_dir: Path) -> None:
    """With the arm electrodes swapped in software, most normal PTB-XL records are flagged.

    Not all: the rule also needs an upright aVR, which the swap takes from the original aVL,
    small or negative in a vertical heart (8 of 11 flagged when written).
    """
    labels = _corpus_labels(corpus_dir)
    records = [read_ecg(header) for header in _readable(sorted((corpus_dir / "wfdb").glob("HR*.hea")))
               if labels.get(header.stem) == {"NSR"}]
    flagged = [record.source_name for record in records
               if "arm_reversal" in codes(arms_swapped(record)) and "arm_reversal" not in codes(record)]
    assert len(flagged) >= len(records) / 2, f"only {flagged} of {len(records)}"


def _longest_constant_run(values: np.ndarray) -> int:
    """Most consecutive samples of one value."""
    changes = np.flatnonzero(np.diff(values) != 0)
    bounds = np.concatenate([[-1], changes, [len(values) - 1]])
    return int(np.diff(bounds).max())


def test_real_flat_leads_are_found(corpus_dir: Path) -> None:
    """Some Chapman/Ningbo records hold leads of zeros; a lead constant for 2 s or more is reported flat."""
    found = 0
    for header in _readable(sorted((corpus_dir / "wfdb").glob("JS*.hea"))):
        record = read_ecg(header)
        window = round(2 * record.sampling_rate_hz)
        held = {name for name in record.lead_names if _longest_constant_run(record.lead(name)) >= window}
        flat = [item for item in check_plausibility(record) if item.code == "flat"]
        assert set(flat[0].leads if flat else ()) == held, header.name
        found += bool(held)
    assert found >= 1


def test_bundled_demo_cases_and_example_get_no_finding() -> None:
    paths = sorted(DEMO_CASES_DIR.glob("*.hea")) + [demo_ecg_path()]
    assert len(paths) == 21
    for path in paths:
        assert check_plausibility(read_ecg(path)) == (), path.name
