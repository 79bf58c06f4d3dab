"""The case projector, pure: each source's events in its own order, the sources in any
order, each event at most once."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from gm_kernel import RecordedEvent
from gm_reporting.domain.casefile import (case_row, case_view, closing, project_case,
                                          status_of)

T = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)
CID = "c-1"


def ev(source, position, type_, data=None, at=0, stream=None, id_=None, cause=None):
    prefix = {"intake": "case-", "assignment": "assignment-", "mediation": "mediation-"}
    return source, RecordedEvent(
        id=id_ or f"{source}-{position}", stream_id=stream or prefix[source] + CID,
        version=position, position=position, type=type_, schema_version=1,
        occurred_at=T + timedelta(minutes=at), data=data or {}, actor=f"{source}-actor",
        correlation_id=CID, causation_id=cause)


REGISTERED = ev("intake", 1, "CaseRegistered", {
    "case_id": CID, "case_number": "410611-2026-000001", "channel": "visit",
    "category": "labour", "region": "410611100", "headcount": 7, "collective": True,
    "repeat": False, "key_case": True, "registered_at": T.isoformat(),
    "parties": [{"role": "applicant", "name": "张三", "id_number": "11010519491231002X"}]})
MADE = ev("assignment", 1, "AssignmentMade", {
    "track": "people", "level": "county", "unit": "410611", "lead": "L1", "handler": "H1",
    "due_at": "2026-03-31T15:59:59.999999Z", "days": 30, "key_case": True,
    "region": "410611100"}, at=1, id_="made", cause="intake-1")
OPENED = ev("mediation", 1, "MediationOpened", {"case_id": CID, "region": "410611100",
                                                "case_number": "410611-2026-000001"}, at=2)
AGREED = ev("mediation", 2, "AgreementReached", {"terms": "x"}, at=3)
CLOSED = ev("mediation", 3, "CaseClosed", {"case_id": CID, "outcome": "agreement",
                                           "resolved": True,
                                           "closed_at": "2026-03-05T00:00:00Z"}, at=4,
            id_="closed")
A_CLOSED = ev("assignment", 2, "AssignmentClosed", {
    "closed_at": "2026-03-05T00:00:00Z", "outcome": "agreement", "on_time": True}, at=4,
    id_="a-closed", cause="closed")
HISTORY = [REGISTERED, MADE, OPENED, AGREED, CLOSED, A_CLOSED]


def replay(pairs, state=None):
    for source, event in pairs:
        new = project_case(state, source, event)
        state = new if new is not None else state
    return state


def interleavings():
    """Every merge of the three sources that keeps each source's own order."""
    by_source = {}
    for pair in HISTORY:
        by_source.setdefault(pair[0], []).append(pair)
    labels = [s for s, events in by_source.items() for _ in events]
    for order in set(itertools.permutations(labels)):
        queues = {s: list(events) for s, events in by_source.items()}
        yield [queues[s].pop(0) for s in order]


def test_every_interleaving_gives_the_same_state():
    states = [replay(order) for order in interleavings()]
    assert len(states) == 60  # 6! / (1! 2! 3!)
    assert all(s == states[0] for s in states)


def test_status_follows_the_case():
    expected = ["registered", "assigned", "assigned", "agreement", "closed", "closed"]
    state = None
    for pair, status in zip(HISTORY, expected):
        state = replay([pair], state)
        assert status_of(state) == status


def test_assignment_before_registration():
    state = replay([MADE])
    assert status_of(state) == "assigned" and case_row(state)["registered_at"] is None
    state = replay([REGISTERED], state)
    assert case_view(state)["case_number"] == "410611-2026-000001"
    assert [t["type"] for t in case_view(state)["timeline"]] == ["CaseRegistered",
                                                               "AssignmentMade"]


def test_an_event_is_applied_once():
    state = replay(HISTORY)
    for pair in HISTORY:
        assert project_case(state, *pair) is None
    assert replay(HISTORY + HISTORY) == state


def test_an_effect_at_the_same_instant_follows_its_cause():
    """AssignmentClosed carries CaseClosed's instant; it still comes after it."""
    state = replay(HISTORY)
    types = [t["type"] for t in case_view(state)["timeline"]]
    assert types.index("AssignmentClosed") == types.index("CaseClosed") + 1


def test_view_fields():
    view = case_view(replay(HISTORY))
    assert view["status"] == "closed" and view["outcome"] == "agreement"
    assert view["assignment"] == {"track": "people", "level": "county", "unit": "410611",
                                  "lead": "L1", "handler": "H1",
                                  "due_at": "2026-03-31T15:59:59.999999Z", "days": 30,
                                  "extended": False, "escalations": 0}
    assert view["parties"][0]["id_number"] == "1101**********002X"
    assert closing(replay(HISTORY))["on_time"] is True
    assert [t["source"] for t in view["timeline"]] == [
        "intake", "assignment", "mediation", "mediation", "mediation", "assignment"]


def test_escalation_makes_a_case_late_and_overdue():
    escalated = ev("assignment", 2, "CaseEscalated", {
        "unit": "410600", "level": "city", "handler": "H9", "lead": "L1",
        "previous_due_at": "2026-03-31T15:59:59.999999Z",
        "due_at": "2026-05-01T15:59:59.999999Z"}, at=40000)
    closed = ev("mediation", 3, "CaseClosed", {"case_id": CID, "outcome": "failed",
                                               "resolved": False,
                                               "closed_at": "2026-04-20T00:00:00Z"}, at=50000)
    state = replay([REGISTERED, MADE, OPENED, AGREED, escalated, closed])
    row = case_row(state)
    assert (row["escalations"], row["unit"], row["on_time"], row["resolved"]) == (
        1, "410600", False, False)



MEDIATOR = ev("mediation", 2, "MediatorAssigned", {
    "track": "people", "level": "county", "unit": "410611", "handler": "H1", "lead": "L1",
    "due_at": "2026-03-31T15:59:59.999999Z", "reason": "assigned"}, at=2)
SESSION = ev("mediation", 3, "SessionHeld", {"held_on": "2026-03-02", "notes": "n",
                                             "number": 1}, at=3)


def test_a_case_mediation_merely_opened_is_assigned_not_in_mediation():
    """The real mediation service opens every case as soon as intake registers it, so
    MediationOpened / MediatorAssigned alone must not make a case `in_mediation`:
    CONTRACT.md's `registered` and `assigned` would never be seen (mediation's README:
    reporting uses the precedence of MediationCase.status)."""
    state = replay([REGISTERED, OPENED])
    assert status_of(state) == "registered"
    state = replay([MADE, MEDIATOR], state)
    assert status_of(state) == "assigned"
    assert case_row(state)["status"] == "assigned"
    state = replay([SESSION], state)
    assert status_of(state) == "in_mediation"


def test_a_case_that_could_not_be_assigned_is_not_in_mediation():
    failed = ev("assignment", 1, "AssignmentFailed", {"reason": "no unit"}, at=1)
    state = replay([REGISTERED, failed, OPENED])
    assert status_of(state) == "registered"
