"""The Assignment aggregate: its events, extension limits (in days or working days, with
the notice a petition needs), a petition matter's handling period, reassignment, joint
handling, closing, and the deadline watch: each warning (预警) and supervision (督办)
exactly once, reminders (催办) while overdue — the unit keeps the case and the deadline."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from gm_kernel import DomainError, RecordedEvent

from gm_contracts import assignment_events as events
from gm_assignment.domain import (
    Assignment,
    CaseFacts,
    NoticeRequired,
    Source,
    WatchDecision,
    decide,
    watch,
)

ASSIGNMENT_CLOSED = events.AssignmentClosed.event_type
ASSIGNMENT_MADE = events.AssignmentMade.event_type
CASE_REASSIGNED = events.CaseReassigned.event_type
DEADLINE_EXTENDED = events.DeadlineExtended.event_type
DEADLINE_WARNING_RAISED = events.DeadlineWarningRaised.event_type
HANDLING_PERIOD_STARTED = events.HandlingPeriodStarted.event_type
JOINT_HANDLING_ARRANGED = events.JointHandlingArranged.event_type
SUPERVISION_ORDERED = events.SupervisionOrdered.event_type
SUPERVISION_REMINDED = events.SupervisionReminded.event_type

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTERED = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # a Monday
VILLAGE = "410611100201"


def local(year, month, day, hour=10, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def local_due(a: Assignment) -> date:
    return a.due_at.astimezone(SHANGHAI).date()


@pytest.fixture
def make(directory, rules, calendar):
    """make(source, category, region, **facts) → a freshly assigned Assignment."""
    def _make(source=None, category="neighbour", region=VILLAGE, case_id="case-1", **kw):
        kw.setdefault("registered_at", REGISTERED)
        decision = decide(CaseFacts(source or Source.from_channel("visit"), category, region,
                                    **kw), directory, rules, calendar)
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

def test_assignment_made_carries_the_four_fixes(make):
    a = make()
    assert a.stream_id == "assignment-case-1"
    [event] = a.pending
    assert event.type == ASSIGNMENT_MADE
    assert event.correlation_id == "case-1"
    assert event.occurred_at == REGISTERED + timedelta(seconds=1)
    data = event.data
    assert (data["rule_id"], data["route_id"]) == ("people-mediation", "people-mediation")
    assert data["task"].startswith("由人民调解委员会调解民间纠纷")  # 定任务
    assert data["responsible_leader"] == "L410611100201-01"  # ordinary case: the unit's leader
    assert data["lead"] is None  # no 包案领导 for an ordinary case
    assert data["period"] == {"months": 1} and data["days"] == 31
    assert a.view() == {"track": "people", "level": "village", "unit": VILLAGE, "lead": None,
                        "handler": "H410611100201-01", "due_at": "2026-04-02T15:59:59.999999Z",
                        "extended": False}


def test_assign_twice_is_refused(make, directory, rules, calendar):
    a = make()
    with pytest.raises(DomainError, match="already assigned"):
        a.assign(decide(CaseFacts(Source.from_channel("visit"), "neighbour", VILLAGE, REGISTERED),
                        directory, rules, calendar), REGISTERED)


def test_commands_need_an_assignment(calendar):
    a = Assignment("nothing")
    with pytest.raises(DomainError, match="no assignment"):
        a.extend(5, "reason", REGISTERED, calendar)
    assert watch(a, REGISTERED) == WatchDecision()


def test_state_is_rebuilt_from_the_events(make, directory, calendar):
    a = make(Source.referral("police", "minor_dispute"))  # 3 working days: due 5 March
    a.raise_warning(local(2026, 3, 3))
    a.extend(7, "必要时增加一次调解", local(2026, 3, 4), calendar, actor="leader-1")
    a.supervise(local(2026, 3, 17), directory)
    a.remind(local(2026, 3, 24))
    a.reassign("案情复杂，提级办理", local(2026, 3, 25), directory, unit="410611")
    a.arrange_joint_handling(["police", "petition", "410611100"], "联合接访", local(2026, 3, 26),
                             directory)
    a.close(local(2026, 3, 27), outcome="agreement")
    again = Assignment.load(a.id, recorded(a))
    assert state(again) == state(a)
    assert again.version == len(a.pending) == 8
    assert a.pending[2].actor == "leader-1"


# -- extensions -----------------------------------------------------------------------------------

def test_extension_in_working_days_follows_the_rule(make, calendar):
    a = make(Source.referral("police", "minor_dispute"))
    assert local_due(a) == date(2026, 3, 5)
    a.extend(7, "必要时增加一次调解", local(2026, 3, 4), calendar)
    assert local_due(a) == date(2026, 3, 16)  # 7 working days after 5 March
    event = a.pending[-1]
    assert event.type == DEADLINE_EXTENDED
    assert event.data == {"days": 7, "unit": "working_days", "reason": "必要时增加一次调解",
                          "notified_on": None,
                          "previous_due_at": "2026-03-05T15:59:59.999999Z",
                          "due_at": "2026-03-16T15:59:59.999999Z",
                          "calendar_provisional": False,
                          "extension_number": 1, "extended_days": 7}
    assert a.view()["extended"] is True


def test_a_second_extension_beyond_the_maximum_count_is_refused(make, calendar):
    a = make(Source.referral("police", "minor_dispute"))  # one extension of ≤ 7 working days
    a.extend(3, "再调解一次", local(2026, 3, 3), calendar)
    with pytest.raises(DomainError, match="at most 1 extension"):
        a.extend(1, "还需时间", local(2026, 3, 4), calendar)


def test_extension_beyond_the_maximum_days_is_refused(make, calendar):
    a = make(Source.referral("court", "entrusted"))  # 2025 opinion: +30 with consent, once
    with pytest.raises(DomainError, match="at most 30 extra days"):
        a.extend(31, "双方当事人同意", local(2026, 3, 5), calendar)
    a.extend(30, "双方当事人同意", local(2026, 3, 5), calendar)
    assert local_due(a) == date(2026, 4, 16)


def test_rule_without_extension_refuses_any(make, calendar):
    a = make()  # people's mediation from a channel
    with pytest.raises(DomainError, match="allows no extension"):
        a.extend(1, "需要更多时间", local(2026, 3, 5), calendar)


def test_unlimited_extensions_under_the_2016_rule(make, calendar):
    a = make(Source.referral("court", "entrusted", "simplified"),
             registered_at=local(2024, 6, 3))  # 特邀调解规定 2016: no limit with consent
    for _ in range(3):
        a.extend(7, "双方当事人同意", local(2024, 6, 4), calendar)
    assert a.extension_count == 3
    assert local_due(a) == date(2024, 7, 1)
    assert a.pending[-1].data["calendar_provisional"] is True  # 2024 is not in the calendar


def test_extension_after_the_deadline_is_refused(make, calendar):
    a = make(Source.referral("police", "minor_dispute"))
    with pytest.raises(DomainError, match="deadline has passed"):
        a.extend(3, "迟到的申请", local(2026, 3, 6), calendar)


@pytest.mark.parametrize("days, reason", [(0, "x"), (-1, "x"), (True, "x"), (5, " ")])
def test_extension_needs_positive_days_and_a_reason(make, calendar, days, reason):
    a = make(Source.referral("police", "minor_dispute"))
    with pytest.raises(DomainError):
        a.extend(days, reason, local(2026, 3, 3), calendar)


# -- a petition matter: notice, then the handling period from 受理 -------------------------------

def test_a_petition_matters_handling_period_starts_when_it_is_accepted(make, rules, calendar):
    a = make(Source.from_channel("letter"), category="land_forest")
    assert a.petition_matter and a.stage == "registered"
    assert local_due(a) == date(2026, 3, 17)  # 15 days to tell the petitioner (受理告知)
    rule = rules.select(a.source, a.track, date(2026, 3, 10), category=a.category,
                        stage="accepted")
    a.start_handling("accepted", date(2026, 3, 10), rule, calendar, local(2026, 3, 10))
    event = a.pending[-1]
    assert event.type == HANDLING_PERIOD_STARTED
    assert (event.data["rule_id"], event.data["period"]) == ("petition-handling", {"days": 60})
    assert event.data["previous_due_at"] == "2026-03-17T15:59:59.999999Z"
    # 60 days from 10 March end on Saturday 9 May — a make-up working day (劳动节调休)
    assert local_due(a) == date(2026, 5, 9)
    assert a.stage == "accepted"
    with pytest.raises(DomainError, match="started already"):
        a.start_handling("accepted", date(2026, 3, 11), rule, calendar, local(2026, 3, 11))


def test_a_petitions_extension_needs_the_petitioner_told_why(make, rules, calendar):
    a = make(Source.from_channel("visit"), category="land_forest")
    rule = rules.select(a.source, a.track, date(2026, 3, 10), category=a.category,
                        stage="accepted")
    a.start_handling("accepted", date(2026, 3, 10), rule, calendar, local(2026, 3, 10))
    with pytest.raises(NoticeRequired, match="告知延期理由"):
        a.extend(30, "情况复杂，经负责人批准", local(2026, 5, 1), calendar)
    a.extend(30, "情况复杂，经负责人批准", local(2026, 5, 1), calendar,
             notified_on=date(2026, 5, 1))
    assert a.pending[-1].data["notified_on"] == "2026-05-01"
    assert local_due(a) == date(2026, 6, 8)  # 30 days after 9 May


def test_simple_handling_counts_working_days(make, rules, calendar):
    a = make(Source.from_channel("phone"), category="consumer")
    rule = rules.select(a.source, a.track, date(2026, 3, 10), category=a.category,
                        stage="accepted_simple")
    a.start_handling("accepted_simple", date(2026, 3, 10), rule, calendar, local(2026, 3, 10))
    assert local_due(a) == date(2026, 3, 24)  # 10 working days
    assert a.pending[-1].data["local_default"] is True


def test_only_a_petition_matter_has_a_handling_period(make, rules, calendar):
    a = make()
    rule = rules.select(Source.from_channel("visit"), "administrative", date(2026, 3, 10),
                        category="land_forest", stage="accepted")
    with pytest.raises(DomainError, match="not a petition matter"):
        a.start_handling("accepted", date(2026, 3, 10), rule, calendar, local(2026, 3, 10))


# -- the watch: warning, supervision, reminders ------------------------------------------------

def test_warning_fires_once_per_deadline(make):
    a = make()  # due 2 April, end of day Beijing time
    assert a.watch(local(2026, 3, 20)) == WatchDecision()
    assert a.watch(local(2026, 3, 30, 23, 59)) == WatchDecision()  # more than 3 days left
    assert a.watch(local(2026, 3, 31, 0, 0)) == WatchDecision(warn=True)
    a.raise_warning(local(2026, 3, 31, 0, 0))
    assert a.watch(local(2026, 4, 1)) == WatchDecision()
    with pytest.raises(DomainError, match="no deadline warning is due"):
        a.raise_warning(local(2026, 4, 1))
    event = a.pending[-1]
    assert event.type == DEADLINE_WARNING_RAISED
    assert event.data["due_at"] == "2026-04-02T15:59:59.999999Z"
    assert event.data["handler"] == a.handler
    assert event.data["responsible_leader"] == "L410611100201-01"


def test_warn_days_is_configurable(make):
    a = make()
    assert not a.watch(local(2026, 3, 27), warn_days=3).warn
    assert a.watch(local(2026, 3, 27), warn_days=7).warn


def test_an_extended_deadline_is_warned_again(make, calendar):
    a = make(Source.referral("police", "minor_dispute"))
    a.raise_warning(local(2026, 3, 4))
    a.extend(7, "经批准", local(2026, 3, 4), calendar)
    assert not a.watch(local(2026, 3, 10)).warn
    assert a.watch(local(2026, 3, 14)).warn


def test_overdue_the_leader_above_supervises_and_the_unit_keeps_the_case(make, directory):
    a = make()  # village people case, no lead
    assert a.watch(local(2026, 4, 2, 23, 59)) == WatchDecision(warn=True)
    overdue = local(2026, 4, 3, 0, 0)
    assert a.watch(overdue) == WatchDecision(supervise=True, overdue=True)  # unwarned
    before = (a.unit, a.level, a.handler, a.due_at)
    a.supervise(overdue, directory)
    event = a.pending[-1]
    assert event.type == SUPERVISION_ORDERED
    assert event.data == {
        "supervisor": "L410611100-01", "supervising_unit": "410611100",  # 属地管理, 上级督办
        "ordered_at": "2026-04-02T16:00:00.000000Z", "due_at": "2026-04-02T15:59:59.999999Z",
        "unit": VILLAGE, "handler": "H410611100201-01", "lead": None,
        "responsible_leader": "L410611100201-01",
    }
    assert (a.unit, a.level, a.handler, a.due_at) == before  # the limit never restarts
    assert a.watch(overdue) == WatchDecision(overdue=True)
    with pytest.raises(DomainError, match="no supervision is due"):
        a.supervise(overdue, directory)


def test_reminders_come_every_week_while_it_stays_overdue(make, directory):
    a = make()
    a.supervise(local(2026, 4, 3), directory)
    assert a.watch(local(2026, 4, 9)) == WatchDecision(overdue=True)
    assert a.watch(local(2026, 4, 10)) == WatchDecision(remind=True, overdue=True)
    a.remind(local(2026, 4, 10))
    event = a.pending[-1]
    assert event.type == SUPERVISION_REMINDED
    assert (event.data["supervisor"], event.data["reminder_number"],
            event.data["days_overdue"]) == ("L410611100-01", 1, 8)
    assert a.watch(local(2026, 4, 16)) == WatchDecision(overdue=True)
    assert a.watch(local(2026, 4, 17), remind_every_days=7).remind


def test_a_key_case_is_supervised_by_the_citys_leader(make, directory):
    a = make(collective=True)
    assert (a.level, a.lead) == ("county", "L410611-01")
    a.supervise(local(2026, 4, 3), directory)
    assert a.supervisor == "L410600-01"
    assert (a.unit, a.lead) == ("410611", "L410611-01")


def test_a_city_case_is_supervised_by_the_citys_own_leader(make, directory):
    a = make(Source.referral("court", "delegated"), region="410671400")  # city court office
    assert a.unit == "410600"
    a.supervise(a.due_at + timedelta(seconds=1), directory)
    assert a.supervisor == "L410600-01"


def test_watch_simulation_fires_everything_exactly_once(make, directory):
    """Tick every 6 hours for two months, doing whatever the watch says."""
    a = make()
    now = REGISTERED
    while now < local(2026, 6, 1):
        due = a.watch(now)
        if due.warn:
            a.raise_warning(now)
        if due.supervise:
            a.supervise(now, directory)
        if due.remind:
            a.remind(now)
        now += timedelta(hours=6)
    types = [e.type for e in a.pending[1:]]
    # warned, supervised on 3 April, reminded weekly until 1 June (8 weeks)
    assert types == [DEADLINE_WARNING_RAISED, SUPERVISION_ORDERED] + [SUPERVISION_REMINDED] * 8
    assert [e.data["reminder_number"] for e in a.pending[3:]] == list(range(1, 9))
    assert a.unit == VILLAGE and local_due(a) == date(2026, 4, 2)


# -- reassignment: how a case changes level ------------------------------------------------------

def test_reassign_to_another_unit_picks_its_least_loaded_handler(make, directory):
    a = make()
    a.reassign("当事人居住在钜桥村", local(2026, 3, 3), directory, unit="410611101201")
    event = a.pending[-1]
    assert event.type == CASE_REASSIGNED
    assert event.data == {"reason": "当事人居住在钜桥村", "from_unit": VILLAGE,
                          "unit": "410611101201", "level": "village", "from_level": "village",
                          "from_handler": "H410611100201-01", "handler": "H410611101201-01",
                          "responsible_leader": "L410611101201-01"}


def test_a_leader_moves_an_overdue_case_up_a_level_keeping_its_deadline(make, directory):
    a = make()
    a.supervise(local(2026, 4, 3), directory)
    a.reassign("督办后仍未化解，提级至镇调委会", local(2026, 4, 4), directory, unit="410611100")
    assert (a.unit, a.level, local_due(a)) == ("410611100", "township", date(2026, 4, 2))
    assert a.pending[-1].data["from_level"] == "village"


def test_reassign_handler_only(make, directory):
    a = make(Source.referral("court", "delegated"), region="410611")
    a.reassign("回避", local(2026, 3, 3), directory, handler="H410611-02")
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
        a.reassign("原因", local(2026, 3, 3), directory, **kwargs)


def test_key_case_cannot_be_reassigned_below_county(make, directory):
    a = make(repeat=True)
    with pytest.raises(DomainError, match="county level or above"):
        a.reassign("下放", local(2026, 3, 3), directory, unit="410611100")


# -- joint handling -------------------------------------------------------------------------------

def test_joint_handling_of_a_key_case_holds_a_meeting(make, directory):
    a = make(collective=True, category="land_acquisition")
    a.arrange_joint_handling(["petition", "410611", "court", "petition"], "重大疑难信访问题",
                             local(2026, 3, 3), directory)
    event = a.pending[-1]
    assert event.type == JOINT_HANDLING_ARRANGED
    assert event.data["participants"] == ["petition", "410611", "court"]
    assert event.data["meeting"] is True
    assert a.joint_handling == [event.data]


def test_joint_reception_without_meeting_for_ordinary_cases(make, directory):
    a = make()
    a.arrange_joint_handling(["police", "410611100"], "联合接访", local(2026, 3, 3), directory)
    assert a.pending[-1].data["meeting"] is False


@pytest.mark.parametrize("participants, message", [
    (["police"], "at least two"),
    (["police", "police"], "at least two"),
    (["police", "army"], "not an agency or a directory unit: army"),
])
def test_illegal_joint_handling(make, directory, participants, message):
    a = make()
    with pytest.raises(DomainError, match=message):
        a.arrange_joint_handling(participants, "联合接访", local(2026, 3, 3), directory)


# -- closing --------------------------------------------------------------------------------------

def test_closing_stops_the_watch_and_every_command(make, directory, calendar):
    a = make(Source.referral("police", "minor_dispute"))
    a.close(local(2026, 3, 4), outcome="agreement")
    assert a.pending[-1].type == ASSIGNMENT_CLOSED
    assert a.pending[-1].data == {"closed_at": "2026-03-04T02:00:00.000000Z",
                                  "outcome": "agreement", "on_time": True}
    assert a.watch(local(2026, 5, 1)) == WatchDecision()
    for command in (lambda: a.extend(5, "x", local(2026, 3, 4), calendar),
                    lambda: a.raise_warning(local(2026, 3, 4)),
                    lambda: a.supervise(local(2026, 4, 2), directory),
                    lambda: a.remind(local(2026, 4, 20)),
                    lambda: a.reassign("x", local(2026, 3, 4), directory, handler="H410611100-05"),
                    lambda: a.arrange_joint_handling(["police", "court"], "x", local(2026, 3, 4),
                                                     directory),
                    lambda: a.close(local(2026, 3, 4))):
        with pytest.raises(DomainError, match="closed"):
            command()


def test_a_case_closed_after_its_deadline_is_not_on_time(make, directory):
    a = make()
    a.supervise(local(2026, 4, 3), directory)
    a.close(local(2026, 4, 10))
    assert a.pending[-1].data["on_time"] is False


def test_older_escalation_events_still_apply(make):
    """Streams recorded before 督办 replaced escalation hold CaseEscalated: still facts."""
    a = make()
    events = recorded(a) + [RecordedEvent(
        id="e2", stream_id=a.stream_id, version=2, position=2, type="CaseEscalated",
        schema_version=1, occurred_at=local(2026, 4, 3), correlation_id=a.id, data={
            "reason": "overdue", "escalated_at": "2026-04-02T16:00:00.000000Z",
            "from_unit": VILLAGE, "from_level": "village", "unit": "410611100",
            "level": "township", "previous_handler": "H410611100201-01",
            "handler": "H410611100-01", "lead": "L410611100-01",
            "previous_due_at": "2026-04-02T15:59:59.999999Z",
            "due_at": "2026-05-03T15:59:59.999999Z"})]
    old = Assignment.load(a.id, events)
    assert (old.unit, old.escalations, old.supervised) == ("410611100", 1, True)
    old.close(local(2026, 4, 10))
    assert old.pending[-1].data["on_time"] is False
