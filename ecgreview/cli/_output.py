"""How every command reports a failure: ``path: reason`` on stderr, exit code 2."""

from __future__ import annotations

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
    """A one-line progress bar on stderr, redrawn in place (a line per 10 % when stderr is not a terminal).

    Call it as ``bar(done, total, text)``; :meth:`close` ends the line.
    """

    def __init__(self, *, enabled: bool = True, width: int = 30) -> None:
        import sys
        import time

        self.enabled, self.width, self.start = enabled, width, time.perf_counter()
        self.stream = sys.stderr
        self.interactive = self.stream.isatty()
        self._last_decile = -1

    def __call__(self, done: int, total: int, text: str = "") -> None:
        if not self.enabled:
            return
        filled = int(self.width * done / total) if total else self.width
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {text}".rstrip()
        if self.interactive:
            print(f"\r{line}", end="", file=self.stream, flush=True)
            return
        decile = 10 * done // total if total else 10
        if decile != self._last_decile or done == total:
            self._last_decile = decile
            print(line, file=self.stream, flush=True)

    def elapsed_s(self) -> float:
        import time

        return max(time.perf_counter() - self.start, 1e-9)

    def close(self) -> None:
        if self.enabled and self.interactive:
            print(file=self.stream, flush=True)
