"""Named sample data: the bundled demo ECG and the demo case folder."""

from __future__ import annotations

from pathlib import Path

#: 20 real WFDB records (PhysioNet/CinC Challenge 2020/2021, CC BY 4.0) with reference
#: labels in ``labels.csv``; see its README.md and ATTRIBUTION.md.
DEMO_CASES_DIR = Path(__file__).resolve().parent / "data" / "demo_cases"


def demo_ecg_path() -> Path:
    """Path of pydicom's real Mortara ELI 250 12-lead ECG (MIT licence, shipped with pydicom)."""
    from pydicom import examples

    return Path(examples.get_path("waveform"))
