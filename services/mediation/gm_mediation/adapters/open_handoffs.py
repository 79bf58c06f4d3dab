"""Unsettled hand-offs and their deadlines, read from this service's own log: the
hand-off watch's work list. Every replica reads the same log, so each sees every
hand-off."""
from __future__ import annotations

from datetime import datetime
from typing import Dict, List

from gm_contracts import mediation_events as events
from gm_kernel import EventStore, RecordedEvent, parse_time
from gm_kernel.follow import LogFollower

from ..domain import JUDICIAL_CONFIRMATION

#: What settles a hand-off, or ends the watch over it.
_DONE = (events.HandOffAccepted.event_type, events.HandOffRejected.event_type,
         events.ConfirmationRuled.event_type, events.HandOffOverdue.event_type)


class OpenHandOffs(LogFollower):
    def __init__(self, store: EventStore):
        super().__init__(store)
        self.due: Dict[str, datetime] = {}

    def apply(self, event: RecordedEvent) -> None:
        data = event.data
        if event.type == events.HandOffRequested.event_type:
            self.due[data["handoff_id"]] = parse_time(data["due_at"])
        elif (event.type == events.HandOffAccepted.event_type
              and data.get("kind") == JUDICIAL_CONFIRMATION):
            # the court still has to rule, by then (older events kept the first deadline)
            if data.get("due_at") and data["handoff_id"] in self.due:
                self.due[data["handoff_id"]] = parse_time(data["due_at"])
        elif event.type in _DONE:
            self.due.pop(data["handoff_id"], None)

    def overdue(self, now: datetime) -> List[str]:
        """Hand-offs whose deadline passed unsettled, the longest overdue first."""
        self.refresh()
        return [hid for hid, due in sorted(self.due.items(), key=lambda kv: kv[1]) if now > due]
