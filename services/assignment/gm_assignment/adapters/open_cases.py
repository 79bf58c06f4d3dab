"""Open assignments (handler, deadline), read from this service's own log: the handlers'
loads and the deadline watch's work list, shared by every replica through the store."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Mapping

from gm_contracts import assignment_events as events
from gm_kernel import EventStore, RecordedEvent, parse_time
from gm_kernel.follow import LogFollower

#: Events that name another handler (CaseEscalated: older versions only).
_HANDLER_CHANGES = (events.CaseEscalated.event_type, events.CaseReassigned.event_type)
_DEADLINE_CHANGES = (events.DeadlineExtended.event_type,
                     events.HandlingPeriodStarted.event_type)


@dataclass
class OpenCase:
    handler: str
    due_at: datetime


class OpenCases(LogFollower):
    def __init__(self, store: EventStore):
        super().__init__(store)
        self.cases: Dict[str, OpenCase] = {}

    def apply(self, event: RecordedEvent) -> None:
        case_id, data = event.correlation_id, event.data
        if event.type == events.AssignmentMade.event_type:
            self.cases[case_id] = OpenCase(data["handler"], parse_time(data["due_at"]))
        elif case_id not in self.cases:
            return
        elif event.type in _HANDLER_CHANGES:
            self.cases[case_id].handler = data["handler"]
            if "due_at" in data:
                self.cases[case_id].due_at = parse_time(data["due_at"])
        elif event.type in _DEADLINE_CHANGES:
            self.cases[case_id].due_at = parse_time(data["due_at"])
        elif event.type == events.AssignmentClosed.event_type:
            del self.cases[case_id]

    def loads(self) -> Mapping[str, int]:
        """Open cases per handler id (for choosing the least-loaded handler)."""
        self.refresh()
        return Counter(c.handler for c in self.cases.values())

    def due_by(self, moment: datetime) -> List[str]:
        """Open cases whose deadline falls at or before `moment`, soonest first."""
        self.refresh()
        return [cid for cid, c in sorted(self.cases.items(), key=lambda kv: kv[1].due_at)
                if c.due_at <= moment]
