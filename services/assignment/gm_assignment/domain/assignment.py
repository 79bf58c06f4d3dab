"""The Assignment aggregate: who answers for a case and by when, and what happens to that.

Stream `assignment-<case id>`. Its life:

    AssignmentMade ─┬─ DeadlineWarningRaised   (预警: before the deadline, once per deadline)
                    ├─ SupervisionOrdered      (督办: the deadline passed; a higher leader
                    │                           supervises, once per deadline)
                    ├─ SupervisionReminded     (催办: again every `remind_every_days` while
                    │                           it stays overdue)
                    ├─ HandlingPeriodStarted   (a petition matter accepted (受理): the
                    │                           statutory handling period starts)
                    ├─ DeadlineExtended        (within the rule's limits; told why, if the
                    │                           rule says so)
                    ├─ CaseReassigned          (a leader's decision, with a reason)
                    ├─ JointHandlingArranged   (联合接访 / 联席会议)
                    ├─ MediatorChoiceDeclined  (the roster mediator the parties chose at
                    │                           the first session cannot take the case;
                    │                           when they can: CaseReassigned)
                    └─ AssignmentClosed        (the case closed; the watch stops)
    AssignmentFailed                           (the 四定 could not be decided: kept, with
                                                the reason, for an operator to see)
    CaseEscalated                              (older versions only: see below)

Overdue practice is 属地管理 with 督办: when a deadline passes, the unit stays responsible
and keeps the case, the statutory limit does not restart, and the leader of the unit
above (for the city, the city's own first leader) is told and supervises — named in
SupervisionOrdered and in the assignment view, and reminded (催办) while the case stays
overdue. A case changes level only by a leader's reassignment, with a reason.
(Versions before this rule escalated an overdue case one level up with a fresh deadline,
CaseEscalated; such events stay in old streams and are still applied.)

The deadline watch (`watch`) is a pure decision: given the aggregate and the time, which
of warning, supervision and reminder are due. A warning fires when the deadline is within
`warn_days` and not yet passed (a deadline that passed unwarned is supervised, not
warned); supervision once the deadline has passed; a reminder every `remind_every_days`
after the last supervision or reminder while the case stays open and overdue.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Dict, List, Mapping, Optional, Sequence
from zoneinfo import ZoneInfo

from gm_directory.directory import Directory
from gm_directory.vocabulary import AGENCIES, level_rank
from gm_contracts import streams
from gm_contracts import assignment_events as events
from gm_kernel import (
    Aggregate, DomainError, InvalidValue, NotRecorded, applies, format_time, parse_time,
)
from gm_kernel.calendar import WorkingCalendar
from gm_kernel.localtime import end_of_local_day, local_date

from .decide import (KEY_CASE_FLOOR, Decision, Deadline, chosen_by_parties, count_deadline,
                     least_loaded, take_named)
from .rules import DEFAULT_REMIND_EVERY_DAYS, DEFAULT_WARN_DAYS, Extension, Rule

class UnknownCase(NotRecorded):
    """No assignment is recorded for this case (not registered, or not yet placed)."""

    def __init__(self, case_id: str):
        super().__init__(f"no assignment for case {case_id}", case_id)


class NoticeRequired(InvalidValue):
    """The rule requires the person be told why (告知延期理由): `notified_on` is missing."""

    def __init__(self, message: str):
        super().__init__("notified_on", message)


@dataclass(frozen=True)
class WatchDecision:
    """What the deadline watch should do now."""

    warn: bool = False
    supervise: bool = False
    remind: bool = False
    overdue: bool = False


def watch(assignment: "Assignment", now: datetime, warn_days: int = DEFAULT_WARN_DAYS,
          remind_every_days: int = DEFAULT_REMIND_EVERY_DAYS) -> WatchDecision:
    """Which of warning / supervision / reminder are due for `assignment` at `now` (pure).

    warn: the deadline is at most `warn_days` days away, not passed, and not yet warned.
    supervise: the deadline has passed and was not yet supervised.
    remind: supervised for this deadline, still overdue, and `remind_every_days` have
    passed since the supervision or the last reminder.
    overdue: the deadline has passed (whether or not anything is due).
    Nothing is due before the assignment is made or after it is closed.
    """
    if (not assignment.exists or assignment.closed or assignment.due_at is None
            or assignment.failure is not None):
        return WatchDecision()
    due = assignment.due_at
    overdue = now > due
    warn = (not overdue and now >= due - timedelta(days=warn_days)
            and assignment.warned_for != due)
    supervise = overdue and assignment.supervised_for != due
    remind = (overdue and not supervise and assignment.last_supervision_at is not None
              and now >= assignment.last_supervision_at + timedelta(days=remind_every_days))
    return WatchDecision(warn=warn, supervise=supervise, remind=remind, overdue=overdue)


class Assignment(Aggregate):
    """Responsibility for one case (四定); id = the case id.

    Commands take the current time (`now`, timezone-aware) and, where they place the case
    or count a period, the directory, the working-day calendar and the handlers'
    open-case loads; they raise DomainError when the state does not allow them. Extra
    keyword arguments (actor, agency, causation_id, ...) go on the recorded event;
    `occurred_at` defaults to `now`, `correlation_id` to the case.
    """

    stream_prefix = streams.ASSIGNMENT

    @classmethod
    def not_recorded(cls, id: str) -> LookupError:
        return UnknownCase(id)

    def __init__(self, id: str):
        super().__init__(id)
        self.task: Optional[str] = None
        self.track: Optional[str] = None
        self.level: Optional[str] = None
        self.unit: Optional[str] = None
        self.responsible_leader: Optional[str] = None
        self.lead: Optional[str] = None
        self.handler: Optional[str] = None
        self.key_case = False
        self.petition_matter = False
        self.source = None
        self.category: Optional[str] = None
        self.selection: Optional[Dict[str, Any]] = None  # why the handler was chosen
        self.stage = "registered"
        self.deadline: Optional[Deadline] = None
        self.due_at: Optional[datetime] = None
        self.time_zone: Optional[ZoneInfo] = None
        self.extension_count = 0
        self.extended_days = 0
        self.warned_for: Optional[datetime] = None  # the deadline last warned about
        self.supervised_for: Optional[datetime] = None  # the deadline last supervised for
        self.supervisor: Optional[str] = None  # the leader supervising (督办)
        self.last_supervision_at: Optional[datetime] = None  # supervision or its reminder
        self.reminders = 0
        self.escalations = 0  # older versions' CaseEscalated
        self.joint_handling: List[Dict[str, Any]] = []
        self.closed = False
        self.region: Optional[str] = None
        self.failure: Optional[str] = None

    # -- queries ---------------------------------------------------------------------

    @property
    def extended(self) -> bool:
        return self.extension_count > 0

    @property
    def rule_id(self) -> Optional[str]:
        return self.deadline.rule_id if self.deadline else None

    @property
    def extension_limits(self) -> Optional[Extension]:
        return self.deadline.extension if self.deadline else None

    @property
    def supervised(self) -> bool:
        return self.supervised_for is not None

    @property
    def open(self) -> bool:
        """Placed, and not closed: the watch follows it."""
        return self.exists and self.failure is None and not self.closed

    @property
    def awaits_acceptance(self) -> bool:
        """An open petition matter whose handling period has not started (受理 pending)."""
        return self.open and self.petition_matter and self.stage == "registered"

    def watch(self, now: datetime, warn_days: int = DEFAULT_WARN_DAYS,
              remind_every_days: int = DEFAULT_REMIND_EVERY_DAYS) -> WatchDecision:
        return watch(self, now, warn_days, remind_every_days)

    def view(self) -> Dict[str, Any]:
        """The assignment as `GET /cases/{case_id}/assignment` returns it."""
        return {"track": self.track, "level": self.level, "unit": self.unit, "lead": self.lead,
                "handler": self.handler,
                "due_at": format_time(self.due_at) if self.due_at else None,
                "extended": self.extended}

    def describe(self, now: datetime, warn_days: int = DEFAULT_WARN_DAYS) -> Dict[str, Any]:
        """The assignment as leaders read it (CONTRACT's fields, and more)."""
        if self.failure is not None:
            raise DomainError(f"case {self.id} could not be assigned: {self.failure}")
        deadline = self.deadline
        return {
            **self.view(), "case_id": self.id, "task": self.task,
            "responsible_leader": self.responsible_leader, "key_case": self.key_case,
            "petition_matter": self.petition_matter, "stage": self.stage,
            "rule_id": self.rule_id, "period": deadline.period.to_data() if deadline else None,
            "legal_basis": deadline.legal_basis if deadline else None,
            "local_default": deadline.local_default if deadline else None,
            "calendar_provisional": deadline.provisional if deadline else None,
            "extension_count": self.extension_count, "joint_handling": self.joint_handling,
            "supervision": None if not self.supervised else {
                "supervisor": self.supervisor, "reminders": self.reminders,
                "last_at": format_time(self.last_supervision_at)
                if self.last_supervision_at else None},
            "selection": self.selection,
            "escalations": self.escalations, "closed": self.closed,
            "overdue": self.watch(now, warn_days).overdue,
        }

    # -- commands --------------------------------------------------------------------

    def assign(self, decision: Decision, now: datetime, **meta: Any) -> None:
        """Record the 四定 decided for the case."""
        if self.exists:
            raise DomainError(f"case {self.id} is already assigned")
        meta.setdefault("occurred_at", now)
        self._emit(events.AssignmentMade, decision.to_data(), meta)

    def fail(self, reason: str, now: datetime, **meta: Any) -> None:
        """Record that the case could not be placed (no unit, rule or handler fits)."""
        if self.exists:
            raise DomainError(f"case {self.id} is already assigned")
        meta.setdefault("occurred_at", now)
        self._emit(events.AssignmentFailed, {"reason": reason, "failed_at": format_time(now)}, meta)

    def raise_warning(self, now: datetime, warn_days: int = DEFAULT_WARN_DAYS, **meta: Any) -> None:
        """Warn handler and leaders that the deadline is near (预警, once per deadline)."""
        self._require_open()
        if not watch(self, now, warn_days).warn:
            raise DomainError("no deadline warning is due")
        meta.setdefault("occurred_at", now)
        self._emit(events.DeadlineWarningRaised, {
            "due_at": format_time(self.due_at), "warned_at": format_time(now),
            "unit": self.unit, "handler": self.handler, "lead": self.lead,
            "responsible_leader": self.responsible_leader,
        }, meta)

    def supervise(self, now: datetime, directory: Directory, **meta: Any) -> None:
        """The deadline passed: the leader above supervises (督办). The unit, handler and
        deadline stay; the case is overdue from now on (it cannot close on time)."""
        self._require_open()
        if not watch(self, now).supervise:
            raise DomainError("no supervision is due: the deadline has not passed or is "
                              "supervised already")
        supervisor, supervising_unit = self._supervisor(directory)
        meta.setdefault("occurred_at", now)
        self._emit(events.SupervisionOrdered, {
            "supervisor": supervisor, "supervising_unit": supervising_unit,
            "ordered_at": format_time(now), "due_at": format_time(self.due_at),
            "unit": self.unit, "handler": self.handler, "lead": self.lead,
            "responsible_leader": self.responsible_leader,
        }, meta)

    def remind(self, now: datetime, remind_every_days: int = DEFAULT_REMIND_EVERY_DAYS,
               **meta: Any) -> None:
        """Remind (催办) the unit, under its supervisor, that the case is still overdue."""
        self._require_open()
        if not watch(self, now, remind_every_days=remind_every_days).remind:
            raise DomainError("no reminder is due")
        meta.setdefault("occurred_at", now)
        self._emit(events.SupervisionReminded, {
            "supervisor": self.supervisor, "reminded_at": format_time(now),
            "due_at": format_time(self.due_at), "unit": self.unit, "handler": self.handler,
            "reminder_number": self.reminders + 1,
            "days_overdue": (local_date(now, self.time_zone)
                             - local_date(self.due_at, self.time_zone)).days,
        }, meta)

    def _supervisor(self, directory: Directory):
        """The first leader of the nearest unit above this one that has a leader; at the
        top, the unit's own first leader."""
        if self.unit in directory:
            for unit in directory.ancestors(self.unit):
                if unit.first_leader is not None:
                    return unit.first_leader.id, unit.code
            own = directory.unit(self.unit)
            if own.first_leader is not None:
                return own.first_leader.id, own.code
        return None, None

    def start_handling(self, stage: str, accepted_on: date, rule: Rule,
                       calendar: WorkingCalendar, now: datetime, **meta: Any) -> None:
        """A petition matter was accepted (受理): its handling period starts that day."""
        self._require_open()
        if not self.petition_matter:
            raise DomainError(f"case {self.id} is not a petition matter")
        if self.stage != "registered":
            raise DomainError(f"the handling period of case {self.id} started already")
        start = end_of_local_day(accepted_on, self.time_zone)  # counted from the next day
        deadline = count_deadline(rule, start, calendar, self.time_zone)
        meta.setdefault("occurred_at", now)
        self._emit(events.HandlingPeriodStarted, {
            "stage": stage, "accepted_on": accepted_on.isoformat(),
            "previous_due_at": format_time(self.due_at), **deadline.to_data(),
        }, meta)

    def extend(self, amount: int, reason: str, now: datetime, calendar: WorkingCalendar,
               notified_on: Optional[date] = None, **meta: Any) -> None:
        """Extend the deadline by `amount` (days or working days, as the rule's extension
        counts), within the rule's limits, before it passes; where the rule says so, the
        person must have been told why (`notified_on`)."""
        self._require_open()
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
            raise DomainError("days must be a positive whole number")
        if not reason or not reason.strip():
            raise DomainError("an extension needs a reason")
        limits = self.extension_limits
        if limits is None:
            raise DomainError(f"rule {self.rule_id} allows no extension")
        if limits.max_count is not None and self.extension_count >= limits.max_count:
            raise DomainError(f"rule {self.rule_id} allows at most {limits.max_count} "
                              f"extension{'s' if limits.max_count > 1 else ''}")
        unit_word = "working days" if limits.unit == "working_days" else "days"
        if limits.max_days is not None and self.extended_days + amount > limits.max_days:
            left = limits.max_days - self.extended_days
            raise DomainError(f"rule {self.rule_id} allows at most {limits.max_days} extra "
                              f"{unit_word} in all; {left} left")
        if now > self.due_at:
            raise DomainError("the deadline has passed: an extension must be approved before it")
        if limits.notice and notified_on is None:
            raise NoticeRequired(f"rule {self.rule_id} requires the person be told the reason "
                                 "for the extension (告知延期理由): say when")
        counted = calendar.deadline(self.due_at, self.time_zone, **{limits.unit: amount})
        meta.setdefault("occurred_at", now)
        self._emit(events.DeadlineExtended, {
            "days": amount, "unit": limits.unit, "reason": reason.strip(),
            "notified_on": notified_on.isoformat() if notified_on else None,
            "previous_due_at": format_time(self.due_at),
            "due_at": format_time(counted.due_at),
            "calendar_provisional": counted.provisional,
            "extension_number": self.extension_count + 1,
            "extended_days": self.extended_days + amount,
        }, meta)

    def reassign(self, reason: str, now: datetime, directory: Directory, unit: Optional[str] = None,
                 handler: Optional[str] = None, loads: Optional[Mapping[str, int]] = None,
                 **meta: Any) -> None:
        """Give the case to another unit and/or handler — how a case changes level: a
        leader's decision, with a reason. The unit must offer the case's track (and be at
        county level or above for a key case); the handler must work on the track there.
        With a new unit and no handler, its least-loaded handler is chosen. The deadline
        and the lead stay (the statutory limit does not restart)."""
        self._require_open()
        if not reason or not reason.strip():
            raise DomainError("a reassignment needs a reason")
        if unit is None and handler is None:
            raise DomainError("name a unit, a handler or both")
        code = unit or self.unit
        if code not in directory:
            raise DomainError(f"unit {code} is not in the directory")
        target = directory.unit(code)
        if not target.offers(self.track):
            raise DomainError(f"unit {code} does not offer track {self.track}")
        if self.key_case and level_rank(target.level) < level_rank(KEY_CASE_FLOOR):
            raise DomainError(f"a key case is handled at {KEY_CASE_FLOOR} level or above")
        eligible = target.handlers_for(self.track)
        if handler is None:
            chosen = least_loaded(eligible, loads).id
        elif handler in {h.id for h in eligible}:
            chosen = handler
        else:
            raise DomainError(f"handler {handler} does not work on track {self.track} at unit {code}")
        if code == self.unit and chosen == self.handler:
            raise DomainError("the case is already with this unit and handler")
        meta.setdefault("occurred_at", now)
        self._emit(events.CaseReassigned, {
            "reason": reason.strip(), "from_unit": self.unit, "unit": code, "level": target.level,
            "from_level": self.level, "from_handler": self.handler, "handler": chosen,
            "responsible_leader": target.first_leader.id if target.first_leader else None,
        }, meta)

    def take_parties_choice(self, mediator: str, now: datetime, directory: Directory,
                            loads: Optional[Mapping[str, int]] = None, **meta: Any) -> None:
        """The parties chose `mediator` from the roster at the first session (人民调解法
        第十九条): the case goes to them and their unit (CaseReassigned, basis
        party_choice) if they can take it — on the case's track, serving its region, at
        county level or above for a key case, available today and below their ceiling;
        else MediatorChoiceDeclined says why. The deadline and the lead stay."""
        self._require_open()
        if mediator == self.handler:
            return  # the parties chose the mediator who has the case
        floor = KEY_CASE_FLOOR if self.key_case else "village"
        found, refused = take_named(directory, mediator, self.track, self.region, floor,
                                    local_date(now, self.time_zone), loads)
        meta.setdefault("occurred_at", now)
        if found is None:
            self._emit(events.MediatorChoiceDeclined, {
                "mediator": mediator, "reason": refused, "declined_at": format_time(now)}, meta)
            return
        handler, unit = found
        self._emit(events.CaseReassigned, {
            "reason": "当事人在首次调解时选定调解员", "from_unit": self.unit, "unit": unit.code,
            "level": unit.level, "from_level": self.level, "from_handler": self.handler,
            "handler": handler.id,
            "responsible_leader": unit.first_leader.id if unit.first_leader else None,
            "selection": chosen_by_parties(handler, unit, self.region, self.category,
                                           loads).to_data(),
        }, meta)

    def arrange_joint_handling(self, participants: Sequence[str], reason: str, now: datetime,
                               directory: Directory, meeting: Optional[bool] = None,
                               **meta: Any) -> None:
        """Arrange joint handling: 联合接访 (joint reception) by several agencies/units, and
        with `meeting` a 联席会议 (joint meeting) — by default for key (major) cases.

        participants: at least two distinct agencies (court, procuratorate, police,
        petition) or directory unit codes.
        """
        self._require_open()
        if not reason or not reason.strip():
            raise DomainError("joint handling needs a reason")
        named = list(dict.fromkeys(participants))
        unknown = [p for p in named if p not in AGENCIES and p not in directory]
        if unknown:
            raise DomainError(f"not an agency or a directory unit: {', '.join(unknown)}")
        if len(named) < 2:
            raise DomainError("joint handling needs at least two agencies or units")
        meeting = self.key_case if meeting is None else bool(meeting)
        meta.setdefault("occurred_at", now)
        self._emit(events.JointHandlingArranged, {
            "participants": named, "meeting": meeting, "reason": reason.strip(),
            "arranged_at": format_time(now),
        }, meta)

    def close(self, now: datetime, outcome: Optional[str] = None, **meta: Any) -> None:
        """The case closed: stop the watch. `on_time`: closed by its deadline."""
        self._require_open()
        meta.setdefault("occurred_at", now)
        self._emit(events.AssignmentClosed, {
            "closed_at": format_time(now), "outcome": outcome,
            "on_time": self.escalations == 0 and now <= self.due_at,
        }, meta)

    # -- helpers ---------------------------------------------------------------------

    def _require_open(self) -> None:
        if not self.exists:
            raise DomainError(f"case {self.id} has no assignment")
        if self.failure is not None:
            raise DomainError(f"case {self.id} could not be assigned: {self.failure}")
        if self.closed:
            raise DomainError(f"the assignment of case {self.id} is closed")

    def _emit(self, event_type: type, data: Mapping[str, Any], meta: Dict[str, Any]) -> None:
        meta.setdefault("correlation_id", self.id)
        self._record(event_type, data, **meta)

    # -- state changes (events are facts: no validation here) -------------------------


    @applies(events.AssignmentMade)
    def _assignment_made(self, data: Mapping[str, Any]) -> None:
        decision = Decision.from_data(data)
        self.task = decision.task
        self.track, self.level, self.unit = decision.track, decision.level, decision.unit
        self.responsible_leader = decision.responsible_leader
        self.lead, self.handler = decision.lead, decision.handler
        self.key_case = decision.key_case
        self.petition_matter = decision.petition_matter
        self.source, self.category = decision.source, decision.category
        self.selection = decision.selection.to_data() if decision.selection else None
        self.deadline = decision.deadline
        self.due_at = decision.due_at
        self.time_zone = ZoneInfo(decision.time_zone)
        self.region = decision.region

    @applies(events.DeadlineWarningRaised)
    def _deadline_warning_raised(self, data: Mapping[str, Any]) -> None:
        self.warned_for = parse_time(data["due_at"])

    @applies(events.SupervisionOrdered)
    def _supervision_ordered(self, data: Mapping[str, Any]) -> None:
        self.supervised_for = parse_time(data["due_at"])
        self.supervisor = data.get("supervisor")
        self.last_supervision_at = parse_time(data["ordered_at"])

    @applies(events.SupervisionReminded)
    def _supervision_reminded(self, data: Mapping[str, Any]) -> None:
        self.reminders = data["reminder_number"]
        self.last_supervision_at = parse_time(data["reminded_at"])

    @applies(events.HandlingPeriodStarted)
    def _handling_period_started(self, data: Mapping[str, Any]) -> None:
        self.stage = data["stage"]
        self.deadline = Deadline.from_data({**data, "time_zone": str(self.time_zone)})
        self.due_at = self.deadline.due_at
        self.extension_count = self.extended_days = 0
        self.last_supervision_at = None  # a new deadline: supervised afresh if it passes

    @applies(events.CaseEscalated)
    def _case_escalated(self, data: Mapping[str, Any]) -> None:
        # Older versions moved an overdue case up with a renewed deadline.
        self.escalations += 1
        self.supervised_for = parse_time(data["previous_due_at"])
        self.unit, self.level = data["unit"], data["level"]
        self.handler, self.lead = data["handler"], data["lead"]
        self.due_at = parse_time(data["due_at"])

    @applies(events.DeadlineExtended)
    def _deadline_extended(self, data: Mapping[str, Any]) -> None:
        self.extension_count = data["extension_number"]
        self.extended_days = data["extended_days"]
        self.due_at = parse_time(data["due_at"])
        self.last_supervision_at = None

    @applies(events.CaseReassigned)
    def _case_reassigned(self, data: Mapping[str, Any]) -> None:
        self.unit, self.level, self.handler = data["unit"], data["level"], data["handler"]
        if "responsible_leader" in data:
            self.responsible_leader = data["responsible_leader"]
        # why this handler: the parties' choice; a leader's reason is in the event
        self.selection = data.get("selection")

    @applies(events.MediatorChoiceDeclined)
    def _mediator_choice_declined(self, data: Mapping[str, Any]) -> None:
        if self.selection is not None:
            self.selection = {**self.selection, "named": data["mediator"],
                              "named_refused": data["reason"]}

    @applies(events.JointHandlingArranged)
    def _joint_handling_arranged(self, data: Mapping[str, Any]) -> None:
        self.joint_handling.append(dict(data))

    @applies(events.AssignmentClosed)
    def _assignment_closed(self, data: Mapping[str, Any]) -> None:
        self.closed = True

    @applies(events.AssignmentFailed)
    def _assignment_failed(self, data: Mapping[str, Any]) -> None:
        self.failure = data["reason"]
