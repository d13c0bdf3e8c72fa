"""Tables in words (issue #21 polish): headers without snake_case, empty cells as a dash, plurals right."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ecgreview.ui.text import EMPTY_CELL, column_words, plural, table_in_words


@pytest.mark.parametrize(("name", "words"), [
    ("true_positives", "True positives"), ("dnn_call", "DNN call"), ("f1", "F1"), ("ci_low", "CI low"),
    ("reading_time_s", "Reading time (s)"), ("source_sha256", "Source SHA-256"), ("kappa", "Kappa"),
    ("aided − unaided [CI]", "aided − unaided [CI]"), ("Open", "Open"), (3, 3),
])
def test_column_words(name, words):
    assert column_words(name) == words


def test_table_in_words_shows_no_none_nan_or_snake_case():
    frame = pd.DataFrame({"class": ["AF", "SB"], "precision": [0.91234, math.nan], "undefined": [None, "precision"]},
                         index=pd.Index([0, 1], name="row_number"))
    html = table_in_words(frame).to_html()
    assert "0.912" in html and EMPTY_CELL in html
    for text in ("None", "nan", ">undefined<", "row_number", "true_"):
        assert text not in html, text
    assert "Precision" in html and "Row number" in html
    assert not table_in_words(frame).data.isna().any().any()  # the grid would draw an empty cell as "None"


def test_plural():
    assert [plural(count, "reader") for count in (0, 1, 2)] == ["0 readers", "1 reader", "2 readers"]
    assert plural(1, "case", "cases") == "1 case" and plural(3, "ECG", "ECGs") == "3 ECGs"
