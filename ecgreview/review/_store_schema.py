"""The review CSV's columns: the one definition of the schema's column list.

Private: :mod:`ecgreview.review.store` (which owns the schema) re-exports both names and is the
module to import; they live here so that the store's reading side (:mod:`ecgreview.review._store_read`)
and its writing side share them without importing each other.
"""

from __future__ import annotations

from ecgreview.record import CLASSES

__all__ = ["NUMERIC_COLUMNS", "REVIEW_COLUMNS"]

#: The review CSV's columns, in file order. The one definition of the schema.
REVIEW_COLUMNS: tuple[str, ...] = (
    "review_id", "saved_at_utc", "reader", "role", "reading_mode", "opinions_seen",
    "session_id", "resolves_review_ids", "case_pseudonym", "source_name", "source_sha256",
    "app_version", "model_name", "model_sha256", "model_git_blob_sha1", "model_status", "thresholds",
    *(f"{kind}_{name}" for name in CLASSES
      for kind in ("dnn_prob", "dnn_call", "device_call", "reader_call", "agreement")),
    "device_statements", "statement_map_version", "phi_audit", "signal_findings", "comment",
    "confidence", "reading_time_s", "schema_version", "provenance",
)

#: Columns holding numbers: written as is, never given a formula-guard apostrophe.
NUMERIC_COLUMNS: frozenset[str] = frozenset({"thresholds", "confidence", "reading_time_s", "schema_version",
                                             *(f"dnn_prob_{name}" for name in CLASSES)})
