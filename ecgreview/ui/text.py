"""Text from files and users, made safe for ``st.markdown``.

Streamlit renders markdown: an image ``![](http://…)`` makes every reader's browser fetch
that address, and ``[text](url)`` shows a link. Everything that comes from an ECG file
(statements, pseudonym, device, model names) or from a user (names, comments) goes
through :func:`escape_markdown` before it is put in markdown; or it is shown with
``st.text``/``st.dataframe``, which do not interpret it.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from ecgreview.plural import plural

__all__ = ["column_words", "escape_markdown", "plural", "table_in_words"]

#: Abbreviations a column name's parts are written as (STYLE.md's list, plus CI, F1, ID, SE).
_WORDS = {"dnn": "DNN", "ci": "CI", "auc": "AUC", "sha256": "SHA-256", "f1": "F1", "id": "ID", "ids": "IDs",
          "ecg": "ECG", "ecgs": "ECGs", "se": "SE", "qrs": "QRS", "qtc": "QTc", "rr": "RR", "csv": "CSV",
          "mrmc": "MRMC", "p": "p", "s": "(s)", "ms": "(ms)"}
#: What an empty cell shows (never "None", "nan" or "undefined").
EMPTY_CELL = "—"

#: Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all of
#: them also disarms Streamlit's own syntax (``:red[…]`` directives, ``$…$`` LaTeX, emoji
#: shortcodes) and HTML.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def escape_markdown(text: object) -> str:
    """``text`` with every markdown-active character escaped and line breaks flattened to spaces.

    Parameters
    ----------
    text : object
        Any value; ``str()`` of it is escaped.

    Returns
    -------
    str
        Markdown that renders as exactly ``text`` (on one line).
    """
    flat = " ".join(str(text).split())
    return _PUNCTUATION.sub(r"\\\1", flat)


def column_words(name: Any) -> Any:
    """A snake_case column name in words: ``true_positives`` -> ``True positives``, ``dnn_call`` -> ``DNN call``,
    ``reading_time_s`` -> ``Reading time (s)``; a name with a space or a capital, or not a string, is kept."""
    if not isinstance(name, str) or not name or " " in name or name != name.lower():
        return name
    text = " ".join(_WORDS.get(part, part) for part in name.split("_") if part)
    return text[:1].upper() + text[1:] if text[:1].islower() and name.split("_")[0] not in _WORDS else text


def table_in_words(frame: pd.DataFrame, *, decimals: int = 3) -> Styler:
    """``frame`` for ``st.dataframe``: column and index names in words (:func:`column_words`), decimal
    numbers with ``decimals`` places, and empty cells (None, NaN) shown as a dash, never "None" (a column
    with an empty cell is shown as text: the grid has no other way to draw one)."""
    shown = frame.rename(columns=column_words)
    shown.index = shown.index.set_names([column_words(name) for name in shown.index.names])
    for column in shown.columns:  # the grid draws an empty cell as "None" whatever the format: write it out
        empty = shown[column].isna()
        if empty.any() and pd.api.types.is_float_dtype(shown[column]):
            shown[column] = [EMPTY_CELL if gap else f"{value:.{decimals}f}" for value, gap in zip(shown[column], empty)]
        elif empty.any():
            shown[column] = shown[column].astype(object).where(~empty, EMPTY_CELL)
    decimal = [column for column in shown.columns if pd.api.types.is_float_dtype(shown[column])]
    return shown.style.format(f"{{:.{decimals}f}}", subset=decimal)
