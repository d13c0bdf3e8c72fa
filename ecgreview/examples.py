"""Named sample data: the bundled demo ECG, the demo case folder and the Van Dyke MRMC ratings."""

from __future__ import annotations

from pathlib import Path

#: 20 real WFDB records (PhysioNet/CinC Challenge 2020/2021, CC BY 4.0) with reference
#: labels in ``labels.csv``; see its README.md and ATTRIBUTION.md.
DEMO_CASES_DIR = Path(__file__).resolve().parent / "data" / "demo_cases"

#: Shown wherever the demo cases are listed (CC BY 4.0 requires it).
DEMO_CASES_ATTRIBUTION = (
    "Demo cases: real ECGs from the PhysioNet/CinC Challenge 2020/2021 (Perez Alday et al., Physiol Meas "
    "2020; Reyna et al., CinC 2021), CC BY 4.0, unchanged; original databases CPSC 2018, CPSC-Extra, "
    "Georgia 12-lead (G12EC), PTB-XL, Chapman-Shaoxing and Ningbo — see ecgreview/data/demo_cases/ATTRIBUTION.md."
)

#: Van Dyke et al. (1993) MRMC ratings (5 readers × 2 treatments × 114 cases, long layout), from
#: RJafroc (GPL-3); see ecgreview/data/mrmc/ATTRIBUTION.md. ``python -m ecgreview mrmc`` takes it.
VAN_DYKE_RATINGS_CSV = Path(__file__).resolve().parent / "data" / "mrmc" / "van_dyke_1993.csv"


def demo_ecg_path() -> Path:
    """Path of pydicom's real Mortara ELI 250 12-lead ECG (MIT licence, shipped with pydicom)."""
    from pydicom import examples

    return Path(examples.get_path("waveform"))
