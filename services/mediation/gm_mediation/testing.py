"""Builders for tests of mediation: cases as intake and assignment describe them, and
events as a store or another service's log gives them back.

    from gm_mediation.testing import CALENDAR, NOW, TZ, registration, assignment
"""
from __future__ import annotations

import itertools
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, List, Tuple
from zoneinfo import ZoneInfo

from gm_contracts.testing import VALID_RESIDENT_ID, encode
from gm_directory.calendar_file import load_calendar
from gm_kernel import NewEvent, RecordedEvent
from gm_kernel.store.factory import open_store
from gm_platform import answers
from gm_platform.clock import FakeClock
from gm_platform.consumer import Delivery
from gm_platform.feed import EventFeed, LocalSourceLog
from gm_platform.messagebus import Caller
from gm_platform.testing.agency import envelope
from gm_platform.testing.services import unit_platform

from .bootstrap import bootstrap
from .handlers import Mediation, mediation_view

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


MEDIATOR = Caller("mediator-1")


class ListLog:
    """Another service's log, held in memory."""

    def __init__(self):
        self.events: List[RecordedEvent] = []

    def read(self, after_position: int, limit: int) -> List[RecordedEvent]:
        return [e for e in self.events if e.position > after_position][:limit]


def mediation_app(store, clock, data_dir):
    """The service's application on `store`, as its bootstrap builds it."""
    return bootstrap(unit_platform("mediation", store, clock.now, data_dir))


class World:
    """A mediation service's store and application, with intake and assignment as logs."""

    def __init__(self, path):
        self.dir = path.parent
        self.store = open_store(f"sqlite:///{path}", "mediation")
        self.clock = FakeClock(NOW)
        self.app = mediation_app(self.store, self.clock, self.dir)
        self.handle = self.app.bus.handle
        self.intake, self.assignment = ListLog(), ListLog()
        apply = self.app.bus.handle_event
        self.feeds = {
            "intake": EventFeed(self.store, "intake", apply, self.intake),
            "assignment": EventFeed(self.store, "assignment", apply, self.assignment),
            "mediation": EventFeed(self.store, "mediation", apply, LocalSourceLog(self.store)),
        }

    def view(self, case_id: str) -> dict:
        return self.app.bus.query(mediation_view, case_id, MEDIATOR)

    def register(self, case_id: str, **changes) -> None:
        self._publish(self.intake, "CaseRegistered", registration(case_id, **changes),
                      f"case-{case_id}", "intake", actor="clerk-1")

    def assign(self, case_id: str, type: str = "AssignmentMade", **data) -> None:
        self._publish(self.assignment, type, data or assignment(), f"assignment-{case_id}",
                      "assignment", correlation_id=case_id, actor="assignment-service")

    def _publish(self, log: ListLog, type: str, data: dict, stream: str, source: str,
                 **meta) -> None:
        log.events.append(source_event(type, data, stream, len(log.events) + 1, **meta))
        self.feeds[source].catch_up()

    def ready(self, case_id: str = "case-1", **changes) -> None:
        self.register(case_id, **changes)
        self.assign(case_id)

    def settle(self) -> int:
        """Let the process manager act on everything committed so far."""
        return self.feeds["mediation"].catch_up()

    def send(self, agency: str, type: str, data: dict, id: str = None) -> Tuple[str, dict]:
        env = envelope(type, agency, data, id)
        delivery = Delivery(body=encode(env), routing_key=f"{agency}.{type}",
                            exchange="gm.inbound",
                            properties={"message_id": env["id"],
                                        "content_type": "application/json"})
        return answers.handle_inbound(self.app, delivery), env

    def outbound(self) -> List[Tuple[str, dict]]:
        """(routing key, envelope) of everything queued for agencies, oldest first."""
        return [(m.routing_key, dict(m.body)) for m in self.store.pending_outbox(10_000)
                if m.exchange == "gm.outbound"]

    def types(self, stream_id: str) -> List[str]:
        return [e.type for e in self.store.read_stream(stream_id)]


class Interleaved:
    """The store, with `competitor` run just before the next append: another replica's
    command committing between this command's read and its write."""

    def __init__(self, store):
        self.store, self.competitor = store, None

    def append(self, *args, **kwargs):
        competitor, self.competitor = self.competitor, None
        if competitor is not None:
            competitor()
        return self.store.append(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.store, name)


def racing(world: World) -> Tuple[Mediation, Interleaved]:
    """The service on `world`'s store, with a competitor to run before its next append."""
    store = Interleaved(world.store)
    return mediation_app(store, world.clock, world.dir), store
