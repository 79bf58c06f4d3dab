"""How the store lays out reporting's projections (domain/projections.py): each table's
indexed columns — the fields of its rows, each stored as text or an integer (booleans as
0/1) — and the indexes over them; and the projection specs the store is given.

The columns are exactly the fields the table's `row` gives; both adapters map the types
(SQLite: TEXT, INTEGER; MongoDB: strings, integers) and build the same indexes. A change
here changes the stored rows: bump the projection's `version` (domain/projections.py).
"""
from __future__ import annotations

from typing import Dict, Mapping, Sequence, Tuple

from gm_contracts.mediation_events import REVIEW_STAGES

from ..domain import projections
from .port import COLUMN_TYPES, ProjectionSpec, TableSpec

TEXT, INT = COLUMN_TYPES

CASE_COLUMNS = {
    "case_number": TEXT, "status": TEXT, "channel": TEXT, "source_agency": TEXT,
    "category": TEXT, "region": TEXT, "county": TEXT, "township": TEXT,
    "registered_at": TEXT, "closed_at": TEXT, "open": INT, "due_at": TEXT, "late_from": TEXT,
    "escalations": INT, "collective": INT, "repeat": INT, "key_case": INT,
    "resolved": INT, "on_time": INT, "outcome": TEXT, "track": TEXT, "level": TEXT,
    "unit": TEXT, "lead": TEXT, "handler": TEXT, "satisfaction": INT, "scored": INT,
    "satisfaction_level": TEXT, "rated": INT, "satisfied": INT, "basically_satisfied": INT,
    "dissatisfied": INT,
    # 督办 and 四定 (version 3)
    "supervisions": INT, "supervisor": TEXT, "supervised_at": TEXT, "reminders": INT,
    "task": TEXT, "responsible_leader": TEXT,
    # a petition matter's steps (version 3): local dates YYYY-MM-DD
    "petition": INT, "petition_decision": TEXT, "decided_on": TEXT, "decided_timely": INT,
    "level_skipping": INT,  # 越级访 (version 5)
    **{column: kind for stage in REVIEW_STAGES  # 复查 (review_*) and 复核 (re_review_*)
       for column, kind in ((f"{stage}_requested_on", TEXT), (f"{stage}_decided_on", TEXT),
                            (f"{stage}_on_time", INT))},
}
# Indexes, chosen so that what the API asks is answered from an index alone, without
# reading the documents: the ledger pages newest first within its filters (region, status,
# category, month, overdue); a month's figures count a range of registered_at (or
# closed_at) within a region, grouped by channel, category and the region one level down;
# "overdue now" is one range of late_from (see casefile.late_from); the overdue list walks
# open cases by it. Wide indexes carry the columns those queries filter and count on.
_LEDGER = ("status", "category", "late_from", "channel")
_CLOSING = ("unit", "lead", "resolved", "on_time", "rated", "satisfied", "basically_satisfied",
            "dissatisfied", "scored", "satisfaction", "petition", "outcome")
CASE_INDEXES = [
    ("registered_at", *_LEDGER, "county", "collective", "repeat", "petition"),
    ("county", "registered_at", *_LEDGER, "township", "collective", "repeat", "petition"),
    ("township", "registered_at", *_LEDGER, "region", "collective", "repeat", "petition"),
    ("region", "registered_at", *_LEDGER, "collective", "repeat", "petition"),
    ("status", "registered_at"),
    ("category", "registered_at"),
    ("closed_at", "county", *_CLOSING),
    ("county", "closed_at", "township", *_CLOSING),
    ("township", "closed_at", "region", *_CLOSING),
    ("late_from", "registered_at"),
    ("open", "late_from", "due_at", "unit", "lead", "registered_at"),
    ("supervisor", "open", "late_from", "due_at"),
    # the overdue list of a county, township or village: counted and paged from these
    # alone (led by open and late_from, it read every overdue case's row; version 6)
    *((column, "open", "late_from", "due_at", "registered_at")
      for column in ("county", "township", "region")),
    # a petition matter's steps in a month: decisions, review requests and decisions
    ("decided_on", "county", "township", "petition", "petition_decision", "decided_timely"),
    ("county", "decided_on", "township", "petition", "petition_decision", "decided_timely"),
    ("township", "decided_on", "region", "petition", "petition_decision", "decided_timely"),
    *((f"{stage}_requested_on", "county", "township") for stage in REVIEW_STAGES),
    *((f"{stage}_decided_on", "county", "township", f"{stage}_on_time")
      for stage in REVIEW_STAGES),
]
HANDOFF_COLUMNS = {
    "case_id": TEXT, "case_number": TEXT, "agency": TEXT, "kind": TEXT, "status": TEXT,
    "open": INT, "overdue_reported": INT, "region": TEXT, "county": TEXT, "township": TEXT,
    "category": TEXT, "requested_at": TEXT, "due_at": TEXT, "accepted_at": TEXT,
    "rejected_at": TEXT, "ruled_at": TEXT,
}
SUPERVISION_COLUMNS = {
    "case_id": TEXT, "kind": TEXT, "at": TEXT, "region": TEXT, "county": TEXT,
    "township": TEXT, "unit": TEXT, "lead": TEXT, "handler": TEXT, "supervisor": TEXT,
}
SUPERVISION_INDEXES = [
    ("at", "county", "township", "case_id"),
    ("county", "at", "township", "case_id"),
    ("township", "at", "region", "case_id"),
    ("case_id",),
]
HANDOFF_INDEXES = [
    ("requested_at", "agency", "county", "township"),
    ("accepted_at", "agency", "county", "township"),
    ("rejected_at", "agency", "county", "township"),
    ("agency", "requested_at"), ("status", "requested_at"), ("case_id",),
    ("agency", "status", "open", "overdue_reported", "due_at"),
    ("open", "overdue_reported", "due_at", "agency"),
]
REPORT_COLUMNS = {"unit": TEXT, "level": TEXT, "period": TEXT, "filed_at": TEXT,
                  "finding_count": INT}
RISK_COLUMNS = {"region": TEXT, "county": TEXT, "township": TEXT, "level": TEXT,
                "assessed_at": TEXT}

CODE_COLUMNS = {"case_id": TEXT}  # looked up by key (the digest) only

Layout = Tuple[Mapping[str, str], Sequence[Tuple[str, ...]]]  # columns, indexes
#: Per projection, per table: its columns and indexes.
LAYOUTS: Dict[str, Dict[str, Layout]] = {
    "cases": {"cases": (CASE_COLUMNS, CASE_INDEXES),
              "handoffs": (HANDOFF_COLUMNS, HANDOFF_INDEXES),
              "supervisions": (SUPERVISION_COLUMNS, SUPERVISION_INDEXES),
              "codes": (CODE_COLUMNS, [])},
    "screening": {"reports": (REPORT_COLUMNS, [("period", "unit")]),
                  "risks": (RISK_COLUMNS, [("assessed_at",), ("county", "assessed_at")])},
}


def laid_out(projection: projections.Projection) -> ProjectionSpec:
    """The projection as the store keeps it: its tables with their layouts."""
    layout = LAYOUTS[projection.name]
    return ProjectionSpec(
        name=projection.name, version=projection.version, sources=projection.sources,
        tables=tuple(TableSpec(t.name, t.row, *layout[t.name]) for t in projection.tables),
        touches=projection.touches, apply=projection.apply)


CASES = laid_out(projections.CASES)
SCREENING = laid_out(projections.SCREENING)
PROJECTIONS = {spec.name: spec for spec in (CASES, SCREENING)}
