"""The assignment service's use cases: placing registered cases, the deadline watch, and
the leaders' commands. Between the pure domain and the Nameko entrypoints; no Nameko here.

Inputs arrive as other services' events (through `gm_platform.feed.EventFeed`, which
hands each event over once, in its source's log order, with the tracking record to
commit alongside) and as commands from leaders. Every effect is one store commit.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from gm_directory.directory import Directory
from gm_kernel.follow import LogFollower
from gm_kernel import (
    ConcurrencyError,
    DomainError,
    DuplicateMessage,
    EventStore,
    RecordedEvent,
    Tracking,
    format_time,
    parse_time,
)

from gm_kernel.calendar import WorkingCalendar

from .domain import (
    ASSIGNMENT_CLOSED,
    ASSIGNMENT_MADE,
    CASE_ESCALATED,
    CASE_REASSIGNED,
    DEADLINE_EXTENDED,
    HANDLING_PERIOD_STARTED,
    Assignment,
    CaseFacts,
    DecisionError,
    NoRuleInForce,
    RuleBook,
    Source,
    decide,
)

log = logging.getLogger(__name__)

ACTOR = "assignment-service"  # the actor of what the service decides by itself
WATCH_TRACKING = "deadline-watch"
COMMAND_RETRIES = 3


class UnknownCase(LookupError):
    """No assignment is recorded for this case (not registered, or not yet placed)."""


# Intake's preventive case opened by a high stability risk (稳评) has this channel; like
# screening (排查) it is found by the authorities, not petitioned, so it is placed and
# timed as a screening case (and, being a key case, at county level with a lead).
RISK_CHANNEL = "risk_assessment"


def case_facts(data: Mapping) -> CaseFacts:
    """What assignment needs from intake's CaseRegistered."""
    if data.get("source_agency"):
        source = Source.referral(data["source_agency"], data["kind"], data.get("procedure"))
    else:
        channel = data["channel"]
        source = Source.from_channel("screening" if channel == RISK_CHANNEL else channel)
    return CaseFacts(
        source=source, category=data["category"], region=data["region"],
        registered_at=parse_time(data["registered_at"]),
        collective=bool(data.get("collective")), repeat=bool(data.get("repeat")),
        key_case=bool(data.get("key_case")), leader=data.get("leader"),
        requested_days=data.get("requested_days"),
    )


@dataclass
class OpenCase:
    handler: str
    due_at: datetime


class OpenCases(LogFollower):
    """Open assignments (handler, deadline), read from this service's own log: handler
    loads and the watch's work list, shared by every replica through the store."""

    def __init__(self, store: EventStore):
        super().__init__(store)
        self.cases: Dict[str, OpenCase] = {}

    def apply(self, event: RecordedEvent) -> None:
        case_id, data = event.correlation_id, event.data
        if event.type == ASSIGNMENT_MADE:
            self.cases[case_id] = OpenCase(data["handler"], parse_time(data["due_at"]))
        elif case_id not in self.cases:
            return
        elif event.type in (CASE_ESCALATED, CASE_REASSIGNED):
            self.cases[case_id].handler = data["handler"]
            if "due_at" in data:
                self.cases[case_id].due_at = parse_time(data["due_at"])
        elif event.type in (DEADLINE_EXTENDED, HANDLING_PERIOD_STARTED):
            self.cases[case_id].due_at = parse_time(data["due_at"])
        elif event.type == ASSIGNMENT_CLOSED:
            del self.cases[case_id]

    def loads(self) -> Mapping[str, int]:
        """Open cases per handler id (for choosing the least-loaded handler)."""
        self.refresh()
        return Counter(c.handler for c in self.cases.values())

    def due_by(self, moment: datetime) -> List[str]:
        """Open cases whose deadline falls at or before `moment`, soonest first."""
        self.refresh()
        return [cid for cid, c in sorted(self.cases.items(), key=lambda kv: kv[1].due_at)
                if c.due_at <= moment]


class Assigning:
    """Places cases (四定), watches their deadlines and carries out leaders' commands."""

    def __init__(self, store: EventStore, directory: Directory, rules: RuleBook,
                 calendar: WorkingCalendar, clock: Callable[[], datetime],
                 warn_days: Optional[int] = None):
        self.store = store
        self.directory = directory
        self.rules = rules
        self.calendar = calendar
        self.clock = clock
        self.warn_days = rules.warn_days if warn_days is None else warn_days
        self.open_cases = OpenCases(store)

    # -- loading -----------------------------------------------------------------------
    def load(self, case_id: str) -> Assignment:
        agg = Assignment.load(case_id, self.store.read_stream(Assignment.stream_prefix + case_id))
        if not agg.exists:
            raise UnknownCase(case_id)
        return agg

    # -- events from intake and mediation (EventFeed appliers) ---------------------------
    def on_intake_event(self, event: RecordedEvent, tracking: Tracking) -> bool:
        """CaseRegistered → AssignmentMade (or AssignmentFailed, kept with its reason)."""
        if event.type != "CaseRegistered":
            return False
        case_id = event.data["case_id"]
        agg = Assignment(case_id)
        meta = dict(actor=ACTOR, causation_id=event.id, agency=event.agency)
        now = self.clock()
        try:
            decision = decide(case_facts(event.data), self.directory, self.rules,
                              self.calendar, self.open_cases.loads())
            agg.assign(decision, now, **meta)
        except (DecisionError, KeyError, ValueError) as exc:
            log.error("case %s cannot be assigned: %s", case_id, exc)
            agg.fail(str(exc) if not isinstance(exc, KeyError) else f"missing field {exc}",
                     now, **meta)
        self.store.append(agg.stream_id, 0, agg.pending, tracking=tracking)
        return True

    def on_mediation_event(self, event: RecordedEvent, tracking: Tracking) -> bool:
        """CaseClosed → AssignmentClosed: the watch stops, on-time is settled.
        PetitionAccepted (受理) → HandlingPeriodStarted: a petition matter's handling
        period (60 days, or 简易办理's) runs from the day it was accepted."""
        if event.type not in ("CaseClosed", "PetitionAccepted"):
            return False
        try:
            agg = self.load(event.data["case_id"])
        except UnknownCase:
            return False
        if agg.closed or agg.failure is not None:
            return False
        meta = dict(actor=ACTOR, causation_id=event.id)
        if event.type == "CaseClosed":
            closed_at = parse_time(event.data["closed_at"]) if event.data.get("closed_at") \
                else event.occurred_at
            agg.close(closed_at, outcome=event.data.get("outcome"), **meta)
        else:
            if not agg.petition_matter or agg.stage != "registered":
                return False
            accepted_on = date.fromisoformat(event.data["accepted_on"])
            stage = "accepted_simple" if event.data.get("simple") else "accepted"
            try:
                rule = self.rules.select(agg.source, agg.track, accepted_on,
                                         category=agg.category, stage=stage)
            except NoRuleInForce as exc:
                log.error("case %s: %s", agg.id, exc)
                return False
            agg.start_handling(stage, accepted_on, rule, self.calendar, self.clock(), **meta)
        self.store.append(agg.stream_id, agg.version_before, agg.pending, tracking=tracking)
        return True

    # -- the deadline watch -------------------------------------------------------------
    def run_watch(self, interval: float) -> Optional[Dict[str, int]]:
        """One watch run: warn of near deadlines (预警), have passed ones supervised by the
        leader above (督办, once per deadline) and remind them while overdue (催办).

        Runs are numbered by the clock (now // interval); a replica first claims the
        number with a tracking record, so of several replicas one acts per run (None
        for the others). Exactly-once per deadline does not depend on that claim: each
        warning, supervision or reminder is an append at the aggregate's version, and the
        watch state it changes makes a second one not due.
        """
        now = self.clock()
        run = int(now.timestamp() // max(interval, 0.001))
        try:
            self.store.append(None, None, tracking=Tracking(WATCH_TRACKING, run))
        except DuplicateMessage:
            return None
        done = {"warned": 0, "supervised": 0, "reminded": 0, "failed": 0}
        # Overdue cases stay on the list (reminders); warnings look warn_days ahead.
        for case_id in self.open_cases.due_by(now + timedelta(days=self.warn_days)):
            try:
                outcome = self._watch_one(case_id, now)
            except Exception as exc:  # one bad case must not stop the others
                log.error("deadline watch: case %s: %s: %s", case_id, type(exc).__name__, exc)
                outcome = "failed"
            if outcome:
                done[outcome] += 1
        return done

    def _watch_one(self, case_id: str, now: datetime) -> Optional[str]:
        for _ in range(COMMAND_RETRIES):
            agg = self.load(case_id)
            due = agg.watch(now, self.warn_days, self.rules.remind_every_days)
            meta = dict(actor=ACTOR)
            if due.supervise:
                agg.supervise(now, self.directory, **meta)
                outcome = "supervised"
            elif due.remind:
                agg.remind(now, self.rules.remind_every_days, **meta)
                outcome = "reminded"
            elif due.warn:
                agg.raise_warning(now, self.warn_days, **meta)
                outcome = "warned"
            else:
                return None
            try:
                self.store.append(agg.stream_id, agg.version_before, agg.pending)
                return outcome
            except ConcurrencyError:
                continue  # a command or another watcher moved it: look again
        return None

    # -- leaders' commands --------------------------------------------------------------
    def command(self, case_id: str, act: Callable[[Assignment, datetime], None],
                may_see: Callable[[str], None]) -> Assignment:
        """Load, check the caller may see the case's region, act, append; a concurrent
        change is retried on the fresh state (the command is decided again)."""
        for attempt in range(COMMAND_RETRIES):
            agg = self.load(case_id)
            may_see(agg.region or "")
            act(agg, self.clock())
            try:
                self.store.append(agg.stream_id, agg.version_before, agg.pending)
                return agg
            except ConcurrencyError:
                if attempt == COMMAND_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def extend(self, case_id: str, days: int, reason: str, actor: str,
               may_see: Callable[[str], None], notified_on: Optional[date] = None
               ) -> Assignment:
        return self.command(case_id, lambda a, now: a.extend(
            days, reason, now, self.calendar, notified_on=notified_on, actor=actor), may_see)

    def reassign(self, case_id: str, reason: str, actor: str, may_see: Callable[[str], None],
                 unit: Optional[str] = None, handler: Optional[str] = None) -> Assignment:
        def act(agg: Assignment, now: datetime) -> None:
            agg.reassign(reason, now, self.directory, unit=unit, handler=handler,
                         loads=self.open_cases.loads(), actor=actor)
        return self.command(case_id, act, may_see)

    def arrange_joint_handling(self, case_id: str, participants: Sequence[str], reason: str,
                               actor: str, may_see: Callable[[str], None],
                               meeting: Optional[bool] = None) -> Assignment:
        def act(agg: Assignment, now: datetime) -> None:
            agg.arrange_joint_handling(participants, reason, now, self.directory,
                                       meeting=meeting, actor=actor)
        return self.command(case_id, act, may_see)

    def view(self, case_id: str, may_see: Callable[[str], None]) -> dict:
        agg = self.load(case_id)
        may_see(agg.region or "")
        return self.describe(agg)

    def describe(self, agg: Assignment) -> dict:
        """The assignment as leaders read it (CONTRACT's fields, and more)."""
        case_id = agg.id
        if agg.failure is not None:
            raise DomainError(f"case {case_id} could not be assigned: {agg.failure}")
        view = agg.view()
        deadline = agg.deadline
        view.update(
            case_id=case_id, task=agg.task, responsible_leader=agg.responsible_leader,
            key_case=agg.key_case, petition_matter=agg.petition_matter, stage=agg.stage,
            rule_id=agg.rule_id, period=deadline.period.to_data() if deadline else None,
            legal_basis=deadline.legal_basis if deadline else None,
            local_default=deadline.local_default if deadline else None,
            calendar_provisional=deadline.provisional if deadline else None,
            extension_count=agg.extension_count, joint_handling=agg.joint_handling,
            supervision=None if not agg.supervised else {
                "supervisor": agg.supervisor, "reminders": agg.reminders,
                "last_at": format_time(agg.last_supervision_at)
                if agg.last_supervision_at else None},
            escalations=agg.escalations, closed=agg.closed,
            overdue=agg.watch(self.clock(), self.warn_days).overdue)
        return view
