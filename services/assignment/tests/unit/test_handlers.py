"""Assigning without a broker: intake's and mediation's events fed straight to it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from gm_assignment.bootstrap import bootstrap
from gm_assignment.domain import Assignment, UnknownCase
from gm_assignment.handlers import assignment_view
from gm_kernel import DomainError, RecordedEvent, Tracking, new_id
from gm_kernel.store.factory import open_store
from gm_platform.messagebus import Caller
from gm_platform.testing.services import unit_platform

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def assigning(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/a.db", "assignment")
    yield bootstrap(unit_platform("assignment", store, lambda: NOW, tmp_path))
    store.close()


def load(assigning, case_id: str) -> Assignment:
    return assigning.bus.query(lambda uow: uow.get(Assignment, case_id))


def view(assigning, case_id: str) -> dict:
    return assigning.bus.query(assignment_view, case_id, Caller("test"))


def source_event(position: int, type: str, data: dict) -> RecordedEvent:
    return RecordedEvent(id=new_id(), stream_id=f"x-{data['case_id']}", version=1,
                         position=position, type=type, schema_version=1, occurred_at=NOW,
                         data=data, correlation_id=data["case_id"])


def registered(case_id: str, region: str = "410611100201") -> dict:
    return {"case_id": case_id, "channel": "visit", "category": "neighbour", "region": region,
            "registered_at": NOW.isoformat(), "collective": False, "repeat": False,
            "key_case": False, "leader": None, "requested_days": None, "source_agency": None}


def test_a_closed_case_stops_the_watch_and_records_on_time(assigning):
    case_id = new_id()
    assert assigning.bus.handle_event(source_event(1, "CaseRegistered", registered(case_id)),
                                     Tracking("feed:intake", 1))
    closed_at = NOW + timedelta(days=10)
    closed = source_event(1, "CaseClosed", {"case_id": case_id, "outcome": "agreement",
                                            "closed_at": closed_at.isoformat()})
    assert assigning.bus.handle_event(closed, Tracking("feed:mediation", 1))
    agg = load(assigning, case_id)
    assert agg.closed and agg.pending == []
    [event] = [e for e in assigning.bus.store.read_log() if e.type == "AssignmentClosed"]
    assert event.data["on_time"] is True and event.data["outcome"] == "agreement"
    assert assigning.open_cases.due_by(NOW + timedelta(days=400)) == []
    # a second CaseClosed (another replica's feed, a replay) needs nothing
    assert not assigning.bus.handle_event(closed, Tracking("feed:mediation", 2))


def test_a_case_that_cannot_be_placed_is_kept_with_the_reason(assigning):
    case_id = new_id()
    assert assigning.bus.handle_event(
        source_event(1, "CaseRegistered", registered(case_id, region="510104")),
        Tracking("feed:intake", 1))
    [failed] = assigning.bus.store.read_log()
    assert failed.type == "AssignmentFailed" and "510104" in failed.data["reason"]
    with pytest.raises(DomainError, match="could not be assigned"):
        view(assigning, case_id)
    with pytest.raises(UnknownCase):
        view(assigning, new_id())


def test_events_assignment_does_not_need_only_move_the_feed(assigning):
    assert not assigning.bus.handle_event(
        source_event(1, "ScreeningReportFiled", {"case_id": "n/a"}), Tracking("feed:intake", 1))


def test_a_high_risk_preventive_case_is_placed_as_a_key_case(assigning):
    """A high stability risk (稳评) makes intake register a preventive key case with
    channel `risk_assessment` (gm_contracts.vocabulary.RISK_ASSESSMENT_CHANNEL) and no parties.
    DESIGN.md §5: a high-risk case gets the full 四定 — a unit, lead leader, handler and
    deadline — not an AssignmentFailed for an "unknown channel"."""
    case_id = new_id()
    data = dict(registered(case_id, region="410611"), channel="risk_assessment",
                category="land_acquisition", key_case=True, key_reasons=["high_risk"])
    assert assigning.bus.handle_event(source_event(1, "CaseRegistered", data),
                                     Tracking("feed:intake", 1))
    [made] = assigning.bus.store.read_log()
    assert made.type == "AssignmentMade", made.data
    assert made.data["lead"] and made.data["handler"] and made.data["due_at"]
    assert made.data["level"] in ("county", "city")


def test_a_petition_matters_handling_period_starts_when_mediation_accepts_it(assigning):
    """受理 (mediation's PetitionAccepted) starts the 60-day period of 信访工作条例 第三十四条,
    counted from the acceptance day; simple handling (简易办理) its own."""
    for position, (simple, rule_id, last_day) in enumerate(
            [(False, "petition-handling", "2027-01-29"),  # 60 days from 30 Nov 2026
             (True, "petition-simple-handling", "2026-12-14")], start=1):
        case_id = new_id()
        data = dict(registered(case_id), channel="letter", category="land_forest")
        assert assigning.bus.handle_event(source_event(position, "CaseRegistered", data),
                                         Tracking("feed:intake", position))
        agg = load(assigning, case_id)
        assert agg.petition_matter and agg.rule_id == "petition-acceptance-notice"
        accepted = source_event(position, "PetitionAccepted", {
            "case_id": case_id, "accepted_on": "2026-11-30", "simple": simple})
        assert assigning.bus.handle_event(accepted, Tracking("feed:mediation", position))
        agg = load(assigning, case_id)
        assert (agg.stage, agg.rule_id) == ("accepted_simple" if simple else "accepted", rule_id)
        assert agg.due_at.astimezone(SHANGHAI).date().isoformat() == last_day
        assert case_id in assigning.open_cases.due_by(agg.due_at)
    # an ordinary case has no handling period to start
    case_id = new_id()
    assert assigning.bus.handle_event(source_event(3, "CaseRegistered", registered(case_id)),
                                     Tracking("feed:intake", 3))
    assert not assigning.bus.handle_event(source_event(3, "PetitionAccepted", {
        "case_id": case_id, "accepted_on": "2026-11-30", "simple": False}),
        Tracking("feed:mediation", 3))
