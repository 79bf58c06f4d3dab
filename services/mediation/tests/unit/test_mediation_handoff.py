"""The HandOff aggregate and mediation's time limits: which agency answers may settle a
hand-off, in what order, and when a hand-off is overdue."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from gm_contracts import event_schema
from gm_contracts.mediation_events import EVENT_TYPES
from gm_kernel import DomainError
from gm_mediation.domain import (
    HandOff,
    ReplyRefused,
    confirmation_window,
    handoff_due,
    limit_in_force,
    ruling_due,
)
from gm_mediation.domain.rules import RULES, TimeLimit

from gm_mediation.testing import CALENDAR, NOW, TZ, recorded

RULING_DUE = ruling_due(NOW, CALENDAR, TZ)[0]


def requested(kind: str = "judicial_confirmation", agency: str = "court") -> HandOff:
    handoff = HandOff("H-1")
    due, rule = handoff_due(kind, NOW, CALENDAR, TZ)
    handoff.request("case-1", "410611-2026-000001", agency, kind,
                    {"terms": "t", "signed_on": "2026-03-09"} if kind == "judicial_confirmation"
                    else None, NOW, due, rule.id, actor="mediator-1")
    return handoff


def errors(call) -> dict:
    with pytest.raises(ReplyRefused) as exc:
        call()
    return exc.value.errors


def test_request_records_the_agency_deadline():
    handoff = requested()
    event = handoff.pending[0]
    assert event.type == "HandOffRequested" and event.correlation_id == "case-1"
    # requested 10 March (Beijing): the court decides whether to accept it within three
    # days (法释〔2011〕5号 第四条), by the end of 13 March, Beijing time
    assert event.data["due_at"] == "2026-03-13T15:59:59.999999Z"
    assert event.data["rule_id"] == "judicial-confirmation-acceptance"
    with pytest.raises(DomainError):
        handoff.request("case-1", "n", "court", "litigation", None, NOW, NOW, "r")


def test_a_kind_goes_only_to_its_agency():
    with pytest.raises(ValueError):
        requested(kind="public_security", agency="court")


def test_confirmation_accepted_then_ruled():
    handoff = requested()
    handoff.reply("court", "accepted", "(2026)豫0611民特1号", None, NOW, RULING_DUE,
                  actor="agency:court")
    assert handoff.status == "accepted" and not handoff.settled
    # once accepted (立案), the court rules within 30 days (民事诉讼法 第一百八十七条)
    assert handoff.pending[-1].data["due_at"] == "2026-04-09T15:59:59.999999Z"
    assert handoff.due_at == RULING_DUE
    handoff.rule("court", True, "(2026)豫0611民特1号", None, NOW)
    assert handoff.status == "confirmed" and handoff.settled
    again = HandOff.load("H-1", recorded(handoff.pending, handoff.stream_id))
    assert again.status == "confirmed" and again.agency_case_number == "(2026)豫0611民特1号"
    assert errors(lambda: handoff.rule("court", False, None, None, NOW)) == {
        "handoff_id": ["This confirmation request is already settled (confirmed)."]}


def test_ruling_before_acceptance_is_out_of_order():
    handoff = requested()
    assert "before ruling" in errors(lambda: handoff.rule("court", True, None, None, NOW)
                                     )["handoff_id"][0]
    assert handoff.pending[-1].type == "HandOffRequested"


def test_ruling_on_another_kind_of_handoff_is_refused():
    handoff = requested(kind="litigation")
    handoff.reply("court", "accepted", None, None, NOW)
    assert "not a judicial confirmation" in errors(
        lambda: handoff.rule("court", True, None, None, NOW))["handoff_id"][0]


def test_second_reply_and_wrong_agency_are_refused():
    handoff = requested(kind="public_security", agency="police")
    assert errors(lambda: handoff.reply("court", "accepted", None, None, NOW)) == {
        "handoff_id": ["This hand-off was not sent to court."]}
    handoff.reply("police", "rejected", None, "not a public-order matter", NOW)
    assert handoff.settled and handoff.reason == "not a public-order matter"
    assert errors(lambda: handoff.reply("police", "accepted", None, None, NOW)) == {
        "handoff_id": ["This hand-off was already answered (rejected)."]}


def test_unknown_handoff_is_refused():
    assert errors(lambda: HandOff("H-404").reply("court", "accepted", None, None, NOW)) == {
        "handoff_id": ["No hand-off with this id."]}


def test_overdue_once_after_the_deadline_while_unsettled():
    handoff = requested(kind="petition_handling", agency="petition")
    due = handoff.due_at
    assert not handoff.overdue_at(due)
    with pytest.raises(DomainError):
        handoff.raise_overdue(due)
    handoff.raise_overdue(due + timedelta(microseconds=1))
    assert handoff.pending[-1].data["due_at"] == "2026-03-25T15:59:59.999999Z"
    with pytest.raises(DomainError):
        handoff.raise_overdue(due + timedelta(days=3))
    assert handoff.view()["overdue"] is True


def test_accepting_a_confirmation_needs_the_rulings_due_date():
    with pytest.raises(ValueError):
        requested().reply("court", "accepted", None, None, NOW)


def test_an_accepted_confirmation_is_overdue_until_ruled():
    handoff = requested()
    handoff.reply("court", "accepted", None, None, NOW, RULING_DUE)
    late = handoff.due_at + timedelta(days=1)
    assert handoff.overdue_at(late)
    handoff.rule("court", False, None, "terms against public order", late)
    assert not handoff.overdue_at(late)


def test_an_accepted_failure_handoff_is_never_overdue():
    handoff = requested(kind="litigation")
    handoff.reply("court", "accepted", "(2026)豫0611民初5号", None, NOW)
    assert not handoff.overdue_at(handoff.due_at + timedelta(days=100))


def test_every_handoff_event_matches_its_registered_schema():
    first, second, third = requested(), requested("litigation"), requested("litigation")
    first.reply("court", "accepted", None, None, NOW, RULING_DUE)
    first.rule("court", True, "r-1", None, NOW)
    second.reply("court", "rejected", None, "no jurisdiction", NOW)
    third.raise_overdue(third.due_at + timedelta(seconds=1))
    seen = set()
    for handoff in (first, second, third):
        for event in handoff.pending:
            event_schema("mediation", EVENT_TYPES[event.type])().load(dict(event.data))
            seen.add(event.type)
    assert seen == {"HandOffRequested", "HandOffAccepted", "HandOffRejected",
                    "ConfirmationRuled", "HandOffOverdue"}


# -- the time limits ---------------------------------------------------------------------

@pytest.mark.parametrize("kind, days, local_default", [
    ("judicial_confirmation", 3, False), ("litigation", 7, False),
    ("public_security", 15, True), ("criminal_reconciliation", 15, True),
    ("petition_handling", 15, False),
])
def test_each_kind_has_a_limit_with_a_basis(kind, days, local_default):
    due, rule = handoff_due(kind, NOW, CALENDAR, TZ)
    assert rule.days == days and rule.basis and rule.local_default is local_default
    assert due == datetime(2026, 3, 10, 23, 59, 59, 999999, tzinfo=TZ) + timedelta(days=days)


def test_no_limit_cites_a_local_regulation_that_does_not_exist():
    for rule in RULES:
        assert "本市" not in rule.basis, rule.id
        assert rule.local_default == ("本地默认" in rule.basis), rule.id


def test_local_day_decides_when_counting_starts():
    # 23:30 UTC on 9 March is 07:30 on 10 March in Beijing: the 10th is day zero.
    due, _ = handoff_due("litigation", datetime(2026, 3, 9, 23, 30, tzinfo=timezone.utc),
                         CALENDAR, TZ)
    assert due.astimezone(TZ).date() == date(2026, 3, 17)
    window = confirmation_window(date(2026, 1, 31), CALENDAR, TZ)
    assert window.due_at.astimezone(TZ).date() == date(2026, 3, 2)


def test_a_confirmation_window_ending_on_national_day_ends_on_the_next_working_day():
    """An agreement of 1 September 2026: 30 days end on 1 October, a holiday, so the
    window closes at the end of 8 October (民事诉讼法 第八十五条)."""
    window = confirmation_window(date(2026, 9, 1), CALENDAR, TZ)
    assert window.due_at == datetime(2026, 10, 8, 23, 59, 59, 999999, tzinfo=TZ)
    assert window.rolled_from == date(2026, 10, 1)


def test_the_version_in_force_on_the_day_applies():
    rules = (TimeLimit("x", 10, "old", date(2020, 1, 1)),
             TimeLimit("x", 20, "new", date(2025, 1, 1)))
    assert limit_in_force("x", date(2024, 12, 31), rules).days == 10
    assert limit_in_force("x", date(2025, 1, 1), rules).days == 20
    assert limit_in_force("x", date(2019, 1, 1), rules).days == 10  # before any: the earliest
    assert {r.id for r in RULES} >= {"judicial-confirmation-application"}
