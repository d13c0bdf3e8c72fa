"""A count with its noun: ``1 reader``, ``2 readers``. Library and UI print counts the same way."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 reader``, ``2 readers`` (``words``: the plural when it is not ``word + "s"``)."""
    return f"{count} {word if count == 1 else (words or word + 's')}"
