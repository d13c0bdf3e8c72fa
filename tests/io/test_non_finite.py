"""Readers refuse non-finite samples (ecgreview.io.leads.check_finite_samples); declared-missing samples stay NaN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io import read_ecg
from ecgreview.io.leads import check_finite_samples, standard_leads
from ecgreview.plausibility import check_plausibility, finding_codes
from ecgreview.record import LEAD_ORDER
from tests.io.test_limits import hl7_aecg

SAMPLES = 5000
RATE_HZ = 500


def _write_wfdb(folder: Path, *, gains: dict[str, str], name: str = "A0001") -> Path:
    """A format-16 WFDB record whose digital samples are never 0 (so any tiny gain overflows every one)."""
    lines = [f"{name} 12 {RATE_HZ} {SAMPLES}"]
    lines += [f"{name}.dat 16 {gains.get(lead, '1000')}/mV 16 0 0 0 0 {lead}" for lead in LEAD_ORDER]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    time_s = np.arange(SAMPLES) / RATE_HZ
    columns = [np.round(400 * np.sin(2 * np.pi * time_s * (k + 1) / 3)) for k in range(12)]
    digital = np.stack(columns, axis=1)
    digital[digital == 0] = 1
    digital.astype("<i2").tofile(folder / f"{name}.dat")
    return folder / f"{name}.hea"


def test_wfdb_gain_of_1e_300_is_refused_naming_the_lead_count_and_gain(tmp_path: Path) -> None:
    header = _write_wfdb(tmp_path, gains={"II": "1e-300"})
    with pytest.raises(EcgReadError, match=r"^A0001\.hea: lead II has 5000 non-finite samples "
                                           r"\(ADC gain 1e-300 adu/mV\): .*infinite"):
        read_ecg(header)


def test_wfdb_subnormal_gain_is_refused(tmp_path: Path) -> None:
    header = _write_wfdb(tmp_path, gains={"V3": "1e-320(0)"})  # overflows already in float64
    with pytest.raises(EcgReadError, match=r"lead V3 has 5000 non-finite samples \(ADC gain 1e-320 adu/mV\)"):
        read_ecg(header)


def test_wfdb_recorded_leads_are_named_before_derived_ones(tmp_path: Path) -> None:
    header = _write_wfdb(tmp_path, gains={"I": "1e-300", "V1": "1e-300"})
    with pytest.raises(EcgReadError, match=r"lead I has 5000 non-finite samples \(ADC gain 1e-300 adu/mV\); "
                                           r"lead V1 has 5000"):
        read_ecg(header)


def test_a_normal_gain_reads_finite(tmp_path: Path) -> None:
    record = read_ecg(_write_wfdb(tmp_path, gains={}))
    assert np.isfinite(record.signal_mv).all()


def test_wfdb_invalid_samples_stay_missing_and_are_a_finding(tmp_path: Path) -> None:
    """-32768 is format 16's invalid-sample value: wfdb decodes it as NaN, a sample the file marks absent."""
    header = _write_wfdb(tmp_path, gains={})
    digital = np.fromfile(tmp_path / "A0001.dat", dtype="<i2").reshape(SAMPLES, 12)
    digital[100:105, LEAD_ORDER.index("aVF")] = -32768
    digital.tofile(tmp_path / "A0001.dat")
    record = read_ecg(header)
    assert np.isnan(record.signal_mv).sum() == 5 and np.isnan(record.lead("aVF")[100:105]).all()
    assert finding_codes(check_plausibility(record)).startswith("non_finite:aVF")


def test_hl7_digits_that_are_not_numbers_are_refused() -> None:
    def digits(lead: str) -> str:
        values = ["10"] * 5000
        if lead == "I":
            values[7:10] = ["NaN", "inf", "-inf"]
        return " ".join(values)

    with pytest.raises(EcgReadError, match=r"^aecg\.xml: lead I has 3 non-finite samples; "
                                           r"lead III \(derived\) has 3 .*infinite or not-a-number"):
        read_ecg(hl7_aecg(digits), name="aecg.xml")


def test_standard_leads_allows_nan_only_when_the_file_declares_it() -> None:
    signal = np.ones((100, 12))
    signal[5, 1] = np.nan
    with pytest.raises(EcgReadError, match=r"^x\.dcm: lead II has 1 non-finite samples"):
        standard_leads(signal, LEAD_ORDER, source="x.dcm")
    kept, names, _ = standard_leads(signal, LEAD_ORDER, source="x.dcm", missing_allowed=True)
    assert names == LEAD_ORDER and np.isnan(kept[5, 1]) and kept.dtype == np.float32


def test_standard_leads_refuses_values_beyond_float32() -> None:
    signal = np.ones((100, 12))
    signal[:10, 6] = 1e39  # finite in float64, infinite as the float32 record
    with pytest.raises(EcgReadError, match=r"lead V1 has 10 non-finite samples \(scale\)"):
        standard_leads(signal, LEAD_ORDER, missing_allowed=True, notes={"V1": "scale"})


def test_check_finite_samples_lists_at_most_four_leads() -> None:
    signal = np.full((10, 12), np.inf, dtype=np.float32)
    with pytest.raises(EcgReadError, match=r"lead aVR has 10 non-finite samples; and 8 more leads"):
        check_finite_samples(signal, LEAD_ORDER)
