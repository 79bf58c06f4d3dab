"""The repeat index (gm_intake.domain.repeat), fed from this service's own log by every
case registered with an applicant's id number (by any instance sharing the store)."""
from __future__ import annotations

from datetime import datetime
from typing import List
from zoneinfo import ZoneInfo

from gm_contracts import intake_events as events
from gm_kernel import EventStore, RecordedEvent
from gm_kernel.follow import LogFollower

from ..domain.case import EarlierCase, Registration
from ..domain.repeat import RepeatIndex


class RegisteredApplicants(LogFollower):
    def __init__(self, store: EventStore, tz: ZoneInfo):
        super().__init__(store)
        self.tz = tz
        self.index = RepeatIndex()

    def apply(self, event: RecordedEvent) -> None:
        if event.type != events.CaseRegistered.event_type:
            return
        d = event.data
        at = event.occurred_at.astimezone(self.tz)
        earlier = EarlierCase(d["case_id"], d["case_number"], d["registered_at"],
                              d.get("region"))
        for p in d["parties"]:
            if p.get("role") == "applicant" and p.get("id_number"):
                self.index.add(p["id_number"], d["category"], earlier, at)

    def earlier(self, reg: Registration, local: datetime) -> List[EarlierCase]:
        """The applicants' earlier cases of the same category (重复访); `local`: now, in
        the deployment's time zone."""
        ids = reg.applicant_ids
        if not ids:
            return []
        self.refresh()  # also what other instances registered
        return self.index.earlier(ids, reg.category, local)
