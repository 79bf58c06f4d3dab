"""What other services' events, the case's own decisions and agencies' answers mean for
mediation, as the domain says it (pure: no store): the mediator named by assignment's
events, the hand-off a case decided on and what its agency is told, a case settled by
the agency's answer, and the dates a petition matter's steps are counted from."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from gm_contracts import vocabulary
from gm_kernel import DomainError
from gm_mediation.domain import (
    AGREEMENT,
    ASSIGNED,
    ASSIGNMENT_REASONS,
    CLOSED,
    HANDED_OFF,
    IN_MEDIATION,
    NEXT_STEPS,
    REGISTERED,
    HandOff,
    HandOffDecision,
    MediationCase,
    confirmation_window,
    handoff_decided,
    handoff_due,
    handoff_requested,
    petition_notice_due,
    review_dues,
)
from gm_mediation.testing import CALENDAR, NOW, TZ, assignment, registration


def ready(**reg) -> MediationCase:
    case = MediationCase("case-1")
    case.open(registration(**reg), actor="clerk-1")
    case.assign(assignment(), "assigned", actor="assignment-service")
    return case


def agreed() -> MediationCase:
    case = ready()
    case.hold_session(date(2026, 3, 5), "both parties heard", NOW, TZ)
    case.reach_agreement("terms", date(2026, 3, 9), NOW, TZ,
                         window_ends_at=confirmation_window(date(2026, 3, 9), CALENDAR,
                                                            TZ).due_at)
    return case


# -- the vocabulary, said once ------------------------------------------------------------

def test_statuses_and_next_steps_are_the_suites_vocabulary():
    assert (REGISTERED, ASSIGNED, IN_MEDIATION, AGREEMENT, HANDED_OFF, CLOSED) \
        == vocabulary.CASE_STATUSES
    assert list(NEXT_STEPS) == [s for s in vocabulary.NEXT_STEPS if s != "none"]
    for step, agency in NEXT_STEPS.items():
        assert step in vocabulary.HANDOFF_KINDS[agency]


# -- assignment's events -------------------------------------------------------------------

@pytest.mark.parametrize("event_type, reason", [
    ("AssignmentMade", "assigned"), ("CaseEscalated", "escalated"),
    ("CaseReassigned", "reassigned"), ("DeadlineExtended", "extended"),
    ("HandlingPeriodStarted", "handling_period")])
def test_assignments_events_name_the_mediator_with_their_reason(event_type, reason):
    case = MediationCase("case-1")
    case.follow_assignment(event_type, assignment(), actor="assignment-service")
    [named] = case.pending
    assert named.type == "MediatorAssigned" and named.data["reason"] == reason
    assert ASSIGNMENT_REASONS[event_type] == reason


def test_an_extension_moves_only_the_deadline_and_a_closed_case_takes_nothing():
    """An extension's `unit` (days or working_days) is not the unit handling the case."""
    case = ready()
    before = dict(case.assignment)
    case.follow_assignment("DeadlineExtended", {"due_at": "2026-04-30T15:59:59.999999Z",
                                                "days": 10, "unit": "working_days"})
    assert case.assignment == dict(before, due_at="2026-04-30T15:59:59.999999Z")
    case.follow_assignment("HandlingPeriodStarted", {"due_at": "2026-05-29T15:59:59.999999Z",
                                                     "stage": "accepted", "days": 60})
    assert case.assignment == dict(before, due_at="2026-05-29T15:59:59.999999Z")
    case.withdraw("settled privately", NOW)
    before = len(case.pending)
    case.follow_assignment("CaseEscalated", assignment(unit="410600", level="city"))
    assert len(case.pending) == before


# -- the hand-off a case decided on ----------------------------------------------------------

def test_a_confirmation_request_goes_to_the_court_with_its_agreement():
    case = agreed()
    case.request_confirmation("H-1", NOW, TZ)
    event = case.pending[-1]
    assert handoff_decided(event.type, event.data) == HandOffDecision(
        "H-1", "court", "judicial_confirmation", {"terms": "terms", "signed_on": "2026-03-09"})


@pytest.mark.parametrize("next_step, agency", [
    ("litigation", "court"), ("public_security", "police"),
    ("criminal_reconciliation", "procuratorate"), ("petition_handling", "petition")])
def test_a_failure_goes_to_its_next_steps_agency(next_step, agency):
    case = ready()
    case.fail("no agreement", next_step, "H-1", NOW)
    event = case.pending[-1]
    assert handoff_decided(event.type, event.data) == HandOffDecision("H-1", agency, next_step)


def test_other_events_decide_no_handoff():
    case = ready()
    case.fail("no agreement", "none", None, NOW)
    assert [handoff_decided(e.type, e.data) for e in case.pending] == [None] * len(case.pending)


def test_the_agency_is_told_the_case_its_parties_and_its_deadline():
    case = agreed()
    case.request_confirmation("H-1", NOW, TZ)
    decided = handoff_decided(case.pending[-1].type, case.pending[-1].data)
    handoff = HandOff(decided.handoff_id)
    due, rule = handoff_due(decided.kind, NOW, CALENDAR, TZ)
    handoff.request(case.id, case.registration["case_number"], decided.agency, decided.kind,
                    decided.agreement, NOW, due, rule.id)
    assert handoff_requested(handoff, case) == {
        "handoff_id": "H-1", "case_id": "case-1", "case_number": "410611-2026-000001",
        "kind": "judicial_confirmation", "summary": registration()["summary"],
        "parties": registration()["parties"],
        "agreement": {"terms": "terms", "signed_on": "2026-03-09"},
        "due_at": "2026-03-13T15:59:59.999999Z"}


# -- the agency's answer, settled on the case ------------------------------------------------

def confirmation_asked() -> MediationCase:
    case = agreed()
    case.request_confirmation("H-1", NOW, TZ)
    return case


def test_an_accepted_confirmation_request_waits_for_the_ruling():
    case = confirmation_asked()
    before = len(case.pending)
    case.settle("HandOffAccepted", {"handoff_id": "H-1", "agency": "court"}, NOW)
    assert len(case.pending) == before and case.status == HANDED_OFF


def test_a_confirmation_closes_the_case_confirmed():
    case = confirmation_asked()
    case.settle("ConfirmationRuled", {"handoff_id": "H-1", "confirmed": True,
                                      "ruling_number": "(2026)豫0611民特1号"}, NOW,
                actor="agency:court", agency="court")
    closed = case.pending[-1]
    assert closed.type == "CaseClosed" and closed.data["outcome"] == "confirmed"
    assert closed.actor == "agency:court" and closed.agency == "court"


def test_a_refusal_or_a_rejection_reopens_mediation_saying_why():
    case = confirmation_asked()
    case.settle("ConfirmationRuled", {"handoff_id": "H-1", "confirmed": False,
                                      "reason": "terms unclear"}, NOW)
    assert case.pending[-1].data == {
        "reason": "the court refused judicial confirmation: terms unclear", "handoff_id": "H-1"}
    case = ready()
    case.fail("no agreement", "petition_handling", "H-2", NOW)
    case.settle("HandOffRejected", {"handoff_id": "H-2", "agency": "petition"}, NOW)
    assert case.pending[-1].data["reason"] == "petition rejected the petition_handling hand-off"
    assert case.status == IN_MEDIATION


def test_an_accepted_failure_handoff_closes_the_case_handed_off():
    case = ready()
    case.fail("no agreement", "litigation", "H-1", NOW)
    case.settle("HandOffAccepted", {"handoff_id": "H-1", "agency": "court",
                                    "agency_case_number": "(2026)豫0611民初9号"}, NOW)
    assert case.closure["outcome"] == "handed_off"
    assert "(2026)豫0611民初9号" in case.closure["summary"]


def test_only_an_answer_to_the_awaited_handoff_settles_the_case():
    case = confirmation_asked()
    with pytest.raises(DomainError, match="does not wait on hand-off H-9"):
        case.settle("ConfirmationRuled", {"handoff_id": "H-9", "confirmed": True}, NOW)
    with pytest.raises(ValueError, match="not an answer"):
        case.settle("HandOffOverdue", {"handoff_id": "H-1"}, NOW)


# -- a petition matter's dates ---------------------------------------------------------------

def test_the_notice_and_review_limits_are_counted_on_the_calendar():
    registered = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
    assert petition_notice_due(registered, CALENDAR, TZ) \
        == datetime(2026, 3, 17, 23, 59, 59, 999999, tzinfo=TZ)
    request_due, decision_due = review_dues("review", date(2026, 3, 9), date(2026, 3, 10),
                                            CALENDAR, TZ)
    assert request_due == datetime(2026, 4, 8, 23, 59, 59, 999999, tzinfo=TZ)
    assert decision_due == datetime(2026, 4, 9, 23, 59, 59, 999999, tzinfo=TZ)


def test_a_review_is_counted_from_the_answers_day_unless_told_otherwise():
    case = ready()
    case.petition = {"decision": "accepted", "answered": {"opinion": "explain",
                                                          "issued_on": "2026-03-09"}}
    assert case.review_received_on("review", date(2026, 3, 12)) == date(2026, 3, 9)
    assert case.review_received_on("review", date(2026, 3, 12), date(2026, 3, 11)) \
        == date(2026, 3, 11)
    assert case.review_received_on("re_review", date(2026, 3, 12)) == date(2026, 3, 12)


def test_the_earlier_cases_and_the_registration_time_come_from_intake():
    case = ready(repeat=True, repeat_of=[{"case_id": "old-1", "case_number": "n"}])
    assert case.earlier_cases == ["old-1"]
    assert case.registered_at == NOW - timedelta(days=8, hours=1)
