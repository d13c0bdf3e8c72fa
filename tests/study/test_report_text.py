"""The study's text report counts readers and cases in words: "1 reader", never "1 readers" (issue #21 polish)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from ecgreview.plural import plural
from ecgreview.study import report_text


@pytest.mark.parametrize(("readers", "expected"), [(["ann"], "1 reader;"), (["ann", "bob"], "2 readers;")])
def test_kappa_not_computed_names_the_readers_in_the_right_number(readers, expected):
    result = SimpleNamespace(agreement=pd.DataFrame(), readers=readers)
    line = report_text._agreement_lines(result)[-1]  # type: ignore[arg-type]
    assert f"not computed ({expected} it needs three or more)" in line


def test_plural_library_helper():
    assert [plural(count, "case") for count in (0, 1, 2)] == ["0 cases", "1 case", "2 cases"]
    assert plural(1, "ECG", "ECGs") == "1 ECG" and plural(2, "ECG", "ECGs") == "2 ECGs"
