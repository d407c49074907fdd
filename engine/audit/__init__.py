"""The audit trail: every run and every decided row, hash-chained, in SQLite or
PostgreSQL; and the plain-words explanation of an audited row."""

from engine.audit.records import Origin, new_run_id, now, record, row_table, rows_with_key, rule_annotations
from engine.audit.store import (
    AuditError,
    AuditStore,
    Verification,
    default_location,
    entry_hash,
    open_store,
    sha256_file,
)

__all__ = [
    "AuditError",
    "AuditStore",
    "Origin",
    "Verification",
    "default_location",
    "entry_hash",
    "new_run_id",
    "now",
    "open_store",
    "record",
    "row_table",
    "rows_with_key",
    "rule_annotations",
    "sha256_file",
]
