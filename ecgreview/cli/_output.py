"""How every command reports a failure: ``path: reason`` on stderr, exit code 2."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ecgreview.errors import EcgReviewError


def print_failure(exc: EcgReviewError | OSError, *, fallback: object = "") -> int:
    """Print a command's failure as ``path: reason`` on stderr; returns exit code 2 (bad input)."""
    import sys

    if isinstance(exc, EcgReviewError):
        text = f"{exc.path}: {exc.reason}" if exc.path else exc.reason
    else:
        text = f"{exc.filename or fallback}: {exc.strerror or exc}"
    print(text, file=sys.stderr)
    return 2


class ProgressBar:
    """Progress of a command on stderr: a bar redrawn in place on a terminal, else a plain line every few seconds.

    Call it as ``bar(done, total, text)``; :meth:`close` ends the line. Every command that shows
    progress (``score``, ``index``, ``model install``) uses this one bar.
    """

    def __init__(self, *, enabled: bool = True, stream: TextIO | None = None, width: int = 30,
                 plain_every_s: float = 5.0) -> None:
        self.enabled, self.width, self.plain_every_s = enabled, width, plain_every_s
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = enabled and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_plain_s = -plain_every_s

    def __call__(self, done: int, total: int, text: str = "") -> None:
        if not self.enabled:
            return
        if self.interactive:
            filled = self.width * done // total if total else self.width
            line = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {text}".rstrip()
            print(f"\r{line}", end="", file=self.stream, flush=True)
            return
        elapsed_s = time.perf_counter() - self.start
        if done == total or elapsed_s - self._last_plain_s >= self.plain_every_s:
            self._last_plain_s = elapsed_s
            print(f"{done}/{total} {text}".rstrip(), file=self.stream, flush=True)

    def elapsed_s(self) -> float:
        """Seconds since the bar was made (at least 1e-9, for rates)."""
        return max(time.perf_counter() - self.start, 1e-9)

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self.interactive:
            print(file=self.stream, flush=True)
