"""Reporting's projection store: the port, its SQLite and MongoDB adapters, and the
factory that opens one from the service's store URI (the event store's URI scheme).

Why here and not in gm_kernel: projections exist only in reporting (DESIGN.md §2: "read
models only"), and the port's vocabulary — tables of documents with indexed columns,
filters, tallies, generations switched by a rebuild — is a read model's, not the event
log's. It reuses the kernel's URI conventions and error types, so moving it into a
shared library later, should a second service keep projections, changes no caller.
"""
from .factory import open_private_projection_store, open_projection_store, projection_path
from .port import (
    ALL,
    And,
    ApplyResult,
    Behind,
    Eq,
    Filter,
    Generation,
    In,
    NoActiveGeneration,
    Or,
    PositionGap,
    Prefix,
    ProjectionSpec,
    ProjectionStore,
    Range,
    Reader,
    RebuildInProgress,
    TableSpec,
    Tally,
    all_of,
)

__all__ = [
    "ALL", "And", "ApplyResult", "Behind", "Eq", "Filter", "Generation", "In",
    "NoActiveGeneration", "Or", "PositionGap", "Prefix", "ProjectionSpec", "ProjectionStore",
    "Range", "Reader", "RebuildInProgress", "TableSpec", "Tally", "all_of",
    "open_private_projection_store", "open_projection_store", "projection_path",
]
