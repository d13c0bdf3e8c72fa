"""CSV export of the study tables, through the project's one formula guard."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ecgreview.security.spreadsheet import write_csv


def write_table(table: pd.DataFrame, path: str | Path, *, index: bool = False) -> None:
    """Write ``table`` as guarded CSV at ``path`` (the index as columns when ``index``)."""
    write_csv(table.reset_index() if index else table, path)
