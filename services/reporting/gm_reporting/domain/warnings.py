"""Early warning (预警): prevention at the source — the rules that watch intake's and
assignment's logs, and the warning a leader acknowledges and closes. Pure: no I/O.

The rules are data (deploy/rules.yaml `early_warning`, read by warnings_file.py); every
figure there is a local default, not law. Each rule is evaluated on the events as they
come, with the clock taken from the events (`occurred_at`), never from the wall: the
same log gives the same warnings, with the same ids, evidence and times, however often
and whenever it is replayed. A warning's id is derived from the rule and what raised it,
so the same evidence never raises a second one.

- hotspot_surge (热点激增): cases of one category in one county over the last
  `window_days`, at least `min_count` and at least `factor` × the baseline (the mean per
  window over the `baseline_windows` windows before). Raised once, then quiet for a window.
- escalation_risk (升级风险): one matter that is repeat, collective and level-skipping
  (越级访) — `min_signals` of the three.
- key_cases_sensitive_period (敏感期重点案件): `lead_days` before a sensitive period
  starts, the key cases (重点案件) of a county still open then and overdue or due before
  the period ends. One warning per period and county. Read from assignment's log alone
  (its AssignmentMade, deadline changes and AssignmentClosed), so one log's order decides.
- high_risk_project (稳评高风险): a project assessed high risk (稳评), and `min_cases`
  more cases of its category registered in its county within `window_days` after.

A sensitive period (holidays, major meetings) is in force from `lead_days` before its
start to its end: it lowers the thresholds (`min_count`, `factor`, `min_cases` scaled by
its `lower_by`; one signal fewer for escalation) and raises a warning's level one step.
"""
from __future__ import annotations

import math
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from gm_contracts import streams
from gm_contracts.assignment_events import (
    AssignmentClosed, AssignmentMade, CaseEscalated, DeadlineExtended, HandlingPeriodStarted,
)
from gm_contracts.intake_events import CaseRegistered, RiskAssessmentRecorded
from gm_contracts.reporting_events import (
    WARNING_LEVELS, WarningAcknowledged, WarningClosed, WarningRaised,
)
from gm_kernel import Aggregate, DomainError, NotRecorded, applies, format_time


#: The namespace of warning ids (uuid5 of the rule and its evidence key).
WARNING_NAMESPACE = uuid.UUID("6f1c3f0e-3b7a-5d2e-9a4c-2f0d7e1b9c55")

SIGNALS = ("repeat", "collective", "level_skipping")


# -- the rules, as data ------------------------------------------------------------------------


@dataclass(frozen=True)
class SensitivePeriod:
    """A configured date range (holiday, major meeting), in local dates, both included."""

    id: str
    name: str
    start: date
    end: date
    lead_days: int = 7
    lower_by: float = 0.5

    @property
    def watch_from(self) -> date:
        return self.start - timedelta(days=self.lead_days)

    def in_force(self, day: date) -> bool:
        return self.watch_from <= day <= self.end


@dataclass(frozen=True)
class HotspotRule:
    level: str = "yellow"
    window_days: int = 7
    baseline_windows: int = 4
    factor: float = 2.0
    min_count: int = 5


@dataclass(frozen=True)
class EscalationRule:
    level: str = "orange"
    min_signals: int = 3


@dataclass(frozen=True)
class KeyCasesRule:
    level: str = "orange"


@dataclass(frozen=True)
class HighRiskRule:
    level: str = "red"
    window_days: int = 90
    min_cases: int = 2


@dataclass(frozen=True)
class WarningRules:
    hotspot: Optional[HotspotRule] = HotspotRule()
    escalation: Optional[EscalationRule] = EscalationRule()
    key_cases: Optional[KeyCasesRule] = KeyCasesRule()
    high_risk: Optional[HighRiskRule] = HighRiskRule()
    periods: Tuple[SensitivePeriod, ...] = ()

    def period_at(self, day: date) -> Optional[SensitivePeriod]:
        """The sensitive period in force on a local day (the earliest, if several)."""
        for period in sorted(self.periods, key=lambda p: (p.start, p.id)):
            if period.in_force(day):
                return period
        return None


def lowered(value: float, period: Optional[SensitivePeriod], floor: float) -> float:
    return value if period is None else max(floor, value * period.lower_by)


def bumped(level: str, period: Optional[SensitivePeriod]) -> str:
    """A level one step higher in a sensitive period (red stays red)."""
    if period is None:
        return level
    return WARNING_LEVELS[min(WARNING_LEVELS.index(level) + 1, len(WARNING_LEVELS) - 1)]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def county_of(region: str) -> str:
    return region[:6]


def warning_id(rule: str, *key: str) -> str:
    return str(uuid.uuid5(WARNING_NAMESPACE, "|".join((rule, *key))))


@dataclass(frozen=True)
class Candidate:
    """A warning a rule decided to raise: what the WarningRaised event says, but for the
    addressees (the region's leaders, from the directory)."""

    warning_id: str
    rule: str
    level: str
    region: str
    raised_at: datetime
    case_ids: Tuple[str, ...]
    counts: Mapping[str, float]
    category: Optional[str] = None
    sensitive_period: Optional[str] = None
    leads: Tuple[str, ...] = ()  # the cases' own lead leaders, addressed too


# -- watching intake's log -------------------------------------------------------------------


@dataclass
class _Project:
    assessment_id: str
    county: str
    category: str
    assessed_at: datetime
    case_ids: List[str] = field(default_factory=list)  # the preventive case first
    related: List[str] = field(default_factory=list)
    raised: bool = False


class IntakeWatch:
    """The rules read from intake's log: hotspot surge, escalation risk, high-risk
    projects. Fold each event in log order with `apply`; it returns what to raise."""

    def __init__(self, rules: WarningRules, tz: tzinfo):
        self.rules, self.tz = rules, tz
        self._by_hotspot: Dict[Tuple[str, str], deque] = defaultdict(deque)
        self._quiet_until: Dict[Tuple[str, str], datetime] = {}
        self._projects: Dict[str, _Project] = {}

    def apply(self, event: Any) -> List[Candidate]:
        if event.type == CaseRegistered.event_type:
            return self._registered(event.data, event.occurred_at)
        if event.type == RiskAssessmentRecorded.event_type:
            self._assessed(event.data, event.occurred_at)
        return []

    def _period(self, at: datetime) -> Optional[SensitivePeriod]:
        return self.rules.period_at(at.astimezone(self.tz).date())

    def _registered(self, d: Mapping[str, Any], at: datetime) -> List[Candidate]:
        period = self._period(at)
        out = []
        for decide in (self._hotspot, self._escalation, self._high_risk):
            found = decide(d, at, period)
            if found is not None:
                out.append(found)
        return out

    def _hotspot(self, d, at, period) -> Optional[Candidate]:
        rule = self.rules.hotspot
        key = (d["category"], county_of(d["region"]))
        cases = self._by_hotspot[key]
        cases.append((at, d["case_id"]))
        if rule is None:
            return None
        window = timedelta(days=rule.window_days)
        while cases[0][0] <= at - window * (rule.baseline_windows + 1):
            cases.popleft()  # older than the baseline reaches: never counted again
        if at < self._quiet_until.get(key, at):
            return None
        in_window = [c for t, c in cases if at - window < t <= at]
        before = sum(1 for t, _ in cases
                     if at - window * (rule.baseline_windows + 1) < t <= at - window)
        baseline = before / rule.baseline_windows
        min_count = math.ceil(lowered(rule.min_count, period, 1))
        factor = lowered(rule.factor, period, 1.0)
        threshold = max(min_count, factor * baseline)
        if len(in_window) < threshold or len(in_window) <= baseline:
            return None
        self._quiet_until[key] = at + window
        return Candidate(
            warning_id("hotspot_surge", key[1], key[0], d["case_id"]), "hotspot_surge",
            bumped(rule.level, period), key[1], at, tuple(in_window),
            {"window": len(in_window), "window_days": rule.window_days,
             "baseline": round(baseline, 2), "threshold": round(threshold, 2)},
            category=d["category"], sensitive_period=period.id if period else None)

    def _escalation(self, d, at, period) -> Optional[Candidate]:
        rule = self.rules.escalation
        if rule is None:
            return None
        signals = [s for s in SIGNALS if d.get(s)]
        needed = rule.min_signals - (1 if period is not None else 0)
        if len(signals) < max(needed, 1):
            return None
        earlier = [e["case_id"] for e in d.get("repeat_of") or ()]
        skipped = list(d.get("level_skipping_of") or ())
        linked = list(dict.fromkeys([*skipped, *earlier]))
        return Candidate(
            warning_id("escalation_risk", d["case_id"]), "escalation_risk",
            bumped(rule.level, period), county_of(d["region"]), at,
            (d["case_id"], *linked),
            {"signals": len(signals), "headcount": d["headcount"],
             "earlier_cases": len(earlier),
             "level_skipping_cases": len(skipped)},
            category=d["category"], sensitive_period=period.id if period else None)

    def _assessed(self, d: Mapping[str, Any], at: datetime) -> None:
        if d.get("level") == "high":
            self._projects[d["assessment_id"]] = _Project(
                d["assessment_id"], county_of(d["region"]), d.get("category") or "other", at)

    def _high_risk(self, d, at, period) -> Optional[Candidate]:
        rule = self.rules.high_risk
        preventive = self._projects.get(d.get("risk_assessment_id") or "")
        if preventive is not None:
            preventive.case_ids.append(d["case_id"])
            return None
        if rule is None:
            return None
        county, window = county_of(d["region"]), timedelta(days=rule.window_days)
        for project in sorted(self._projects.values(), key=lambda p: p.assessment_id):
            if (project.raised or project.county != county
                    or project.category != d["category"]
                    or not project.assessed_at <= at <= project.assessed_at + window):
                continue
            project.related.append(d["case_id"])
            if len(project.related) >= math.ceil(lowered(rule.min_cases, period, 1)):
                project.raised = True
                return Candidate(
                    warning_id("high_risk_project", project.assessment_id),
                    "high_risk_project", bumped(rule.level, period), county, at,
                    (*project.case_ids, *project.related),
                    {"cases": len(project.related), "window_days": rule.window_days},
                    category=project.category,
                    sensitive_period=period.id if period else None)
        return None


# -- watching assignment's log ---------------------------------------------------------------


@dataclass
class _KeyCase:
    case_id: str
    county: str
    registered_at: datetime
    due_at: datetime
    lead: Optional[str]


class AssignmentWatch:
    """Key cases near a sensitive period, from assignment's log: before applying an event
    at time t, every checkpoint (a period's start − lead_days, local midnight) in
    (last event's time, t] is evaluated on what the log said before it."""

    def __init__(self, rules: WarningRules, tz: tzinfo):
        self.rules, self.tz = rules, tz
        self._cases: Dict[str, _KeyCase] = {}
        self._clock: Optional[datetime] = None
        self._checkpoints = sorted(
            (datetime.combine(p.watch_from, time(0), self.tz), p) for p in rules.periods
        ) if rules.key_cases is not None else []

    def apply(self, event: Any) -> List[Candidate]:
        out = self.advance(event.occurred_at)
        case_id = streams.case_id_of(event)
        d = event.data
        if event.type == AssignmentMade.event_type:
            if d.get("key_case"):
                self._cases[case_id] = _KeyCase(
                    case_id, county_of(d["region"]), _instant(d["registered_at"]),
                    _instant(d["due_at"]), d.get("lead"))
        elif case_id in self._cases:
            case = self._cases[case_id]
            if event.type in (DeadlineExtended.event_type, HandlingPeriodStarted.event_type,
                              CaseEscalated.event_type):
                case.due_at = _instant(d["due_at"])
                case.lead = d.get("lead", case.lead)
            elif event.type == AssignmentClosed.event_type:
                del self._cases[case_id]  # settled: never in a warning again
        return out

    def advance(self, now: datetime) -> List[Candidate]:
        """Evaluate the checkpoints the clock passes on its way to `now`."""
        last, out = self._clock, []
        if last is None or now > last:
            self._clock = now
        for at, period in self._checkpoints:
            if (last is None or last < at) and at <= now:
                out.extend(self._key_cases(at, period))
        return out

    def _key_cases(self, at: datetime, period: SensitivePeriod) -> List[Candidate]:
        period_end = datetime.combine(period.end + timedelta(days=1), time(0), self.tz)
        by_county: Dict[str, List[_KeyCase]] = defaultdict(list)
        for case in self._cases.values():
            if case.registered_at < at and case.due_at < period_end:
                by_county[case.county].append(case)
        out = []
        for county, cases in sorted(by_county.items()):
            cases.sort(key=lambda c: (c.registered_at, c.case_id))
            out.append(Candidate(
                warning_id("key_cases_sensitive_period", period.id, county),
                "key_cases_sensitive_period", bumped(self.rules.key_cases.level, period),
                county, at, tuple(c.case_id for c in cases),
                {"unsettled": len(cases), "overdue": sum(1 for c in cases if c.due_at < at),
                 "days_to_period": period.lead_days},
                sensitive_period=period.id,
                leads=tuple(sorted({c.lead for c in cases if c.lead}))))
        return out


# -- the warning a leader handles ------------------------------------------------------------


class WarningNotRecorded(NotRecorded):
    pass


class Warning(Aggregate):
    """A raised warning: open → acknowledged → closed (or open → closed), each by a
    leader with a note."""

    stream_prefix = "warning-"

    def __init__(self, id: str):
        super().__init__(id)
        self.status: Optional[str] = None
        self.region: Optional[str] = None

    @classmethod
    def not_recorded(cls, id: str) -> LookupError:
        return WarningNotRecorded(f"no warning {id}", id)

    def raise_(self, candidate: Candidate, addressed_to: Sequence[str]) -> None:
        if self.exists:
            return  # the same evidence again: raised once
        c = candidate
        self._record(WarningRaised, dict(
            warning_id=self.id, rule=c.rule, level=c.level, region=c.region,
            category=c.category, sensitive_period=c.sensitive_period,
            raised_at=format_time(c.raised_at),
            evidence={"case_ids": list(c.case_ids), "counts": dict(c.counts)},
            addressed_to=list(addressed_to)),
            occurred_at=c.raised_at, actor="reporting-service", correlation_id=self.id)

    def acknowledge(self, by: str, note: str, at: datetime) -> None:
        if self.status != "open":
            raise DomainError(f"warning {self.id} is {self.status}: only an open warning "
                              "is acknowledged")
        self._record(WarningAcknowledged, dict(
            warning_id=self.id, by=by, note=note, acknowledged_at=format_time(at)),
            occurred_at=at, actor=by, correlation_id=self.id)

    def close(self, by: str, note: str, at: datetime) -> None:
        if self.status == "closed":
            raise DomainError(f"warning {self.id} is already closed")
        self._record(WarningClosed, dict(
            warning_id=self.id, by=by, note=note, closed_at=format_time(at)),
            occurred_at=at, actor=by, correlation_id=self.id)

    @applies(WarningRaised)
    def _raised(self, d) -> None:
        self.status, self.region = "open", d["region"]

    @applies(WarningAcknowledged)
    def _acknowledged(self, d) -> None:
        self.status = "acknowledged"

    @applies(WarningClosed)
    def _closed(self, d) -> None:
        self.status = "closed"


def board_entry(entry: Optional[dict], event_type: str, d: Mapping[str, Any]) -> dict:
    """A warning as the board shows it (GET /warnings), folded from its events."""
    if event_type == WarningRaised.event_type:
        return {**{k: d[k] for k in ("warning_id", "rule", "level", "region", "raised_at",
                                      "evidence", "addressed_to")},
                "category": d.get("category"), "sensitive_period": d.get("sensitive_period"),
                "status": "open", "acknowledgement": None, "closure": None}
    entry = dict(entry or {})
    if event_type == WarningAcknowledged.event_type:
        entry.update(status="acknowledged", acknowledgement={
            "by": d["by"], "note": d["note"], "at": d["acknowledged_at"]})
    elif event_type == WarningClosed.event_type:
        entry.update(status="closed", closure={"by": d["by"], "note": d["note"],
                                               "at": d["closed_at"]})
    return entry
