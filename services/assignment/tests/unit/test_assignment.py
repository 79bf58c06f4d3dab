"""The Assignment aggregate: its events, extension limits, reassignment, joint handling,
closing, and the deadline watch firing each warning and escalation exactly once."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from gm_kernel import DomainError, RecordedEvent

from gm_assignment.domain import (
    ASSIGNMENT_CLOSED,
    ASSIGNMENT_MADE,
    CASE_ESCALATED,
    CASE_REASSIGNED,
    DEADLINE_EXTENDED,
    DEADLINE_WARNING_RAISED,
    JOINT_HANDLING_ARRANGED,
    Assignment,
    CaseFacts,
    Source,
    WatchDecision,
    decide,
    watch,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTERED = datetime(2025, 3, 1, 10, 0, tzinfo=SHANGHAI)
VILLAGE = "410611100201"


def local(year, month, day, hour=10, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def local_due(a: Assignment) -> date:
    return a.due_at.astimezone(SHANGHAI).date()


@pytest.fixture
def make(directory, rules):
    """make(source, category, region, **facts) → a freshly assigned Assignment."""
    def _make(source=None, category="neighbour", region=VILLAGE, case_id="case-1", **kw):
        kw.setdefault("registered_at", REGISTERED)
        decision = decide(CaseFacts(source or Source.from_channel("visit"), category, region,
                                    **kw), directory, rules)
        a = Assignment(case_id)
        a.assign(decision, decision.registered_at + timedelta(seconds=1))
        return a
    return _make


def recorded(a: Assignment):
    return [RecordedEvent(id=e.id, stream_id=a.stream_id, version=i, position=i, type=e.type,
                          schema_version=e.schema_version, occurred_at=e.occurred_at,
                          data=e.data, correlation_id=e.correlation_id)
            for i, e in enumerate(a.pending, 1)]


def state(a: Assignment) -> dict:
    return {k: v for k, v in vars(a).items() if k != "pending"}


# -- assignment -----------------------------------------------------------------------------------

def test_assignment_made_carries_the_decision(make):
    a = make()
    assert a.stream_id == "assignment-case-1"
    [event] = a.pending
    assert event.type == ASSIGNMENT_MADE
    assert event.correlation_id == "case-1"
    assert event.occurred_at == REGISTERED + timedelta(seconds=1)
    assert event.data["rule_id"] == "people-mediation"
    assert a.view() == {"track": "people", "level": "village", "unit": VILLAGE, "lead": None,
                        "handler": "H410611100201-01", "due_at": "2025-03-31T15:59:59.999999Z",
                        "extended": False}


def test_assign_twice_is_refused(make, directory, rules):
    a = make()
    with pytest.raises(DomainError, match="already assigned"):
        a.assign(decide(CaseFacts(Source.from_channel("visit"), "neighbour", VILLAGE, REGISTERED),
                        directory, rules), REGISTERED)


def test_commands_need_an_assignment(directory):
    a = Assignment("nothing")
    with pytest.raises(DomainError, match="no assignment"):
        a.extend(5, "reason", REGISTERED)
    assert watch(a, REGISTERED) == WatchDecision()


def test_state_is_rebuilt_from_the_events(make, directory):
    a = make(Source.referral("police", "minor_dispute"))
    a.raise_warning(local(2025, 3, 29))
    a.extend(10, "经上一级公安机关批准", local(2025, 3, 30), actor="leader-1")
    a.reassign("案情复杂，提级办理", local(2025, 4, 1), directory, unit="410611")
    a.arrange_joint_handling(["police", "petition", "410611100"], "联合接访", local(2025, 4, 2),
                             directory)
    a.close(local(2025, 4, 5), outcome="agreement")
    again = Assignment.load(a.id, recorded(a))
    assert state(again) == state(a)
    assert again.version == len(a.pending) == 6
    assert a.pending[2].actor == "leader-1"


# -- extensions -----------------------------------------------------------------------------------

def test_extension_moves_the_deadline_by_calendar_days(make):
    a = make(Source.referral("police", "minor_dispute"))
    assert local_due(a) == date(2025, 3, 31)
    a.extend(30, "案情复杂，经上一级公安机关批准", local(2025, 3, 20))
    assert local_due(a) == date(2025, 4, 30)
    assert a.due_at == datetime(2025, 4, 30, 15, 59, 59, 999999, tzinfo=timezone.utc)
    event = a.pending[-1]
    assert event.type == DEADLINE_EXTENDED
    assert event.data == {"days": 30, "reason": "案情复杂，经上一级公安机关批准",
                          "previous_due_at": "2025-03-31T15:59:59.999999Z",
                          "due_at": "2025-04-30T15:59:59.999999Z",
                          "extension_number": 1, "extended_days": 30}
    assert a.view()["extended"] is True


def test_a_second_extension_beyond_the_maximum_count_is_refused(make):
    a = make(Source.referral("petition", "petition"))  # 60 days, one extension ≤ 30
    a.extend(10, "情况复杂", local(2025, 3, 20))
    with pytest.raises(DomainError, match="at most 1 extension"):
        a.extend(10, "还需时间", local(2025, 3, 21))


def test_extension_beyond_the_maximum_days_is_refused(make):
    a = make(Source.referral("court", "entrusted"))  # 2025 rule: +30 with consent, once
    with pytest.raises(DomainError, match="at most 30 extra days"):
        a.extend(31, "双方当事人同意", local(2025, 3, 5))
    a.extend(30, "双方当事人同意", local(2025, 3, 5))
    assert local_due(a) == date(2025, 4, 15)


def test_rule_without_extension_refuses_any(make):
    a = make()  # people's mediation from a channel
    with pytest.raises(DomainError, match="allows no extension"):
        a.extend(1, "需要更多时间", local(2025, 3, 5))


def test_unlimited_extensions_under_the_2016_rule(make):
    a = make(Source.referral("court", "entrusted", "simplified"),
             registered_at=local(2024, 6, 1))  # 特邀调解规定 2016: no limit with consent
    for _ in range(3):
        a.extend(7, "双方当事人同意", local(2024, 6, 2))
    assert a.extension_count == 3
    assert local_due(a) == date(2024, 6, 1) + timedelta(days=7 + 21)


def test_extension_after_the_deadline_is_refused(make):
    a = make(Source.referral("police", "minor_dispute"))
    with pytest.raises(DomainError, match="deadline has passed"):
        a.extend(10, "迟到的申请", local(2025, 4, 1))


@pytest.mark.parametrize("days, reason", [(0, "x"), (-1, "x"), (True, "x"), (5, " ")])
def test_extension_needs_positive_days_and_a_reason(make, days, reason):
    a = make(Source.referral("police", "minor_dispute"))
    with pytest.raises(DomainError):
        a.extend(days, reason, local(2025, 3, 5))


# -- the watch: each warning and escalation exactly once ------------------------------------------

def test_warning_fires_once_per_deadline(make):
    a = make()  # due 31 March, end of day Beijing time
    assert a.watch(local(2025, 3, 20)) == WatchDecision()
    assert a.watch(local(2025, 3, 28, 23, 59)) == WatchDecision()  # more than 3 days left
    assert a.watch(local(2025, 3, 29, 0, 0)) == WatchDecision(warn=True)
    a.raise_warning(local(2025, 3, 29, 0, 0))
    assert a.watch(local(2025, 3, 30)) == WatchDecision()
    with pytest.raises(DomainError, match="no deadline warning is due"):
        a.raise_warning(local(2025, 3, 30))
    event = a.pending[-1]
    assert event.type == DEADLINE_WARNING_RAISED
    assert event.data["due_at"] == "2025-03-31T15:59:59.999999Z"
    assert event.data["handler"] == a.handler


def test_warn_days_is_configurable(make):
    a = make()
    assert not a.watch(local(2025, 3, 25), warn_days=3).warn
    assert a.watch(local(2025, 3, 25), warn_days=7).warn


def test_an_extended_deadline_is_warned_again(make):
    a = make(Source.referral("police", "minor_dispute"))
    a.raise_warning(local(2025, 3, 30))
    a.extend(10, "经批准", local(2025, 3, 30))
    assert not a.watch(local(2025, 4, 5)).warn
    assert a.watch(local(2025, 4, 8)).warn


def test_escalation_fires_once_and_renews_the_deadline(make, directory):
    a = make()  # village people case, no lead
    assert a.watch(local(2025, 3, 31, 23, 59)) == WatchDecision(warn=True)
    overdue = local(2025, 4, 1, 0, 0)
    assert a.watch(overdue) == WatchDecision(escalate=True, overdue=True)  # unwarned: no warning
    a.escalate(overdue, directory, loads={"H410611100-01": 3})
    event = a.pending[-1]
    assert event.type == CASE_ESCALATED
    assert event.data == {
        "reason": "overdue", "escalated_at": "2025-03-31T16:00:00.000000Z",
        "from_unit": VILLAGE, "from_level": "village", "unit": "410611100", "level": "township",
        "previous_handler": "H410611100201-01", "handler": "H410611100-02",
        "lead": "L410611100-01",  # the receiving unit's first leader: someone answers for it
        "previous_due_at": "2025-03-31T15:59:59.999999Z",
        "due_at": "2025-05-01T15:59:59.999999Z",  # a fresh 30 days from 1 April
    }
    assert a.watch(overdue) == WatchDecision()
    with pytest.raises(DomainError, match="no escalation is due"):
        a.escalate(overdue, directory)


def test_key_case_escalates_to_the_city_keeping_its_lead(make, directory):
    a = make(collective=True)
    assert (a.level, a.lead) == ("county", "L410611-01")
    a.escalate(local(2025, 4, 2), directory)
    assert (a.unit, a.level, a.lead) == ("410600", "city", "L410611-01")
    assert a.handler in {h.id for h in directory.eligible_handlers("410600", "people")}


def test_nothing_above_the_city(make, directory):
    a = make(collective=True)
    a.escalate(local(2025, 4, 2), directory)
    late = a.due_at + timedelta(days=1)
    assert a.watch(late) == WatchDecision(overdue=True)
    with pytest.raises(DomainError):
        a.escalate(late, directory)


def test_watch_simulation_fires_everything_exactly_once(make, directory):
    """Tick every 6 hours for five months, doing whatever the watch says."""
    a = make()
    now = REGISTERED
    while now < local(2025, 8, 1):
        due = a.watch(now)
        if due.warn:
            a.raise_warning(now)
        if due.escalate:
            a.escalate(now, directory)
        now += timedelta(hours=6)
    events = a.pending[1:]
    assert [e.type for e in events] == [DEADLINE_WARNING_RAISED, CASE_ESCALATED] * 3 + [
        DEADLINE_WARNING_RAISED]
    warned = [e.data["due_at"] for e in events if e.type == DEADLINE_WARNING_RAISED]
    escalated = [e.data["previous_due_at"] for e in events if e.type == CASE_ESCALATED]
    assert len(set(warned)) == 4 and escalated == warned[:3]
    assert [e.data["level"] for e in events if e.type == CASE_ESCALATED] == [
        "township", "county", "city"]
    assert a.watch(now) == WatchDecision(overdue=True)


# -- reassignment ---------------------------------------------------------------------------------

def test_reassign_to_another_unit_picks_its_least_loaded_handler(make, directory):
    a = make()
    a.reassign("当事人居住在钜桥村", local(2025, 3, 3), directory, unit="410611101201")
    event = a.pending[-1]
    assert event.type == CASE_REASSIGNED
    assert event.data == {"reason": "当事人居住在钜桥村", "from_unit": VILLAGE,
                          "unit": "410611101201", "level": "village",
                          "from_handler": "H410611100201-01", "handler": "H410611101201-01"}


def test_reassign_handler_only(make, directory):
    a = make(Source.referral("court", "delegated"), region="410611")
    a.reassign("回避", local(2025, 3, 3), directory, handler="H410611-02")
    assert (a.unit, a.handler) == ("410611", "H410611-02")


@pytest.mark.parametrize("kwargs, message", [
    ({"unit": "410611100201"}, "does not offer track judicial"),
    ({"unit": "410699"}, "not in the directory"),
    ({"handler": "H410611-05"}, "does not work on track judicial"),  # people's mediator
    ({"handler": "H410611-01"}, "already with this unit and handler"),
    ({}, "name a unit, a handler or both"),
])
def test_illegal_reassignments(make, directory, kwargs, message):
    a = make(Source.referral("court", "delegated"))
    assert a.handler == "H410611-01"
    with pytest.raises(DomainError, match=message):
        a.reassign("原因", local(2025, 3, 3), directory, **kwargs)


def test_key_case_cannot_be_reassigned_below_county(make, directory):
    a = make(repeat=True)
    with pytest.raises(DomainError, match="county level or above"):
        a.reassign("下放", local(2025, 3, 3), directory, unit="410611100")


# -- joint handling -------------------------------------------------------------------------------

def test_joint_handling_of_a_key_case_holds_a_meeting(make, directory):
    a = make(collective=True, category="land_acquisition")
    a.arrange_joint_handling(["petition", "410611", "court", "petition"], "重大疑难信访问题",
                             local(2025, 3, 3), directory)
    event = a.pending[-1]
    assert event.type == JOINT_HANDLING_ARRANGED
    assert event.data["participants"] == ["petition", "410611", "court"]
    assert event.data["meeting"] is True
    assert a.joint_handling == [event.data]


def test_joint_reception_without_meeting_for_ordinary_cases(make, directory):
    a = make()
    a.arrange_joint_handling(["police", "410611100"], "联合接访", local(2025, 3, 3), directory)
    assert a.pending[-1].data["meeting"] is False


@pytest.mark.parametrize("participants, message", [
    (["police"], "at least two"),
    (["police", "police"], "at least two"),
    (["police", "army"], "not an agency or a directory unit: army"),
])
def test_illegal_joint_handling(make, directory, participants, message):
    a = make()
    with pytest.raises(DomainError, match=message):
        a.arrange_joint_handling(participants, "联合接访", local(2025, 3, 3), directory)


# -- closing --------------------------------------------------------------------------------------

def test_closing_stops_the_watch_and_every_command(make, directory):
    a = make(Source.referral("police", "minor_dispute"))
    a.close(local(2025, 3, 20), outcome="agreement")
    assert a.pending[-1].type == ASSIGNMENT_CLOSED
    assert a.pending[-1].data == {"closed_at": "2025-03-20T02:00:00.000000Z",
                                  "outcome": "agreement", "on_time": True}
    assert a.watch(local(2025, 5, 1)) == WatchDecision()
    for command in (lambda: a.extend(5, "x", local(2025, 3, 21)),
                    lambda: a.raise_warning(local(2025, 3, 30)),
                    lambda: a.escalate(local(2025, 4, 2), directory),
                    lambda: a.reassign("x", local(2025, 3, 21), directory, handler="H410611100-03"),
                    lambda: a.arrange_joint_handling(["police", "court"], "x", local(2025, 3, 21),
                                                     directory),
                    lambda: a.close(local(2025, 3, 21))):
        with pytest.raises(DomainError, match="closed"):
            command()


def test_a_case_that_went_overdue_does_not_close_on_time(make, directory):
    a = make()
    a.escalate(local(2025, 4, 1), directory)
    a.close(local(2025, 4, 10))  # well within the renewed deadline
    assert a.pending[-1].data["on_time"] is False
