"""A process-wide cache of opened cases, bounded in bytes, that can prefetch in the background.

The reading room keeps the analyses (record + DNN + device mapping) and the drawn figures
of recently opened cases so that going back to a case, or on to the case the reader will
open next, costs nothing but sending the page. :class:`BoundedCache` is a thread-safe
least-recently-used map whose entries carry their size in bytes; :meth:`BoundedCache.prefetch`
computes an entry on a background thread, and a :meth:`BoundedCache.get` that arrives while
that computation runs waits for it instead of computing it twice.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields, is_dataclass
from typing import Any, Generic, TypeVar

import numpy as np

__all__ = ["BoundedCache", "estimate_nbytes"]

Value = TypeVar("Value")


def estimate_nbytes(value: Any, _depth: int = 0) -> int:
    """Approximate memory of ``value``: numpy arrays by their buffers, containers and dataclasses by their items.

    An estimate for bounding a cache, not an exact count: shared objects are counted
    once per reference, and nesting deeper than 6 levels counts as ``sys.getsizeof``.
    """
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (bytes, bytearray, str)):
        return sys.getsizeof(value)
    if _depth > 6:
        return sys.getsizeof(value)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(estimate_nbytes(k, _depth + 1) + estimate_nbytes(v, _depth + 1)
                                          for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sys.getsizeof(value) + sum(estimate_nbytes(item, _depth + 1) for item in value)
    if is_dataclass(value) and not isinstance(value, type):
        return sys.getsizeof(value) + sum(estimate_nbytes(getattr(value, item.name), _depth + 1)
                                          for item in fields(value))
    return sys.getsizeof(value)


def _lower_priority() -> None:
    """Lower the calling thread's CPU priority (Linux threads are tasks with their own niceness)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError, PermissionError):
        pass


class BoundedCache(Generic[Value]):
    """Least-recently-used cache bounded by the total size of its values in bytes.

    Parameters
    ----------
    max_bytes : int
        Upper bound of the summed sizes; the least recently used entries are dropped
        to stay under it. A single value larger than the bound is returned but not kept.
    size_of : callable, optional
        Size of a value in bytes (default :func:`estimate_nbytes`).
    workers : int
        Background threads for :meth:`prefetch` (default 1: prefetching must not starve
        the page being served). They run at a lower CPU priority where the system allows
        it (Linux: per-thread niceness 10).
    """

    def __init__(self, max_bytes: int, *, size_of: Callable[[Any], int] = estimate_nbytes, workers: int = 1) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive; got {max_bytes!r}")
        self.max_bytes = int(max_bytes)
        self._size_of = size_of
        self._entries: OrderedDict[Hashable, tuple[Value, int]] = OrderedDict()
        self._pending: dict[Hashable, Future[Value]] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ecgreview-prefetch",
                                            initializer=_lower_priority)
        self.total_bytes = 0

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        """The value for ``key``, computing (and keeping) it with ``compute()`` when absent.

        Exceptions from ``compute`` propagate and nothing is kept.
        """
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            pending = self._pending.get(key)
        if pending is not None:
            try:
                return pending.result()
            except Exception:  # a failed prefetch: compute here, so the error is raised in this thread
                pass
        value = compute()
        self._keep(key, value)
        return value

    def prefetch(self, key: Hashable, compute: Callable[[], Value], *, delay_s: float = 0.0) -> None:
        """Compute ``key`` on a background thread unless it is cached or already being computed.

        ``delay_s`` waits first, so that the page that asked is sent before the work starts.
        Errors are swallowed: the page that opens the case computes it again and shows the error.
        """
        with self._lock:
            if key in self._entries or key in self._pending:
                return
            future: Future[Value] = self._executor.submit(self._compute_and_keep, key, compute, delay_s)
            self._pending[key] = future

    def _compute_and_keep(self, key: Hashable, compute: Callable[[], Value], delay_s: float = 0.0) -> Value:
        if delay_s > 0:
            time.sleep(delay_s)
        try:
            value = compute()
            self._keep(key, value)
            return value
        finally:
            with self._lock:
                self._pending.pop(key, None)

    def _keep(self, key: Hashable, value: Value) -> None:
        size = int(self._size_of(value))
        with self._lock:
            if key in self._entries:
                self.total_bytes -= self._entries.pop(key)[1]
            if size > self.max_bytes:
                return
            self._entries[key] = (value, size)
            self.total_bytes += size
            while self.total_bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.total_bytes -= dropped

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait for the prefetches running now (for tests and benchmarks)."""
        with self._lock:
            pending = list(self._pending.values())
        for future in pending:
            try:
                future.result(timeout=timeout_s)
            except Exception:
                pass

    def clear(self) -> None:
        """Drop every entry (running prefetches still finish, and keep their value)."""
        with self._lock:
            self._entries.clear()
            self.total_bytes = 0
