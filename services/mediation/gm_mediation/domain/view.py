"""What a mediator sees of a case: `GET /cases/{case_id}/mediation` and every command's answer."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, Dict, Mapping, Optional

from .case import DUTIES, MediationCase
from .handoff import HandOff


def case_view(case: MediationCase, handoffs: Mapping[str, HandOff], now: datetime,
              tz: tzinfo) -> Dict[str, Any]:
    """`handoffs`: the case's hand-offs by id, as far as their streams exist yet (the
    process manager creates a hand-off's stream just after the case decided on it)."""
    reg = case.registration
    closure = case.closure or {}
    return {
        "case_id": case.id,
        "case_number": reg.get("case_number"),
        "status": case.status,
        "region": reg.get("region"),
        "category": reg.get("category"),
        "key_case": case.key_case,
        "source_agency": case.source_agency,
        "referral_id": case.referral_id,
        "assignment": case.assignment,
        "sessions": list(case.sessions),
        "duties": {duty: case.duties.get(duty) for duty in DUTIES},
        "missing_duties": case.missing_duties,
        "agreement": case.agreement,
        "confirmation_window_ends_at": case.confirmation_window_ends_at,
        "confirmation_applies": case.confirmation_refusal() is None,
        "petition_matter": case.petition_matter,
        "petition": dict(case.petition) if case.petition_matter else None,
        "reviews": [dict(r) for r in case.reviews],
        "awaiting": case.awaiting,
        "handoffs": [_handoff_view(case.id, asked, handoffs.get(asked["handoff_id"]), now)
                     for asked in case.handoffs],
        "outcome": closure.get("outcome"),
        "resolved": closure.get("resolved"),
        "closed_at": closure.get("closed_at"),
        "follow_up": case.follow_up,
        "version": case.version,
    }


def _handoff_view(case_id: str, asked: Mapping[str, str], handoff: Optional[HandOff],
                  now: datetime) -> Dict[str, Any]:
    if handoff is not None and handoff.exists:
        return handoff.view(now)
    return {"handoff_id": asked["handoff_id"], "case_id": case_id, "agency": asked["agency"],
            "kind": asked["kind"], "status": "requested", "requested_at": None,
            "due_at": None, "overdue": False, "agency_case_number": None,
            "ruling_number": None, "reason": None}
