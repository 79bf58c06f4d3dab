"""Builders for tests of mediation: cases as intake and assignment describe them, and
events as a store or another service's log gives them back.

    from gm_mediation.testing import CALENDAR, NOW, TZ, registration, assignment
"""
from __future__ import annotations

import itertools
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, List
from zoneinfo import ZoneInfo

from gm_contracts.testing import VALID_RESIDENT_ID
from gm_directory.calendar_file import load_calendar
from gm_kernel import NewEvent, RecordedEvent

TZ = ZoneInfo("Asia/Shanghai")
#: The shipped working-day calendar (deploy/calendar.yaml of this checkout).
CALENDAR = load_calendar(Path(__file__).resolve().parents[3] / "deploy" / "calendar.yaml")
# 10:00 Beijing time on 10 March 2026.
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)

_positions = itertools.count(1)


def registration(case_id: str = "case-1", **changes) -> dict:
    """intake's CaseRegistered data for a court's pre-filing referral (委派调解, whose
    agreement may be judicially confirmed; not a key case)."""
    data = {
        "case_id": case_id, "case_number": "410611-2026-000001", "channel": "referral",
        "category": "neighbour", "summary": "邻里之间因排水沟发生纠纷", "region": "410611100",
        "parties": [{"role": "applicant", "name": "张三", "id_number": VALID_RESIDENT_ID,
                     "phone": None},
                    {"role": "respondent", "name": "李四", "id_number": None, "phone": None}],
        "headcount": 2, "source_agency": "court", "referral_id": "R-1", "kind": "delegated",
        "procedure": None, "requested_days": None, "leader": None,
        "screening_report_id": None, "risk_assessment_id": None, "collective": False,
        "repeat": False, "repeat_of": [], "key_case": False, "key_reasons": [],
        "registered_at": "2026-03-02T01:00:00+00:00",
    }
    data.update(changes)
    return data


def assignment(**changes) -> dict:
    """assignment's AssignmentMade data (the fields mediation reads, and some it does not)."""
    data = {"track": "judicial", "level": "county", "unit": "410611", "lead": None,
            "handler": "H410611-01", "registered_at": "2026-03-02T01:00:00.000000Z",
            "days": 30, "due_at": "2026-04-01T15:59:59.999999Z", "rule_id": "court-delegated",
            "rule_effective_from": "2016-07-01", "legal_basis": "...", "extension": None,
            "time_zone": "Asia/Shanghai", "key_case": False, "region": "410611100"}
    data.update(changes)
    return data


def recorded(events: Iterable[NewEvent], stream_id: str, first_version: int = 1
             ) -> List[RecordedEvent]:
    """New events as a store would give them back (versions, log positions)."""
    return [RecordedEvent(id=e.id, stream_id=stream_id, version=first_version + i,
                          position=next(_positions), type=e.type,
                          schema_version=e.schema_version, occurred_at=e.occurred_at,
                          data=dict(e.data), actor=e.actor, agency=e.agency,
                          correlation_id=e.correlation_id, causation_id=e.causation_id)
            for i, e in enumerate(events)]


def source_event(type: str, data: dict, stream_id: str, position: int, **meta) -> RecordedEvent:
    """One event of another service's log, e.g. intake's CaseRegistered at `position`."""
    return RecordedEvent(id=f"{stream_id}:{position}", stream_id=stream_id, version=1,
                         position=position, type=type, schema_version=1,
                         occurred_at=meta.pop("occurred_at", NOW), data=data, **meta)
