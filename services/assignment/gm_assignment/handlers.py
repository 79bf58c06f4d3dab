"""The assignment service's use cases: placing registered cases (四定), the deadline watch
and the leaders' commands. Each handler is registered against what it handles (EVENTS,
COMMANDS) and run by the message bus in one unit of work (gm_platform.messagebus): it
loads the Assignment, calls a command of the domain, and the bus commits what it decided
— with the feed's tracking record, or the caller's idempotency key. No Nameko here.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Dict, Optional

from gm_contracts import intake_events, mediation_events
from gm_contracts.streams import case_id_of
from gm_kernel import DuplicateMessage, RecordedEvent, Tracking, parse_time
from gm_platform.bootstrap import Application
from gm_platform.messagebus import Caller, UnitOfWork

from .adapters.open_cases import OpenCases
from .commands import (
    ArrangeJointHandling, CheckDeadline, ClaimWatchRun, ExtendDeadline, Reassign,
)
from .domain import Assignment, CaseFacts, DecisionError, NoRuleInForce, decide, local_date, roster

log = logging.getLogger(__name__)

ACTOR = "assignment-service"  # the actor of what the service decides by itself
WATCH_TRACKING = "deadline-watch"


# -- other services' events ------------------------------------------------------------------
def place_case(event: RecordedEvent, uow: UnitOfWork, *, directory, rules, calendar,
               open_cases: OpenCases) -> None:
    """CaseRegistered → AssignmentMade; a case that cannot be placed is kept as
    AssignmentFailed, with the reason, for an operator to see."""
    agg = uow.load(Assignment, event.data["case_id"])
    if agg.exists:
        return
    meta = dict(actor=ACTOR, causation_id=event.id, agency=event.agency)
    try:
        agg.assign(decide(CaseFacts.of_registration(event.data), directory, rules, calendar,
                          open_cases.loads()), uow.now, **meta)
    except (DecisionError, KeyError, ValueError) as exc:
        log.error("case %s cannot be assigned: %s", agg.id, exc)
        agg.fail(f"missing field {exc}" if isinstance(exc, KeyError) else str(exc),
                 uow.now, **meta)


def close_assignment(event: RecordedEvent, uow: UnitOfWork) -> None:
    """CaseClosed → AssignmentClosed: the watch stops, on time or not is settled."""
    agg = uow.load(Assignment, event.data["case_id"])
    if agg.open:
        agg.close(parse_time(event.data["closed_at"]) if event.data.get("closed_at")
                  else event.occurred_at, outcome=event.data.get("outcome"),
                  actor=ACTOR, causation_id=event.id)


def start_handling_period(event: RecordedEvent, uow: UnitOfWork, *, rules, calendar) -> None:
    """PetitionAccepted (受理) → HandlingPeriodStarted: a petition matter's handling period
    (60 days, or 简易办理's) runs from the day it was accepted."""
    agg = uow.load(Assignment, event.data["case_id"])
    if not agg.awaits_acceptance:
        return
    accepted_on = date.fromisoformat(event.data["accepted_on"])
    stage = "accepted_simple" if event.data.get("simple") else "accepted"
    try:
        rule = rules.select(agg.source, agg.track, accepted_on, category=agg.category,
                            stage=stage)
    except NoRuleInForce as exc:
        log.error("case %s: %s", agg.id, exc)
        return
    agg.start_handling(stage, accepted_on, rule, calendar, uow.now, actor=ACTOR,
                       causation_id=event.id)


def follow_parties_choice(event: RecordedEvent, uow: UnitOfWork, *, directory,
                          open_cases: OpenCases) -> None:
    """SessionHeld naming a roster mediator (the parties' choice at the first session) →
    CaseReassigned to them, or MediatorChoiceDeclined with the reason."""
    mediator = event.data.get("mediator")
    if not mediator:
        return
    agg = uow.load(Assignment, case_id_of(event))
    if agg.open:
        agg.take_parties_choice(mediator, uow.now, directory, open_cases.loads(),
                                actor=event.actor or ACTOR, causation_id=event.id)


EVENTS = {
    intake_events.CaseRegistered: place_case,
    mediation_events.CaseClosed: close_assignment,
    mediation_events.PetitionAccepted: start_handling_period,
    mediation_events.SessionHeld: follow_parties_choice,
}


# -- leaders' commands (HTTP, role leader) ---------------------------------------------------
def extend_deadline(command: ExtendDeadline, uow: UnitOfWork, *, calendar, warn_days) -> dict:
    agg = _leaders_case(uow, command.case_id, command.caller)
    agg.extend(command.days, command.reason, uow.now, calendar,
               notified_on=command.notified_on, actor=command.caller.actor)
    return agg.describe(uow.now, warn_days)


def reassign(command: Reassign, uow: UnitOfWork, *, directory, open_cases, warn_days) -> dict:
    agg = _leaders_case(uow, command.case_id, command.caller)
    # A leader hands a case only to units inside their own scope, not just from one.
    _units_in_scope(command.caller, [command.unit] if command.unit else [], directory)
    agg.reassign(command.reason, uow.now, directory, unit=command.unit,
                 handler=command.handler, loads=open_cases.loads(), actor=command.caller.actor)
    return agg.describe(uow.now, warn_days)


def arrange_joint_handling(command: ArrangeJointHandling, uow: UnitOfWork, *, directory,
                           warn_days) -> dict:
    agg = _leaders_case(uow, command.case_id, command.caller)
    _units_in_scope(command.caller, command.participants, directory)
    agg.arrange_joint_handling(command.participants, command.reason, uow.now, directory,
                               meeting=command.meeting, actor=command.caller.actor)
    return agg.describe(uow.now, warn_days)


def assignment_view(case_id: str, caller: Caller, uow: UnitOfWork, *, warn_days) -> dict:
    """GET /cases/{id}/assignment."""
    return _leaders_case(uow, case_id, caller).describe(uow.now, warn_days)


def roster_view(query: dict, uow: UnitOfWork, *, directory, rules, open_cases) -> dict:
    """GET /mediators: the mediator roster (调解员名册), filtered; who can take a case today.
    Published, as courts and committees publish their rosters: no region scope."""
    today = local_date(uow.now, rules.time_zone)
    return {"on": today.isoformat(),
            "mediators": roster(directory, today, open_cases.loads(), **query)}


def _units_in_scope(caller: Caller, codes, directory) -> None:
    """Directory units named by a leader's command lie within the token's regions (their
    codes are division codes); agencies (court, police, ...) have no region."""
    for code in codes:
        if code in directory:
            caller.may_see(code, f"unit {code}")


def _leaders_case(uow: UnitOfWork, case_id: str, caller: Caller) -> Assignment:
    agg = uow.get(Assignment, case_id)
    caller.may_see(agg.region or "")
    return agg


# -- the deadline watch ----------------------------------------------------------------------
def check_deadline(command: CheckDeadline, uow: UnitOfWork, *, directory, rules,
                   warn_days) -> Optional[str]:
    """Warn of a near deadline (预警), have a passed one supervised by the leader above
    (督办, once per deadline), remind while it stays overdue (催办); what was done."""
    agg = uow.get(Assignment, command.case_id)
    due = agg.watch(uow.now, warn_days, rules.remind_every_days)
    if due.supervise:
        agg.supervise(uow.now, directory, actor=ACTOR)
        return "supervised"
    if due.remind:
        agg.remind(uow.now, rules.remind_every_days, actor=ACTOR)
        return "reminded"
    if due.warn:
        agg.raise_warning(uow.now, warn_days, actor=ACTOR)
        return "warned"
    return None


def claim_watch_run(command: ClaimWatchRun, uow: UnitOfWork) -> None:
    uow.track(Tracking(WATCH_TRACKING, command.run))


COMMANDS = {
    ExtendDeadline: extend_deadline,
    Reassign: reassign,
    ArrangeJointHandling: arrange_joint_handling,
    CheckDeadline: check_deadline,
    ClaimWatchRun: claim_watch_run,
}


@dataclass
class Assigning(Application):
    """The assignment service's application: its bus, feeds and open-case index."""

    open_cases: Optional[OpenCases] = None
    warn_days: int = 0

    def run_watch(self, interval: float) -> Optional[Dict[str, int]]:
        """One watch run over the cases whose deadline is near or passed.

        Runs are numbered by the clock (now // interval); a replica first claims the
        number, so of several replicas one acts per run (None for the others).
        Exactly-once per deadline does not depend on that claim: each warning,
        supervision or reminder is an append at the aggregate's version, and the watch
        state it changes makes a second one not due.
        """
        now = self.bus.clock()
        try:
            self.bus.handle(ClaimWatchRun(int(now.timestamp() // max(interval, 0.001))))
        except DuplicateMessage:
            return None
        done = {"warned": 0, "supervised": 0, "reminded": 0, "failed": 0}
        # Overdue cases stay on the list (reminders); warnings look warn_days ahead.
        for case_id in self.open_cases.due_by(now + timedelta(days=self.warn_days)):
            try:
                outcome = self.bus.handle(CheckDeadline(case_id))
            except Exception as exc:  # one bad case must not stop the others
                log.error("deadline watch: case %s: %s: %s", case_id, type(exc).__name__, exc)
                outcome = "failed"
            if outcome:
                done[outcome] += 1
        return done
