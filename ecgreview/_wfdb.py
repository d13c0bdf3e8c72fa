"""The one way ecgreview imports the ``wfdb`` package: lazily (it pulls in matplotlib and aiohttp, needed only for
WFDB records and R-peak detection), under one process-wide lock.

Two threads importing parts of ``wfdb`` for the first time at once can see a partially initialised module
(``wfdb`` and ``wfdb.io.annotation`` import each other): the server's warm-up detecting R peaks
(``wfdb.processing``) while the index reads a WFDB record (``wfdb``) failed with "cannot import name 'Annotation'
from partially initialized module", and the index kept that record as unreadable. Every import goes through
:func:`wfdb_module`, so the first one completes before another starts.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from types import ModuleType

__all__ = ["wfdb_module"]

_import_lock = threading.Lock()


def wfdb_module(name: str = "wfdb") -> ModuleType:
    """``wfdb`` or one of its modules (e.g. ``"wfdb.processing"``), imported once per process under the lock.

    Raises
    ------
    ValueError
        ``name`` is not ``wfdb`` or a module of it.
    """
    if name != "wfdb" and not name.startswith("wfdb."):
        raise ValueError(f"name must be 'wfdb' or a module of it; got {name!r}")
    with _import_lock, warnings.catch_warnings():  # wfdb 4.3 triggers pandas deprecation warnings on import
        warnings.simplefilter("ignore")
        return importlib.import_module(name)
