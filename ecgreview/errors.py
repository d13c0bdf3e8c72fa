"""The one error family of ecgreview.

Every error names the thing it concerns (a file, a setting) and the reason, so
that the UI and CLI can show it as is: ``a.dcm: no Waveform Sequence (5400,0100)``.
"""

from __future__ import annotations

import os


class EcgReviewError(Exception):
    """Base class: ``path`` is what the error concerns, ``reason`` what is wrong."""

    def __init__(self, path: str | os.PathLike[str] | None, reason: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        super().__init__(f"{os.path.basename(self.path) or self.path}: {reason}" if self.path else reason)


class EcgReadError(EcgReviewError):
    """A file is not a readable 12-lead ECG (not an ECG, truncated, malformed)."""


class PreprocessError(EcgReviewError):
    """A record cannot be brought into the model's input format."""


class ModelError(EcgReviewError):
    """Model weights are missing, malformed or fail verification."""


class ReviewStoreError(EcgReviewError):
    """The review CSV cannot be read or written."""


class ConfigError(EcgReviewError):
    """A setting or configuration file is invalid."""
