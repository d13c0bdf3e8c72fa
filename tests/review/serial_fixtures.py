"""A CONSTRUCTED serial pair for the serial-comparison tests: two real recordings of two different people,
written as DICOM under one made-up pseudonym with two acquisition times, so that the app links them.

The signals are the bundled demo cases (``ecgreview/data/demo_cases``, see its ATTRIBUTION.md):
HR00001 (PTB-XL, labelled sinus rhythm) is the "prior" and Q0033 (CPSC-Extra, labelled LBBB) is the
"current" ECG. The device statements and measurements are written for the test (what a device would
print for such ECGs); they are not the recordings' own. No identifying data: no name, no birth date.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgreview.examples import DEMO_CASES_DIR
from ecgreview.io import read_ecg
from tests.io.dicom_fixtures import build_ecg_dataset, write_dataset

#: The made-up pseudonym of the constructed pair.
PAIR_PSEUDONYM = "SERIAL-PAIR-01"
#: (file, demo record, acquisition time, statements, measurements (name, value, unit)) of the pair, prior first.
PAIR = (
    ("pair-2019-prior.dcm", "HR00001", "20190302101500", ("SINUS RHYTHM", "NORMAL ECG"),
     (("Ventricular Heart Rate", 64, "{H.B.}/min"), ("PR Interval", 158, "ms"), ("QRS Duration", 94, "ms"),
      ("QT Interval", 396, "ms"), ("QTc Interval", 408, "ms"))),
    ("pair-2024-current.dcm", "Q0033", "20240305143015", ("SINUS RHYTHM", "LEFT BUNDLE BRANCH BLOCK"),
     (("Ventricular Heart Rate", 78, "{H.B.}/min"), ("PR Interval", 172, "ms"), ("QRS Duration", 148, "ms"),
      ("QT Interval", 420, "ms"), ("QTc Interval", 478, "ms"))),
)


def write_serial_pair(folder: Path) -> tuple[Path, Path]:
    """Write the constructed pair into ``folder``; returns (prior, current) paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, record_name, acquired, statements, measurements in PAIR:
        record = read_ecg(DEMO_CASES_DIR / f"{record_name}.hea")
        raw = np.round(np.nan_to_num(record.signal_mv) * 1000.0).clip(-32000, 32000).astype(np.int16)  # 1 µV/count
        dataset = build_ecg_dataset(lead_names=record.lead_names, raw=raw, median=False, statements=statements,
                                    measurements=measurements, sensitivity=1.0, units="uV",
                                    sampling_rate_hz=record.sampling_rate_hz)
        for keyword in ("PatientName", "PatientBirthDate", "OtherPatientIDs"):
            delattr(dataset, keyword)
        dataset.PatientID = PAIR_PSEUDONYM
        dataset.AcquisitionDateTime = acquired
        dataset.Manufacturer, dataset.ManufacturerModelName = "Constructed pair", "test fixture"
        paths.append(write_dataset(dataset, folder / name))
    return paths[0], paths[1]
