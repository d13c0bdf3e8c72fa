"""The ECG record that flows through every stage, and the model's fixed vocabulary."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

#: Lead order of the model input (upstream README since 2020-08: DI, DII, DIII,
#: AVR, AVL, AVF, V1-V6). Older upstream docs listed AVL, AVF, AVR; we follow the
#: newer README, which matches the released training code. Display names below.
LEAD_ORDER: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)

#: The six classes of Ribeiro et al. 2020, in the order of the model output.
CLASSES: tuple[str, ...] = ("1dAVb", "RBBB", "LBBB", "SB", "AF", "ST")

#: Decision thresholds of the paper (generate_figures_and_tables.py), applied as ``p > t``
#: by :func:`dnn_calls`. A site may set its own (``Settings.thresholds``, ``ECGREVIEW_THRESHOLDS``).
THRESHOLDS: tuple[float, ...] = (0.124, 0.07, 0.05, 0.278, 0.390, 0.174)


def dnn_calls(probabilities: npt.ArrayLike, thresholds: npt.ArrayLike | None = None) -> np.ndarray:
    """The DNN's binary calls: ``p > t`` per class, compared in float32.

    This is the one definition of the DNN decision rule; the review page, the review CSV,
    the worklist, batch scoring, the cohort reports, the comparisons and the figures all
    call it. The model computes in float32, so both sides are rounded to float32 before
    comparing: a probability exactly at a threshold (``float32(t)``, as the model can
    output it, or as stored in a CSV and read back) is ``absent`` everywhere, and one
    float32 ulp above it is ``present`` everywhere. Comparing in float64 instead would
    call ``float32(0.07) = 0.0700000003`` present against the float64 threshold 0.07
    while a float32 comparison calls it absent.

    Parameters
    ----------
    probabilities : array-like
        (..., 6) probabilities in :data:`CLASSES` order. NaN (no output) gives ``False``;
        callers that must tell "no output" apart mask it themselves.
    thresholds : array-like, optional
        (6,) thresholds in :data:`CLASSES` order, or any shape that broadcasts against
        ``probabilities`` with 6 in the last axis (e.g. one row per case). Default: the
        paper's :data:`THRESHOLDS`.

    Returns
    -------
    numpy.ndarray
        Boolean array of the shape of ``probabilities``.

    Raises
    ------
    ValueError
        ``probabilities`` or ``thresholds`` do not have 6 values in the last axis.

    Examples
    --------
    >>> dnn_calls([0.124, 0.07, 0.05, 0.278, 0.390, 0.5]).tolist()
    [False, False, False, False, False, True]
    """
    values = np.asarray(probabilities, dtype=np.float32)
    limits = np.asarray(THRESHOLDS if thresholds is None else thresholds, dtype=np.float32)
    for name, array in (("probabilities", values), ("thresholds", limits)):
        if array.shape[-1:] != (len(CLASSES),):
            raise ValueError(f"{name} must have {len(CLASSES)} values in the last axis ({', '.join(CLASSES)}), "
                             f"got shape {array.shape}")
    return values > limits


#: The sexes a record may carry (``EcgRecord.sex``); ``""`` when the file does not say.
SEXES: tuple[str, ...] = ("female", "male", "other")

#: Ages at or above this are shown as "90+" (HIPAA Safe Harbor aggregates ages over 89).
AGE_SHOWN_UP_TO_YEARS = 89

#: Model input geometry.
MODEL_SAMPLING_RATE_HZ = 400
MODEL_SAMPLES = 4096


@dataclass(frozen=True)
class Measurement:
    """A device measurement such as ``Measurement("QRS", 96.0, "ms")``."""

    name: str
    value: float
    unit: str

    def __str__(self) -> str:
        value = f"{self.value:g}"
        return f"{self.name} {value} {self.unit}".strip()

    @property
    def measured(self) -> bool:
        """Whether the device made this measurement.

        Devices write 0 (or nothing, read as NaN) for an interval, duration or rate they
        did not measure; an axis of 0 degrees is a real value, so only non-finite axes
        count as not measured.
        """
        if not np.isfinite(self.value):
            return False
        return self.value != 0 or self.unit.lower() in ("deg", "degree", "degrees", "°")


def _same_fields(first: object, second: object) -> bool:
    """Field-by-field equality of two dataclasses of one type; arrays equal in dtype, shape and values."""
    if type(first) is not type(second):
        return False
    for item in dataclasses.fields(first):  # type: ignore[arg-type]
        mine, theirs = getattr(first, item.name), getattr(second, item.name)
        if isinstance(mine, np.ndarray) or isinstance(theirs, np.ndarray):
            if not (isinstance(mine, np.ndarray) and isinstance(theirs, np.ndarray) and mine.dtype == theirs.dtype
                    and np.array_equal(mine, theirs)):
                return False
        elif mine != theirs:
            return False
    return True


@dataclass(frozen=True, eq=False)
class Waveform:
    """A multichannel signal: ``signal_mv`` is (samples, leads), float32, millivolts.

    Two waveforms are equal when every field is (arrays: same dtype, shape and values;
    a NaN sample never equals another). Unhashable, as it holds an array.
    """

    signal_mv: np.ndarray
    sampling_rate_hz: float
    lead_names: tuple[str, ...]

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return _same_fields(self, other) if isinstance(other, Waveform) else NotImplemented

    @property
    def duration_s(self) -> float:
        return self.signal_mv.shape[0] / self.sampling_rate_hz


@dataclass(frozen=True, eq=False)
class EcgRecord:
    """One 12-lead ECG as read from a file, and as transformed by each stage.

    Stages return a new record with :func:`dataclasses.replace`; nothing mutates one.
    Two records are equal when every field is: the signals in dtype, shape and values
    (:func:`numpy.array_equal`; a NaN sample never equals another), the rest with ``==``.
    Records are unhashable (they hold an array).

    Attributes
    ----------
    signal_mv : numpy.ndarray
        (samples, leads) float32 in millivolts.
    sampling_rate_hz : float
        Samples per second.
    lead_names : tuple of str
        Canonical lead names (see :data:`LEAD_ORDER`), one per column.
    source_name : str
        File name of the source (no directories: it may be shown and stored).
    source_sha256 : str
        SHA-256 of the source file's bytes.
    pseudonym : str
        The patient pseudonym (DICOM PatientID of a pseudonymized file). Never a name.
    acquisition_time : datetime or None
        When the ECG was recorded.
    manufacturer, device_model : str
        The recording device.
    statements : tuple of str
        The device's free-text interpretation statements, in file order.
    measurements : tuple of Measurement
        The device's measurements (RR, PR, QRS, QT, QTc, axes).
    derived_leads : frozenset of str
        Leads computed from others (Einthoven/Goldberger) rather than recorded.
    median_beats : Waveform or None
        The device's median (representative) beats, when the file has them.
    reference_labels : dict
        Reference diagnoses by class name (e.g. from WFDB ``#Dx``), when known.
    source_format : str
        The file format as read, for display (e.g. ``"SCP-ECG"``, ``"DICOM Hemodynamic
        Waveform Storage (Modality ECG)"``); empty when the reader does not say.
    age_years : int or None
        The patient's age in whole years when the file carries it (WFDB ``#Age``, DICOM
        PatientAge); None when unknown. Never a birth date.
    sex : str
        One of :data:`SEXES`, or ``""`` when the file does not say.
    """

    signal_mv: np.ndarray
    sampling_rate_hz: float
    lead_names: tuple[str, ...]
    source_name: str = ""
    source_sha256: str = ""
    pseudonym: str = ""
    acquisition_time: datetime | None = None
    manufacturer: str = ""
    device_model: str = ""
    statements: tuple[str, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    derived_leads: frozenset[str] = frozenset()
    median_beats: Waveform | None = None
    reference_labels: dict[str, bool] = field(default_factory=dict)
    source_format: str = ""
    age_years: int | None = None
    sex: str = ""

    __hash__ = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.sex not in ("", *SEXES):
            raise ValueError(f"sex must be one of {', '.join(SEXES)} or empty; got {self.sex!r}")
        if self.age_years is not None and not 0 <= self.age_years:
            raise ValueError(f"age_years must be a whole number >= 0 or None; got {self.age_years!r}")

    def __eq__(self, other: object) -> bool:
        return _same_fields(self, other) if isinstance(other, EcgRecord) else NotImplemented

    @property
    def age_sex(self) -> str:
        """Age and sex for display, e.g. ``"81 y, female"``, ``"90+ y"``; ``"unknown"`` when neither is known.

        Ages above :data:`AGE_SHOWN_UP_TO_YEARS` are shown as ``90+``.
        """
        parts = []
        if self.age_years is not None:
            over = self.age_years > AGE_SHOWN_UP_TO_YEARS
            parts.append(f"{AGE_SHOWN_UP_TO_YEARS + 1}+ y" if over else f"{self.age_years} y")
        if self.sex:
            parts.append(self.sex)
        return ", ".join(parts) or "unknown"

    @property
    def duration_s(self) -> float:
        """Recording length in seconds."""
        return self.signal_mv.shape[0] / self.sampling_rate_hz

    @property
    def device(self) -> str:
        """Manufacturer and model, for display."""
        return " ".join(part for part in (self.manufacturer, self.device_model) if part)

    def lead(self, name: str) -> np.ndarray:
        """The signal of one lead (mV), by canonical name."""
        return self.signal_mv[:, self.lead_names.index(name)]

    def replace(self, **changes: Any) -> "EcgRecord":
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)
