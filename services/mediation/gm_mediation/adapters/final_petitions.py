"""Cases whose petition matter was finally decided on re-review (复核), read from this
service's own log: the same matter is not accepted again (信访工作条例 第三十六条)."""
from __future__ import annotations

from typing import Iterable, Optional, Set

from gm_contracts import mediation_events as events
from gm_kernel import EventStore, RecordedEvent
from gm_kernel.follow import LogFollower


class FinalPetitions(LogFollower):
    def __init__(self, store: EventStore):
        super().__init__(store)
        self.cases: Set[str] = set()

    def apply(self, event: RecordedEvent) -> None:
        if event.type == events.ReviewDecided.event_type and event.data.get("final"):
            self.cases.add(event.data["case_id"])

    def final_among(self, case_ids: Iterable[str]) -> Optional[str]:
        """The first of `case_ids` finally decided on 复核, if any."""
        self.refresh()
        return next((c for c in case_ids if c in self.cases), None)
