"""Tests of ecgreview.io.leads: lead-name normalisation, limb-lead derivation, ordering."""

from __future__ import annotations

import numpy as np
import pytest

from ecgreview.errors import EcgReadError
from ecgreview.io.leads import complete_limb_leads, normalize_lead_name, order_leads
from ecgreview.record import LEAD_ORDER


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Lead I (Einthoven)", "I"),
        ("I", "I"),
        ("DI", "I"),
        ("lead I", "I"),
        ("Lead II", "II"),
        ("DIII", "III"),
        ("aVR", "aVR"),
        ("AVR", "aVR"),
        ("Lead aVR", "aVR"),
        ("aVR, augmented voltage, right", "aVR"),
        ("aVL, augmented voltage, left", "aVL"),
        ("Lead aVF (Goldberger)", "aVF"),
        ("V1", "V1"),
        ("Lead V1", "V1"),
        ("  v6 ", "V6"),
        ("MDC_ECG_LEAD_I", "I"),
        ("MDC_ECG_LEAD_AVR", "aVR"),
        ("MDC_ECG_LEAD_V4", "V4"),
        ("5.6.3-9-1", "I"),
        ("5.6.3-9-2", "II"),
        ("5.6.3-9-3", "V1"),
        ("5.6.3-9-8", "V6"),
        ("5.6.3-9-61", "III"),
        ("5.6.3-9-62", "aVR"),
        ("5.6.3-9-63", "aVL"),
        ("5.6.3-9-64", "aVF"),
        ("2:1", "I"),
        ("2:61", "III"),
        ("2:64", "aVF"),
    ],
)
def test_normalize_lead_name_maps_labels_and_codes(text: str, expected: str) -> None:
    assert normalize_lead_name(text) == expected


@pytest.mark.parametrize(
    "text",
    ["-aVR", "Lead -aVR", "negative aVR", "V7", "V3R", "X", "Resp", "", "   ", None, "5.6.3-9-65", "2:999", "I II"],
)
def test_normalize_lead_name_rejects_other_channels(text: str | None) -> None:
    assert normalize_lead_name(text) is None


def _limb_pair(sample_count: int = 50) -> np.ndarray:
    generator = np.random.default_rng(1)
    return generator.normal(size=(sample_count, 8))


def test_complete_limb_leads_derives_einthoven_and_goldberger_leads() -> None:
    names = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    signal = _limb_pair()
    completed, completed_names, derived = complete_limb_leads(signal, names)
    assert derived == frozenset({"III", "aVR", "aVL", "aVF"})
    assert completed.shape == (50, 12)

    def lead(name: str) -> np.ndarray:
        return completed[:, completed_names.index(name)]

    np.testing.assert_allclose(lead("III"), lead("II") - lead("I"))
    np.testing.assert_allclose(lead("aVR"), -(lead("I") + lead("II")) / 2)
    np.testing.assert_allclose(lead("aVL"), lead("I") - lead("II") / 2)
    np.testing.assert_allclose(lead("aVF"), lead("II") - lead("I") / 2)
    # Goldberger leads sum to zero.
    np.testing.assert_allclose(lead("aVR") + lead("aVL") + lead("aVF"), 0, atol=1e-12)


def test_complete_limb_leads_keeps_recorded_leads() -> None:
    signal = np.arange(12 * 4, dtype=float).reshape(4, 12)
    completed, names, derived = complete_limb_leads(signal, LEAD_ORDER)
    assert completed is signal and names == LEAD_ORDER and derived == frozenset()


def test_complete_limb_leads_derives_only_absent_leads() -> None:
    names = ("I", "II", "III", "V1", "V2", "V3", "V4", "V5", "V6")
    signal = np.ones((3, 9))
    completed, completed_names, derived = complete_limb_leads(signal, names)
    assert derived == frozenset({"aVR", "aVL", "aVF"})
    np.testing.assert_array_equal(completed[:, completed_names.index("III")], 1.0)  # recorded, not II - I


def test_complete_limb_leads_needs_leads_i_and_ii() -> None:
    names = ("I", "V1", "V2", "V3", "V4", "V5", "V6")
    signal = np.ones((3, 7))
    completed, completed_names, derived = complete_limb_leads(signal, names)
    assert completed is signal and completed_names == names and derived == frozenset()


def test_order_leads_returns_lead_order() -> None:
    shuffled = LEAD_ORDER[::-1]
    signal = np.tile(np.arange(12, dtype=float)[::-1], (5, 1))  # column value = LEAD_ORDER index
    ordered, names = order_leads(signal, shuffled)
    assert names == LEAD_ORDER
    np.testing.assert_array_equal(ordered[0], np.arange(12))


def test_order_leads_names_missing_leads() -> None:
    names = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    with pytest.raises(EcgReadError, match=r"^a\.dcm: missing leads III, aVR, aVL, aVF \(found I, II, V1"):
        order_leads(np.zeros((3, 8)), names, source="dir/a.dcm")


def test_order_leads_rejects_duplicate_leads() -> None:
    names = LEAD_ORDER + ("II",)
    with pytest.raises(EcgReadError, match="lead II appears in more than one channel"):
        order_leads(np.zeros((3, 13)), names)


def test_order_leads_rejects_shape_mismatch() -> None:
    with pytest.raises(EcgReadError, match=r"does not match 12 lead names"):
        order_leads(np.zeros((3, 11)), LEAD_ORDER)
