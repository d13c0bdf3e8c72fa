"""One formula guard for every CSV the project writes (CSV or "formula" injection).

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula (``=HYPERLINK(…)`` phishing links, ``=cmd|' /C calc'!A0`` DDE
commands), and tab or carriage return can smuggle one past a first check. Reader
names, comments, statements, file names and patient ids all end up in exports, so
every text cell that starts with such a character gets a leading apostrophe, which
spreadsheets read as "this is text" (OWASP, CSV Injection). Full-width forms
(``＝ ＋ － ＠``) are guarded too: some spreadsheet input methods fold them to
their ASCII forms. A cell that already starts with an apostrophe gets a second one,
so :func:`unguard_text` undoes :func:`guard_text` exactly for files that are read
back (the review store, the scoring CSV).

Numbers stay numbers: numeric cells (``int``, ``float``, NumPy numbers) and, in the
``numeric_columns`` given, strings that are plain decimal numbers (``-0.25``,
``1e-05``) are written as they are. A real negative probability or kappa is
therefore ``-0.25`` in the file, not ``'-0.25``.

The review store's rule (``ecgreview.review.store._guard``) is this one: for a column
not in its ``NUMERIC_COLUMNS``, ``_guard(column, text) == guard_text(text)`` and
``_unguard(column, text) == unguard_text(text)``.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported only when a frame is written
    import pandas as pd

__all__ = ["FORMULA_PREFIXES", "GUARD", "csv_text", "guard_frame", "guard_row", "guard_text", "guard_value",
           "unguard_row", "unguard_text", "write_csv"]

#: First characters that make a spreadsheet read a cell as a formula (ASCII and full-width), plus tab, CR and LF.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: The guard: a leading apostrophe, read as "text" by spreadsheets.
GUARD = "'"
_GUARDED_STARTS = (*FORMULA_PREFIXES, GUARD)
#: A plain decimal number, as written for numeric columns (no "inf", no formula, no spaces).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def guard_text(text: str) -> str:
    """``text`` with a leading apostrophe when it starts like a formula (or with an apostrophe).

    Examples
    --------
    >>> guard_text("=HYPERLINK(\\"http://x\\")"), guard_text("-1"), guard_text("Sinus rhythm")
    ('\\'=HYPERLINK("http://x")', "'-1", 'Sinus rhythm')
    """
    return GUARD + text if text.startswith(_GUARDED_STARTS) else text


def unguard_text(text: str) -> str:
    """Undo :func:`guard_text`: one leading apostrophe removed."""
    return text[len(GUARD):] if text.startswith(GUARD) else text


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, complex)


def guard_value(value: Any, *, numeric: bool = False) -> Any:
    """One cell as it may be written: numbers and missing values as they are, text guarded.

    Parameters
    ----------
    value : object
        The cell. ``None``, NaN, ``int``, ``float``, ``bool`` and NumPy numbers are kept.
    numeric : bool
        The cell's column holds numbers: a string that is a plain decimal number
        (``"-0.25"``) is kept too. Anything else is guarded, whatever the column.

    Returns
    -------
    object
        ``value``, or ``guard_text(str(value))``.
    """
    if value is None or _is_number(value):
        return value
    if isinstance(value, float) and math.isnan(value):
        return value
    text = value if isinstance(value, str) else str(value)
    if numeric and _NUMBER.fullmatch(text):
        return text
    return guard_text(text)


def guard_row(row: Mapping[str, Any], *, numeric_columns: Collection[str] = ()) -> dict[str, Any]:
    """A row (column -> cell) with every cell passed through :func:`guard_value`."""
    return {column: guard_value(value, numeric=column in numeric_columns) for column, value in row.items()}


def unguard_row(row: Mapping[str, str]) -> dict[str, str]:
    """A row read back from a guarded CSV, each cell passed through :func:`unguard_text`.

    A guarded number never starts with an apostrophe, so this is exact for numeric columns too.
    """
    return {column: unguard_text(value) if isinstance(value, str) else value for column, value in row.items()}


def guard_frame(frame: pd.DataFrame, *, numeric_columns: Collection[str] = ()) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, index labels and column names are guarded.

    Columns of a numeric dtype hold only numbers and are kept as they are.
    """
    import pandas as pd

    guarded = frame.copy()
    for position, column in enumerate(frame.columns):
        series = frame.iloc[:, position]
        if not (pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)):
            numeric = column in numeric_columns
            guarded.isetitem(position, series.map(lambda value, numeric=numeric: guard_value(value, numeric=numeric)))
    guarded.columns = _guard_labels(frame.columns)
    guarded.index = _guard_labels(frame.index)
    return guarded


def _guard_labels(labels: pd.Index) -> pd.Index:
    import pandas as pd

    if isinstance(labels, pd.MultiIndex):
        return pd.MultiIndex.from_tuples([tuple(guard_value(value) for value in label) for label in labels],
                                         names=[guard_value(name) for name in labels.names])
    if pd.api.types.is_numeric_dtype(labels.dtype):
        return labels
    return pd.Index([guard_value(value) for value in labels], name=guard_value(labels.name), dtype=object)


def csv_text(
    frame_or_rows: pd.DataFrame | Iterable[Mapping[str, Any]], *, numeric_columns: Collection[str] = (),
    index: bool = False, columns: Sequence[str] | None = None,
) -> str:
    """The guarded CSV text of a frame or of rows (for downloads; :func:`write_csv` writes a file).

    Parameters
    ----------
    frame_or_rows : pandas.DataFrame or iterable of mappings
        The table. Rows are mappings of column -> cell.
    numeric_columns : collection of str
        Columns whose number-like strings are kept as numbers (see :func:`guard_value`).
    index : bool
        Write a frame's index (as :meth:`pandas.DataFrame.to_csv` does).
    columns : sequence of str, optional
        The columns of rows, in order; default: the keys of the first row.

    Returns
    -------
    str
        CSV with ``\\n`` line ends, no cell of which starts with a formula character.
    """
    if hasattr(frame_or_rows, "to_csv"):
        return guard_frame(frame_or_rows, numeric_columns=numeric_columns).to_csv(index=index, lineterminator="\n")
    rows = [guard_row(row, numeric_columns=numeric_columns) for row in frame_or_rows]
    header = list(columns) if columns is not None else list(rows[0]) if rows else []
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, [guard_text(column) for column in header], lineterminator="\n",
                            extrasaction="raise")
    writer.writeheader()
    writer.writerows({guard_text(column): value for column, value in row.items()} for row in rows)
    return buffer.getvalue()


def write_csv(
    frame_or_rows: pd.DataFrame | Iterable[Mapping[str, Any]], path: str | os.PathLike[str], *,
    numeric_columns: Collection[str] = (), index: bool = False, columns: Sequence[str] | None = None,
) -> Path:
    """Write the guarded CSV of a frame or of rows to ``path`` (UTF-8); see :func:`csv_text`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    text = csv_text(frame_or_rows, numeric_columns=numeric_columns, index=index, columns=columns)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path
