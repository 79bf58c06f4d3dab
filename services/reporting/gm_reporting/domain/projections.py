"""The projections reporting keeps, as data for the store: tables, indexed columns,
which documents an event touches, and how it changes them (pure).

- `cases`: one document per case (the case file: view, ledger row, every figure that
  counts cases), one per hand-off (the hand-off board, hand-off figures) and one per
  supervision (督办: the month's `supervised`); fed by intake, assignment and mediation.
- `screening`: screening reports and risk assessments; fed by intake.

Each is rebuilt on its own (`gm projections rebuild cases`). Bump a `version` whenever a
state or row changes shape: an active generation of another version must be rebuilt.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from ..store.port import DocKey, Docs, ProjectionSpec, TableSpec
from .casefile import (
    REVIEW_STAGES,
    SOURCES,
    case_id_of,
    case_row,
    handoff_id_of,
    handoff_row,
    project_case,
    project_handoff,
    project_supervision,
    supervision_key,
    supervision_row,
)
from .screening import project_report, project_risk, report_key, report_row, risk_key, risk_row

TEXT, INT = "text", "int"

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
    # a petition matter's steps in a month: decisions, review requests and decisions
    ("decided_on", "county", "township", "petition_decision", "decided_timely"),
    ("county", "decided_on", "township", "petition_decision", "decided_timely"),
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


def _cases_touch(source: str, event) -> List[DocKey]:
    case_id = case_id_of(source, event)
    if case_id is None:
        return []
    keys = [("cases", case_id)]
    hid = handoff_id_of(source, event)
    if hid:
        keys.append(("handoffs", hid))
    sid = supervision_key(source, event)
    if sid:
        keys.append(("supervisions", sid))
    return keys


def _cases_apply(source: str, event, docs: Docs) -> Dict[DocKey, dict]:
    changed: Dict[DocKey, dict] = {}
    case_id = case_id_of(source, event)
    if case_id is None:
        return changed
    case = docs.get(("cases", case_id))
    new_case = project_case(case, source, event)
    if new_case is not None:
        changed[("cases", case_id)] = new_case
    hid = handoff_id_of(source, event)
    if hid:
        new_handoff = project_handoff(docs.get(("handoffs", hid)), new_case or case, event)
        if new_handoff is not None:
            changed[("handoffs", hid)] = new_handoff
    sid = supervision_key(source, event)
    if sid:
        new_supervision = project_supervision(docs.get(("supervisions", sid)),
                                              new_case or case, event)
        if new_supervision is not None:
            changed[("supervisions", sid)] = new_supervision
    return changed


# version 2: follow-ups keep their satisfaction level; case rows count it three ways
# (rated, satisfied, basically_satisfied, dissatisfied) and the scores given (scored).
# version 3: 督办/催办 (SupervisionOrdered, SupervisionReminded) in the case file and a
# `supervisions` table (one document per supervision); the handling period of a petition
# matter moves the deadline; the petition workflow (受理/不予受理, 处理意见书, 复查, 复核) in
# the case file and its rows; task and responsible leader; a confirmation's ruling due
# date on its hand-off.
CASES = ProjectionSpec(
    name="cases", version=3, sources=SOURCES,
    tables=(TableSpec("cases", CASE_COLUMNS, CASE_INDEXES, case_row),
            TableSpec("handoffs", HANDOFF_COLUMNS, HANDOFF_INDEXES, handoff_row),
            TableSpec("supervisions", SUPERVISION_COLUMNS, SUPERVISION_INDEXES,
                      supervision_row)),
    touches=_cases_touch, apply=_cases_apply)


REPORT_COLUMNS = {"unit": TEXT, "level": TEXT, "period": TEXT, "filed_at": TEXT,
                  "finding_count": INT}
RISK_COLUMNS = {"region": TEXT, "county": TEXT, "township": TEXT, "level": TEXT,
                "assessed_at": TEXT}


def _screening_touch(source: str, event) -> List[DocKey]:
    if source != "intake":
        return []
    key = report_key(event)
    if key:
        return [("reports", key)]
    key = risk_key(event)
    return [("risks", key)] if key else []


def _screening_apply(source: str, event, docs: Docs) -> Dict[DocKey, dict]:
    for table, key in _screening_touch(source, event):
        project = project_report if table == "reports" else project_risk
        new: Optional[dict] = project(docs.get((table, key)), event)
        return {(table, key): new} if new is not None else {}
    return {}


SCREENING = ProjectionSpec(
    name="screening", version=1, sources=("intake",),
    tables=(TableSpec("reports", REPORT_COLUMNS, [("period", "unit")], report_row),
            TableSpec("risks", RISK_COLUMNS, [("assessed_at",), ("county", "assessed_at")],
                      risk_row)),
    touches=_screening_touch, apply=_screening_apply)

PROJECTIONS = {spec.name: spec for spec in (CASES, SCREENING)}
