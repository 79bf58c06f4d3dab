"""The repeat index (gm_intake.domain.repeat), fed from this service's own log by every
case registered with an applicant's id number (by any instance sharing the store), keyed
on the applicants' pseudonyms (`pseudonym`: the store vault's keyed hash)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable, List
from zoneinfo import ZoneInfo

from gm_contracts import intake_events as events
from gm_kernel import EventStore, RecordedEvent
from gm_kernel.follow import LogFollower

from ..domain.case import EarlierCase, Registration
from ..domain.repeat import RepeatIndex


class RegisteredApplicants(LogFollower):
    def __init__(self, store: EventStore, tz: ZoneInfo, pseudonym: Callable[[str], str]):
        super().__init__(store)
        self.tz = tz
        self.pseudonym = pseudonym
        self.index = RepeatIndex()

    def apply(self, event: RecordedEvent) -> None:
        if event.type != events.CaseRegistered.event_type:
            return
        d = event.data
        at = event.occurred_at.astimezone(self.tz)
        earlier = EarlierCase(d["case_id"], d["case_number"], d["registered_at"],
                              d.get("region"))
        applicants = d.get("applicant_pseudonyms")
        if applicants is None:  # registered before pseudonyms were recorded
            applicants = [self.pseudonym(p["id_number"]) for p in d["parties"]
                          if p.get("role") == "applicant" and p.get("id_number")]
        for applicant in applicants:
            self.index.add(applicant, d["category"], earlier, at)

    def pseudonyms(self, reg: Registration) -> List[str]:
        """The applicants' pseudonyms, as the case records them."""
        return list(dict.fromkeys(self.pseudonym(n) for n in reg.applicant_ids))

    def earlier(self, applicants: List[str], category: str,
                local: datetime) -> List[EarlierCase]:
        """The applicants' (pseudonyms') earlier cases of `category` (重复访); `local`:
        now, in the deployment's time zone."""
        if not applicants:
            return []
        self.refresh()  # also what other instances registered
        return self.index.earlier(applicants, category, local)
