"""``python -m ecgreview mrmc``: the Van Dyke data print the published OR–Hillis results; bad input exits 2."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest

from ecgreview.cli import main
from ecgreview.examples import VAN_DYKE_RATINGS_CSV
from tests.conftest import REPO


def _numbers(line: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", line)


def test_van_dyke_prints_the_published_reader_averaged_aucs_difference_f_df_and_p(tmp_path, capsys):
    assert main(["mrmc", str(VAN_DYKE_RATINGS_CSV), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    random_random = out.split("Random readers, random cases")[1].split("Fixed readers")[0]
    rows = {line.split()[0]: _numbers(line) for line in random_random.splitlines() if re.match(r"\s+[12]\s", line)}
    # Hillis (2007) / OR-DBM MRMC: AUCs 0.89703704 and 0.94083736, single-treatment df 12.74 and 12.71.
    assert rows["1"][:3] == ["0.8970", "0.0332", "12.74"] and rows["2"][:3] == ["0.9408", "0.0216", "12.71"]
    difference = next(line for line in random_random.splitlines() if "Difference 1 - 2" in line)
    assert _numbers(difference) == ["-0.0438", "-0.0880", "0.0004", "-2.1110", "15.2597", "0.0517"]
    test = next(line for line in random_random.splitlines() if line.strip().startswith("F ="))
    assert test.strip() == "F = 4.4563, df1 = 1, df2 = 15.2597, p = 0.0517"
    assert "Chi-squared = 5.4760, df = 1, p = 0.0193" in out
    assert "F = 8.7040, df1 = 1, df2 = 4.0000, p = 0.0420" in out
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "mrmc.txt", "mrmc_components.csv", "mrmc_differences.csv", "mrmc_readers.csv", "mrmc_tests.csv",
        "mrmc_treatments.csv"]
    tests = pd.read_csv(tmp_path / "out" / "mrmc_tests.csv")
    assert tests.loc[0, ["readers", "cases", "statistic_name"]].tolist() == ["random", "random", "F"]
    assert round(float(tests.loc[0, "statistic"]), 4) == 4.4563


def test_sensitivity_from_ratings_and_delong(capsys):
    assert main(["mrmc", str(VAN_DYKE_RATINGS_CSV), "--fom", "sens", "--positive-from", "3"]) == 0
    out = capsys.readouterr().out
    assert "Figure of merit: sensitivity" in out and "F = 6.6895, df1 = 1, df2 = 15.7173, p = 0.0201" in out
    assert main(["mrmc", str(VAN_DYKE_RATINGS_CSV), "--covariance", "delong"]) == 0
    assert "F = 4.4849, df1 = 1, df2 = 15.0661, p = 0.0512" in capsys.readouterr().out


@pytest.mark.parametrize(("arguments", "message"), [
    (["--fom", "sens"], "sensitivity needs a binary call column"),
    (["--positive-from", "3"], "positive_from applies to sensitivity and specificity only"),
    (["--fom", "spec", "--covariance", "delong", "--positive-from", "3"], "'delong' applies to the AUC only"),
])
def test_bad_options_exit_2_with_the_reason(arguments, message, capsys):
    assert main(["mrmc", str(VAN_DYKE_RATINGS_CSV), *arguments]) == 2
    assert message in capsys.readouterr().err


def test_bad_files_exit_2_naming_the_file(tmp_path, capsys):
    assert main(["mrmc", str(tmp_path / "absent.csv")]) == 2
    assert capsys.readouterr().err.strip().endswith("absent.csv: no such file")
    gappy = tmp_path / "gappy.csv"
    pd.read_csv(VAN_DYKE_RATINGS_CSV).iloc[:-1].to_csv(gappy, index=False)
    assert main(["mrmc", str(gappy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{gappy}: ratings lacks 1 of 1140") and "reader 5, treatment 2, case 114" in err
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    assert main(["mrmc", str(binary)]) == 2
    assert "binary.csv: not a readable CSV" in capsys.readouterr().err


def test_python_dash_m_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "ecgreview", "mrmc", str(VAN_DYKE_RATINGS_CSV)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "F = 4.4563, df1 = 1, df2 = 15.2597, p = 0.0517" in done.stdout
