"""Named sample data: the bundled demo ECG."""

from __future__ import annotations

from pathlib import Path


def demo_ecg_path() -> Path:
    """Path of pydicom's real Mortara ELI 250 12-lead ECG (MIT licence, shipped with pydicom)."""
    from pydicom import examples

    return Path(examples.get_path("waveform"))
