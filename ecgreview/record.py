"""The ECG record that flows through every stage, and the model's fixed vocabulary."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

#: Lead order of the model input (upstream README since 2020-08: DI, DII, DIII,
#: AVR, AVL, AVF, V1-V6). Older upstream docs listed AVL, AVF, AVR; we follow the
#: newer README, which matches the released training code. Display names below.
LEAD_ORDER: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)

#: The six classes of Ribeiro et al. 2020, in the order of the model output.
CLASSES: tuple[str, ...] = ("1dAVb", "RBBB", "LBBB", "SB", "AF", "ST")

#: Decision thresholds of the paper (generate_figures_and_tables.py), applied as ``p > t``.
THRESHOLDS: tuple[float, ...] = (0.124, 0.07, 0.05, 0.278, 0.390, 0.174)

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


@dataclass(frozen=True)
class Waveform:
    """A multichannel signal: ``signal_mv`` is (samples, leads), float32, millivolts."""

    signal_mv: np.ndarray
    sampling_rate_hz: float
    lead_names: tuple[str, ...]

    @property
    def duration_s(self) -> float:
        return self.signal_mv.shape[0] / self.sampling_rate_hz


@dataclass(frozen=True)
class EcgRecord:
    """One 12-lead ECG as read from a file, and as transformed by each stage.

    Stages return a new record with :func:`dataclasses.replace`; nothing mutates one.

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

    def replace(self, **changes: object) -> "EcgRecord":
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)
