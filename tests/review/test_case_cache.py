"""The opened-case cache: bounded in bytes, least recently used out first, prefetch computed once."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ecgreview.review.case_cache import BoundedCache, estimate_nbytes


def test_drops_least_recently_used_to_stay_under_the_bound():
    cache = BoundedCache(250, size_of=lambda value: 100)
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    cache.get("a", lambda: pytest.fail("cached: not computed again"))  # a is now the most recent
    cache.get("c", lambda: 3)
    assert "a" in cache and "c" in cache and "b" not in cache
    assert cache.total_bytes == 200 <= cache.max_bytes


def test_a_value_larger_than_the_bound_is_returned_not_kept():
    cache = BoundedCache(10, size_of=lambda value: 100)
    assert cache.get("big", lambda: "value") == "value"
    assert len(cache) == 0 and cache.total_bytes == 0


def test_errors_propagate_and_nothing_is_kept():
    cache = BoundedCache(1000)

    def broken():
        raise ValueError("unreadable")
    with pytest.raises(ValueError, match="unreadable"):
        cache.get("case", broken)
    assert "case" not in cache


def test_a_get_during_a_prefetch_waits_for_it_instead_of_computing_twice():
    cache = BoundedCache(10_000)
    started, release, calls = threading.Event(), threading.Event(), []

    def slow():
        calls.append(1)
        started.set()
        release.wait(5)
        return "analysis"
    cache.prefetch("next", slow)
    assert started.wait(5)
    cache.prefetch("next", slow)  # already being computed: not submitted again
    release.set()
    assert cache.get("next", lambda: pytest.fail("computed twice")) == "analysis"
    assert calls == [1]


def test_a_failed_prefetch_is_computed_again_where_it_is_asked_for():
    cache = BoundedCache(10_000)

    def broken():
        raise OSError("disk")
    cache.prefetch("next", broken)
    cache.wait(5)
    assert cache.get("next", lambda: "read here") == "read here"


def test_sizes_count_array_buffers():
    assert estimate_nbytes(np.zeros((5000, 12), dtype=np.float32)) == 240_000
    assert estimate_nbytes({"signal": np.zeros(1000, dtype=np.float64)}) > 8000


def test_bound_must_be_positive():
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        BoundedCache(0)
