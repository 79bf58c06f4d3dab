"""The projections reporting keeps, as data: their tables, which documents an event
touches, and how it changes them (pure). How a store lays the tables out — the type of
each indexed column, the indexes — is the store's (gm_reporting/store/layout.py).

- `cases`: one document per case (the case file: view, ledger row, every figure that
  counts cases), one per hand-off (the hand-off board, hand-off figures) and one per
  supervision (督办: the month's `supervised`); fed by intake, assignment and mediation.
- `screening`: screening reports and risk assessments; fed by intake.

Each is rebuilt on its own (`gm projections rebuild cases`). Bump a `version` whenever a
state, a row or the store's layout of them changes shape: an active generation of
another version must be rebuilt.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .casefile import (
    SOURCES,
    case_id_of,
    case_row,
    handoff_id_of,
    handoff_row,
    project_case,
    project_handoff,
    project_supervision,
    query_code_digest_of,
    supervision_key,
    supervision_row,
)
from .screening import project_report, project_risk, report_key, report_row, risk_key, risk_row

DocKey = Tuple[str, str]  # (table, key)
Docs = Dict[DocKey, Optional[dict]]


@dataclass(frozen=True)
class Table:
    """One table of a projection: documents (states) by key, each shown as a row — the
    fields queries filter, sort and count on, derived by the pure `row`."""

    name: str
    row: Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class Projection:
    """A read model: its tables and the sources feeding it.

    touches(source, event) -> the (table, key) documents the event may change;
    apply(source, event, docs) -> the changed documents (pure; docs maps each touched key
    to its current state or None; an event at or below a document's recorded position
    for the source leaves it unchanged).
    """

    name: str
    version: int
    sources: Tuple[str, ...]
    tables: Tuple[Table, ...]
    touches: Callable[[str, Any], Sequence[DocKey]]
    apply: Callable[[str, Any, Docs], Dict[DocKey, dict]]


@dataclass
class Tally:
    """One group of rows counted: the grouping values, the count and the sums (what the
    figures are computed from, domain/figures.py)."""

    group: Dict[str, Any]
    n: int
    sums: Dict[str, int] = field(default_factory=dict)


def code_row(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """A query code's digest → its case (the document's key is the digest)."""
    return {"case_id": state.get("case_id")}


def _cases_touch(source: str, event) -> List[DocKey]:
    case_id = case_id_of(source, event)
    if case_id is None:
        return []
    keys = [("cases", case_id)]
    digest = query_code_digest_of(source, event)
    if digest:
        keys.append(("codes", digest))
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
    digest = query_code_digest_of(source, event)
    if digest and docs.get(("codes", digest)) is None:
        changed[("codes", digest)] = {"digest": digest, "case_id": case_id}
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
# version 4: a `codes` table, one document per query code digest (CONTRACT §8: the
# petitioner's status page finds its case by it); the petitioner's rating (满意率/参评率).
# version 5: 越级访 (level_skipping, and the lower-level cases it skipped) in the case file
# and its row, for the 实绩考核 score's deduction (domain/scoring.py).
# version 6: indexes (store/layout.py) answering the overdue list of a region and the
# month's petition decisions of a county or township from the index alone.
CASES = Projection(
    name="cases", version=6, sources=SOURCES,
    tables=(Table("cases", case_row), Table("handoffs", handoff_row),
            Table("supervisions", supervision_row), Table("codes", code_row)),
    touches=_cases_touch, apply=_cases_apply)


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


SCREENING = Projection(
    name="screening", version=1, sources=("intake",),
    tables=(Table("reports", report_row), Table("risks", risk_row)),
    touches=_screening_touch, apply=_screening_apply)
