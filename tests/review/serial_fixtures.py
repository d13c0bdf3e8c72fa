"""A CONSTRUCTED serial pair for the serial-comparison tests: two real recordings of two different people,
written as DICOM under one made-up pseudonym with two acquisition times, so that the app links them.

The signals are the bundled demo cases (``ecgreview/data/demo_cases``, see its ATTRIBUTION.md):
HR00001 (PTB-XL, labelled sinus rhythm) is the "prior" and Q0033 (CPSC-Extra, labelled LBBB) is the
"current" ECG. The device statements and measurements are written for the test (what a device would
print for such ECGs); they are not the recordings' own. No identifying data: no name, no birth date.

:func:`write_wfdb_pair` writes the same two recordings as a CONSTRUCTED WFDB pair: the demo headers renamed to
``PT01_2019`` and ``PT01_2024`` (record name and file stem; the signal files are copied unchanged) with the
base date and time of the DICOM pair, for the ``record-prefix`` linking rule (:data:`WFDB_PAIR_RULE`).
"""

from __future__ import annotations

from pathlib import Path

import shutil

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


#: The linking rule that links the constructed WFDB pair (the record name's part before ``_``).
WFDB_PAIR_RULE = r"record-prefix:^(?P<patient>[A-Z]+[0-9]+)_"
#: (record name, demo record, base time and date as a WFDB header writes them) of the WFDB pair, prior first.
WFDB_PAIR = (("PT01_2019", "HR00001", "10:15:00 02/03/2019"), ("PT01_2024", "Q0033", "14:30:15 05/03/2024"))


def write_wfdb_pair(folder: Path) -> tuple[Path, Path]:
    """Write the constructed WFDB pair into ``folder``; returns the (prior, current) header paths."""
    folder.mkdir(parents=True, exist_ok=True)
    headers = []
    for record_name, demo, base in WFDB_PAIR:
        lines = (DEMO_CASES_DIR / f"{demo}.hea").read_text(encoding="ascii").splitlines()
        name, signals, rate, samples = lines[0].split()[:4]
        assert name == demo, name
        lines[0] = f"{record_name} {signals} {rate} {samples} {base}"
        for signal_file in {line.split()[0] for line in lines[1:int(signals) + 1]}:
            shutil.copyfile(DEMO_CASES_DIR / signal_file, folder / signal_file)
        header = folder / f"{record_name}.hea"
        header.write_text("\n".join(lines) + "\n", encoding="ascii")
        headers.append(header)
    return headers[0], headers[1]
