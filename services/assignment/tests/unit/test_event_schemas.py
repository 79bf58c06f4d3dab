"""Every event the Assignment aggregate records matches its published schema
(gm_contracts.assignment_events), so consumers can rely on the documented shape."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from gm_contracts import event_schema
from gm_contracts.assignment_events import EVENT_TYPES, SERVICE

from gm_assignment.domain import EVENT_TYPES as DOMAIN_TYPES
from gm_assignment.domain import Assignment, CaseFacts, Source, decide

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTERED = datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI)


def validate(agg: Assignment) -> set:
    seen = set()
    for event in agg.pending:
        errors = event_schema(SERVICE, EVENT_TYPES[event.type])().validate(dict(event.data))
        assert errors == {}, (event.type, errors)
        seen.add(event.type)
    return seen


def test_every_assignment_event_type_has_a_schema():
    assert set(DOMAIN_TYPES) == set(EVENT_TYPES)


def test_a_full_life_matches_the_schemas(directory, rules, calendar):
    facts = CaseFacts(Source.referral("court", "entrusted"), "neighbour", "410611100201",
                      REGISTERED, collective=True)
    agg = Assignment("case-1")
    agg.assign(decide(facts, directory, rules, calendar), REGISTERED)
    agg.extend(10, "双方同意", REGISTERED + timedelta(days=1), calendar)
    agg.arrange_joint_handling(["court", "police"], "多部门", REGISTERED, directory)
    agg.reassign("案情复杂", REGISTERED, directory, unit="410600")
    agg.raise_warning(agg.due_at - timedelta(days=1))
    seen = validate(agg)
    overdue = Assignment("case-2")
    overdue.assign(decide(CaseFacts(Source.from_channel("visit"), "neighbour",
                                    "410611100201", REGISTERED), directory, rules, calendar),
                   REGISTERED)
    overdue.supervise(overdue.due_at + timedelta(hours=1), directory)
    overdue.remind(overdue.due_at + timedelta(days=8))
    overdue.close(overdue.due_at + timedelta(days=9))
    petition = Assignment("case-4")
    petition.assign(decide(CaseFacts(Source.from_channel("letter"), "land_forest",
                                     "410611100201", REGISTERED), directory, rules, calendar),
                    REGISTERED)
    accepted_on = date(2026, 3, 5)
    petition.start_handling("accepted", accepted_on, rules.select(
        petition.source, petition.track, accepted_on, category="land_forest",
        stage="accepted"), calendar, REGISTERED + timedelta(days=4))
    petition.extend(30, "情况复杂", REGISTERED + timedelta(days=5), calendar,
                    notified_on=date(2026, 3, 6))
    failed = Assignment("case-3")
    failed.fail("no unit", REGISTERED)
    chosen = Assignment("case-5")  # the parties choose a roster mediator at the first session
    chosen.assign(decide(CaseFacts(Source.from_channel("visit"), "neighbour", "410611100",
                                   REGISTERED), directory, rules, calendar), REGISTERED)
    chosen.take_parties_choice("M410611-05", REGISTERED, directory)  # marked unavailable
    chosen.take_parties_choice("M410611-04", REGISTERED, directory)
    seen |= validate(overdue) | validate(petition) | validate(failed) | validate(chosen)
    # CaseEscalated is only in streams written by older versions: its schema stays.
    assert seen == set(DOMAIN_TYPES) - {"CaseEscalated"}
