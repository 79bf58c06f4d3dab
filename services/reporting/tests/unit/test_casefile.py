"""The case projector, pure: each source's events in its own order, the sources in any
order, each event at most once."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from gm_kernel import RecordedEvent
from gm_reporting.domain.casefile import (case_row, case_view, closing, is_overdue,
                                          project_case, project_supervision, status_of,
                                          supervision_key, supervision_row)

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


def interleavings(history=HISTORY):
    """Every merge of the three sources that keeps each source's own order."""
    by_source = {}
    for pair in history:
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
    assert view["assignment"] == {"task": None, "track": "people", "level": "county",
                                  "unit": "410611", "responsible_leader": None,
                                  "lead": "L1", "handler": "H1",
                                  "due_at": "2026-03-31T15:59:59.999999Z", "days": 30,
                                  "extended": False, "escalations": 0, "supervisions": 0,
                                  "supervision": None, "handling": None}
    assert view["petition_matter"] is False and view["petition"] is None
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


# -- 督办 / 催办 (SupervisionOrdered, SupervisionReminded) -------------------------------------
DUE = "2026-03-31T15:59:59.999999Z"
MADE_FULL = ev("assignment", 1, "AssignmentMade", {
    "task": "调解邻里纠纷", "track": "people", "level": "county", "unit": "410611",
    "responsible_leader": "L410611-01", "lead": None, "handler": "H1", "due_at": DUE,
    "days": 30, "key_case": False, "region": "410611100", "petition_matter": False,
    "period": {"months": 1}, "route_id": "people", "route_basis": "…"}, at=1)
SUPERVISED = ev("assignment", 2, "SupervisionOrdered", {
    "supervisor": "L410600-01", "supervising_unit": "410600",
    "ordered_at": "2026-04-01T01:00:00Z", "due_at": DUE, "unit": "410611", "handler": "H1",
    "lead": None, "responsible_leader": "L410611-01"}, at=43200, id_="sup-1")
REMINDED = [ev("assignment", 3 + i, "SupervisionReminded", {
    "supervisor": "L410600-01", "reminded_at": f"2026-04-{8 + 7 * i:02d}T01:00:00Z",
    "due_at": DUE, "unit": "410611", "handler": "H1", "reminder_number": i + 1,
    "days_overdue": 7 * (i + 1)}, at=43200 + 10080 * (i + 1)) for i in range(2)]


def test_a_supervised_case_keeps_its_unit_and_deadline_and_is_overdue_by_its_deadline():
    state = replay([REGISTERED, MADE_FULL, OPENED, SUPERVISED, *REMINDED])
    view = case_view(state)
    asg = view["assignment"]
    assert (asg["unit"], asg["due_at"], asg["escalations"]) == ("410611", DUE, 0)
    assert (asg["task"], asg["responsible_leader"]) == ("调解邻里纠纷", "L410611-01")
    assert asg["supervisions"] == 1
    assert asg["supervision"] == {"supervisor": "L410600-01", "supervising_unit": "410600",
                                  "ordered_at": "2026-04-01T01:00:00.000000Z",
                                  "reminders": 2,
                                  "reminded_at": "2026-04-15T01:00:00.000000Z"}
    row = case_row(state)
    assert (row["supervisions"], row["supervisor"], row["reminders"]) == (1, "L410600-01", 2)
    assert row["late_from"] == DUE  # overdue because the deadline passed, nothing else
    assert is_overdue(row, "2026-04-20T00:00:00.000000Z")
    assert not is_overdue(row, "2026-03-30T00:00:00.000000Z")
    assert [t["type"] for t in view["timeline"]][-3:] == [
        "SupervisionOrdered", "SupervisionReminded", "SupervisionReminded"]


def test_a_case_closed_after_its_deadline_stays_not_on_time():
    late = ev("mediation", 2, "CaseClosed", {"case_id": CID, "outcome": "agreement",
                                             "resolved": True,
                                             "closed_at": "2026-04-20T00:00:00Z"}, at=70000)
    a_late = ev("assignment", 5, "AssignmentClosed", {
        "closed_at": "2026-04-20T00:00:00Z", "outcome": "agreement", "on_time": False},
        at=70000)
    base = [REGISTERED, MADE_FULL, OPENED, SUPERVISED, *REMINDED, late]
    for history in (base, base + [a_late]):  # reckoned here, or as assignment recorded it
        state = replay(history)
        assert closing(state)["on_time"] is False and closing(state)["resolved"] is True
        row = case_row(state)
        assert row["late_from"] is None and not is_overdue(row, "2026-05-01T00:00:00.000000Z")
        assert row["supervisions"] == 1  # the record of it stays


def test_supervisions_count_old_escalations_too():
    escalated = ev("assignment", 2, "CaseEscalated", {
        "unit": "410600", "level": "city", "handler": "H9", "lead": "L1",
        "previous_due_at": DUE, "due_at": "2026-05-01T15:59:59.999999Z"}, at=40000)
    state = replay([REGISTERED, MADE_FULL, escalated])
    row = case_row(state)
    assert (row["escalations"], row["supervisions"], row["late_from"]) == (1, 1, "")
    assert case_view(state)["assignment"]["supervision"] is None


def test_each_supervision_is_a_document_of_its_own():
    state = replay([REGISTERED, MADE_FULL, SUPERVISED])
    _, event = SUPERVISED
    assert supervision_key("assignment", event) == "sup-1"
    assert supervision_key("assignment", REMINDED[0][1]) is None
    assert supervision_key("mediation", event) is None
    doc = project_supervision(None, state, event)
    assert supervision_row(doc) == {
        "case_id": CID, "kind": "supervision", "at": "2026-04-01T01:00:00.000000Z",
        "region": "410611100", "county": "410611", "township": "410611100",
        "unit": "410611", "lead": None, "handler": "H1", "supervisor": "L410600-01"}
    assert project_supervision(doc, state, event) is None  # written once


# -- a petition matter (信访事项) -------------------------------------------------------------
P_MADE = ev("assignment", 1, "AssignmentMade", {
    "task": "依法告知受理情况并出具信访处理意见书", "track": "administrative", "level": "county",
    "unit": "410611", "responsible_leader": "L410611-01", "lead": None, "handler": "H1",
    "due_at": "2026-03-16T15:59:59.999999Z", "days": 15, "key_case": False,
    "region": "410611100", "petition_matter": True}, at=1)
P_ACCEPTED = ev("mediation", 2, "PetitionAccepted", {
    "case_id": CID, "accepted_on": "2026-03-10", "notified_on": "2026-03-10",
    "notice_due_at": "2026-03-16T15:59:59.999999Z", "timely": True, "simple": False}, at=9 * 1440)
P_PERIOD = ev("assignment", 2, "HandlingPeriodStarted", {
    "stage": "accepted", "accepted_on": "2026-03-10", "previous_due_at":
    "2026-03-16T15:59:59.999999Z", "due_at": "2026-05-11T15:59:59.999999Z",
    "rule_id": "petition-handling", "rule_effective_from": "2022-05-01",
    "legal_basis": "信访工作条例", "extension": None}, at=9 * 1440 + 1)
P_ANSWERED = ev("mediation", 3, "PetitionAnswered", {
    "case_id": CID, "opinion": "explain", "summary": "解释", "issued_on": "2026-04-20"},
    at=50 * 1440)
P_CLOSED = ev("mediation", 4, "CaseClosed", {
    "case_id": CID, "outcome": "answered", "resolved": False,
    "closed_at": "2026-04-20T02:00:00Z"}, at=50 * 1440)
P_A_CLOSED = ev("assignment", 3, "AssignmentClosed", {
    "closed_at": "2026-04-20T02:00:00Z", "outcome": "answered", "on_time": True},
    at=50 * 1440)
P_REVIEW = ev("mediation", 5, "ReviewRequested", {
    "case_id": CID, "stage": "review", "requested_on": "2026-05-06",
    "received_on": "2026-04-21", "request_due_at": "2026-05-21T15:59:59.999999Z",
    "due_at": "2026-06-05T15:59:59.999999Z"}, at=66 * 1440)
P_REVIEWED = ev("mediation", 6, "ReviewDecided", {
    "case_id": CID, "stage": "review", "opinion": "upheld", "summary": "维持",
    "issued_on": "2026-06-01", "on_time": True, "final": False}, at=92 * 1440)
P_RE_REVIEW = ev("mediation", 7, "ReviewRequested", {
    "case_id": CID, "stage": "re_review", "requested_on": "2026-06-10",
    "received_on": "2026-06-02", "request_due_at": "2026-07-02T15:59:59.999999Z",
    "due_at": "2026-07-10T15:59:59.999999Z"}, at=101 * 1440)
P_RE_REVIEWED = ev("mediation", 8, "ReviewDecided", {
    "case_id": CID, "stage": "re_review", "opinion": "changed", "summary": "变更",
    "issued_on": "2026-07-15", "on_time": False, "final": True}, at=136 * 1440)
PETITION = [REGISTERED, P_MADE, OPENED, P_ACCEPTED, P_PERIOD, P_ANSWERED, P_CLOSED,
            P_A_CLOSED, P_REVIEW, P_REVIEWED, P_RE_REVIEW, P_RE_REVIEWED]


def test_a_petition_matter_in_the_case_view():
    state = replay(PETITION)
    view = case_view(state)
    assert view["petition_matter"] is True
    assert view["petition"] == {
        "decision": "accepted", "accepted_on": "2026-03-10", "notified_on": "2026-03-10",
        "notice_due_at": "2026-03-16T15:59:59.999999Z", "timely": True, "simple": False,
        "route": None, "answered": {"opinion": "explain", "issued_on": "2026-04-20"},
        "reviews": [
            {"stage": "review", "requested_on": "2026-05-06",
             "due_at": "2026-06-05T15:59:59.999999Z",
             "decided": {"opinion": "upheld", "issued_on": "2026-06-01", "on_time": True}},
            {"stage": "re_review", "requested_on": "2026-06-10",
             "due_at": "2026-07-10T15:59:59.999999Z",
             "decided": {"opinion": "changed", "issued_on": "2026-07-15", "on_time": False}}],
        "final": True}
    # acceptance starts the handling period: the deadline moves (not an extension)
    asg = view["assignment"]
    assert asg["due_at"] == "2026-05-11T15:59:59.999999Z" and asg["extended"] is False
    assert asg["handling"] == {"stage": "accepted", "accepted_on": "2026-03-10",
                               "previous_due_at": "2026-03-16T15:59:59.999999Z"}
    assert (view["status"], view["outcome"], view["resolved"], view["on_time"]) == (
        "closed", "answered", False, True)
    types = [t["type"] for t in view["timeline"]]
    for t in ("PetitionAccepted", "HandlingPeriodStarted", "PetitionAnswered",
              "ReviewRequested", "ReviewDecided"):
        assert t in types, t
    assert types.count("ReviewDecided") == 2
    row = case_row(state)
    assert {k: row[k] for k in (
        "petition", "petition_decision", "decided_on", "decided_timely",
        "review_requested_on", "review_decided_on", "review_on_time",
        "re_review_requested_on", "re_review_decided_on", "re_review_on_time")} == {
        "petition": True, "petition_decision": "accepted", "decided_on": "2026-03-10",
        "decided_timely": True, "review_requested_on": "2026-05-06",
        "review_decided_on": "2026-06-01", "review_on_time": True,
        "re_review_requested_on": "2026-06-10", "re_review_decided_on": "2026-07-15",
        "re_review_on_time": False}
    assert row["due_at"] == "2026-05-11T15:59:59.999999Z"


def test_a_petition_matter_declined():
    declined = ev("mediation", 2, "PetitionDeclined", {
        "case_id": CID, "reason": "已进入诉讼程序", "route": "litigation",
        "notified_on": "2026-03-20", "notice_due_at": "2026-03-16T15:59:59.999999Z",
        "timely": False}, at=19 * 1440)
    closed = ev("mediation", 3, "CaseClosed", {
        "case_id": CID, "outcome": "declined", "resolved": False,
        "closed_at": "2026-03-20T02:00:00Z"}, at=19 * 1440)
    state = replay([REGISTERED, OPENED, declined, closed])  # assignment not heard of yet
    view = case_view(state)
    assert view["petition_matter"] is True  # mediation decided its acceptance
    p = view["petition"]
    assert (p["decision"], p["route"], p["timely"], p["notified_on"], p["accepted_on"]) == (
        "declined", "litigation", False, "2026-03-20", None)
    assert (p["answered"], p["reviews"], p["final"]) == (None, [], False)
    assert view["outcome"] == "declined" and view["resolved"] is False
    row = case_row(state)
    assert (row["petition_decision"], row["decided_on"], row["decided_timely"]) == (
        "declined", "2026-03-20", False)


def test_a_petition_matter_not_yet_decided_shows_an_empty_petition_part():
    view = case_view(replay([REGISTERED, P_MADE]))
    assert view["petition_matter"] is True
    assert view["petition"]["decision"] is None and view["petition"]["reviews"] == []
    assert case_row(replay([REGISTERED, P_MADE]))["decided_on"] is None


def test_every_interleaving_of_a_petition_matter_gives_the_same_state():
    history = [REGISTERED, P_MADE, P_ACCEPTED, P_PERIOD, P_ANSWERED, P_CLOSED, P_A_CLOSED,
               P_REVIEW]
    states = [replay(order) for order in interleavings(history)]
    assert len(states) == 280  # 8! / (1! 4! 3!)
    assert all(s == states[0] for s in states)
    supervised = [REGISTERED, MADE_FULL, OPENED, AGREED, SUPERVISED, *REMINDED]
    states = [replay(order) for order in interleavings(supervised)]
    assert all(s == states[0] for s in states)
