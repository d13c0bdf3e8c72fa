"""CSV export of the study tables, guarded against spreadsheet formula injection.

Uses ``ecgreview.security.spreadsheet.write_csv`` when the project has it; until then
text cells starting with ``= + - @``, a tab or CR get a leading ``'`` (numbers untouched),
as the review store does.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _guarded(table: pd.DataFrame) -> pd.DataFrame:
    guarded = table.copy()
    for column in guarded.columns:
        if guarded[column].dtype == object or pd.api.types.is_string_dtype(guarded[column]):
            guarded[column] = guarded[column].map(
                lambda value: "'" + value if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value)
    return guarded


def write_table(table: pd.DataFrame, path: str | Path, *, index: bool = False) -> None:
    """Write ``table`` as CSV at ``path`` (the index as columns when ``index``)."""
    frame = table.reset_index() if index else table
    try:
        from ecgreview.security.spreadsheet import write_csv  # type: ignore[import-not-found]
    except ImportError:
        _guarded(frame).to_csv(path, index=False)
    else:
        write_csv(frame, path)
