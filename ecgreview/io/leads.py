"""Lead names and lead sets shared by every ECG reader.

Readers map whatever a file calls a channel (``"Lead I (Einthoven)"``,
``"MDC_ECG_LEAD_AVR"``, SCP-ECG code ``"5.6.3-9-61"``) to the canonical names of
:data:`~ecgreview.record.LEAD_ORDER` with :func:`normalize_lead_name`, complete
8-lead recordings with :func:`complete_limb_leads`, and bring the columns into
model order with :func:`order_leads`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from ecgreview.errors import EcgReadError
from ecgreview.record import LEAD_ORDER

__all__ = ["UNIT_TO_MV", "check_finite_samples", "complete_limb_leads", "millivolts_per_unit", "normalize_lead_name",
           "order_leads", "standard_leads"]

#: Amplitude units -> millivolts per unit, the one table of every reader: lower-case UCUM
#: codes (DICOM ``uV``, WFDB ``mV``), DICOM code meanings (``microvolt``) and the XML
#: formats' spellings (``MICROVOLTS``). Look units up with :func:`millivolts_per_unit`.
UNIT_TO_MV: dict[str, float] = {
    "nv": 1e-6, "nanovolt": 1e-6, "nanovolts": 1e-6,
    "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "microvolts": 1e-3,
    "mv": 1.0, "millivolt": 1.0, "millivolts": 1.0,
    "v": 1e3, "volt": 1e3, "volts": 1e3,
}


def millivolts_per_unit(unit: str) -> float | None:
    """Millivolts per amplitude unit (``uV``, ``MICROVOLTS``, ``mV``, ``V`` …; any case); None if unknown."""
    return UNIT_TO_MV.get(str(unit).strip().lower())

#: Lead numbers shared by SCP-ECG (code ``5.6.3-9-<n>``, EN 1064 table) and the
#: ISO/IEEE 11073-10102 MDC nomenclature (``2:<n>``, partition 2). Numbers not
#: listed (for example the inverted lead -aVR) are deliberately not recognised.
_LEAD_NUMBERS: dict[int, str] = {
    1: "I", 2: "II", 3: "V1", 4: "V2", 5: "V3", 6: "V4", 7: "V5", 8: "V6",
    61: "III", 62: "aVR", 63: "aVL", 64: "aVF",
}

#: Lower-case lead tokens, after the word "lead" and annotations are removed.
_LEAD_TOKENS: dict[str, str] = {
    "i": "I", "di": "I", "ii": "II", "dii": "II", "iii": "III", "diii": "III",
    "avr": "aVR", "avl": "aVL", "avf": "aVF",
    **{f"v{number}": f"V{number}" for number in range(1, 7)},
}

_CODE_PATTERN = re.compile(r"^(?:5\.6\.3-9-|2:)(\d{1,3})$")
_MDC_PREFIX = "mdc_ecg_lead_"
_LIMB_LEADS = ("III", "aVR", "aVL", "aVF")


def normalize_lead_name(text: object) -> str | None:
    """Map a lead label or code to its canonical name in ``LEAD_ORDER``.

    Parameters
    ----------
    text : object
        A code meaning (``"Lead I (Einthoven)"``, ``"aVR, augmented voltage,
        right"``, ``"DII"``), an MDC reference id (``"MDC_ECG_LEAD_AVR"``), an MDC
        code (``"2:62"``) or an SCP-ECG code (``"5.6.3-9-62"``).

    Returns
    -------
    str or None
        The canonical name (``"I"`` … ``"V6"``), or ``None`` when ``text`` is not
        one of the 12 standard leads. Inverted leads such as ``"-aVR"`` are
        ``None``: their signal is the negative of aVR.

    Examples
    --------
    >>> normalize_lead_name("Lead I (Einthoven)"), normalize_lead_name("MDC_ECG_LEAD_AVF")
    ('I', 'aVF')
    >>> normalize_lead_name("-aVR") is None
    True
    """
    if text is None:
        return None
    cleaned = str(text).strip()
    match = _CODE_PATTERN.match(cleaned)
    if match:
        return _LEAD_NUMBERS.get(int(match.group(1)))
    lowered = cleaned.lower()
    if lowered.startswith(_MDC_PREFIX):
        lowered = lowered[len(_MDC_PREFIX):]
    lowered = lowered.split(",")[0]  # "aVR, augmented voltage, right"
    lowered = re.sub(r"\([^)]*\)", " ", lowered)  # "Lead I (Einthoven)"
    words = [word for word in lowered.split() if word != "lead"]
    if len(words) != 1:
        return None
    return _LEAD_TOKENS.get(words[0])


def complete_limb_leads(
    signal_mv: np.ndarray, lead_names: Sequence[str]
) -> tuple[np.ndarray, tuple[str, ...], frozenset[str]]:
    """Derive absent III, aVR, aVL and aVF from leads I and II.

    Einthoven and Goldberger relations: III = II − I, aVR = −(I + II)/2,
    aVL = I − II/2, aVF = II − I/2. Only absent leads are derived; nothing is
    derived when I or II is missing (:func:`order_leads` then names the gap).

    Parameters
    ----------
    signal_mv : numpy.ndarray
        (samples, leads) signal in millivolts.
    lead_names : sequence of str
        Canonical name of each column.

    Returns
    -------
    signal_mv : numpy.ndarray
        (samples, leads + derived) in mV, the derived leads appended as columns.
    lead_names : tuple of str
        The names of the columns.
    derived : frozenset of str
        The names of the derived leads.
    """
    names = tuple(lead_names)
    absent = [lead for lead in _LIMB_LEADS if lead not in names]
    if not absent or "I" not in names or "II" not in names:
        return signal_mv, names, frozenset()
    lead_i = signal_mv[:, names.index("I")]
    lead_ii = signal_mv[:, names.index("II")]
    formulas = {
        "III": lambda: lead_ii - lead_i,
        "aVR": lambda: -(lead_i + lead_ii) / 2,
        "aVL": lambda: lead_i - lead_ii / 2,
        "aVF": lambda: lead_ii - lead_i / 2,
    }
    columns = np.stack([formulas[lead]() for lead in absent], axis=1)
    completed = np.concatenate([signal_mv, columns.astype(signal_mv.dtype, copy=False)], axis=1)
    return completed, names + tuple(absent), frozenset(absent)


def order_leads(
    signal_mv: np.ndarray, lead_names: Sequence[str], *, source: str | None = None,
    order: Sequence[str] = LEAD_ORDER,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Select the 12 standard leads and put them in ``LEAD_ORDER``.

    The one definition of lead reordering: readers call it, and so does the model-input
    step (:func:`ecgreview.preprocess.reorder_leads`). Columns whose name is not in
    ``order`` are dropped.

    Parameters
    ----------
    signal_mv : numpy.ndarray
        (samples, leads) signal in millivolts.
    lead_names : sequence of str
        Canonical name of each column.
    source : str, optional
        File name for error messages.
    order : sequence of str
        The leads wanted, in order (default :data:`~ecgreview.record.LEAD_ORDER`).

    Returns
    -------
    signal_mv : numpy.ndarray
        (samples, len(order)) in mV, columns in ``order``.
    lead_names : tuple of str
        ``order``.

    Raises
    ------
    EcgReadError
        If the shapes disagree, a lead appears twice, or leads are missing
        (the message names them).
    """
    names = tuple(lead_names)
    if signal_mv.ndim != 2 or signal_mv.shape[1] != len(names):
        raise EcgReadError(
            source, f"signal of shape {signal_mv.shape} does not match {len(names)} lead names"
        )
    order = tuple(order)
    repeated = sorted(lead for lead, count in Counter(names).items() if count > 1 and lead in order)
    if repeated:
        raise EcgReadError(source, f"lead {', '.join(repeated)} appears in more than one channel")
    missing = [lead for lead in order if lead not in names]
    if missing:
        found = ", ".join(name for name in names if name in order) or "none"
        raise EcgReadError(source, f"missing leads {', '.join(missing)} (found {found})")
    return signal_mv[:, [names.index(lead) for lead in order]], order


def standard_leads(
    signal_mv: np.ndarray, lead_names: Sequence[str], *, source: str | None = None, missing_allowed: bool = False,
    notes: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, tuple[str, ...], frozenset[str]]:
    """The 12 leads every reader returns: absent limb leads derived, ``LEAD_ORDER``, float32 mV, finite.

    Parameters
    ----------
    signal_mv : numpy.ndarray
        (samples, leads) signal in millivolts.
    lead_names : sequence of str
        Canonical name of each column.
    source : str, optional
        File name for error messages.
    missing_allowed : bool
        Whether NaN may mark samples the file declares missing (DICOM Waveform Padding
        Value, the WFDB invalid-sample value, padded median beats); see :func:`check_finite_samples`.
    notes : mapping of str to str, optional
        Per lead, what the error names as the likely cause (``"ADC gain 1e-300 adu/mV"``).

    Returns
    -------
    signal_mv : numpy.ndarray
        (samples, 12) contiguous float32 in mV.
    lead_names : tuple of str
        ``LEAD_ORDER``.
    derived : frozenset of str
        The leads computed by :func:`complete_limb_leads`.

    Raises
    ------
    EcgReadError
        A lead is missing or repeated (:func:`order_leads`), or a sample is not finite in float32.
    """
    signal_mv, names, derived = complete_limb_leads(signal_mv, lead_names)
    signal_mv, names = order_leads(signal_mv, names, source=source)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is refused just below
        signal_mv = np.ascontiguousarray(signal_mv, dtype=np.float32)
    check_finite_samples(signal_mv, names, source=source, missing_allowed=missing_allowed, notes=notes,
                         derived=derived)
    return signal_mv, names, derived


def check_finite_samples(
    signal_mv: np.ndarray, lead_names: Sequence[str], *, source: str | None = None, missing_allowed: bool = False,
    notes: Mapping[str, str] | None = None, derived: frozenset[str] = frozenset(),
) -> None:
    """Refuse a signal with infinite samples, or NaN ones unless the file declares them missing.

    A record never leaves the readers with an infinite sample: a scale that puts a sample
    beyond float32 (a WFDB ADC gain of 1e-300 adu/mV) is a broken file, not an ECG. NaN is
    kept only where the format itself marks a sample as absent (``missing_allowed``); the
    plausibility stage (:mod:`ecgreview.plausibility`) reports those samples.

    Parameters
    ----------
    signal_mv : numpy.ndarray
        (samples, leads) signal in millivolts, as the record will hold it (float32).
    lead_names : sequence of str
        Canonical name of each column.
    source : str, optional
        File name for error messages.
    missing_allowed : bool
        Whether NaN samples are declared-missing samples rather than an error.
    notes : mapping of str to str, optional
        Per lead, the likely cause, shown in brackets after its count.
    derived : frozenset of str
        Leads computed from others, marked as such in the message.

    Raises
    ------
    EcgReadError
        ``"lead II has 5000 non-finite samples (ADC gain 1e-300 adu/mV)"``, naming each
        lead (recorded leads first) and its count.
    """
    bad = np.isinf(signal_mv) if missing_allowed else ~np.isfinite(signal_mv)
    counts = bad.sum(axis=0)
    if not counts.any():
        return
    notes = notes or {}
    flagged = [(name in derived, column) for column, name in enumerate(lead_names) if counts[column]]
    parts = []
    for is_derived, column in sorted(flagged):
        name = lead_names[column]
        label = f"lead {name}{' (derived)' if is_derived else ''}"
        note = f" ({notes[name]})" if notes.get(name) else ""
        parts.append(f"{label} has {int(counts[column])} non-finite samples{note}")
    shown = "; ".join(parts[:4]) + (f"; and {len(parts) - 4} more leads" if len(parts) > 4 else "")
    kind = "infinite" if missing_allowed else "infinite or not-a-number"
    raise EcgReadError(source, f"{shown}: the file's scale or samples give {kind} values, which no ECG has")
