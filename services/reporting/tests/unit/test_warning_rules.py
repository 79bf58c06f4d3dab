"""The early-warning rules (gm_reporting.domain.warnings), pure: events in, warnings out,
the clock from the events. Each rule fires at its threshold and not below it, once for the
same evidence; sensitive periods lower the thresholds and raise the level; the same log
gives the same warnings."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from itertools import count
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from gm_kernel import DomainError
from gm_reporting.domain.warnings import (
    AssignmentWatch, HighRiskRule, IntakeWatch, SensitivePeriod, Warning,
    WarningRules, board_entry,
)

TZ = ZoneInfo("Asia/Shanghai")
QIBIN, SHANCHENG = "410611", "410602"
VILLAGE = "410611100201"
START = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)  # a Monday, 10:00 in Shanghai
NEW_YEAR = SensitivePeriod("2027-new-year", "元旦", date(2027, 1, 1), date(2027, 1, 3),
                           lead_days=7, lower_by=0.5)
RULES = WarningRules(periods=(NEW_YEAR,))
CHECKPOINT_NEW_YEAR = datetime(2026, 12, 25, 0, 0, tzinfo=TZ)
_ids = count(1)


def event(type_: str, at: datetime, **data):
    return SimpleNamespace(type=type_, data=data, occurred_at=at,
                           stream_id=f"x-{data.get('case_id', '')}",
                           correlation_id=data.get("case_id"))


def registered(at: datetime, category="neighbour", region=VILLAGE, **flags):
    case_id = flags.pop("case_id", f"c{next(_ids)}")
    return event("CaseRegistered", at, case_id=case_id, category=category, region=region,
                 headcount=flags.pop("headcount", 1), repeat_of=flags.pop("repeat_of", []),
                 risk_assessment_id=flags.pop("risk_assessment_id", None), **flags)


def feed(watch, events):
    return [c for e in events for c in watch.apply(e)]


# -- hotspot surge -----------------------------------------------------------------------------


def baseline(weeks=4, per_week=1, category="neighbour", region=VILLAGE):
    """`per_week` cases a week over the `weeks` before START + 28 days."""
    origin = START
    return [registered(origin + timedelta(days=7 * w, hours=h), category, region)
            for w in range(weeks) for h in range(per_week)]


def test_a_surge_over_the_baseline_raises_once_with_the_window_as_evidence():
    watch = IntakeWatch(RULES, TZ)
    assert feed(watch, baseline()) == []
    week5 = START + timedelta(days=28, hours=1)
    surge = [registered(week5 + timedelta(hours=6 * i)) for i in range(6)]
    raised = feed(watch, surge)
    [w] = raised
    assert (w.rule, w.level, w.region, w.category) == ("hotspot_surge", "yellow", QIBIN,
                                                        "neighbour")
    assert w.case_ids == tuple(e.data["case_id"] for e in surge[:5])
    assert w.raised_at == surge[4].occurred_at
    assert w.counts == {"window": 5, "window_days": 7, "baseline": 1.0, "threshold": 5}
    assert w.sensitive_period is None


def test_no_surge_below_the_minimum_or_the_factor_nor_in_another_category_or_county():
    watch = IntakeWatch(RULES, TZ)
    week5 = START + timedelta(days=28, hours=1)
    quiet = (baseline(per_week=4)  # baseline 4 a week: 5 is not twice that
             + [registered(week5 + timedelta(hours=i)) for i in range(5)]
             + [registered(week5 + timedelta(hours=i), category="labour") for i in range(4)]
             + [registered(week5 + timedelta(hours=i), region="410602100")
                for i in range(4)])
    assert feed(watch, quiet) == []


def test_after_a_surge_the_same_hotspot_is_quiet_for_a_window_then_may_raise_again():
    watch = IntakeWatch(RULES, TZ)
    t = START
    [first] = feed(watch, [registered(t + timedelta(hours=i)) for i in range(7)])
    more = [registered(t + timedelta(days=2, hours=i)) for i in range(3)]
    assert feed(watch, more) == []  # 10 in the window, but the same episode
    later = [registered(t + timedelta(days=8, hours=i)) for i in range(5)]
    [second] = feed(watch, later)  # the quiet window is over: a new episode
    assert second.warning_id != first.warning_id
    assert second.case_ids == tuple(e.data["case_id"] for e in more + later[:2])
    assert second.counts["baseline"] == 1.75  # the first surge's 7 cases, over 4 windows


def test_a_sensitive_period_lowers_the_threshold_and_raises_the_level():
    watch = IntakeWatch(RULES, TZ)
    before = datetime(2026, 12, 25, 2, 0, tzinfo=timezone.utc)  # 25 Dec local: in force
    [w] = feed(watch, [registered(before + timedelta(hours=i)) for i in range(3)])
    assert (w.level, w.sensitive_period, w.counts["threshold"]) == ("orange",
                                                                     "2027-new-year", 3)
    outside = IntakeWatch(RULES, TZ)
    assert feed(outside, [registered(START + timedelta(hours=i)) for i in range(3)]) == []


# -- escalation risk ---------------------------------------------------------------------------


def test_a_repeat_collective_level_skipping_matter_raises_linked_to_the_lower_cases():
    watch = IntakeWatch(RULES, TZ)
    [w] = feed(watch, [registered(
        START, "land_acquisition", QIBIN, case_id="c-top", repeat=True, collective=True,
        headcount=12, level_skipping=True, level_skipping_of=["c-low"],
        repeat_of=[{"case_id": "c-low"}, {"case_id": "c-older"}])])
    assert (w.rule, w.level, w.region) == ("escalation_risk", "orange", QIBIN)
    assert w.case_ids == ("c-top", "c-low", "c-older")
    assert w.counts == {"signals": 3, "headcount": 12, "earlier_cases": 2,
                        "level_skipping_cases": 1}


def test_two_signals_raise_only_in_a_sensitive_period():
    two = dict(repeat=True, collective=True, headcount=6, repeat_of=[{"case_id": "c-0"}])
    assert feed(IntakeWatch(RULES, TZ), [registered(START, "labour", **two)]) == []
    near = datetime(2026, 12, 26, 2, 0, tzinfo=timezone.utc)
    [w] = feed(IntakeWatch(RULES, TZ), [registered(near, "labour", **two)])
    assert (w.level, w.sensitive_period) == ("red", "2027-new-year")


# -- high-risk projects (稳评) ---------------------------------------------------------------------


def assessed(at, level="high", region=QIBIN, category="land_acquisition", aid="r-1"):
    return event("RiskAssessmentRecorded", at, assessment_id=aid, project="高铁站征地",
                 region=region, level=level, category=category)


def test_a_high_risk_project_with_more_cases_of_its_kind_raises_once():
    watch = IntakeWatch(WarningRules(hotspot=None), TZ)
    t = START
    events = [assessed(t),
              registered(t + timedelta(minutes=1), "land_acquisition", QIBIN,
                         case_id="c-prev", risk_assessment_id="r-1"),
              registered(t + timedelta(days=3), "land_acquisition", "410611100",
                         case_id="c-a"),
              registered(t + timedelta(days=4), "neighbour", QIBIN),          # other kind
              registered(t + timedelta(days=5), "land_acquisition", SHANCHENG),  # elsewhere
              registered(t + timedelta(days=9), "land_acquisition", VILLAGE, case_id="c-b"),
              registered(t + timedelta(days=10), "land_acquisition", VILLAGE, case_id="c-c")]
    [w] = feed(watch, events)
    assert (w.rule, w.level, w.region) == ("high_risk_project", "red", QIBIN)
    assert w.case_ids == ("c-prev", "c-a", "c-b")
    assert w.counts == {"cases": 2, "window_days": 90}


def test_a_medium_risk_or_cases_after_the_window_raise_nothing():
    rules = WarningRules(hotspot=None, high_risk=HighRiskRule(window_days=30, min_cases=1))
    watch = IntakeWatch(rules, TZ)
    assert feed(watch, [assessed(START, level="medium"),
                        registered(START + timedelta(days=1), "land_acquisition", QIBIN),
                        assessed(START, aid="r-2"),
                        registered(START + timedelta(days=31), "land_acquisition",
                                   QIBIN)]) == []


# -- key cases before a sensitive period ----------------------------------------------------------


def made(case_id, at, due, key=True, region=VILLAGE, lead="leader-qb-1"):
    return event("AssignmentMade", at, case_id=case_id, key_case=key, region=region,
                 registered_at=at.isoformat(), due_at=due.isoformat(), lead=lead)


def test_key_cases_open_before_a_sensitive_period_raise_one_warning_per_county_at_the_checkpoint():
    watch = AssignmentWatch(RULES, TZ)
    dec = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
    checkpoint = datetime(2026, 12, 25, 0, 0, tzinfo=TZ)  # 1 Jan − 7 days, local midnight
    events = [
        made("k-overdue", dec, dec + timedelta(days=20)),             # due 21 Dec: overdue
        made("k-due-in-period", dec + timedelta(days=1), datetime(2027, 1, 2, tzinfo=TZ),
             lead="leader-qb-2"),
        made("k-closed", dec + timedelta(days=2), dec + timedelta(days=10)),
        made("k-later", dec + timedelta(days=3), datetime(2027, 1, 20, tzinfo=TZ)),
        made("not-key", dec + timedelta(days=3), dec + timedelta(days=5), key=False),
        made("k-other", dec + timedelta(days=4), dec + timedelta(days=40),
             region="410602100", lead=None),
        event("DeadlineExtended", dec + timedelta(days=5), case_id="k-other",
              due_at=datetime(2026, 12, 30, tzinfo=TZ).isoformat()),
        event("AssignmentClosed", dec + timedelta(days=6), case_id="k-closed"),
    ]
    assert feed(watch, events) == []
    after = made("k-new", checkpoint + timedelta(hours=1), checkpoint + timedelta(days=2))
    raised = watch.apply(after)
    assert [(w.region, w.case_ids) for w in raised] == [
        (SHANCHENG, ("k-other",)), (QIBIN, ("k-overdue", "k-due-in-period"))]
    qibin = raised[1]
    assert qibin.raised_at == checkpoint and qibin.level == "red"  # orange, one up
    assert qibin.counts == {"unsettled": 2, "overdue": 1, "days_to_period": 7}
    assert qibin.leads == ("leader-qb-1", "leader-qb-2")
    assert watch.apply(made("k-x", checkpoint + timedelta(days=1), checkpoint)) == []


# -- determinism, and the warning itself ------------------------------------------------------------


def test_the_same_log_gives_the_same_warnings():
    log = baseline() + [registered(START + timedelta(days=28, hours=i)) for i in range(8)]
    first, second = IntakeWatch(RULES, TZ), IntakeWatch(RULES, TZ)
    assert feed(first, log) == feed(second, log) != []


def test_a_warning_is_raised_once_acknowledged_then_closed_by_a_leader():
    [candidate] = feed(IntakeWatch(RULES, TZ), [registered(START + timedelta(hours=i))
                                                 for i in range(5)])
    warning = Warning(candidate.warning_id)
    warning.raise_(candidate, ["leader-qb-1"])
    warning.raise_(candidate, ["leader-qb-1"])
    assert len(warning.pending) == 1 and warning.status == "open"
    at = START + timedelta(days=1)
    warning.acknowledge("leader-qb", "已安排排查", at)
    with pytest.raises(DomainError):
        warning.acknowledge("leader-qb", "again", at)
    warning.close("leader-qb", "已化解", at + timedelta(days=1))
    with pytest.raises(DomainError):
        warning.close("leader-qb", "again", at)
    entry = None
    for e in warning.pending:
        entry = board_entry(entry, e.type, e.data)
    assert entry["status"] == "closed" and entry["addressed_to"] == ["leader-qb-1"]
    assert entry["evidence"]["case_ids"] == list(candidate.case_ids)
    assert entry["acknowledgement"]["note"] == "已安排排查"
    assert entry["closure"] == {"by": "leader-qb", "note": "已化解",
                                "at": "2026-11-04T02:00:00.000000Z"}


def test_a_control_month_of_ordinary_traffic_raises_nothing():
    """November: two cases a day across categories and counties, some repeat or
    collective (never all three), a medium-risk project, key cases all closed or due
    after the next sensitive period."""
    intake, assignment = IntakeWatch(RULES, TZ), AssignmentWatch(RULES, TZ)
    categories = ("neighbour", "labour", "contract", "marriage_family")
    counties = (QIBIN, SHANCHENG, "410621")
    events, key_events = [assessed(START, level="medium")], []
    for day in range(28):
        for k in range(2):
            n = day * 2 + k
            at = START + timedelta(days=day, hours=3 * k)
            flags = {"repeat": True, "repeat_of": [{"case_id": "c-old"}]} if n % 5 == 0 \
                else {"collective": True, "headcount": 6} if n % 7 == 0 else {}
            e = registered(at, categories[n % 4], counties[n % 3] + "100", **flags)
            events.append(e)
            if flags:
                key_events.append(made(e.data["case_id"], at, at + timedelta(days=10)))
                key_events.append(event("AssignmentClosed", at + timedelta(days=5),
                                        case_id=e.data["case_id"]))
    key_events.append(made("k-late", START, datetime(2027, 1, 10, tzinfo=TZ)))
    key_events.sort(key=lambda e: e.occurred_at)
    key_events.append(made("k-after", CHECKPOINT_NEW_YEAR + timedelta(hours=1),
                           CHECKPOINT_NEW_YEAR + timedelta(days=30), key=False))
    assert feed(intake, events) == []
    assert feed(assignment, key_events) == []
